"""The findings document of SPEC §4 as pydantic models.

Times are kept as epoch microseconds inside the engine and rendered as ISO 8601 +08:00
(second precision) only here, at serialisation.
"""
from __future__ import annotations

import functools
import hashlib
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer

from oblige.engine.rules.schema import BASES, KINDS, LEVELS, STATUSES  # noqa: F401 - the document's vocabulary
from oblige.facts.timeutil import format_instant

try:
    ENGINE_VERSION = version("oblige")
except PackageNotFoundError:  # running from a source tree that is not installed
    ENGINE_VERSION = "0+unknown"

Time = Annotated[int, PlainSerializer(format_instant, return_type=str, when_used="always")]
OptTime = Annotated[int | None, PlainSerializer(format_instant, return_type=str | None, when_used="always")]

Status = Literal["open", "fulfilled", "fulfilled_late", "overdue", "discharged"]
Kind = Literal["overdue", "precondition", "prohibited", "breach"]
Level = Literal["supervision_notice", "public_criticism", "one_vote_veto"]
Basis = Literal["rule", "proposed", "determined", "declined"]


@functools.lru_cache(maxsize=4096)  # a kept timeline asks for the same ids at every threshold
def make_id(prefix: str, *parts: object) -> str:
    """A deterministic id from the identity of a finding (never from input order): the first 16
    hex digits of the SHA-256 of its parts (the hex of the first 8 bytes: the same digits, a
    little cheaper, for hundreds of thousands of findings)."""
    text = "\x1f".join(["" if p is None else p if p.__class__ is str else str(p) for p in parts])
    return prefix + "-" + _sha256(text.encode("utf-8")).digest()[:8].hex()


_sha256 = hashlib.sha256




def status_counts(obligations: list[Obligation]) -> dict[str, int]:
    """How many obligations have each status (the summary's per-status counts)."""
    counts = dict.fromkeys(STATUSES, 0)
    for o in obligations:
        counts[o.status] += 1
    return counts


def basis_counts(escalations: list[Escalation]) -> dict[str, int]:
    """How many escalations have each basis (rule, proposed, determined, declined)."""
    counts = dict.fromkeys(BASES, 0)
    for e in escalations:
        counts[e.basis] += 1
    return counts


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Obligation(_Out):
    id: str
    rule: str
    article: int
    action: str
    duty_bearer: str
    subject: str | None
    period: str | None
    triggered_by: list[str]
    triggered_at: Time
    due: OptTime
    status: Status
    fulfilled_by: str | None
    fulfilled_at: OptTime


class Violation(_Out):
    id: str
    rule: str
    article: int
    kind: Kind
    unit: str
    subject: str | None
    period: str | None
    at: Time
    obligation: str | None
    evidence: list[str]
    remedied_at: OptTime


class Escalation(_Out):
    id: str
    level: Level
    basis: Basis
    unit: str
    issued_by: str
    period: str
    article: int
    at: Time
    because: list[str]


class Rejection(_Out):
    file: str
    line: int
    id: str | None
    error: str


class Summary(_Out):
    events: int
    duplicates: int
    rejected: int
    before_effective: int
    after_as_of: int
    obligations: int
    open: int
    fulfilled: int
    fulfilled_late: int
    overdue: int
    discharged: int
    violations: int
    escalations: int
    rule: int = 0
    proposed: int = 0
    determined: int = 0
    declined: int = 0
    filtered: dict[str, str | int] | None = None  # set when the lists were narrowed (oblige findings)


class Receipt(_Out):
    """Which engine, rules, parameters and events produced a document (all hashes SHA-256)."""

    engine_version: str
    ruleset: str
    ruleset_hash: str
    params_hash: str
    events_hash: str
    as_of: Time
    calendar: str = ""  # the working-day calendar and its version, and the years it covers


class Findings(_Out):
    ruleset: str
    as_of: Time
    summary: Summary
    obligations: list[Obligation]
    violations: list[Violation]
    escalations: list[Escalation]
    rejected: list[Rejection]
    receipt: Receipt | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The document as JSON data (the summary's `filtered` only where the lists were narrowed)."""
        return self.model_dump(mode="json", exclude={"summary": {"filtered"}} if self.summary.filtered is None else None)
