"""The HTTP service: the same engine and store as the command line, over JSON (FastAPI).

`create_app(engine, store_url, tokens)` builds the app; `oblige serve` runs it with uvicorn.
A unit-scoped token sees only findings whose duty bearer or charged unit is one of its units.
Tokens are compared in constant time and never logged; event data is never logged at info.
"""
from __future__ import annotations

import json
import logging
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from oblige.engine.core.engine import Engine
from oblige.engine.core.filters import narrow, restrict
from oblige.engine.core.findings import STATUSES, Findings
from oblige.engine.http.tokens import Grant, Tokens
from oblige.engine.render.explain import UnknownFinding, explain
from oblige.engine.rules.catalogue import describe
from oblige.engine.store.sql import IngestReport, Store, StoreError, stored_items
from oblige.facts.reader import (
    Accepted,
    Rejected,
    read_array,
    read_lines,
    read_value,
    strict_loads,
    value_problem,
)
from oblige.facts.timeutil import TimeFormatError, parse_as_of, shown

log = logging.getLogger("oblige.service")


class Limits:
    """What one request, and the requests in progress, may take.

    `max_busy` bounds the expensive requests (evaluate, findings, explain, ingest) in progress at once,
    past it 503 with Retry-After; it is a bound per process (a semaphore in `create_app`), and
    `oblige serve` runs one process: `uvicorn.run` with the app object itself, which uvicorn cannot
    fork into workers (tests/test_trust.py holds it to that). A deployment that starts N processes of
    its own allows N × max_busy."""

    def __init__(self, max_body: int = 10 * 1024 * 1024, max_events: int = 10_000, max_busy: int = 4):
        self.max_body = max_body
        self.max_events = max_events
        self.max_busy = max_busy  # expensive requests at once, per process; then 503


# query parameters that look like a credential: a token in a URL ends up in logs and histories
TOKEN_PARAMS = frozenset({"token", "access_token", "api_key", "apikey", "key", "auth", "authorization", "bearer"})
# what a reader scoped to some units may not see: counts over every unit's events
GLOBAL_COUNTS = ("events", "duplicates", "before_effective", "after_as_of")


def _is_json_lines(content_type: str) -> bool:
    """Whether a Content-Type names JSON Lines, matched case-insensitively (RFC 9110)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines",
                     "application/jsonlines")


def _no_paths(value: Any) -> Any:
    """A `file` of the server's disk shown as its name within the ruleset, not the server's path."""
    if isinstance(value, dict):
        return {k: (PurePath(v).name if k == "file" and isinstance(v, str) else _no_paths(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_paths(v) for v in value]
    return value


def scope(findings: Findings, grant: Grant) -> Findings:
    """What a token may see: findings concerning its units (all of them for '*')."""
    if grant.units == "*":
        return findings
    units = set(grant.units)
    return restrict(findings, [o for o in findings.obligations if o.duty_bearer in units],
                    [v for v in findings.violations if v.unit in units],
                    [e for e in findings.escalations if e.unit in units], {"units": ",".join(sorted(units))})


def create_app(engine: Engine, store_url: str, tokens: Tokens | None, limits: Limits | None = None) -> FastAPI:
    limits = limits or Limits()
    app = FastAPI(title="oblige", version="1", description="Obligations, violations and escalations from event facts.")
    units = engine.ruleset.units

    def grant(request: Request) -> Grant:
        if tokens is None:  # loopback-only mode: everything is allowed
            return Grant(token="x" * 16, units="*", write=True)
        header = request.headers.get("authorization", "")
        presented = header[7:].strip() if header.lower().startswith("bearer ") else None
        found = tokens.find(presented)
        if found is None:
            raise HTTPException(status_code=401, detail="missing or unknown token", headers={"WWW-Authenticate": "Bearer"})
        return found

    def as_of_param(as_of: str | None) -> int:
        try:
            return parse_as_of(as_of)
        except TimeFormatError as exc:
            raise HTTPException(status_code=422, detail=f"as_of: {exc}") from None

    async def body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_body:
            raise HTTPException(status_code=413, detail=f"request body over {limits.max_body} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body:
                raise HTTPException(status_code=413, detail=f"request body over {limits.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def verdicts(raw: bytes, content_type: str, source: str) -> tuple[list[Accepted | Rejected], Any]:
        """Events from a JSON array, an object {"events": [...]} or JSON Lines; each bad event is its
        own rejection; also the body's `as_of` (None where none). A body that is no events is a 4xx."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HTTPException(status_code=422, detail=f"body is not UTF-8: byte {exc.start + 1}") from None
        if _is_json_lines(content_type):
            lines = text.split("\n")  # JSON Lines end at \n only (U+2028 is content)
            if sum(1 for line in lines if line.strip()) > limits.max_events:
                raise HTTPException(status_code=413, detail=f"more than {limits.max_events} events in one request")
            return list(read_lines(lines, source, units)), None
        start = text.lstrip().removeprefix("\ufeff").lstrip()[:1]
        items: list[Accepted | Rejected] = []
        if start == "[":
            for item in read_array(text, source, units):
                items.append(item)
                if len(items) > limits.max_events:
                    raise HTTPException(status_code=413, detail=f"more than {limits.max_events} events in one request")
            if items and isinstance(items[-1], Rejected) and items[-1].error.endswith("cannot be read"):
                bad = items[-1]
                raise HTTPException(status_code=422, detail=f"line {bad.line}: {bad.error}")
            return items, None
        try:
            doc = strict_loads(text) if text.strip() else None
        except json.JSONDecodeError as exc:
            raise HTTPException(status_code=422, detail=f"malformed JSON: {exc.msg} at line {exc.lineno} "
                                                        f"column {exc.colno}") from None
        events = doc.get("events") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or not isinstance(events, list):
            raise HTTPException(status_code=422, detail="expected a JSON array of events, an object with `events`, "
                                                        "or JSON Lines")
        problem = value_problem({k: v for k, v in doc.items() if k != "events"} if type(doc) is dict else doc)
        if problem:
            raise HTTPException(status_code=422, detail=problem)
        if len(events) > limits.max_events:
            raise HTTPException(status_code=413, detail=f"more than {limits.max_events} events in one request")
        as_of = doc.get("as_of")
        return [read_value(e, source, n, units) for n, e in enumerate(events, start=1)], as_of

    busy = threading.BoundedSemaphore(max(1, limits.max_busy))

    @contextmanager
    def expensive() -> Iterator[None]:
        """At most `max_busy` expensive requests at once: past that, 503 and Retry-After (one token
        cannot queue up work, and memory, without bound)."""
        if not busy.acquire(blocking=False):
            raise HTTPException(status_code=503, detail="busy: too many requests in progress; retry shortly",
                                headers={"Retry-After": "1"})
        try:
            yield
        finally:
            busy.release()

    def scoped(findings: Findings, who: Grant, store: Store | None) -> dict[str, Any]:
        """A document as a token may see it.

        A reader scoped to some units sees the findings of its units and, of the rejected events, only
        those whose id is readable and names a stored event of one of its units (by the store's unit
        column: the rejected body is what failed validation). A rejection with no readable id, or with
        an id the store does not hold, belongs to no unit: it is shown to '*' readers only, and a scoped
        reader is not told it exists, not even by a count (`summary.rejected` counts the rejections
        shown; the counts over every unit's events, GLOBAL_COUNTS, are left out)."""
        doc = scope(findings, who).to_json_dict()
        if who.units == "*":
            return doc
        ids = [r.id for r in findings.rejected if r.id]
        owners = store.units_of(ids) if store is not None and ids else {}

        def owned(entry: dict[str, Any]) -> bool:
            rejected_id = entry.get("id")
            return rejected_id is not None and who.sees(owners.get(rejected_id))  # no id: no unit's

        doc["rejected"] = [r for r in doc["rejected"] if owned(r)]
        summary = doc["summary"]
        for key in GLOBAL_COUNTS:
            summary.pop(key, None)
        summary["rejected"] = len(doc["rejected"])
        return doc

    def open_store() -> Store:
        return Store(store_url)

    @app.exception_handler(StoreError)
    async def store_failed(_request: Request, exc: StoreError) -> JSONResponse:
        log.error("store: %s", exc)  # one line, the URL's password masked (StoreError)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "ruleset": engine.ruleset.name}

    @app.post("/v1/events")
    async def post_events(request: Request, who: Grant = Depends(grant)) -> JSONResponse:
        if not who.write:
            raise HTTPException(status_code=403, detail="this token may not write events")
        items, _ = verdicts(await body(request), request.headers.get("content-type", ""), "request")
        allowed: list[Accepted | Rejected] = []
        for item in items:
            if isinstance(item, Accepted) and not who.sees(item.fact.unit):
                allowed.append(Rejected(item.file, item.line, item.fact.id,
                                        f"unit: {item.fact.unit!r} is outside this token's units", item.raw))
            else:
                allowed.append(item)
        def run() -> IngestReport:
            with expensive():
                store = open_store()
                try:
                    return store.ingest(allowed, sources="http")
                finally:
                    store.close()

        report = await run_in_threadpool(run)
        log.info("ingest: read %d stored %d duplicates %d rejected %d", report.read, report.stored,
                 report.duplicates, report.rejected)
        return JSONResponse({**report.summary(), "rejected_events": [
            {"line": r.line, "id": r.id, "error": r.error} for r in report.rejections]})

    @app.post("/v1/evaluate")
    async def evaluate(request: Request, as_of: str | None = Query(None), who: Grant = Depends(grant)) -> JSONResponse:
        raw = await body(request)
        instant = as_of_param(as_of)
        items, body_as_of = verdicts(raw, request.headers.get("content-type", ""), "request")
        if body_as_of is not None:
            instant = as_of_param(body_as_of if isinstance(body_as_of, str) else str(body_as_of)[:80])
        def run() -> Findings:
            with expensive():
                return engine.evaluate(items, instant)

        findings = await run_in_threadpool(run)  # off the event loop: other requests are still answered
        return JSONResponse(scope(findings, who).to_json_dict())  # the caller's own events: all its rejections

    @app.get("/v1/findings")
    def findings(as_of: str | None = None, unit: str | None = None, status: str | None = None,
                 article: int | None = None, who: Grant = Depends(grant)) -> Response:
        if status is not None and status not in STATUSES:
            raise HTTPException(status_code=422, detail=f"status: unknown status {status!r}")
        unknown = None if unit is None else units.unknown_unit(unit)
        if unknown:
            raise HTTPException(status_code=422, detail=f"unit: {unknown}")
        instant = as_of_param(as_of)
        with expensive():
            if who.units == "*" and unit is None and status is None and article is None:
                return whole_document(instant)
            store = open_store()
            try:
                found = narrow(engine.evaluate(stored_items(store, units), instant), unit, status, article)
                return JSONResponse(scoped(found, who, store))
            finally:
                store.close()

    def whole_document(instant: int) -> StreamingResponse:
        """The whole document, made as `oblige findings` makes it (the engine chooses in memory or
        on workers by the store's size) and streamed from a temporary file: the same bytes."""
        spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by the response
        try:
            store = open_store()
        except BaseException:
            spool.close()
            raise
        try:
            engine.write_document(spool, instant, store=store)
        except BaseException:
            spool.close()
            raise
        finally:
            store.close()
        spool.seek(0)

        def chunks() -> Iterator[str]:
            with spool:
                yield from iter(lambda: spool.read(1 << 16), "")

        return StreamingResponse(chunks(), media_type="application/json")

    @app.get("/v1/explain/{finding_id}")
    def explain_finding(finding_id: str, as_of: str | None = None, lang: str = "en",
                        who: Grant = Depends(grant)) -> JSONResponse:
        if lang not in ("zh", "en"):
            raise HTTPException(status_code=422, detail="lang: zh or en")
        instant = as_of_param(as_of)
        with expensive():
            store = open_store()
            try:
                session = engine.session()
                session.add_all(stored_items(store, units))
            finally:
                store.close()
            visible = scope(session.findings(instant), who)
            try:
                return JSONResponse(_no_paths(explain(finding_id, visible, engine.ruleset, session.facts(), lang)))
            except UnknownFinding:
                pass
        raise HTTPException(status_code=404, detail=f"no finding {shown(finding_id)} visible to this token")

    @app.get("/v1/rules")
    def rules(who: Grant = Depends(grant)) -> list[dict[str, Any]]:
        return [_no_paths(describe(located)) for located in engine.ruleset.rules]

    known = tokens

    def credential_in_query(query: bytes) -> bool:
        try:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        except ValueError:
            return False
        return any(k.lower() in TOKEN_PARAMS or (known is not None and known.find(v) is not None) for k, v in pairs)

    class Guard:
        """Refuses a credential in the query string before anything (the access log included) keeps
        it: the query string is blanked in the request scope, then 400."""

        def __init__(self, inner: Callable[..., Awaitable[None]]):
            self.inner = inner

        async def __call__(self, scope_: dict[str, Any], receive: Any, send: Any) -> None:
            if scope_.get("type") == "http" and scope_.get("query_string") and credential_in_query(scope_["query_string"]):
                scope_["query_string"] = b"credential-removed"
                response = JSONResponse({"detail": "a token is sent in the Authorization header, never in the URL"},
                                        status_code=400)
                await response(scope_, receive, send)
                return
            await self.inner(scope_, receive, send)

    app.add_middleware(_Wrap, factory=Guard)
    return app


class _Wrap:
    """Adapts a plain ASGI wrapper class to `add_middleware` (which passes the app as `app`)."""

    def __init__(self, app: Any, factory: Callable[[Any], Any]):
        self.inner = factory(app)

    async def __call__(self, scope_: dict[str, Any], receive: Any, send: Any) -> None:
        await self.inner(scope_, receive, send)
