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
import uvicorn
from sqlalchemy import create_engine, inspect

from oblige import Engine
from oblige.engine.http.app import Limits, create_app
from oblige.engine.http.tokens import Grant, Tokens
from oblige.engine.store.sql import Store, StoreError, mask_url
from oblige.facts.reader import Rejected, read_lines
from oblige.facts.timeutil import parse_instant
from tests.conftest import ROOT
from tests.test_service import free_port
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
    with pytest.raises(StoreError) as err:
        Store(url, create=False)
    message = str(err.value)
    assert message.startswith("no event store at ") and message.endswith("; create one with oblige ingest")
    assert "s3cret-pw" not in message and "***" in message


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


def start_server(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    return base, srv, thread


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
