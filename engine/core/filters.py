"""Narrowing a findings document: by unit, status, article, subject, period, level, basis.

`Filters` says what a reader asked for; `narrow` applies it to a document in memory, and the
store's reader (`engine/store/reads.py`) applies the very same meaning in SQL (tested equal):

- obligations: by their duty bearer, status, article, subject and period;
- violations: by their unit, article, subject and period, and by the status of their obligation;
- escalations: by their unit, level, basis and period; by status, article and subject through the
  violation behind them (an assessment's measure, with none behind, by its own article only);
- `units` (a token's scope) keeps what concerns any of those units.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields

from oblige.engine.core.findings import (
    BASES,
    Escalation,
    Findings,
    Obligation,
    Violation,
    status_counts,
)
from oblige.facts.timeutil import shown

_PERIOD = re.compile(r"[0-9]{4}(-Q[1-4])?")


def period_problem(period: str) -> str | None:
    """Why `period` is no period a finding can have (a year, or a quarter of a quarterly duty), or None:
    a mistyped one is an error, never an empty answer."""
    if _PERIOD.fullmatch(period):
        return None
    return f"not a period: {shown(period)} (a year such as 2023, or a quarter such as 2023-Q2)"


@dataclass(frozen=True)
class Filters:
    unit: str | None = None
    status: str | None = None
    article: int | None = None
    subject: str | None = None
    period: str | None = None
    level: str | None = None
    basis: str | None = None
    units: frozenset[str] | None = None  # a scope: any of these units

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    def said(self) -> dict[str, str | int]:
        """What `summary.filtered` records (a scope as its sorted codes, under `units`)."""
        out: dict[str, str | int] = {f.name: getattr(self, f.name) for f in fields(self)
                                     if f.name != "units" and getattr(self, f.name) is not None}
        if self.units is not None:
            out["units"] = ",".join(sorted(self.units))
        return out

    def unit_ok(self, unit: str) -> bool:
        return (self.unit is None or unit == self.unit) and (self.units is None or unit in self.units)


def narrow(findings: Findings, unit: str | None = None, status: str | None = None, article: int | None = None,
           *, filters: Filters | None = None) -> Findings:
    """Keep what the filters ask for (see the module docstring). Summary counts describe the
    narrowed lists; `summary.filtered` says how."""
    f = filters or Filters(unit=unit, status=status, article=article)
    if not f:
        return findings
    obligations = [o for o in findings.obligations
                   if f.unit_ok(o.duty_bearer) and (f.status is None or o.status == f.status)
                   and (f.article is None or o.article == f.article) and (f.subject is None or o.subject == f.subject)
                   and (f.period is None or o.period == f.period)]
    kept_obligations = {o.id for o in obligations}
    violations = [v for v in findings.violations
                  if f.unit_ok(v.unit) and (f.article is None or v.article == f.article)
                  and (f.subject is None or v.subject == f.subject) and (f.period is None or v.period == f.period)
                  and (f.status is None or v.obligation in kept_obligations)]
    status_of = {o.id: o.status for o in findings.obligations}
    by_id = {v.id: v for v in findings.violations}

    def behind_ok(v: Violation) -> bool:  # the violation behind an escalation, as status/article/subject see it
        return ((f.status is None or status_of.get(v.obligation or "") == f.status)
                and (f.article is None or v.article == f.article) and (f.subject is None or v.subject == f.subject))

    escalations = []
    for e in findings.escalations:
        if not f.unit_ok(e.unit) or (f.level is not None and e.level != f.level) \
                or (f.basis is not None and e.basis != f.basis) or (f.period is not None and e.period != f.period):
            continue
        behind = [by_id[b] for b in e.because if b in by_id]
        if behind and not any(behind_ok(b) for b in behind):
            continue
        if not behind and (f.status is not None or f.subject is not None
                           or (f.article is not None and e.article != f.article)):
            continue
        escalations.append(e)
    return restrict(findings, obligations, violations, escalations, f.said())


def restrict(findings: Findings, obligations: list[Obligation], violations: list[Violation],
             escalations: list[Escalation], filtered: dict[str, str | int]) -> Findings:
    """The document with narrowed lists; counts describe the lists, `summary.filtered` says how."""
    summary = findings.summary.model_copy(update={
        "obligations": len(obligations), "violations": len(violations), "escalations": len(escalations),
        "filtered": {**(findings.summary.filtered or {}), **filtered}, **status_counts(obligations),
        **basis_counts(escalations)})
    return findings.model_copy(update={"summary": summary, "obligations": obligations, "violations": violations,
                                       "escalations": escalations})


def basis_counts(escalations: list[Escalation]) -> dict[str, int]:
    """How many escalations have each basis (rule, proposed, determined, declined)."""
    counts = dict.fromkeys(BASES, 0)
    for e in escalations:
        counts[e.basis] += 1
    return counts
