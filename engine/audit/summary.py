"""What an audit report shows: per-unit counts and the unit × duty-period matrix.

Pure data built from a findings document, shared by the JSON, CSV, terminal and HTML renderers.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from oblige.engine.audit.records import AuditSpec
from oblige.engine.core.findings import STATUSES, Findings, Obligation
from oblige.engine.render.labels import BASES, LEVELS
from oblige.engine.rules.ruleset import Ruleset


def unit_codes(ruleset: Ruleset, findings: Findings | None = None) -> list[str]:
    """The units a report lists: every unit of the registry, or the one the findings were narrowed to."""
    only = (findings.summary.filtered or {}).get("unit") if findings is not None else None
    if only is not None:
        return [str(only)]
    return [*ruleset.units.member_codes, *(u.code for u in ruleset.units.others if u.code not in ruleset.units.member_codes)]


def unit_summary(findings: Findings, ruleset: Ruleset) -> dict[str, dict[str, Any]]:
    """SPEC §5: for every unit of the registry, obligation counts by status, violations, escalations by
    level, and (beyond the SPEC's keys) escalations by level and basis, so that a proposed veto is
    never counted as a decided one."""
    out: dict[str, dict[str, Any]] = {
        code: {"obligations": 0, **dict.fromkeys(STATUSES, 0), "violations": 0,
               "escalations": {level: 0 for level in LEVELS},
               "escalations_by_basis": {level: dict.fromkeys(BASES, 0) for level in LEVELS}}
        for code in unit_codes(ruleset, findings)}
    for o in findings.obligations:
        if o.duty_bearer in out:
            out[o.duty_bearer]["obligations"] += 1
            out[o.duty_bearer][o.status] += 1
    for v in findings.violations:
        if v.unit in out:
            out[v.unit]["violations"] += 1
    for e in findings.escalations:
        if e.unit in out:
            out[e.unit]["escalations"][e.level] += 1
            out[e.unit]["escalations_by_basis"][e.level][e.basis] += 1
    return out


@dataclass(frozen=True)
class Column:
    year: str
    action: str
    period: str | None  # the obligation's period ("2023", "2023-Q1", None)
    label: str

    @property
    def quarter(self) -> str | None:
        """"Q1" to "Q4" for a quarterly duty's column, else None."""
        return _quarter(self.period)


def _quarter(period: str | None) -> str | None:
    return period[5:] if period and "-Q" in period else None


@dataclass
class Matrix:
    years: list[str]
    columns: dict[str, list[Column]]  # year -> columns
    cells: dict[tuple[str, str, str | None], Obligation]  # (unit, action, period) -> obligation
    units: list[str]


def _year(o: Obligation) -> str:
    return (o.period or "")[:4]


def matrix(findings: Findings, ruleset: Ruleset, spec: AuditSpec) -> Matrix:
    """Unit-level obligations laid out by year, in the ruleset's duty order (audit.yaml)."""
    periodic = [o for o in findings.obligations if o.subject is None]
    cells = {(o.duty_bearer, o.action, o.period): o for o in periodic}
    by_year: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for o in periodic:
        year = _year(o) if o.period else str(ruleset.header.plan_years[0])
        by_year[year].add((o.action, o.period))
    columns: dict[str, list[Column]] = {}
    for year, pairs in sorted(by_year.items()):
        order = spec.duty_order
        ordered = sorted(pairs, key=lambda p: (order.index(p[0]) if p[0] in order else len(order), p[0], p[1] or ""))
        columns[year] = [Column(year, action, period, action + (f" {q}" if (q := _quarter(period)) else ""))
                         for action, period in ordered]
    return Matrix(sorted(columns), columns, cells, unit_codes(ruleset, findings))


def levels_reached(findings: Findings) -> dict[str, list[tuple[str, str]]]:
    """Obligation id -> (level, basis) of the escalations reached through its violation."""
    by_violation = {v.id: v.obligation for v in findings.violations if v.obligation}
    reached: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for e in findings.escalations:
        for ref in e.because:
            ob = by_violation.get(ref)
            if ob:
                reached[ob].add((e.level, e.basis))
    return {k: sorted(v, key=lambda lb: (LEVELS.index(lb[0]), BASES.index(lb[1]))) for k, v in reached.items()}
