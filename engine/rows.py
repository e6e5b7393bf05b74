"""Findings as plain named tuples: what the lifecycle and the escalator build.

A large batch builds millions of findings, so the hot path builds tuples (a fraction of a
microsecond each) rather than pydantic models (~7 µs each with `model_construct`). The batch
evaluator serialises rows straight to JSON with orjson (`row_json`), giving the very text
`model_dump_json` gives for the model (tested); `to_model` makes the model where a caller wants
one (sessions, reports, the service). Fields and their order are the models' (tested).
"""
from __future__ import annotations

from typing import NamedTuple, overload

import orjson

from engine.findings import Escalation, Obligation, Violation
from facts.timeutil import format_instant


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
    unit: str
    issued_by: str
    period: str
    article: int
    at: int
    because: list[str]


Row = ObligationRow | ViolationRow | EscalationRow

MODELS: dict[type, type[Obligation] | type[Violation] | type[Escalation]] = {
    ObligationRow: Obligation, ViolationRow: Violation, EscalationRow: Escalation}
TIMES: dict[type, tuple[str, ...]] = {
    ObligationRow: ("triggered_at", "due", "fulfilled_at"),
    ViolationRow: ("at", "remedied_at"),
    EscalationRow: ("at",),
}


def row_json(row: Row) -> str:
    """The row as the JSON text of its model (instants as ISO 8601 +08:00)."""
    values = row._asdict()
    for name in TIMES[type(row)]:
        values[name] = format_instant(values[name])
    return orjson.dumps(values).decode("utf-8")


@overload
def to_model(row: ObligationRow) -> Obligation: ...
@overload
def to_model(row: ViolationRow) -> Violation: ...
@overload
def to_model(row: EscalationRow) -> Escalation: ...
def to_model(row: Row) -> Obligation | Violation | Escalation:
    """The pydantic model of a row (no validation: the engine built it)."""
    return MODELS[type(row)].model_construct(**row._asdict())
