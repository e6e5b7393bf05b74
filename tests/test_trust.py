"""Issue 15 (trust): every door enforces who may report what, nothing unvalidated is stored, no input
or storage fault ends in a traceback, and a database URL's password is never shown."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, inspect

from oblige import Engine
from oblige.engine.http.app import Limits, create_app
from oblige.engine.http.tokens import Grant, Tokens
from oblige.engine.store.sql import NoStore, Store, StoreError, mask_url
from oblige.facts.reader import Accepted, Rejected, read_array, read_lines
from oblige.facts.timeutil import parse_instant
from tests.conftest import ROOT
from tests.test_service import free_port, serve, start_server
from tests.test_store import PG_BASE, _pg_available, db_url  # noqa: F401  (db_url is a fixture)


def _pg_or_skip() -> None:
    problem = _pg_available()
    if problem:
        if os.environ.get("OBLIGE_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required but not reachable at {PG_BASE}: {problem}")
        pytest.skip(f"no PostgreSQL at {PG_BASE}")


# --- Store(create=False) -------------------------------------------------------------------------

def test_no_store_is_created_for_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(StoreError) as err:
        Store(f"sqlite:///{path}", create=False)
    assert str(err.value) == f"no event store at sqlite:///{path}; create one with oblige ingest"
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_an_sqlite_file_without_the_schema_is_no_store_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table t (x)")
    with pytest.raises(StoreError, match="^no event store at .*; create one with oblige ingest$"):
        Store(f"sqlite:///{path}", create=False)
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")] == ["t"]


def test_in_memory_sqlite_is_no_store_without_create() -> None:
    with pytest.raises(StoreError, match="no event store"):
        Store("sqlite://", create=False)


def test_an_existing_store_opens_without_create(db_url: str) -> None:  # noqa: F811
    Store(db_url).close()
    store = Store(db_url, create=False)
    assert store.count() == 0
    store.close()


def test_missing_postgresql_database_is_no_store_and_the_password_is_masked() -> None:
    _pg_or_skip()
    base = PG_BASE.rsplit("/", 1)[0].replace("://root@", "://root:s3cret-pw@")
    url = f"{base}/oblige_absent_{uuid.uuid4().hex[:8]}"
    name = url.rsplit("/", 1)[1]
    with pytest.raises(NoStore) as err:
        Store(url, create=False)
    message = str(err.value)
    assert message.startswith("no event store at ") and f"the server has no database {name}; create it" in message
    assert "s3cret-pw" not in message and "***" in message
    # an ingest cannot make it either (oblige makes its tables, not the server's databases): not "use ingest"
    with pytest.raises(StoreError) as err:
        Store(url, create=True)
    message = str(err.value)
    assert not isinstance(err.value, NoStore) and f"createdb {name}), then run this again" in message
    assert "s3cret-pw" not in message and "oblige ingest" not in message
    # a role the server does not know is said as the server says it, not as a missing store
    stranger = f"{base.replace('://root:', '://oblige_nobody:')}/postgres"
    with pytest.raises(StoreError) as err:
        Store(stranger, create=False)
    assert not isinstance(err.value, NoStore) and 'role "oblige_nobody" does not exist' in str(err.value)
    assert "s3cret-pw" not in str(err.value)


def test_an_empty_postgresql_database_is_no_store_and_nothing_is_created(db_url: str) -> None:  # noqa: F811
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    with pytest.raises(StoreError, match="^no event store at "):
        Store(db_url, create=False)
    eng = create_engine(db_url)
    try:
        assert inspect(eng).get_table_names() == []
    finally:
        eng.dispose()


def test_mask_url() -> None:
    assert mask_url("postgresql+psycopg://u:pw@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"
    assert "pw" not in mask_url("weird://u:pw@h/x")


# --- shared material -----------------------------------------------------------------------------

EXAMPLE = ROOT / "examples" / "events.jsonl"
BASE = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]
AS_OF = "2023-12-31"
# SPEC §2.1 forgeries: health files the committee's finding against commerce; health "compares
# DNA" for the police's subject p-8841, whose registration was approved without a comparison
FORGED = [
    {"id": "forge-1", "type": "assessment.enforcement_failure", "occurred_at": "2023-12-20", "unit": "health",
     "data": {"year": 2023, "target": "commerce", "finding": "duties_unperformed"}},
    {"id": "forge-2", "type": "dna.compared", "occurred_at": "2023-03-02", "unit": "health", "subject": "p-8841",
     "data": {"matched": True}},
]
OBLIGE = [sys.executable, "-c", "from oblige.cli import main; main()"]


def outcome(doc: dict[str, Any]) -> tuple[Any, ...]:
    """What the forgeries must not change."""
    return (doc["obligations"], doc["violations"], doc["escalations"])


def jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


def cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OBLIGE, *args], capture_output=True, text=True, cwd=cwd, input=stdin,
                          env={**os.environ, "PYTHONPATH": str(ROOT.parent)}, timeout=300)


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr[-2000:]


# --- 1. SPEC §2.1 at every door --------------------------------------------------------------------

def test_library_rejects_forged_reports(engine: Engine, tmp_path: Path) -> None:
    as_of = parse_instant(AS_OF)
    clean = engine.evaluate(read_lines([json.dumps(e) for e in BASE], "b", engine.ruleset.units), as_of).to_json_dict()
    items = list(read_lines([json.dumps(e) for e in BASE + FORGED], "b", engine.ruleset.units))
    errors = [i.error for i in items if isinstance(i, Rejected)]
    assert errors == ["unit: health may not report assessment.enforcement_failure", "unit: health may not report dna.compared"]
    assert outcome(engine.evaluate(items, as_of).to_json_dict()) == outcome(clean)
    session = engine.session()
    session.add_all(items)
    assert outcome(session.findings(as_of).to_json_dict()) == outcome(clean)
    assert any(v["kind"] == "precondition" and v.get("subject") == "p-8841" for v in clean["violations"])
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    report = store.ingest(iter(items), "b")
    assert report.rejected == 2 and store.count() == len(BASE)
    store.close()


def test_cli_rejects_forged_reports(tmp_path: Path) -> None:
    clean = cli("eval", str(EXAMPLE), "--as-of", AS_OF, "--format", "json", cwd=tmp_path)
    forged = jsonl(tmp_path / "forged.jsonl", BASE + FORGED)
    r = cli("eval", str(forged), "--as-of", AS_OF, "--format", "json", cwd=tmp_path)
    assert r.returncode == 3 and "health may not report assessment.enforcement_failure" in r.stderr
    assert "health may not report dna.compared" in r.stderr
    assert outcome(json.loads(r.stdout)) == outcome(json.loads(clean.stdout))
    db = f"sqlite:///{tmp_path / 'o.db'}"
    r = cli("ingest", str(forged), "--db", db, cwd=tmp_path)
    assert r.returncode == 3 and "may not report" in r.stderr
    found = cli("findings", "--db", db, "--as-of", AS_OF, "--format", "json", cwd=tmp_path)
    assert outcome(json.loads(found.stdout)) == outcome(json.loads(clean.stdout))


ADMIN, HEALTH_W, HEALTH_R = "admin-trust-0123456789", "healthw-trust-0123456789", "healthr-trust-0123456789"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def trust_server(engine: Engine, tmp_path_factory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("trust") / "t.db"
    tokens = Tokens(tokens=(Grant(token=ADMIN, units="*", write=True), Grant(token=HEALTH_W, units=("health",), write=True),
                            Grant(token=HEALTH_R, units=("health",))))
    base, srv, thread = start_server(create_app(engine, f"sqlite:///{db}", tokens, Limits(max_body=2_000_000, max_events=500)))
    assert httpx.post(f"{base}/v1/events", json=BASE, headers=auth(ADMIN)).json()["stored"] == len(BASE)
    yield base
    srv.should_exit = True
    thread.join(timeout=10)


def test_http_scoped_writer_cannot_write_another_units_outcome(trust_server: str) -> None:
    before = httpx.get(f"{trust_server}/v1/findings", params={"as_of": AS_OF}, headers=auth(ADMIN)).json()
    as_political_legal = {**FORGED[0], "id": "forge-3", "unit": "political_legal"}
    as_police = {**FORGED[1], "id": "forge-4", "unit": "public_security"}
    r = httpx.post(f"{trust_server}/v1/events", json=[*FORGED, as_political_legal, as_police], headers=auth(HEALTH_W))
    assert r.status_code == 200 and r.json()["stored"] == 0 and r.json()["rejected"] == 4
    errors = [e["error"] for e in r.json()["rejected_events"]]
    assert errors[:2] == ["unit: health may not report assessment.enforcement_failure", "unit: health may not report dna.compared"]
    assert all("outside this token's units" in e for e in errors[2:])
    after = httpx.get(f"{trust_server}/v1/findings", params={"as_of": AS_OF}, headers=auth(ADMIN)).json()
    assert outcome(after) == outcome(before)
    ev = httpx.post(f"{trust_server}/v1/evaluate", params={"as_of": AS_OF}, json=BASE + FORGED, headers=auth(ADMIN)).json()
    assert outcome(ev) == outcome(before) and len(ev["rejected"]) == 2


# --- 2. nothing unvalidated is stored --------------------------------------------------------------

GOOD = {"id": "ok-1", "type": "child.missing_reported", "occurred_at": "2023-06-01", "unit": "public_security",
        "subject": "c-1", "data": {"age": 3}}
REPEATED_LINE = ('{"id":"dup-1","type":"child.missing_reported","occurred_at":"2023-06-01","unit":"public_security",'
                 '"subject":"c-2","data":{"dna_profile":"ACGT"},"data":{"age":4}}')


def test_repeated_keys_are_rejected_at_every_door(engine: Engine, tmp_path: Path, trust_server: str) -> None:
    spaced = REPEATED_LINE.replace('"data":{"age":4}', '"data" \t: {"age":4}')
    for line in (REPEATED_LINE, spaced):
        [item] = read_lines([line], "f", engine.ruleset.units)
        assert isinstance(item, Rejected) and item.error == "repeated key 'data' in one object" and item.id == "dup-1"
    [item] = read_array("[" + REPEATED_LINE + "]", "f", engine.ruleset.units)
    assert isinstance(item, Rejected) and "repeated key 'data'" in item.error
    db = f"sqlite:///{tmp_path / 'o.db'}"
    for name, text in (("a.jsonl", REPEATED_LINE + "\n"), ("b.json", "[" + REPEATED_LINE + "]")):
        (tmp_path / name).write_text(text, encoding="utf-8")
        r = cli("ingest", str(tmp_path / name), "--db", db, cwd=tmp_path)
        assert r.returncode == 3 and "repeated key 'data'" in r.stderr, r.stderr
    assert Store(db).count() == 0
    for content, ctype in ((REPEATED_LINE, "Application/X-NDJSON"), ("[" + REPEATED_LINE + "]", "application/json"),
                           ('{"events": [' + REPEATED_LINE + "]}", "application/json")):
        r = httpx.post(f"{trust_server}/v1/events", content=content, headers={**auth(ADMIN), "Content-Type": ctype})
        assert r.status_code == 200 and r.json()["stored"] == 0, r.text
        assert "repeated key 'data'" in r.json()["rejected_events"][0]["error"]


def test_the_store_keeps_the_canonical_validated_event(engine: Engine, tmp_path: Path) -> None:
    line = ('{ "data" : {"age": 3}, "subject": "c-1", "unit": "public_security", "occurred_at": "2023-06-01T09:30",'
            ' "type": "child.missing_reported", "id": "ok-1"}')
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.ingest(read_lines([line], "f", engine.ruleset.units), "f")
    [(_, _, _, body)] = list(store.events())
    assert json.loads(body) == {"id": "ok-1", "type": "child.missing_reported", "occurred_at": "2023-06-01T09:30:00+08:00",
                                "unit": "public_security", "subject": "c-1", "data": {"age": 3}}
    personal = [
        {"id": "u-1", "type": "unit.liaison_designated", "occurred_at": "2023-01-01", "unit": "health",
         "subject": {"name": "Zhang San", "dna": "ACGT"}, "data": {}},
        {"id": "u-2", "type": "dna.collected", "occurred_at": "2023-01-01", "unit": "health", "subject": "p-1",
         "data": {"collector_kind": "individual", "collector": "x" * 201, "of": "other"}},
    ]
    report = store.ingest(read_lines([json.dumps(e) for e in personal], "g", engine.ruleset.units), "g")
    assert report.rejected == 2 and store.count() == 1
    assert all(len(r.error) < 200 and "Zhang" not in r.error for r in report.rejections)
    # a repeat with another spelling of the same validated event is a duplicate, not a conflict
    again = store.ingest(read_lines([json.dumps({**GOOD, "occurred_at": "2023-06-01T09:30:00+08:00"})], "h",
                                    engine.ruleset.units), "h")
    assert again.duplicates == 1
    store.close()


# --- 3. no crash on bad input ----------------------------------------------------------------------

BAD_TEXTS = {
    "deep": '{"id":"b-1","data":' + "[" * 5000 + "]" * 5000 + "}",
    "digits": '{"id":"b-2","type":"child.missing_reported","data":{"age":' + "7" * 5000 + "}}",
    "subject_2_80": json.dumps({**GOOD, "id": "b-3", "subject": 2 ** 80}),
    "nan": '{"id":"b-4","type":"child.missing_reported","data":{"age":NaN}}',
    "infinity": '{"id":"b-5","type":"child.missing_reported","data":{"age":-Infinity}}',
    "over_2_53": json.dumps({**GOOD, "id": "b-6", "data": {"age": 2 ** 53 + 1}}),
    "far_future": json.dumps({**GOOD, "id": "b-7", "occurred_at": "9999-12-31"}),
    "year_1": json.dumps({**GOOD, "id": "b-8", "occurred_at": "0001-01-01"}),
    "year_10000": json.dumps({**GOOD, "id": "b-9", "occurred_at": "10000-01-01"}),
    "forged_id": json.dumps({**GOOD, "id": "x\nrejected: forged.jsonl:1: all fine", "unit": "\x1b[2J" + "u" * 500}),
}


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_cli_array_of_bad_events_is_rejected_line_by_line(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[\n" + ",\n".join([*BAD_TEXTS.values(), json.dumps(GOOD)]) + "\n]\n", encoding="utf-8")
    r = cli("eval", str(path), "--as-of", AS_OF, "--format", fmt, cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 3, r.stderr[-2000:]
    lines = r.stderr.splitlines()
    rejected = [line for line in lines if line.startswith("rejected: ")]
    assert len(rejected) == len(BAD_TEXTS), r.stderr
    assert all(line.startswith(("rejected: ", "oblige: ")) for line in lines), r.stderr
    assert all(len(line) < 400 for line in lines) and "\x1b" not in r.stderr
    if fmt == "json":
        assert json.loads(r.stdout)["summary"]["events"] == 1


def test_cli_json_lines_of_bad_events(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "ok.jsonl", [GOOD])
    with path.open("a", encoding="utf-8") as out:
        out.write("\n".join(BAD_TEXTS.values()) + "\n")
    r = cli("eval", str(path), "--as-of", AS_OF, "--format", "table", cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 3 and sum(line.startswith("rejected: ") for line in r.stderr.splitlines()) == len(BAD_TEXTS)


def test_http_bad_bodies_are_4xx_or_rejections(trust_server: str) -> None:
    for name, text in BAD_TEXTS.items():
        for content in ("[" + text + "]", '{"events": [' + text + "]}"):
            for path in ("/v1/evaluate", "/v1/events"):
                r = httpx.post(f"{trust_server}{path}", content=content,
                               headers={**auth(ADMIN), "Content-Type": "application/json"})
                assert r.status_code < 500, (name, path, r.text)
                if r.status_code == 200:
                    assert r.json().get("stored", 0) == 0
        r = httpx.post(f"{trust_server}/v1/events", content=text,
                       headers={**auth(ADMIN), "Content-Type": "application/x-ndjson"})
        assert r.status_code == 200 and r.json()["rejected"] == 1, (name, r.text)
    for body in (b"\xff\xfe[]", b'[{"id": "\xc3"}]', b"{" * 100_000, b"[" * 100_000, b"1e999", b"NaN"):
        for path in ("/v1/evaluate", "/v1/events"):
            r = httpx.post(f"{trust_server}{path}", content=body, headers={**auth(ADMIN), "Content-Type": "application/json"})
            assert 400 <= r.status_code < 500, (body[:20], path, r.status_code, r.text[:200])


# --- 3b. fuzz: JSON-array files and HTTP bodies ----------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                     st.sampled_from(["public_security", "health", "child.missing_reported", "2023-06-01", "9999-12-31"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.sampled_from(
                                                             ["id", "type", "unit", "subject", "data", "age",
                                                              "occurred_at", "x\n"]), inner, max_size=6)),
                       max_leaves=20)
_events = st.fixed_dictionaries({"id": st.text(max_size=10), "type": st.sampled_from(["child.missing_reported",
                                 "assessment.enforcement_failure", "dna.compared", "x"]), "occurred_at": _scalars,
                                 "unit": st.sampled_from(["public_security", "health", "political_legal", "", "zz"]),
                                 "data": _values}, optional={"subject": _values})
_array_text = st.lists(st.one_of(_events, _values), max_size=6).map(lambda xs: json.dumps(xs, allow_nan=True))
_mangled = st.tuples(_array_text, st.integers(0, 200), st.sampled_from(["", "[", "{", '"', ",", "]]", "\\", ":", "\x00",
                                                                        '{"a":1,"a":2}', "1" * 400, "NaN"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mangled)
def test_fuzz_json_array_text_never_raises(engine: Engine, case: tuple[str, int, str]) -> None:
    text, at, insert = case
    text = text[:at] + insert + text[at:]
    if not text.lstrip().startswith("["):
        text = "[" + text
    for item in read_array(text, "fuzz", engine.ruleset.units):
        assert isinstance(item, (Accepted, Rejected))
        if isinstance(item, Rejected):
            assert item.error.isprintable() and len(item.error) < 1000


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_mangled, st.sampled_from(["application/json", "application/x-ndjson", "APPLICATION/JSON; charset=utf-8", ""]),
       st.sampled_from(["/v1/evaluate", "/v1/events"]))
def test_fuzz_http_bodies_never_500(trust_server: str, case: tuple[str, int, str], ctype: str, path: str) -> None:
    text, at, insert = case
    body = (text[:at] + insert + text[at:]).encode("utf-8", "surrogatepass")
    r = httpx.post(f"{trust_server}{path}", content=body, headers={**auth(HEALTH_W), "Content-Type": ctype}, timeout=30)
    assert r.status_code < 500, r.text[:300]


# --- 4. storage faults: exit 2, one line, no password ------------------------------------------------

def _one_line_exit_2(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    no_traceback(r)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("oblige: "), r.stderr[-2000:]
    assert all(n in lines[0] for n in needles), lines


def test_corrupt_and_read_only_databases(tmp_path: Path) -> None:
    events = jsonl(tmp_path / "e.jsonl", [GOOD])
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x07" * 8000)
    for command in (["ingest", str(events)], ["findings"]):
        _one_line_exit_2(cli(*command, "--db", f"sqlite:///{junk}", cwd=tmp_path), "junk.db")
    good = tmp_path / "good.db"
    assert cli("ingest", str(events), "--db", f"sqlite:///{good}", cwd=tmp_path).returncode == 0
    more = jsonl(tmp_path / "more.jsonl", [{**GOOD, "id": "ok-2"}])
    read_only = f"sqlite:///file:{good}?mode=ro&uri=true"
    _one_line_exit_2(cli("ingest", str(more), "--db", read_only, cwd=tmp_path), "readonly")
    assert Store(f"sqlite:///{good}").count() == 1  # what was committed stays


def test_disk_full_is_a_store_error(engine: Engine, tmp_path: Path) -> None:
    from sqlalchemy import event as sa_event

    store = Store(f"sqlite:///{tmp_path / 'full.db'}")
    store.ingest(read_lines([json.dumps(GOOD)], "a", engine.ruleset.units), "a")

    @sa_event.listens_for(store.engine, "connect")
    def _small(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA max_page_count = 8")

    store.engine.dispose()
    many = [json.dumps({**GOOD, "id": f"f-{i}", "subject": f"s-{i}" * 10}) for i in range(3000)]
    with pytest.raises(StoreError, match="full"):
        store.ingest(read_lines(many, "b", engine.ruleset.units), "b")
    store.close()
    assert Store(f"sqlite:///{tmp_path / 'full.db'}").count() >= 1


def test_disk_full_while_deriving_is_a_store_error(engine: Engine, tmp_path: Path) -> None:
    """The keeper writes its rows through the driver's executemany; a database that fills up there
    is still a StoreError (one line, exit 2), never the driver's own exception."""
    from sqlalchemy import event as sa_event

    from oblige.engine.store.kept import Keeper

    url = f"sqlite:///{tmp_path / 'full.db'}"
    store = Store(url)
    many = [json.dumps({**GOOD, "id": f"f-{i}", "subject": f"s-{i}" * 10}) for i in range(2000)]
    store.ingest(read_lines(many, "b", engine.ruleset.units), "b")  # stored and marked, not yet derived
    pages = sqlite3.connect(tmp_path / "full.db").execute("PRAGMA page_count").fetchone()[0]

    @sa_event.listens_for(store.engine, "connect")
    def _small(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 4}")

    store.engine.dispose()
    with pytest.raises(StoreError, match="full"):
        Keeper(store, engine).refresh(workers=1)
    store.close()


def test_disk_full_through_the_cli(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        events = jsonl(tmp_path / "many.jsonl", [{**GOOD, "id": f"f-{i}", "subject": f"s-{i}" * 10} for i in range(5000)])
        _one_line_exit_2(cli("ingest", str(events), "--db", f"sqlite:///{mount / 'o.db'}", cwd=tmp_path), "full")
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_unreachable_postgresql_never_shows_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://root:pw-Secret-42@127.0.0.1:{free_port()}/nowhere"
    for command in (["ingest", str(jsonl(tmp_path / "e.jsonl", [GOOD]))], ["findings"]):
        r = cli(*command, "--db", url, cwd=tmp_path)
        _one_line_exit_2(r)
        assert "pw-Secret-42" not in r.stderr + r.stdout and "***" in r.stderr
    with pytest.raises(StoreError) as err:
        Store(url)
    assert "pw-Secret-42" not in str(err.value)


# --- 5. concurrent first use ---------------------------------------------------------------------------

def test_concurrent_first_use_creates_the_schema_once(db_url: str) -> None:  # noqa: F811
    code = "import sys; from oblige.engine.store.sql import Store; Store(sys.argv[1]).close()"
    for _ in range(3):
        if db_url.startswith("postgresql"):
            eng = create_engine(db_url)
            with eng.begin() as conn:
                for table in ("oblige_events", "oblige_ingest_log", "oblige_meta"):
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            eng.dispose()
        else:
            for suffix in ("", "-wal", "-shm"):  # a new database beside the last round's log would not be new
                Path(db_url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        procs = [subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT.parent)}) for _ in range(8)]
        errs = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 8, errs
        store = Store(db_url, create=False)
        assert store.count() == 0
        store.close()


# --- 6. service hygiene ------------------------------------------------------------------------------

def test_token_in_the_query_string_is_refused_and_not_logged(tmp_path: Path) -> None:
    with serve(tmp_path, ADMIN) as server:
        for params in ({"token": ADMIN}, {"access_token": ADMIN}, {"as_of": AS_OF, "x": ADMIN}):
            assert httpx.get(f"{server.base}/v1/findings", params=params).status_code == 400
    out = server.output
    assert ADMIN not in out and "GET /v1/findings" in out


def test_json_lines_content_type_and_line_ends(trust_server: str) -> None:
    line = json.dumps({**GOOD, "id": "nd-1", "data": {"age": 3}}, ensure_ascii=False)
    odd = json.dumps({"id": "nd-2", "type": "dna.collected", "occurred_at": "2023-06-01", "unit": "public_security",
                      "subject": "c-9", "data": {"collector_kind": "other", "collector": "a\u2028b", "of": "other"}},
                     ensure_ascii=False)
    r = httpx.post(f"{trust_server}/v1/evaluate", params={"as_of": AS_OF}, content=line + "\n" + odd + "\r\n",
                   headers={**auth(ADMIN), "Content-Type": "Application/X-NDJSON; Charset=UTF-8"})
    assert r.status_code == 200 and r.json()["summary"]["events"] == 2, r.text[-500:]  # U+2028 does not end a line


def test_scoped_reader_sees_its_rejections_only(trust_server: str, engine: Engine) -> None:
    doc = httpx.get(f"{trust_server}/v1/findings", params={"as_of": AS_OF}, headers=auth(HEALTH_R)).json()
    assert "events" not in doc["summary"] and "duplicates" not in doc["summary"]
    assert doc["summary"]["rejected"] == len(doc["rejected"]) == 0
    rules = httpx.get(f"{trust_server}/v1/rules", headers=auth(HEALTH_R)).json()
    assert rules and all("/" not in r["file"] for r in rules)
    assert str(ROOT) not in json.dumps(rules)
    obligation = next(iter(httpx.get(f"{trust_server}/v1/findings", params={"as_of": AS_OF},
                                     headers=auth(ADMIN)).json()["obligations"]))
    explained = httpx.get(f"{trust_server}/v1/explain/{obligation['id']}", params={"as_of": AS_OF}, headers=auth(ADMIN))
    assert explained.status_code == 200 and str(ROOT) not in explained.text


def test_expensive_requests_are_bounded(engine: Engine, tmp_path: Path) -> None:
    class Slow:
        def __getattr__(self, name: str) -> Any:
            return getattr(engine, name)

        def evaluate(self, *args: Any, **kwargs: Any) -> Any:
            time.sleep(1.5)
            return engine.evaluate(*args, **kwargs)

    base, srv, thread = start_server(create_app(Slow(), f"sqlite:///{tmp_path / 'b.db'}", None,  # type: ignore[arg-type]
                                                Limits(max_busy=1)))
    try:
        results: list[int] = []
        first = threading.Thread(target=lambda: results.append(httpx.post(f"{base}/v1/evaluate", json=[GOOD],
                                                                          timeout=30).status_code))
        first.start()
        time.sleep(0.5)
        second = httpx.post(f"{base}/v1/evaluate", json=[GOOD], timeout=30)
        first.join()
        assert second.status_code == 503 and second.headers["retry-after"] == "1"
        assert results == [200]
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


# --- 3c. text after a JSON array is rejected, never dropped unsaid --------------------------------------

def test_text_after_an_array_is_rejected_not_dropped(engine: Engine, tmp_path: Path, trust_server: str) -> None:
    second = {**GOOD, "id": "after-1"}
    text = "[" + json.dumps(GOOD) + "]\n\n[" + json.dumps(second) + "]\n"
    items = list(read_array(text, "f", engine.ruleset.units))
    assert isinstance(items[0], Accepted) and len(items) == 2
    assert isinstance(items[1], Rejected) and items[1].line == 3 and "text after the array's closing ]" in items[1].error
    path = tmp_path / "two.json"
    path.write_text(text, encoding="utf-8")
    r = cli("eval", str(path), "--as-of", AS_OF, "--format", "json", cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 3 and f"rejected: {path}:3: malformed JSON: text after the array's closing ]" in r.stderr
    assert json.loads(r.stdout)["summary"]["events"] == 1
    for content in (text, "[]\x00", "[] garbage"):
        for where in ("/v1/events", "/v1/evaluate"):
            resp = httpx.post(f"{trust_server}{where}", content=content,
                              headers={**auth(ADMIN), "Content-Type": "application/json"})
            assert resp.status_code == 422 and "text after the array's closing ]" in resp.json()["detail"], resp.text


# --- 2b. a fault in the middle of a worker-process `findings` ---------------------------------------------

@pytest.fixture(scope="module")
def big_store(engine: Engine, tmp_path_factory) -> tuple[Path, int]:
    """A store over the size at which `findings` evaluates on worker processes, checkpointed into one file."""
    from oblige.engine.batch.run import LARGE_STORE

    n = LARGE_STORE + 1000
    path = tmp_path_factory.mktemp("big") / "big.db"
    store = Store(f"sqlite:///{path}")
    lines = [json.dumps({**GOOD, "id": f"big-{i}", "subject": f"c-{i}"}) for i in range(n)]
    assert store.ingest(read_lines(lines, "big", engine.ruleset.units), "big").stored == n
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, n


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


@pytest.mark.parametrize("fault", ["removed", "truncated"])
def test_a_store_gone_mid_run_is_an_error_not_an_empty_document(engine: Engine, big_store: tuple[Path, int],
                                                               tmp_path: Path, fault: str) -> None:
    """The store is opened and counted, then goes before the workers read it: a worker must not make a
    new empty store there and read its range as empty (a complete-looking document of fewer events)."""
    import io

    path = _copy(big_store[0], tmp_path / "s.db")
    store = Store(f"sqlite:///{path}", create=False)
    assert store.count() == big_store[1]
    if fault == "removed":
        path.unlink()
    else:
        with path.open("r+b") as f:
            f.truncate(0)
    out = io.StringIO()
    raised: list[BaseException] = []

    def run() -> None:
        try:
            engine.write_document(out, parse_instant(AS_OF), store=store, workers=2)
        except BaseException as exc:  # judged below
            raised.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=120)  # liveness only: a failed run must end, not wait for its workers forever
    assert not runner.is_alive(), "the run did not end"
    store.close()
    assert len(raised) == 1 and isinstance(raised[0], StoreError), raised
    assert out.getvalue() == ""
    assert not path.exists() if fault == "removed" else path.stat().st_size == 0  # nothing made in its place


def _corrupt_second_half(path: Path) -> None:
    """Zero some table pages of the later events: opening, counting (an index) and the first worker's
    range still read, the second worker's range does not."""
    with sqlite3.connect(path) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [p for (p,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'oblige_events' AND pagetype = 'leaf' "
                                            "ORDER BY pageno")]
    with path.open("r+b") as f:
        for page in pages[len(pages) * 3 // 4:len(pages) * 3 // 4 + 8]:
            f.seek((page - 1) * size)
            f.write(b"\0" * size)


def test_a_corrupt_store_mid_findings_is_exit_2_and_no_document(big_store: tuple[Path, int], tmp_path: Path) -> None:
    path = _copy(big_store[0], tmp_path / "c.db")
    _corrupt_second_half(path)
    store = Store(f"sqlite:///{path}", create=False)
    assert store.count() == big_store[1]  # the fault is met mid-run, by a worker, not on opening
    store.close()
    out = tmp_path / "out.json"
    for extra in ([], ["--out", str(out)]):
        r = cli("findings", "--db", f"sqlite:///{path}", "--as-of", AS_OF, "--format", "json", *extra, cwd=tmp_path)
        _one_line_exit_2(r, "malformed")
        assert r.stdout == ""
    assert not out.exists() and list(tmp_path.glob(".oblige-*")) == []


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += [int(c) for c in children]
        todo += [int(c) for c in children]
    return found


def test_a_worker_killed_mid_findings_is_exit_4_and_no_document(big_store: tuple[Path, int], tmp_path: Path) -> None:
    import signal

    out = tmp_path / "out.json"
    proc = subprocess.Popen([*OBLIGE, "findings", "--db", f"sqlite:///{big_store[0]}", "--as-of", AS_OF, "--format", "json",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT.parent)})
    killed = None
    deadline = time.monotonic() + 120  # liveness only
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        workers = [p for p in _descendants(proc.pid) if _descendants(p) == [] and p not in _direct(proc.pid)]
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed = workers[0]
        else:
            time.sleep(0.005)
    stdout, stderr = proc.communicate(timeout=120)
    assert killed is not None, "no worker process was seen"
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert proc.returncode == 4 and len(lines) == 1 and lines[0].startswith("oblige: a worker process died"), stderr[-2000:]
    assert "Traceback" not in stderr and stdout == ""
    assert not out.exists() and list(tmp_path.glob(".oblige-*")) == []


def _direct(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# --- 6b. scoped readers and rejections without a readable id ---------------------------------------------

COMMERCE_R = "commercer-trust-0123456789"


def test_scoped_readers_see_their_units_rejections_and_nothing_of_id_less_ones(engine: Engine, tmp_path: Path) -> None:
    """Stored events that today's rules reject: one of health, one of commerce (ids readable), one whose
    body cannot be read (no id): health and commerce each see their own, and neither sees, nor counts,
    the id-less one; an unscoped reader sees all three."""
    path = tmp_path / "r.db"
    store = Store(f"sqlite:///{path}")
    store.ingest(read_lines([json.dumps(e) for e in BASE], "base", engine.ruleset.units), "base")
    store.close()
    bad = [("old-h", "health", json.dumps({"id": "old-h", "type": "birth.retired", "occurred_at": "2023-05-01",
                                           "unit": "health", "subject": "s-1", "data": {}})),
           ("old-c", "commerce", json.dumps({"id": "old-c", "type": "unit.retired", "occurred_at": "2023-05-01",
                                             "unit": "commerce", "data": {}})),
           ("old-x", "health", '{"id": "old-x", "type": "birth.delivered", not json')]
    with sqlite3.connect(path) as conn:
        seq = conn.execute("SELECT max(seq) FROM oblige_events").fetchone()[0]
        for n, (event_id, unit, body) in enumerate(bad, start=1):
            conn.execute("INSERT INTO oblige_events (id, seq, digest, type, occurred_at, unit, subject, body, received_at, "
                         "source, line) VALUES (?, ?, ?, 'x', 0, ?, NULL, ?, 0, 'old', ?)",
                         (event_id, seq + n, f"{n:032d}", unit, body, n))
    tokens = Tokens(tokens=(Grant(token=ADMIN, units="*"), Grant(token=HEALTH_R, units=("health",)),
                            Grant(token=COMMERCE_R, units=("commerce",))))
    base, srv, thread = start_server(create_app(engine, f"sqlite:///{path}", tokens))
    try:
        def get(token: str) -> httpx.Response:
            return httpx.get(f"{base}/v1/findings", params={"as_of": AS_OF}, headers=auth(token), timeout=60)

        everything = get(ADMIN).json()
        assert sorted(str(r["id"]) for r in everything["rejected"]) == ["None", "old-c", "old-h"]
        assert everything["summary"]["rejected"] == 3
        for token, mine in ((HEALTH_R, "old-h"), (COMMERCE_R, "old-c")):
            r = get(token)
            doc = r.json()
            assert [x["id"] for x in doc["rejected"]] == [mine]
            assert doc["summary"]["rejected"] == 1 and "events" not in doc["summary"]
            assert "old-x" not in r.text and "not json" not in r.text and '"id":null' not in r.text.replace(" ", "")
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


# --- 6c. the concurrency bound: per process, one process, the excess refused, the server still answering ------

def test_serve_runs_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound on expensive requests is per process (Limits): `oblige serve` must run exactly one."""
    import uvicorn
    from click.testing import CliRunner
    from fastapi import FastAPI

    from oblige.cli import main

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    result = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path / 's.db'}", "--create", "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    [(app, kwargs)] = calls
    assert isinstance(app, FastAPI)  # an app object, not an import string: uvicorn cannot start workers for it
    assert kwargs.get("workers") in (None, 1) and not kwargs.get("reload")


def test_a_burst_past_max_busy_is_refused_and_the_server_answers(engine: Engine, tmp_path: Path) -> None:
    entered, release = threading.Semaphore(0), threading.Event()

    class Held:
        """The engine, whose evaluations wait until released (the requests stay in progress)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(engine, name)

        def evaluate(self, *args: Any, **kwargs: Any) -> Any:
            entered.release()
            release.wait(timeout=120)
            return engine.evaluate(*args, **kwargs)

    max_busy, burst = 2, 7
    base, srv, thread = start_server(create_app(Held(), f"sqlite:///{tmp_path / 'b.db'}", None,  # type: ignore[arg-type]
                                                Limits(max_busy=max_busy)))
    held: list[int] = []
    try:
        first = [threading.Thread(target=lambda: held.append(httpx.post(f"{base}/v1/evaluate", json=[GOOD],
                                                                       timeout=120).status_code))
                 for _ in range(max_busy)]
        for t in first:
            t.start()
        for _ in range(max_busy):
            assert entered.acquire(timeout=60), "the first requests did not start"
        excess: list[httpx.Response] = []
        lock = threading.Lock()

        def one() -> None:
            r = httpx.post(f"{base}/v1/evaluate", json=[GOOD], timeout=60)
            with lock:
                excess.append(r)

        more = [threading.Thread(target=one) for _ in range(burst - max_busy)]
        for t in more:
            t.start()
        for t in more:
            t.join(timeout=60)
        assert [r.status_code for r in excess] == [503] * (burst - max_busy)
        assert all(r.headers["retry-after"] == "1" and "busy" in r.json()["detail"] for r in excess)
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200  # answered while the bound is full
        assert httpx.get(f"{base}/v1/rules", timeout=30).status_code == 200
        assert not release.is_set() and held == []  # the first ones were still in progress all along
        release.set()
        for t in first:
            t.join(timeout=60)
        assert held == [200] * max_busy
        again = [httpx.post(f"{base}/v1/evaluate", json=[GOOD], timeout=60).status_code for _ in range(max_busy + 1)]
        assert again == [200] * (max_busy + 1)  # every slot came back, the refused ones took none
    finally:
        release.set()
        srv.should_exit = True
        thread.join(timeout=10)


def test_readers_past_the_bound_wait_their_turn_then_are_refused(engine: Engine, tmp_path: Path, monkeypatch) -> None:
    """Reads of the kept findings: READERS at once; the next waits for a slot (served when one frees
    within READER_WAIT), past READER_WAIT it is a 503 with Retry-After; /healthz answers throughout."""
    from oblige.engine.http import app as app_module

    entered, release = threading.Semaphore(0), threading.Event()
    real = app_module.stored_document

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.release()
        release.wait(timeout=120)
        return real(*args, **kwargs)

    monkeypatch.setattr(app_module, "READERS", 1)
    monkeypatch.setattr(app_module, "READER_WAIT", 3.0)
    monkeypatch.setattr(app_module, "stored_document", held)
    base, srv, thread = start_server(create_app(engine, f"sqlite:///{tmp_path / 'r.db'}", None))
    got: list[int] = []
    try:
        first = threading.Thread(target=lambda: got.append(httpx.get(f"{base}/v1/findings", timeout=120).status_code))
        first.start()
        assert entered.acquire(timeout=60), "the first read did not start"
        refused = httpx.get(f"{base}/v1/findings", timeout=60)  # waits READER_WAIT, the slot still taken
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "too many readers" in refused.json()["detail"]
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        second = threading.Thread(target=lambda: got.append(httpx.get(f"{base}/v1/findings", timeout=120).status_code))
        second.start()
        time.sleep(0.5)  # the second one is waiting for the slot
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
        assert got == [200, 200]  # the waiting reader was served once the slot came back
    finally:
        release.set()
        srv.should_exit = True
        thread.join(timeout=10)
