"""Kept findings through the doors people use: `oblige ingest/findings/agenda`, and the service.

On SQLite and the machine's PostgreSQL (see tests/test_store.py for OBLIGE_TEST_DB_URL)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from oblige import Engine
from oblige.engine.http.app import Limits, create_app
from oblige.engine.http.tokens import Grant, Tokens
from oblige.engine.store import kept as kept_module
from oblige.engine.store.kept import Keeper
from oblige.engine.store.sql import DIRTY, Store
from tests.conftest import ROOT
from tests.test_service import start_server
from tests.test_store import OBLIGE, db_url  # noqa: F401 - the fixture

EXAMPLE = ROOT / "examples" / "events.jsonl"
MORE = ROOT / "examples" / "more.jsonl"


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OBLIGE, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT.parent) + os.pathsep + str(ROOT), **env})


def test_findings_from_the_store_equal_eval_at_any_as_of(tmp_path: Path, db_url: str) -> None:  # noqa: F811
    assert run("ingest", str(EXAMPLE), "--db", db_url, cwd=tmp_path).returncode == 0
    assert run("ingest", str(MORE), "--db", db_url, cwd=tmp_path).returncode in (0, 3)
    for as_of in ("2022-06-01", "2023-03-01", "2023-12-31", "2025-01-01"):
        stored = run("findings", "--db", db_url, "--as-of", as_of, "--format", "json", cwd=tmp_path)
        direct = run("eval", str(EXAMPLE), str(MORE), "--as-of", as_of, "--format", "json", cwd=tmp_path)
        assert stored.returncode == direct.returncode
        a, b = json.loads(stored.stdout), json.loads(direct.stdout)
        for key in ("summary", "obligations", "violations", "escalations"):
            assert a[key] == b[key], (as_of, key)
        assert a["receipt"]["events_hash"] == b["receipt"]["events_hash"]


def test_pages_filters_and_the_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    run("ingest", str(EXAMPLE), "--db", url, cwd=tmp_path)
    args = ["findings", "--db", url, "--as-of", "2023-12-31", "--format", "json"]
    whole = json.loads(run(*args, "--unit", "public_security", cwd=tmp_path).stdout)
    got: list[dict] = []
    cursor: list[str] = []
    for _ in range(100):
        page = json.loads(run(*args, "--unit", "public_security", "--limit", "3", *cursor, cwd=tmp_path).stdout)
        assert len(page["obligations"]) <= 3 and page["summary"] == whole["summary"]
        got += page["obligations"]
        if page["next"] is None:
            break
        cursor = ["--cursor", page["next"]]
    assert got == whole["obligations"] and len(got) > 3
    veto = json.loads(run(*args, "--level", "one_vote_veto", cwd=tmp_path).stdout)
    assert veto["escalations"] and {e["level"] for e in veto["escalations"]} == {"one_vote_veto"}
    assert veto["summary"]["filtered"] == {"level": "one_vote_veto"}
    bad = run(*args, "--cursor", "not-a-cursor", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("oblige: --cursor: ") and "Traceback" not in bad.stderr
    # pages asked without --as-of: the first at "now", the next at the first page's instant (its
    # cursor keeps it; "now" has moved on by then), as the table's hint on stderr tells a user to ask it
    now = ["findings", "--db", url, "--format", "json", "--unit", "public_security", "--limit", "3"]
    page = json.loads(run(*now, cwd=tmp_path).stdout)
    second = run(*now, "--cursor", page["next"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    following = json.loads(second.stdout)
    assert following["as_of"] == page["as_of"] and following["obligations"][0] not in page["obligations"]
    other = run(*now, "--cursor", page["next"], "--as-of", "2023-12-31", cwd=tmp_path)
    assert other.returncode == 2 and other.stderr.startswith("oblige: --cursor: made for another --as-of"), other.stderr
    typo = run(*args, "--period", "2023-Q5", cwd=tmp_path)  # a mistyped period is an error, not an empty list
    assert typo.returncode == 2 and typo.stderr.startswith("oblige: --period: not a period: '2023-Q5'"), typo.stderr
    quarter = json.loads(run(*args, "--period", "2023-Q2", cwd=tmp_path).stdout)
    assert quarter["obligations"] and {o["period"] for o in quarter["obligations"]} == {"2023-Q2"}
    table = run("findings", "--db", url, "--as-of", "2023-12-31", "--lang", "en", "--limit", "2", cwd=tmp_path)
    assert "--cursor" in table.stderr and "oblige explain" in table.stdout


def test_a_kill_between_events_and_findings_loses_nothing(tmp_path: Path, monkeypatch) -> None:
    """Events committed with their dirty marks; the derivation killed; the next reader redoes it."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines() * 1
    big = tmp_path / "big.jsonl"
    with big.open("w", encoding="utf-8") as out:
        for k in range(300):
            for line in lines:
                e = json.loads(line)
                e["id"] = f"{e['id']}-{k}"
                if "subject" in e:
                    e["subject"] = f"{e['subject']}-{k}"
                out.write(json.dumps(e) + "\n")
    proc = subprocess.Popen([*OBLIGE, "ingest", str(big), "--db", url, "-q"], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT.parent) + os.pathsep + str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = Store(url)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # wait for the events, then kill mid-derivation
        if store.count() == 300 * len(lines):
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # the events are in; deriving 3,600 partitions takes seconds
    proc.wait()
    with store._reading() as conn:
        dirty = conn.execute(select(func.count()).select_from(DIRTY)).scalar()
    store.close()
    assert dirty, "the kill should land before every partition is derived"
    stored = run("findings", "--db", url, "--as-of", "2023-12-31", "--format", "json", cwd=tmp_path)
    direct = run("eval", str(big), "--as-of", "2023-12-31", "--format", "json", cwd=tmp_path)
    assert stored.returncode == direct.returncode == 0, stored.stderr
    assert stored.stdout == direct.stdout, f"{dirty} partitions were dirty after the kill"


def test_another_parameter_set_is_said_and_never_mixed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    params = tmp_path / "p.yaml"
    params.write_text("tuanyuan_deadline: P2D\n", encoding="utf-8")
    run("ingest", str(EXAMPLE), "--db", url, cwd=tmp_path)
    other = run("findings", "--db", url, "--as-of", "2023-12-31", "--format", "json", "--params", str(params), cwd=tmp_path)
    direct = run("eval", str(EXAMPLE), "--as-of", "2023-12-31", "--format", "json", "--params", str(params), cwd=tmp_path)
    assert "derived with another parameter set" in other.stderr and other.stdout == direct.stdout
    rebuilt = run("findings", "--db", url, "--as-of", "2023-12-31", "--format", "json", "--params", str(params),
                  "--rebuild", cwd=tmp_path)
    assert rebuilt.stdout == direct.stdout and "another" not in rebuilt.stderr
    back = run("findings", "--db", url, "--as-of", "2023-12-31", "--format", "json", cwd=tmp_path)
    assert "derived with another parameter set" in back.stderr  # now the default parameters are the other ones
    paged = run("findings", "--db", url, "--as-of", "2023-12-31", "--limit", "5", cwd=tmp_path)
    assert paged.returncode == 2 and "--rebuild" in paged.stderr


def test_parallel_derivation_equals_serial(engine: Engine, tmp_path: Path, monkeypatch) -> None:
    from oblige.facts.files import read_files

    one, two = Store(f"sqlite:///{tmp_path / 'a.db'}"), Store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        for store in (one, two):
            store.ingest(read_files([str(EXAMPLE), str(MORE)], engine.ruleset.units), "x")
        Keeper(one, engine).refresh(workers=1)
        monkeypatch.setattr(kept_module, "PARALLEL", 1)
        Keeper(two, engine).refresh(workers=2)
        from oblige.engine.store.kept_tables import KEPT_TABLES

        for table in KEPT_TABLES:
            rows = []
            for store in (one, two):
                with store._reading() as conn:
                    rows.append(sorted(map(tuple, conn.execute(select(table)).all())))
            assert rows[0] == rows[1] and (rows[0] or table.name.endswith("rejections"))
    finally:
        one.close()
        two.close()


def test_a_share_in_chunks_after_a_first_of_its_own_size_derives_every_partition(engine: Engine, tmp_path: Path,
                                                                                   monkeypatch) -> None:
    """A worker's share (run here in-process) in chunks of 3 after a first of 2 derives what one refresh does."""
    from oblige.engine.store.kept_tables import KEPT_TABLES
    from oblige.engine.store.sql import DIRTY
    from oblige.facts.files import read_files

    one, two = Store(f"sqlite:///{tmp_path / 'a.db'}"), Store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        for store in (one, two):
            store.ingest(read_files([str(EXAMPLE), str(MORE)], engine.ruleset.units), "x")
        Keeper(one, engine).refresh(workers=1)
        assert Keeper(two, engine).claim()
        with two._reading() as conn:
            marks = [(p, s) for p, s in conn.execute(select(DIRTY.c.part, DIRTY.c.seq).order_by(DIRTY.c.part))]
        assert len(marks) > 5
        calls: list[int] = []
        real = Keeper._derive_and_write
        monkeypatch.setattr(Keeper, "_derive_and_write", lambda k, m: calls.append(len(m)) or real(k, m))
        monkeypatch.setattr(kept_module, "CHUNK", 3)
        parts, _, _ = kept_module._derive_share(engine.ruleset, two.url, marks, 2)
        assert parts == len(marks) and calls[:2] == [2, 3] and sum(calls) == len(marks) and max(calls) == 3
        for table in KEPT_TABLES:
            rows = []
            for store in (one, two):
                with store._reading() as conn:
                    rows.append(sorted(map(tuple, conn.execute(select(table)).all())))
            assert rows[0] == rows[1]
        with two._reading() as conn:
            assert conn.execute(select(DIRTY.c.part)).first() is None
    finally:
        one.close()
        two.close()


def test_agenda_lists_what_falls_due_and_what_follows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    run("ingest", str(EXAMPLE), "--db", url, cwd=tmp_path)
    r = run("agenda", "--db", url, "--unit", "public_security", "--from", "2022-06-01", "--to", "2022-12-31",
            "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    items = json.loads(r.stdout)["items"]
    assert items and [i["due"] for i in items] == sorted(i["due"] for i in items)
    assert all("2022-06-01" <= i["due"][:10] <= "2022-12-31" for i in items)
    first = items[0]
    assert [t["level"] for t in first["then"]][:2] == ["supervision_notice", "public_criticism"]
    assert [t["basis"] for t in first["then"]][:2] == ["rule", "proposed"]  # the ladder's, as in the findings
    assert first["then"][0]["at"] == first["due"]
    # each listed duty is open as of the window start and overdue once its due instant has passed
    found = json.loads(run("findings", "--db", url, "--as-of", "2023-01-01", "--format", "json", cwd=tmp_path).stdout)
    status = {o["id"]: o["status"] for o in found["obligations"]}
    assert all(status[i["obligation"]] in ("overdue", "fulfilled_late", "fulfilled", "discharged") for i in items)
    zh = run("agenda", "--db", url, "--unit", "public_security", "--from", "2022-06-01", "--to", "2022-12-31",
             "--lang", "zh", cwd=tmp_path, COLUMNS="200")
    assert "督办通知" in zh.stdout and "Supervision" not in zh.stdout
    en = run("agenda", "--db", url, "--unit", "public_security", "--from", "2022-06-01", "--to", "2022-12-31",
             "--lang", "en", cwd=tmp_path, COLUMNS="200")
    # an Art. 36 measure in the table says it is proposed, as in every human format (SPEC §3.4), and the
    # caption says who decides
    for out, measures, proposed in ((zh.stdout, ("通报批评", "一票否决"), "（建议）"),
                                    (en.stdout, ("Public criticism", "One-vote veto"), " (proposed)")):
        rows = "\n".join(line for line in out.splitlines() if "│" in line)
        assert rows.count(measures[0]) > 0
        for measure in measures:
            assert rows.count(measure) == rows.count(measure + proposed), (measure, rows)
    assert "区委政法委考核决定" in zh.stdout and "only a recommendation" in en.stdout
    typo = run("agenda", "--db", url, "--unit", "public_securty", cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean" in typo.stderr
    for option in ("--from", "--to"):  # a bad instant is named by its own option
        bad = run("agenda", "--db", url, "--unit", "health", option, "2023-13-01", cwd=tmp_path)
        assert bad.returncode == 2 and bad.stderr.startswith(f"oblige: {option}: "), bad.stderr


def test_the_agenda_table_keeps_its_words_whole_at_any_width(tmp_path: Path) -> None:
    """The agenda is laid out like the findings' tables: at 50 and 80 columns, in zh and en, no line is
    wider than the terminal and every word of a duty's title and of what follows it stands whole, each
    date with its time (rich folded "Supervision" and "self-inspection" into pieces below 80)."""
    from rich.cells import cell_len

    url = f"sqlite:///{tmp_path / 'o.db'}"
    run("ingest", str(EXAMPLE), "--db", url, cwd=tmp_path)
    window = ("agenda", "--db", url, "--unit", "public_security", "--from", "2022-06-01", "--to", "2022-12-31")
    items = json.loads(run(*window, "--format", "json", cwd=tmp_path).stdout)["items"]
    assert items
    for lang in ("en", "zh"):
        labels = json.loads(run("eval", str(EXAMPLE), "--format", "json", "--labels", "--lang", lang,
                                cwd=tmp_path).stdout)["labels"]
        words = {w for i in items for w in labels["actions"][i["action"]].split()}
        words |= {w for i in items for t in i["then"] for w in labels["level"][t["level"]].split()}
        for width in (50, 80):
            out = run(*window, "--lang", lang, cwd=tmp_path, COLUMNS=str(width)).stdout
            assert all(cell_len(line) <= width for line in out.splitlines()), width
            tokens = set(out.replace("│", " ").split())
            if lang == "en":
                assert words <= tokens, sorted(words - tokens)
            for i in items:  # a due instant, date and time, on one line
                day, time = i["due"][:10], i["due"][11:16]
                shown = day if lang == "en" else f"{int(day[:4])}年{int(day[5:7])}月{int(day[8:])}日"
                assert f"{shown} {time}" in out, (lang, width, shown)


def test_service_lists_pages_agenda_and_scope(engine: Engine, tmp_path: Path) -> None:
    admin, health = "admin-0123456789abcdef", "health-0123456789abcdef"
    tokens = Tokens(tokens=(Grant(token=admin, units="*", write=True), Grant(token=health, units=("health",))))
    base, srv, thread = start_server(create_app(engine, f"sqlite:///{tmp_path / 's.db'}", tokens, Limits()))
    try:
        head = {"Authorization": f"Bearer {admin}"}
        events = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]
        assert httpx.post(f"{base}/v1/events", json=events, headers=head).status_code == 200
        whole = httpx.get(f"{base}/v1/findings", params={"as_of": "2023-12-31"}, headers=head).json()
        items: list[dict] = []
        params: dict[str, str | int] = {"as_of": "2023-12-31", "limit": 4}
        for _ in range(200):
            page = httpx.get(f"{base}/v1/violations", params=params, headers=head).json()
            assert page["total"] == len(whole["violations"])
            items += page["items"]
            if page["next"] is None:
                break
            params["cursor"] = page["next"]
        assert items == whole["violations"]
        scoped = httpx.get(f"{base}/v1/escalations", params={"as_of": "2023-12-31"},
                           headers={"Authorization": f"Bearer {health}"}).json()
        assert scoped["items"] and {e["unit"] for e in scoped["items"]} == {"health"}
        agenda = httpx.get(f"{base}/v1/agenda", params={"unit": "health", "from": "2022-06-01", "to": "2022-12-31"},
                           headers={"Authorization": f"Bearer {health}"})
        assert agenda.status_code == 200 and agenda.json()["items"]
        other = httpx.get(f"{base}/v1/agenda", params={"unit": "commerce"}, headers={"Authorization": f"Bearer {health}"})
        assert other.status_code == 403
        # a bad window is a 422 that names its parameter, as `oblige agenda` names its option
        for params, detail in (({"from": "2023-13-01"}, "from: "), ({"to": "soon"}, "to: "),
                               ({"from": "2023-06-01", "to": "2023-01-01"}, "to: before from")):
            wrong = httpx.get(f"{base}/v1/agenda", params={"unit": "health", **params}, headers=head)
            assert wrong.status_code == 422 and wrong.json()["detail"].startswith(detail), wrong.text
        bad = httpx.get(f"{base}/v1/violations", params={"cursor": "zzz"}, headers=head)
        assert bad.status_code == 422 and bad.json()["detail"].startswith("cursor: "), bad.text
        # a next page asked without as_of is read at its cursor's, for the document and for a list
        for path, key in (("/v1/findings", "obligations"), ("/v1/violations", "items")):
            first = httpx.get(f"{base}{path}", params={"limit": 2}, headers=head).json()
            second = httpx.get(f"{base}{path}", params={"limit": 2, "cursor": first["next"]}, headers=head)
            assert second.status_code == 200, second.text
            assert second.json()["as_of"] == first["as_of"] and second.json()[key][0] not in first[key]
        typo = httpx.get(f"{base}/v1/findings", params={"period": "2023-Q5"}, headers=head)
        assert typo.status_code == 422 and typo.json()["detail"].startswith("period: not a period"), typo.text
        for path in ("/v1/findings", "/v1/violations"):  # found by the fuzz: a 2**63 article overflowed SQLite (500)
            assert httpx.get(f"{base}{path}", params={"article": 2**63}, headers=head).status_code == 422
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_serve_never_creates_a_store_unasked(tmp_path: Path) -> None:
    r = run("serve", "--db", f"sqlite:///{tmp_path / 'typo.db'}", "--port", "1", cwd=tmp_path)
    assert r.returncode == 2 and "no event store at" in r.stderr and "--create" in r.stderr
    assert not (tmp_path / "typo.db").exists()


def test_a_schema_1_store_is_upgraded_and_its_old_bodies_judged_again(tmp_path: Path) -> None:
    """A store written by schema 1 (no partitions, no kept findings; bodies stored as received):
    upgraded on first use, every finding derived, a body today's rules reject reported."""
    import sqlite3

    db = tmp_path / "old.db"
    url = f"sqlite:///{db}"
    assert run("ingest", str(EXAMPLE), "--db", url, cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(db)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                                "(name LIKE 'oblige_kept_%' OR name = 'oblige_dirty')").fetchall():
        conn.execute(f"DROP TABLE {name}")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='oblige_events' "
                                "AND name LIKE 'ix_%' AND name != 'ix_oblige_events_seq'").fetchall():
        conn.execute(f"DROP INDEX {name}")
    conn.execute("ALTER TABLE oblige_events DROP COLUMN part")
    conn.execute("DELETE FROM oblige_meta WHERE key != 'schema_version'")
    conn.execute("UPDATE oblige_meta SET value = '1' WHERE key = 'schema_version'")
    bad = {"id": "old-1", "type": "unit.liaison_designated", "occurred_at": "2022-06-01", "unit": "health",
           "subject": "someone", "data": {}}  # a subject on a unit-level event: stored as received by schema 1
    conn.execute("INSERT INTO oblige_events (id, seq, digest, type, occurred_at, unit, subject, body, received_at,"
                 " source, line) VALUES ('old-1', 9999, '00', 'unit.liaison_designated', 1654012800000000, 'health',"
                 " 'someone', ?, 0, 'old.jsonl', 1)", (json.dumps(bad),))
    conn.commit()
    conn.close()
    stored = run("findings", "--db", url, "--as-of", "2023-12-31", "--format", "json", cwd=tmp_path)
    direct = run("eval", str(EXAMPLE), "--as-of", "2023-12-31", "--format", "json", cwd=tmp_path)
    assert stored.returncode == 3, stored.stderr  # done, but a stored event is rejected
    a, b = json.loads(stored.stdout), json.loads(direct.stdout)
    for key in ("obligations", "violations", "escalations"):
        assert a[key] == b[key]
    assert [(r["file"], r["line"], r["id"]) for r in a["rejected"]] == [("old.jsonl", 1, "old-1")]
    assert "subject" in a["rejected"][0]["error"]
    assert sqlite3.connect(db).execute("SELECT value FROM oblige_meta WHERE key='schema_version'").fetchone() == ("3",)


def test_a_schema_2_store_gets_kept_counts_and_its_findings_derived_again(tmp_path: Path) -> None:
    """A store of schema 2 (kept findings without their counts, other indexes): its derived tables
    are made again on first use and every finding derived again; the events are untouched."""
    import sqlite3

    db = tmp_path / "two.db"
    url = f"sqlite:///{db}"
    assert run("ingest", str(EXAMPLE), "--db", url, cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(db)
    events = conn.execute("SELECT count(*) FROM oblige_events").fetchone()
    conn.execute("DROP TABLE oblige_kept_counts")
    conn.execute("DROP INDEX ix_oblige_ko_from")
    conn.execute("CREATE INDEX ix_oblige_ko_count ON oblige_kept_obligations (unit, status, valid_to, valid_from)")
    conn.execute("UPDATE oblige_meta SET value = '2' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    stored = run("findings", "--db", url, "--as-of", "2023-12-31", "--format", "json", "--limit", "3", cwd=tmp_path)
    direct = run("eval", str(EXAMPLE), "--as-of", "2023-12-31", "--format", "json", cwd=tmp_path)
    assert stored.returncode == 0, stored.stderr
    a, b = json.loads(stored.stdout), json.loads(direct.stdout)
    assert a["summary"] == b["summary"] and a["obligations"] == b["obligations"][:3]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM oblige_meta WHERE key='schema_version'").fetchone() == ("3",)
    assert conn.execute("SELECT count(*) FROM oblige_events").fetchone() == events
    indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "ix_oblige_ko_from" in indexes and "ix_oblige_ko_count" not in indexes
    assert conn.execute("SELECT count(*) FROM oblige_kept_counts").fetchone()[0] > 0
