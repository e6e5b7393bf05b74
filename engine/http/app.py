"""The HTTP service: the same engine and store as the command line, over JSON (FastAPI).

`create_app(engine, store_url, tokens)` builds the app; `oblige serve` runs it with uvicorn.
A unit-scoped token sees only findings whose duty bearer or charged unit is one of its units.
Tokens are compared in constant time and never logged; event data is never logged at info.
"""
from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from oblige.engine.core.engine import Engine
from oblige.engine.core.filters import narrow, restrict
from oblige.engine.core.findings import STATUSES, Findings
from oblige.engine.http.tokens import Grant, Tokens
from oblige.engine.render.explain import UnknownFinding, explain
from oblige.engine.rules.catalogue import describe
from oblige.engine.store.sql import Store, stored_items
from oblige.facts.reader import Accepted, Rejected, read_lines
from oblige.facts.timeutil import TimeFormatError, parse_as_of

log = logging.getLogger("oblige.service")


class Limits:
    def __init__(self, max_body: int = 10 * 1024 * 1024, max_events: int = 10_000):
        self.max_body = max_body
        self.max_events = max_events


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

    def verdicts(raw: bytes, content_type: str, source: str) -> list[Accepted | Rejected]:
        """Events from a JSON array or JSON Lines body; each bad event is its own rejection."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(status_code=422, detail="body is not UTF-8") from None
        if "ndjson" in content_type or "jsonlines" in content_type:
            lines = text.splitlines()
        else:
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                raise HTTPException(status_code=422, detail=f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
            if isinstance(doc, dict) and isinstance(doc.get("events"), list):
                doc = doc["events"]
            if not isinstance(doc, list):
                raise HTTPException(status_code=422, detail="expected a JSON array of events (or JSON Lines)")
            lines = [json.dumps(e, ensure_ascii=False) for e in doc]
        if sum(1 for line in lines if line.strip()) > limits.max_events:
            raise HTTPException(status_code=413, detail=f"more than {limits.max_events} events in one request")
        return list(read_lines(lines, source, units))

    def stored_findings(as_of: int) -> Findings:
        store = Store(store_url)
        try:
            return engine.evaluate(stored_items(store, units), as_of)
        finally:
            store.close()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "ruleset": engine.ruleset.name}

    @app.post("/v1/events")
    async def post_events(request: Request, who: Grant = Depends(grant)) -> JSONResponse:
        if not who.write:
            raise HTTPException(status_code=403, detail="this token may not write events")
        items = verdicts(await body(request), request.headers.get("content-type", ""), "request")
        allowed: list[Accepted | Rejected] = []
        for item in items:
            if isinstance(item, Accepted) and not who.sees(item.fact.unit):
                allowed.append(Rejected(item.file, item.line, item.fact.id,
                                        f"unit: {item.fact.unit!r} is outside this token's units", item.raw))
            else:
                allowed.append(item)
        store = Store(store_url)
        try:
            report = store.ingest(allowed, sources="http")
        finally:
            store.close()
        log.info("ingest: read %d stored %d duplicates %d rejected %d", report.read, report.stored,
                 report.duplicates, report.rejected)
        return JSONResponse({**report.summary(), "rejected_events": [
            {"line": r.line, "id": r.id, "error": r.error} for r in report.rejections]})

    @app.post("/v1/evaluate")
    async def evaluate(request: Request, as_of: str | None = Query(None), who: Grant = Depends(grant)) -> JSONResponse:
        raw = await body(request)
        instant = as_of_param(as_of)
        if "json" in request.headers.get("content-type", "") and "ndjson" not in request.headers.get("content-type", ""):
            try:
                doc = json.loads(raw or b"null")
            except json.JSONDecodeError as exc:
                raise HTTPException(status_code=422, detail=f"malformed JSON: {exc.msg}") from None
            if isinstance(doc, dict) and "as_of" in doc:
                instant = as_of_param(str(doc["as_of"]))
        findings = engine.evaluate(verdicts(raw, request.headers.get("content-type", ""), "request"), instant)
        return JSONResponse(scope(findings, who).to_json_dict())

    @app.get("/v1/findings")
    def findings(as_of: str | None = None, unit: str | None = None, status: str | None = None,
                 article: int | None = None, who: Grant = Depends(grant)) -> Response:
        if status is not None and status not in STATUSES:
            raise HTTPException(status_code=422, detail=f"status: unknown status {status!r}")
        instant = as_of_param(as_of)
        if who.units == "*" and unit is None and status is None and article is None:
            return whole_document(instant)
        result = scope(narrow(stored_findings(instant), unit, status, article), who)
        return JSONResponse(result.to_json_dict())

    def whole_document(instant: int) -> StreamingResponse:
        """The whole document, made as `oblige findings` makes it (the engine chooses in memory or
        on workers by the store's size) and streamed from a temporary file: the same bytes."""
        spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by the response
        store = Store(store_url)
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
        store = Store(store_url)
        try:
            session = engine.session()
            session.add_all(stored_items(store, units))
        finally:
            store.close()
        visible = scope(session.findings(as_of_param(as_of)), who)
        try:
            return JSONResponse(explain(finding_id, visible, engine.ruleset, session.facts(), lang))
        except UnknownFinding:
            raise HTTPException(status_code=404, detail=f"no finding {finding_id!r} visible to this token") from None

    @app.get("/v1/rules")
    def rules(who: Grant = Depends(grant)) -> list[dict[str, Any]]:
        return [describe(located) for located in engine.ruleset.rules]

    return app
