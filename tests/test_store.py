"""The event store on SQLite and on a real PostgreSQL: idempotent, crash-safe, concurrent.

PostgreSQL: set OBLIGE_TEST_DB_URL to a server URL (e.g. postgresql+psycopg://root@127.0.0.1:5432/postgres);
each test gets a fresh database, dropped afterwards. Without a server those tests skip, unless
OBLIGE_REQUIRE_PG=1 (as in CI), where they fail instead.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from oblige import Engine
from oblige.engine.store.sql import Store, StoreError, stored_items
from oblige.facts.reader import read_lines
from oblige.facts.timeutil import parse_instant
from tests.conftest import ROOT

PG_BASE = os.environ.get("OBLIGE_TEST_DB_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres")
OBLIGE = [sys.executable, "-c", "from oblige.cli import main; main()"]


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure to connect means: no server here
        return str(exc).splitlines()[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'oblige.db'}"
        return
    problem = _pg_available()
    if problem:
        if os.environ.get("OBLIGE_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required but not reachable at {PG_BASE}: {problem}")
        pytest.skip(f"no PostgreSQL at {PG_BASE} ({problem}); set OBLIGE_TEST_DB_URL to run these")
    name = f"oblige_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_BASE.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def events_file(path: Path, n: int, prefix: str = "e", start: int = 0) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(start, start + n):
            out.write(json.dumps({"id": f"{prefix}{i}", "type": "child.missing_reported", "occurred_at": "2023-06-01",
                                  "unit": "public_security", "subject": f"c{i}", "data": {"age": i % 17}}) + "\n")
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OBLIGE, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)


def test_ingest_is_idempotent_and_rejects_conflicts(engine: Engine, db_url: str) -> None:
    store = Store(db_url)
    lines = [json.dumps({"id": "a", "type": "birth.delivered", "occurred_at": "2023-01-01", "unit": "health", "subject": "s", "data": {}}),
             json.dumps({"id": "b", "type": "birth.delivered", "occurred_at": "2023-01-02", "unit": "health", "subject": "s", "data": {}}),
             json.dumps({"id": "a", "type": "birth.delivered", "occurred_at": "2023-01-01", "unit": "health", "subject": "s", "data": {}}),
             json.dumps({"id": "b", "type": "birth.delivered", "occurred_at": "2023-01-05", "unit": "health", "subject": "s", "data": {}}),
             "{broken"]
    first = store.ingest(read_lines(lines, "in", engine.ruleset.units), "in")
    assert first.summary() == {"read": 5, "stored": 2, "duplicates": 1, "rejected": 2}
    assert "conflicting duplicate id" in first.rejections[-1].error or "conflicting" in first.rejections[0].error
    again = store.ingest(read_lines(lines[:2], "in", engine.ruleset.units), "in")
    assert again.summary() == {"read": 2, "stored": 0, "duplicates": 2, "rejected": 0}
    assert store.count() == 2
    kept = [json.loads(body)["occurred_at"] for _, _, _, body in store.events()]
    assert kept == ["2023-01-01T00:00:00+08:00", "2023-01-02T00:00:00+08:00"]  # the first stored wins, canonical
    store.close()


def test_findings_from_the_store_equal_eval(engine: Engine, db_url: str) -> None:
    example = ROOT / "examples" / "events.jsonl"
    store = Store(db_url)
    with example.open(encoding="utf-8") as f:
        store.ingest(read_lines(f, str(example), engine.ruleset.units), str(example))
    as_of = parse_instant("2023-12-31")
    stored = engine.evaluate(stored_items(store, engine.ruleset.units), as_of).to_json_dict()
    with example.open(encoding="utf-8") as f:
        direct = engine.evaluate(read_lines(f, str(example), engine.ruleset.units), as_of).to_json_dict()
    assert stored == direct
    store.close()


def test_cli_ingest_then_findings(tmp_path: Path, db_url: str) -> None:
    f = events_file(tmp_path / "e.jsonl", 50)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x1", "type": "nope"}\n', encoding="utf-8")
    r = run_cli("ingest", str(f), str(bad), "--db", db_url, "--format", "json", "--rejects", str(tmp_path / "rej.jsonl"), cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert json.loads(r.stdout) == {"read": 51, "stored": 50, "duplicates": 0, "rejected": 1}
    rejected = [json.loads(line) for line in (tmp_path / "rej.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rejected == [{"file": str(bad), "line": 1, "id": "x1", "error": "type: unknown event type 'nope'",
                         "raw": '{"id": "x1", "type": "nope"}'}]
    r = run_cli("findings", "--db", db_url, "--as-of", "2023-06-10", "--format", "json", "--article", "19", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["filtered"] == {"article": 19}
    assert {o["action"] for o in doc["obligations"]} == {"publish_tuanyuan_alert"}
    assert len(doc["obligations"]) == sum(1 for i in range(50) if i % 17 < 14)


def test_kill_during_ingest_loses_nothing_acknowledged(tmp_path: Path, db_url: str) -> None:
    n = 30_000
    f = events_file(tmp_path / "big.jsonl", n)
    proc = subprocess.Popen([*OBLIGE, "ingest", str(f), "--db", db_url], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = Store(db_url)
    deadline = time.time() + 120
    while store.count() < 2000 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = store.count()
    assert 0 < partial < n, "the kill should land mid-ingest"
    ids = [json.loads(body)["id"] for _, _, _, body in store.events()]
    assert len(ids) == len(set(ids)) == partial  # whole events, none doubled
    if db_url.startswith("sqlite"):
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    r = run_cli("ingest", str(f), "--db", db_url, "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["stored"] + summary["duplicates"] == n and summary["duplicates"] == partial
    assert store.count() == n
    store.close()


def test_two_concurrent_ingests(tmp_path: Path, db_url: str) -> None:
    a = events_file(tmp_path / "a.jsonl", 6000, start=0)
    b = events_file(tmp_path / "b.jsonl", 6000, start=3000)  # half overlaps a
    Store(db_url).close()  # create the schema before the race
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([*OBLIGE, "ingest", str(p), "--db", db_url, "--format", "json"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in (a, b)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    reports = [json.loads(o[0]) for o in outs]
    assert sum(r["stored"] for r in reports) == 9000
    assert sum(r["duplicates"] for r in reports) == 3000
    store = Store(db_url)
    assert store.count() == 9000
    store.close()


def test_schema_version_is_checked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    store = Store(url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE oblige_meta SET value = '99' WHERE key = 'schema_version'")
    store.close()
    with pytest.raises(StoreError, match="schema version 99"):
        Store(url)
    r = run_cli("findings", "--db", url, cwd=tmp_path)
    assert r.returncode == 2 and "schema version 99" in r.stderr


def test_not_a_database_is_a_usage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    r = run_cli("findings", "--db", f"sqlite:///{junk}", cwd=tmp_path)
    assert r.returncode == 2 and "cannot use database" in r.stderr


def test_large_store_findings_stream_the_same_document(tmp_path: Path, monkeypatch) -> None:
    from oblige import cli

    url = f"sqlite:///{tmp_path / 'o.db'}"
    example = str(ROOT / "examples" / "events.jsonl")
    from click.testing import CliRunner
    assert CliRunner().invoke(cli.main, ["ingest", example, "--db", url]).exit_code == 0
    small = json.loads(CliRunner().invoke(cli.main, ["findings", "--db", url, "--as-of", "2023-12-31", "--format", "json"]).stdout)
    monkeypatch.setattr("oblige.engine.batch.run.LARGE_STORE", 10)
    big = CliRunner().invoke(cli.main, ["findings", "--db", url, "--as-of", "2023-12-31", "--format", "json"])
    assert big.exit_code == 0 and json.loads(big.stdout) == small


def test_store_ranges_parsed_apart_equal_the_session(engine: Engine, db_url: str) -> None:
    import io

    from oblige.engine.batch.evaluator import BatchEvaluator

    store = Store(db_url)
    example = ROOT / "examples" / "events.jsonl"
    with example.open(encoding="utf-8") as f:
        store.ingest(read_lines(f, str(example), engine.ruleset.units), str(example))
    as_of = parse_instant("2023-12-31")
    expected = engine.evaluate(stored_items(store, engine.ruleset.units), as_of).to_json_dict()
    for workers in (2, 3):
        out = io.StringIO()
        BatchEvaluator(engine, workers).run_store(db_url, store.max_seq(), as_of, out, inline=True)
        assert json.loads(out.getvalue()) == expected
    store.close()


def test_a_reader_in_progress_blocks_neither_ingest_nor_another_reader(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """`findings` reads a large store in two workers at once while ingests may go on: a read holds
    a snapshot, not the write lock (it used to, and the second reader waited for the first)."""
    import threading

    store = Store(db_url)
    with events_file(tmp_path / "a.jsonl", 20).open(encoding="utf-8") as f:
        store.ingest(read_lines(f, "a", engine.ruleset.units), "a")
    reading = store.events(batch=5)
    first = next(reading)  # a read transaction is now open and stays open
    other = Store(db_url)
    done: list[object] = []

    def ingest_and_read() -> None:
        with events_file(tmp_path / "b.jsonl", 3, prefix="b").open(encoding="utf-8") as f:
            done.append(other.ingest(read_lines(f, "b", engine.ruleset.units), "b").summary())
        done.append(sum(1 for _ in other.events()))

    worker = threading.Thread(target=ingest_and_read, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert done == [{"read": 3, "stored": 3, "duplicates": 0, "rejected": 0}, 23], "blocked by the open read"
    seen = [first[0], *(row[0] for row in reading)]
    assert seen[:20] == list(range(1, 21))
    if db_url.startswith("sqlite"):  # a SQLite read keeps its snapshot (PostgreSQL reads committed rows per query)
        assert len(seen) == 20
    other.close()
    store.close()


def test_deriving_kept_findings_folds_a_large_log_back(engine: Engine, tmp_path: Path, monkeypatch) -> None:
    """Past WAL_LIMIT the keeper checkpoints after each chunk (TRUNCATE), even while another
    connection reads: two deriving processes otherwise starve SQLite's own checkpoint."""
    from oblige.engine.store import sql
    from oblige.engine.store.kept import Keeper

    db = tmp_path / "wal.db"
    store = Store(f"sqlite:///{db}")
    try:
        example = ROOT / "examples" / "events.jsonl"
        store.ingest(read_lines(example.read_text(encoding="utf-8").splitlines(), str(example), engine.ruleset.units), "x")
        wal = Path(str(db) + "-wal")
        assert wal.stat().st_size > 0  # the ingest's frames, not yet folded back
        monkeypatch.setattr(sql, "WAL_LIMIT", 1 << 40)
        store.checkpoint()
        assert wal.stat().st_size > 0  # below the limit: left to SQLite
        monkeypatch.setattr(sql, "WAL_LIMIT", 1)
        with store._reading() as reader:  # a reader that has finished its read holds no snapshot
            reader.exec_driver_sql("SELECT count(*) FROM oblige_events").all()
        Keeper(store, engine).refresh(workers=1)
        assert wal.stat().st_size == 0
    finally:
        store.close()


def test_postgresql_plans_the_kept_reads_with_fresh_statistics(db_url: str, tmp_path: Path) -> None:
    """After a refresh that wrote many rows, PostgreSQL's statistics describe them (an ANALYZE of the
    tables the refresh changed by over a tenth), so a page of one unit walks an index in (ord, id) order and stops
    after the page: with the empty tables' statistics it sorted every row of the unit (152 ms against 0.7 ms at
    200,000 events). Holds on a server whose autovacuum is off, as here."""
    if not db_url.startswith("postgresql"):
        assert Store(db_url).analyze({"oblige_kept_obligations": 10**6}) == []  # SQLite: reads written for no statistics
        return
    from oblige.engine.store.kept import Keeper

    engine = Engine.load()
    store = Store(db_url)
    store.ingest(read_lines(events_file(tmp_path / "e.jsonl", 3000).read_text().splitlines(), "e", engine.ruleset.units),
                 "e")
    Keeper(store, engine).refresh(workers=1)
    with store.engine.connect() as conn:
        analysed = dict(conn.execute(text("SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables")).all())
        assert analysed["oblige_kept_obligations"] and analysed["oblige_events"]
        plan = "\n".join(r[0] for r in conn.execute(text(
            "EXPLAIN SELECT ord, id, body FROM oblige_kept_obligations WHERE valid_from <= 1717171200000000 "
            "AND valid_to > 1717171200000000 AND unit = 'public_security' ORDER BY ord, id COLLATE \"C\" LIMIT 101")))
    # a walk in (ord, id) order along an index, stopped by the limit: no bitmap scan, no sort of every row
    assert "Index Scan using ix_oblige_ko_" in plan and "Presorted Key: ord" in plan and "Bitmap" not in plan, plan
    assert store.analyze({"oblige_kept_obligations": 100}) == []  # 100 rows more: under a tenth of what it knows
    store.close()


def test_a_long_refresh_refreshes_statistics_between_its_chunks(db_url: str, tmp_path: Path, monkeypatch) -> None:
    """PostgreSQL plans each chunk's `part IN (...)` reads with the statistics of the rows the chunks
    before it wrote: a table it still believes empty it reads whole for each (at 1M events a chunk's
    writes grew from 1.6 to 16 s over an ingest)."""
    if not db_url.startswith("postgresql"):
        return
    from oblige.engine.store import kept as kept_module
    from oblige.engine.store.kept import Keeper

    engine = Engine.load()
    store = Store(db_url)
    store.ingest(read_lines(events_file(tmp_path / "e.jsonl", 3000).read_text().splitlines(), "e", engine.ruleset.units),
                 "e")
    monkeypatch.setattr(kept_module, "CHUNK", 1000)
    known: list[float] = []
    real = Keeper._derive_and_write

    def derive(keeper: Keeper, marks: dict[str, int]) -> int:
        with store.engine.connect() as conn:  # what the planner believes of the table, before each chunk
            known.append(conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'oblige_kept_obligations'"))
                         .scalar())
        return real(keeper, marks)

    monkeypatch.setattr(Keeper, "_derive_and_write", derive)
    Keeper(store, engine).refresh(workers=1)
    store.close()
    assert len(known) >= 3 and known[0] <= 0 and all(k > 0 for k in known[1:]), known


def test_bulk_writes_fail_as_sqlalchemy_errors(db_url: str) -> None:
    """The keeper's bulk writes (a COPY on PostgreSQL, the driver's executemany elsewhere) raise
    SQLAlchemy's errors, which the store turns into a StoreError (one line, exit 2), never the driver's."""
    from sqlalchemy.exc import IntegrityError

    from oblige.engine.store.driver import insert_rows

    store = Store(db_url)
    columns = ("part", "unit", "year", "valid_from", "valid_to", "at", "v_at", "rule", "subject", "period", "because",
               "status", "article")
    row = ("subject\x1fc1", "public_security", 2023, 1, 2, 3, 4, "r", "c1", "2023", "v-1", None, 7)
    with store.engine.begin() as conn:
        insert_rows(conn, "oblige_kept_vetoes", columns, [row])
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        insert_rows(conn, "oblige_kept_vetoes", columns, [row])  # the same primary key again
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM oblige_kept_vetoes")).scalar() == 1
    store.close()
