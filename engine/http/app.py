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
from typing import IO, Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from oblige.engine.core.engine import Engine
from oblige.engine.core.filters import Filters, period_problem, restrict
from oblige.engine.core.findings import BASES, LEVELS, STATUSES, Findings
from oblige.engine.http.tokens import Grant, Tokens
from oblige.engine.render.explain import UnknownFinding, explain
from oblige.engine.rules.catalogue import describe
from oblige.engine.store.live import (
    PagingError,
    agenda,
    explain_inputs,
    ingest,
    stored_document,
    stored_list,
    warm_receipt,
)
from oblige.engine.store.reads import CursorError, page_as_of
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
from oblige.facts.timeutil import DAY_US, TimeFormatError, format_instant, parse_as_of, shown

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
MAX_PAGE = 10_000  # items per list in one page
READERS = 16  # reads of the kept findings at once; more wait their turn up to READER_WAIT seconds (then 503)
READER_WAIT = 30.0
MAX_ARTICLE = 9999  # an article number: bounded, so that a huge one is a 422, never a database overflow


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

    def as_of_param(as_of: str | None, name: str = "as_of") -> int:
        """An instant parameter (`as_of` unless `name` says which): a bad one is a 422 naming it."""
        try:
            return parse_as_of(as_of)
        except TimeFormatError as exc:
            raise HTTPException(status_code=422, detail=f"{name}: {exc}") from None

    def paged_as_of(as_of: str | None, cursor: str | None) -> int:
        """`as_of` of a page: a next page asked without one is read at its cursor's (the first page's)."""
        try:
            at = page_as_of(None if as_of is None else as_of_param(as_of), cursor)
        except CursorError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        return as_of_param(None) if at is None else at

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

    Store(store_url, create=True).close()  # the store requests use (`oblige serve` creates one only with --create)
    shared: list[Store] = []
    shared_lock = threading.Lock()

    def open_store() -> Store:
        """The app's one store (its connection pool serves every request thread)."""
        with shared_lock:
            if not shared:
                # a read holds up to two connections (its snapshot; a cache write): the pool serves every
                # reader at once, so none fails with the pool's timeout (50 readers at 1M events did)
                shared.append(Store(store_url, create=False, pool=(READERS, READERS + 8)))
            return shared[0]

    readers = threading.BoundedSemaphore(READERS)
    stale_receipt = threading.Event()

    def warm_receipts() -> None:
        """After ingests, the receipt's hash of the stored events, computed once off the request path."""
        while True:
            stale_receipt.wait()
            stale_receipt.clear()
            try:
                warm_receipt(engine, open_store())
            except StoreError as exc:  # a reader will compute it, or say what is wrong
                log.warning("receipt: %s", exc)

    threading.Thread(target=warm_receipts, name="oblige-receipts", daemon=True).start()
    stale_receipt.set()

    @contextmanager
    def reading() -> Iterator[None]:
        """Reads of the kept findings are bounded in memory (pages; whole documents are spooled to a
        file): READERS at once, the others wait their turn up to READER_WAIT, then 503 and Retry-After."""
        if not readers.acquire(timeout=READER_WAIT):
            raise HTTPException(status_code=503, detail="busy: too many readers at once; retry shortly",
                                headers={"Retry-After": "1"})
        try:
            yield
        finally:
            readers.release()

    @app.exception_handler(StoreError)
    async def store_failed(_request: Request, exc: StoreError) -> JSONResponse:
        log.error("store: %s", exc)  # one line, the URL's password masked (StoreError)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:  # on the event loop: answered while every worker thread reads
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
                # the kept findings follow (a crash between the two: the next reader redoes it)
                report, _, _ = ingest(engine, open_store(), allowed, "http", read_with_engine=True)
                if report.stored:
                    stale_receipt.set()
                return report

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

    def filters_of(who: Grant, unit: str | None, status: str | None, article: int | None, subject: str | None,
                   period: str | None, level: str | None, basis: str | None) -> Filters:
        if status is not None and status not in STATUSES:
            raise HTTPException(status_code=422, detail=f"status: unknown status {status!r}")
        if level is not None and level not in LEVELS:
            raise HTTPException(status_code=422, detail=f"level: unknown level {shown(level)}")
        if basis is not None and basis not in BASES:
            raise HTTPException(status_code=422, detail=f"basis: unknown basis {shown(basis)}")
        unknown = None if unit is None else units.unknown_unit(unit)
        if unknown:
            raise HTTPException(status_code=422, detail=f"unit: {unknown}")
        malformed = None if period is None else period_problem(period)
        if malformed:
            raise HTTPException(status_code=422, detail=f"period: {malformed}")
        return Filters(unit=unit, status=status, article=article, subject=subject, period=period, level=level,
                       basis=basis, units=None if who.units == "*" else frozenset(who.units))

    def spooled(write: Callable[[IO[str]], object]) -> StreamingResponse:
        """A document written to a temporary file, then streamed (any size, bounded memory)."""
        spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by the response
        try:
            write(spool)
        except PagingError as exc:
            spool.close()
            raise HTTPException(status_code=422, detail=str(exc)) from None
        except BaseException:
            spool.close()
            raise
        spool.seek(0)

        def chunks() -> Iterator[str]:
            with spool:
                yield from iter(lambda: spool.read(1 << 16), "")

        return StreamingResponse(chunks(), media_type="application/json")

    @app.get("/v1/findings")
    def findings(as_of: str | None = None, unit: str | None = None, status: str | None = None,
                 article: int | None = Query(None, ge=1, le=MAX_ARTICLE), subject: str | None = None, period: str | None = None,
                 level: str | None = None, basis: str | None = None,
                 limit: int | None = Query(None, ge=1, le=MAX_PAGE), cursor: str | None = Query(None, max_length=2000),
                 who: Grant = Depends(grant)) -> Response:
        """The findings document of the stored events (narrowed, or one page of each list), read from
        the findings the store keeps: the same bytes as `oblige findings` with the same options."""
        f = filters_of(who, unit, status, article, subject, period, level, basis)
        instant = paged_as_of(as_of, cursor)
        with reading():
            store = open_store()
            return spooled(lambda out: stored_document(engine, store, out, instant, f, limit, cursor,
                                                       scoped=who.units != "*"))

    def one_list(name: str, as_of: str | None, f: Filters, limit: int, cursor: str | None) -> Response:
        instant = paged_as_of(as_of, cursor)
        with reading():
            try:
                items, following, total = stored_list(engine, open_store(), name, instant, f, limit, cursor)
            except PagingError as exc:
                raise HTTPException(status_code=422, detail=str(exc)) from None
        text = ('{"as_of":' + json.dumps(format_instant(instant)) + ',"total":' + str(total) + ',"next":'
                + json.dumps(following.encode() if following else None) + ',"items":[' + ",".join(items) + "]}")
        return Response(text, media_type="application/json")

    @app.get("/v1/obligations")
    def obligations(as_of: str | None = None, unit: str | None = None, status: str | None = None,
                    article: int | None = Query(None, ge=1, le=MAX_ARTICLE), subject: str | None = None, period: str | None = None,
                    limit: int = Query(100, ge=1, le=MAX_PAGE), cursor: str | None = Query(None, max_length=2000),
                    who: Grant = Depends(grant)) -> Response:
        """A page of obligations, soonest triggered first: `{as_of, total, next, items}`."""
        return one_list("obligations", as_of, filters_of(who, unit, status, article, subject, period, None, None),
                        limit, cursor)

    @app.get("/v1/violations")
    def violations(as_of: str | None = None, unit: str | None = None, status: str | None = None,
                   article: int | None = Query(None, ge=1, le=MAX_ARTICLE), subject: str | None = None, period: str | None = None,
                   limit: int = Query(100, ge=1, le=MAX_PAGE), cursor: str | None = Query(None, max_length=2000),
                   who: Grant = Depends(grant)) -> Response:
        """A page of violations, earliest first: `{as_of, total, next, items}`."""
        return one_list("violations", as_of, filters_of(who, unit, status, article, subject, period, None, None),
                        limit, cursor)

    @app.get("/v1/escalations")
    def escalations(as_of: str | None = None, unit: str | None = None, status: str | None = None,
                    article: int | None = Query(None, ge=1, le=MAX_ARTICLE), subject: str | None = None, period: str | None = None,
                    level: str | None = None, basis: str | None = None,
                    limit: int = Query(100, ge=1, le=MAX_PAGE), cursor: str | None = Query(None, max_length=2000),
                    who: Grant = Depends(grant)) -> Response:
        """A page of escalations, earliest first: `{as_of, total, next, items}`."""
        return one_list("escalations", as_of, filters_of(who, unit, status, article, subject, period, level, basis),
                        limit, cursor)

    @app.get("/v1/agenda")
    def agenda_of(unit: str, start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
                  as_of: str | None = None, limit: int = Query(100, ge=1, le=MAX_PAGE), lang: str | None = None,
                  who: Grant = Depends(grant)) -> JSONResponse:
        """What falls due for a unit in [from, to] (default: the next 30 days), soonest first, with
        the escalations that follow if it stays undone."""
        unknown = units.unknown_unit(unit)
        if unknown:
            raise HTTPException(status_code=422, detail=f"unit: {unknown}")
        if not who.sees(unit):
            raise HTTPException(status_code=403, detail="unit: outside this token's units")
        if lang is not None and lang not in ("zh", "en"):
            raise HTTPException(status_code=422, detail="lang: zh or en")
        first = as_of_param(start, "from")
        last = as_of_param(end, "to") if end else first + 30 * DAY_US
        if last < first:  # as `oblige agenda` says it
            raise HTTPException(status_code=422, detail="to: before from")
        known = as_of_param(as_of) if as_of else first
        with reading():
            try:
                items = agenda(engine, open_store(), unit, first, last, known, limit, lang)
            except PagingError as exc:
                raise HTTPException(status_code=422, detail=str(exc)) from None
        return JSONResponse({"ruleset": engine.ruleset.name, "unit": unit, "from": format_instant(first),
                             "to": format_instant(last), "items": [i.to_json() for i in items]})

    @app.get("/v1/explain/{finding_id}")
    def explain_finding(finding_id: str, as_of: str | None = None, lang: str = "en",
                        who: Grant = Depends(grant)) -> JSONResponse:
        if lang not in ("zh", "en"):
            raise HTTPException(status_code=422, detail="lang: zh or en")
        instant = as_of_param(as_of)
        with expensive():
            found = explain_inputs(engine, open_store(), finding_id, instant)  # its partition only, from the kept rows
            if found is None:
                session = engine.session()
                session.add_all(stored_items(open_store(), units))
                found = session.findings(instant), session.facts()
            visible = scope(found[0], who)
            try:
                return JSONResponse(_no_paths(explain(finding_id, visible, engine.ruleset, found[1], lang)))
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
