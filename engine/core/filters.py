"""Narrowing a findings document to a unit, a status or an article (for `oblige findings`)."""
from __future__ import annotations

from oblige.engine.core.findings import (
    BASES,
    Escalation,
    Findings,
    Obligation,
    Violation,
    status_counts,
)


def narrow(findings: Findings, unit: str | None = None, status: str | None = None,
           article: int | None = None) -> Findings:
    """Keep what concerns `unit`, obligations of `status`, findings under `article`.

    An escalation belongs to the article of the violations behind it (or its own article for an
    assessment). Summary counts describe the narrowed lists; `summary.filtered` says how.
    """
    if unit is None and status is None and article is None:
        return findings
    obligations = [o for o in findings.obligations
                   if (unit is None or o.duty_bearer == unit) and (status is None or o.status == status)
                   and (article is None or o.article == article)]
    kept_obligations = {o.id for o in obligations}
    violations = [v for v in findings.violations
                  if (unit is None or v.unit == unit) and (article is None or v.article == article)
                  and (status is None or v.obligation in kept_obligations)]
    kept_violations = {v.id for v in violations}
    by_id = {v.id: v for v in findings.violations}
    escalations = []
    for e in findings.escalations:
        if unit is not None and e.unit != unit:
            continue
        behind = [by_id[b] for b in e.because if b in by_id]
        if (status is not None or article is not None) and behind and not any(b.id in kept_violations for b in behind):
            continue
        if not behind and (status is not None or (article is not None and e.article != article)):
            continue
        escalations.append(e)
    filtered = {k: v for k, v in (("unit", unit), ("status", status), ("article", article)) if v is not None}
    return restrict(findings, obligations, violations, escalations, filtered)


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
