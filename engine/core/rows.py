"""Findings as plain named tuples: what the lifecycle and the escalator build.

A large batch builds millions of findings, so the hot path builds tuples (a fraction of a
microsecond each) rather than pydantic models (~7 µs each with `model_construct`). The batch
evaluator serialises rows straight to JSON with orjson (`row_json`), giving the very text
`model_dump_json` gives for the model (tested); `to_model` makes the model where a caller wants
one (sessions, reports, the service). Fields and their order are the models' (tested).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, overload

import orjson

from oblige.engine.core.findings import Escalation, Obligation, Violation
from oblige.facts.timeutil import format_instant


class ObligationRow(NamedTuple):
    id: str
    rule: str
    article: int
    action: str
    duty_bearer: str
    subject: str | None
    period: str | None
    triggered_by: list[str]
    triggered_at: int
    due: int | None
    status: str
    fulfilled_by: str | None
    fulfilled_at: int | None


class ViolationRow(NamedTuple):
    id: str
    rule: str
    article: int
    kind: str
    unit: str
    subject: str | None
    period: str | None
    at: int
    obligation: str | None
    evidence: list[str]
    remedied_at: int | None


class EscalationRow(NamedTuple):
    id: str
    level: str
    basis: str
    unit: str
    issued_by: str
    period: str
    article: int
    at: int
    because: list[str]


Row = ObligationRow | ViolationRow | EscalationRow

MODELS: dict[type, type[Obligation] | type[Violation] | type[Escalation]] = {
    ObligationRow: Obligation, ViolationRow: Violation, EscalationRow: Escalation}


def _obligation_json(r: ObligationRow) -> bytes:
    return orjson.dumps({
        "id": r.id, "rule": r.rule, "article": r.article, "action": r.action, "duty_bearer": r.duty_bearer,
        "subject": r.subject, "period": r.period, "triggered_by": r.triggered_by,
        "triggered_at": format_instant(r.triggered_at), "due": format_instant(r.due), "status": r.status,
        "fulfilled_by": r.fulfilled_by, "fulfilled_at": format_instant(r.fulfilled_at)})


def _violation_json(r: ViolationRow) -> bytes:
    return orjson.dumps({
        "id": r.id, "rule": r.rule, "article": r.article, "kind": r.kind, "unit": r.unit, "subject": r.subject,
        "period": r.period, "at": format_instant(r.at), "obligation": r.obligation, "evidence": r.evidence,
        "remedied_at": format_instant(r.remedied_at)})


def _escalation_json(r: EscalationRow) -> bytes:
    return orjson.dumps({
        "id": r.id, "level": r.level, "basis": r.basis, "unit": r.unit, "issued_by": r.issued_by, "period": r.period,
        "article": r.article, "at": format_instant(r.at), "because": r.because})


# one literal dict per kind: a third faster than `_asdict` and a loop over the instants
_SERIALISERS: dict[type, Callable[[Any], bytes]] = {
    ObligationRow: _obligation_json, ViolationRow: _violation_json, EscalationRow: _escalation_json}


def row_json(row: Row) -> str:
    """The row as the JSON text of its model (instants as ISO 8601 +08:00)."""
    return _SERIALISERS[type(row)](row).decode("utf-8")


@overload
def to_model(row: ObligationRow) -> Obligation: ...
@overload
def to_model(row: ViolationRow) -> Violation: ...
@overload
def to_model(row: EscalationRow) -> Escalation: ...
def to_model(row: Row) -> Obligation | Violation | Escalation:
    """The pydantic model of a row (no validation: the engine built it)."""
    return MODELS[type(row)].model_construct(**row._asdict())
