"""The HTTP service against a real server on loopback: auth matrix, unit scoping, limits, parity with eval."""
from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from oblige import Engine
from oblige.engine.http.app import Limits, create_app
from oblige.engine.http.tokens import Grant, Tokens
from tests.conftest import ROOT

ADMIN, HEALTH, WRITER = "admin-0123456789abcdef", "health-0123456789abcdef", "writer-0123456789abcdef"
EXAMPLE = ROOT / "examples" / "events.jsonl"
EVENTS = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    """A real uvicorn server on a free loopback port, in a thread, once it answers /healthz."""
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
def server(engine: Engine, tmp_path_factory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("svc") / "s.db"
    tokens = Tokens(tokens=(Grant(token=ADMIN, units="*", write=True), Grant(token=HEALTH, units=("health",)),
                            Grant(token=WRITER, units=("education",), write=True)))
    app = create_app(engine, f"sqlite:///{db}", tokens, Limits(max_body=200_000, max_events=100))
    base, srv, thread = start_server(app)
    yield base
    srv.should_exit = True
    thread.join(timeout=10)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_and_openapi_need_no_token(server: str) -> None:
    assert httpx.get(f"{server}/healthz").json()["status"] == "ok"
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert {"/v1/events", "/v1/evaluate", "/v1/findings", "/v1/explain/{finding_id}", "/v1/rules", "/healthz"} <= set(paths)


@pytest.mark.parametrize("method,path", [("get", "/v1/findings"), ("get", "/v1/rules"), ("post", "/v1/events"),
                                         ("post", "/v1/evaluate"), ("get", "/v1/explain/ob-1")])
@pytest.mark.parametrize("token,expected", [(None, 401), ("not-a-token-at-all", 401)])
def test_no_or_unknown_token_is_401(server: str, method: str, path: str, token: str | None, expected: int) -> None:
    headers = auth(token) if token else {}
    assert httpx.request(method.upper(), f"{server}{path}", headers=headers, content=b"[]").status_code == expected


def test_ingest_then_findings_equal_eval_and_scoping(server: str, engine: Engine) -> None:
    r = httpx.post(f"{server}/v1/events", json=EVENTS, headers=auth(ADMIN))
    assert r.status_code == 200 and r.json()["stored"] + r.json()["duplicates"] == len(EVENTS)
    again = httpx.post(f"{server}/v1/events", content="\n".join(json.dumps(e) for e in EVENTS),
                       headers={**auth(ADMIN), "Content-Type": "application/x-ndjson"}).json()
    assert again["stored"] == 0 and again["duplicates"] == len(EVENTS)
    whole = httpx.get(f"{server}/v1/findings", params={"as_of": "2023-12-31"}, headers=auth(ADMIN))
    full = whole.json()
    from click.testing import CliRunner

    from oblige.cli import main
    printed = CliRunner().invoke(main, ["eval", str(EXAMPLE), "--as-of", "2023-12-31", "--format", "json"]).stdout
    direct = json.loads(printed)
    for key in ("obligations", "violations", "escalations", "summary", "receipt"):
        assert full[key] == direct[key]
    assert whole.text == printed  # the service writes the document with the command line's one writer
    health = httpx.get(f"{server}/v1/findings", params={"as_of": "2023-12-31"}, headers=auth(HEALTH)).json()
    assert health["obligations"] and {o["duty_bearer"] for o in health["obligations"]} == {"health"}
    assert {v["unit"] for v in health["violations"]} <= {"health"} and {e["unit"] for e in health["escalations"]} <= {"health"}
    other = next(v["id"] for v in full["violations"] if v["unit"] == "public_security")
    assert httpx.get(f"{server}/v1/explain/{other}", params={"as_of": "2023-12-31"}, headers=auth(HEALTH)).status_code == 404
    shown = httpx.get(f"{server}/v1/explain/{other}", params={"as_of": "2023-12-31"}, headers=auth(ADMIN)).json()
    assert shown["finding"] == "violation" and shown["clause"]


def test_read_only_token_cannot_write_and_scoped_writer_only_its_units(server: str) -> None:
    assert httpx.post(f"{server}/v1/events", json=EVENTS[:1], headers=auth(HEALTH)).status_code == 403
    mine = {"id": "w-1", "type": "unit.campaign_reported", "occurred_at": "2023-05-01", "unit": "education", "data": {"year": 2023}}
    theirs = {**mine, "id": "w-2", "unit": "justice"}
    r = httpx.post(f"{server}/v1/events", json=[mine, theirs], headers=auth(WRITER)).json()
    assert r["stored"] == 1 and r["rejected"] == 1 and "outside this token's units" in r["rejected_events"][0]["error"]


def test_evaluate_is_stateless(server: str) -> None:
    body = {"as_of": "2023-06-10", "events": [{"id": "q1", "type": "child.missing_reported", "occurred_at": "2023-06-01",
                                               "unit": "public_security", "subject": "kid-q", "data": {"age": 4}},
                                              {"id": "q2", "type": "nope"}]}
    doc = httpx.post(f"{server}/v1/evaluate", json=body, headers=auth(ADMIN)).json()
    assert {o["action"] for o in doc["obligations"] if o["subject"] == "kid-q"} == {"publish_tuanyuan_alert", "collect_parent_dna"}
    assert doc["rejected"][0]["error"] == "type: unknown event type 'nope'"
    stored = httpx.get(f"{server}/v1/findings", params={"as_of": "2023-12-31"}, headers=auth(ADMIN)).json()
    assert not any(o["subject"] == "kid-q" for o in stored["obligations"])


def test_bad_requests_and_limits_then_still_serving(server: str) -> None:
    r = httpx.post(f"{server}/v1/events", content=b"[{not json", headers={**auth(ADMIN), "Content-Type": "application/json"})
    assert r.status_code == 422 and "malformed JSON" in r.json()["detail"]
    assert httpx.post(f"{server}/v1/events", content=b"x" * 300_000, headers=auth(ADMIN)).status_code == 413
    many = [{"id": f"m{i}", "type": "birth.delivered", "occurred_at": "2023-01-01", "unit": "health", "subject": "s", "data": {}}
            for i in range(101)]
    assert httpx.post(f"{server}/v1/events", json=many, headers=auth(ADMIN)).status_code == 413
    assert httpx.get(f"{server}/v1/findings", params={"as_of": "someday"}, headers=auth(ADMIN)).status_code == 422
    assert httpx.get(f"{server}/v1/findings", params={"status": "lost"}, headers=auth(ADMIN)).status_code == 422
    assert httpx.get(f"{server}/healthz").status_code == 200
    assert len(httpx.get(f"{server}/v1/rules", headers=auth(HEALTH)).json()) >= 40


class Served:
    """A running `oblige serve`: its address, and (once stopped) everything it wrote."""

    base = ""
    output = ""


@contextlib.contextmanager
def serve(tmp_path: Path, token: str) -> Iterator[Served]:
    """`oblige serve` as a user starts it (a subprocess, a tokens file with one admin token, a fresh
    SQLite file), once it answers; stopped on leaving, its log kept in `output`."""
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f'tokens:\n  - {{token: "{token}", units: "*", write: true}}\n', encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from oblige.cli import main; main()", "serve", "--db",
                             f"sqlite:///{tmp_path / 'x.db'}", "--create", "--port", str(port), "--tokens", str(tokens)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = Served()
    served.base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{served.base}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield served
    finally:
        proc.terminate()
        served.output, _ = proc.communicate(timeout=20)


def test_tokens_never_logged(tmp_path: Path) -> None:
    with serve(tmp_path, ADMIN) as server:
        assert httpx.post(f"{server.base}/v1/events", json=EVENTS[:3], headers=auth(ADMIN)).json()["stored"] == 3
        httpx.get(f"{server.base}/v1/findings", headers={"Authorization": "Bearer wrong-token-value-123"})
    out = server.output
    assert "POST /v1/events" in out
    assert ADMIN not in out and "wrong-token-value-123" not in out and "p-8841" not in out and "ev-0001" not in out


def test_refuses_public_bind_without_tokens(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from oblige.cli import main
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--db", f"sqlite:///{tmp_path / 'y.db'}"])
    assert result.exit_code == 2 and "loopback only" in result.stderr
    bad = tmp_path / "t.yaml"
    bad.write_text("tokens:\n  - {token: short, units: '*'}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--tokens", str(bad), "--db", f"sqlite:///{tmp_path / 'y.db'}"])
    assert result.exit_code == 2 and "tokens.0.token" in result.stderr and "short" not in result.stderr.split("tokens.0.token")[1]


def test_an_unknown_unit_is_a_422_with_a_suggestion(server: str) -> None:
    r = httpx.get(f"{server}/v1/findings", params={"as_of": "2023-12-31", "unit": "commerc"}, headers=auth(ADMIN))
    assert r.status_code == 422 and "did you mean commerce?" in r.json()["detail"]
    ok = httpx.get(f"{server}/v1/findings", params={"as_of": "2023-12-31", "unit": "commerce"}, headers=auth(ADMIN))
    assert ok.status_code == 200
