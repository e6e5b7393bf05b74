"""Issue 15: the HTTP service fuzzed against its own OpenAPI document (schemathesis 4.x, in-process ASGI).

For every operation the document lists (new endpoints are picked up without touching this file), with
no token, an admin token and a unit-scoped reader's token, positive and negative cases: never a 5xx
but a deliberate 503 (busy or store down, with Retry-After); without a token every /v1 request is 401;
every response conforms to the document (its body to the response schema of its status, its
content type to the declared one).

FastAPI's generated document is short of the service in two ways, supplied here (`supplement`) so that
the fuzz can reach and judge them: the POST bodies are read from the raw request (a JSON array of
events, an object `{"as_of", "events"}` or JSON Lines), so no request body is declared; and the
service's own 4xx/503 answers are `{"detail": "<one line>"}`, where FastAPI documents only its
parameter-validation 422 (`detail` a list).
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from oblige import Engine
from oblige.engine.http.app import Limits, create_app
from oblige.engine.http.tokens import Grant, Tokens
from oblige.engine.store.sql import Store
from oblige.facts.events import EVENT_ADAPTER
from oblige.facts.reader import read_lines
from tests.conftest import ROOT

ADMIN, HEALTH_R = "admin-fuzz-0123456789", "healthr-fuzz-0123456789"
PROBLEM = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
ERRORS = {"400": "a credential in the query string", "401": "no or unknown token", "403": "may not write",
          "404": "no such finding for this token", "413": "body or event count over the limit",
          "503": "busy or the store is unavailable; Retry-After"}


def supplement(doc: dict[str, Any], units: list[str]) -> dict[str, Any]:
    """The generated document plus what the service does and FastAPI cannot see (module docstring)."""
    doc = copy.deepcopy(doc)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    event = EVENT_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(event.pop("$defs"))
    for model in schemas.values():  # instants and units the engine accepts, so that valid events reach it
        props = model.get("properties", {})
        if "occurred_at" in props and "unit" in props:
            props["occurred_at"] = {"type": "string", "pattern": r"^202[0-4]-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$"}
            props["unit"] = {"enum": units}
    schemas["Event"] = event
    events = {"type": "array", "maxItems": 8, "items": {"$ref": "#/components/schemas/Event"}}
    body = {"anyOf": [events, {"type": "object", "required": ["events"], "additionalProperties": False,
                               "properties": {"events": events, "as_of": {"type": "string"}}}]}
    validation = {"type": "object", "properties": {"detail": {"anyOf": [
        {"type": "string"}, {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}]}}}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "post":
                operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
            if path.startswith("/v1/"):
                responses = operation.setdefault("responses", {})
                for code, what in ERRORS.items():
                    responses.setdefault(code, {"description": what,
                                                "content": {"application/json": {"schema": PROBLEM}}})
                responses["422"] = {"description": "bad input",
                                    "content": {"application/json": {"schema": validation}}}
    return doc


@pytest.fixture(scope="module")
def fuzz_schema(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    db = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'f.db'}"
    store = Store(db)
    store.ingest(read_lines((ROOT / "examples" / "events.jsonl").read_text(encoding="utf-8").splitlines(), "seed",
                            engine.ruleset.units), "seed")
    store.close()
    tokens = Tokens(tokens=(Grant(token=ADMIN, units="*", write=True), Grant(token=HEALTH_R, units=("health",))))
    app = create_app(engine, db, tokens, Limits(max_body=200_000, max_events=50))
    schema = schemathesis.openapi.from_dict(supplement(app.openapi(), sorted(engine.ruleset.units.codes)))
    schema.app = app
    yield schema


def deliberate(response: Any) -> bool:
    """A 503 the service means: busy or its store unavailable, with Retry-After."""
    return response.status_code == 503 and "retry-after" in {k.lower() for k in response.headers}


OPERATIONS = ["GET /healthz", "POST /v1/events", "POST /v1/evaluate", "GET /v1/findings",
              "GET /v1/explain/{finding_id}", "GET /v1/rules"]


def test_the_document_lists_the_known_operations(fuzz_schema: Any) -> None:
    labels = {result.ok().label for result in fuzz_schema.get_all_operations()}
    assert set(OPERATIONS) <= labels


@pytest.mark.parametrize("token", [None, ADMIN, HEALTH_R], ids=["no-token", "admin", "scoped-reader"])
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
def test_fuzz_every_operation(fuzz_schema: Any, token: str | None, mode: Any) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    seen: set[int] = set()

    @settings(max_examples=25 * len(operations), deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(st.data())
    def run(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(operations))
        case = data.draw(operation.as_strategy(generation_mode=mode))
        response = case.call(headers=headers)
        seen.add(response.status_code)
        assert response.status_code < 500 or deliberate(response), (case.as_curl_command(), response.text[:500])
        if token is None and operation.path.startswith("/v1/"):
            assert response.status_code in (400, 401), (case.as_curl_command(), response.status_code)
        if response.status_code == 401:
            assert response.headers.get("www-authenticate") == ["Bearer"]
        case.validate_response(response, checks=[response_schema_conformance, content_type_conformance],
                               headers=headers)

    run()
    if token is None:
        assert 401 in seen, seen
    else:  # the fuzz reached the service, not only its refusals
        assert any(code < 300 for code in seen), seen

