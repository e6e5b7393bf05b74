"""The escalation ladder (SPEC §3.4), declared in ruleset.yaml and applied here.

1. supervision notice for every violation charged to a district unit, at the violation;
2. public criticism for an overdue/precondition violation still unremedied `after` later;
3. one-vote veto per (unit, year): at an enforcement-failure assessment (with its own
   criticism), or at year end for an unremedied violation criticised that year; the
   earliest is the one flag.
Pure function of the violations, the assessment events, the parameters and `as_of`.
"""
from __future__ import annotations

import calendar
from collections.abc import Sequence

from engine.findings import Escalation, Violation, make_id
from engine.params import Params
from engine.schema import Ladder
from facts.events import Fact
from facts.timeutil import end_of_day, year_of
from facts.units import UnitRegistry


def _year_end(year: int, month_day: tuple[int, int]) -> int:
    month, day = month_day
    return end_of_day(year, month, min(day, calendar.monthrange(year, month)[1]))


def _unremedied(v: Violation, instant: int) -> bool:
    return v.remedied_at is None or v.remedied_at > instant


def escalate(violations: Sequence[Violation], assessments: Sequence[Fact], ladder: Ladder, params: Params,
             units: UnitRegistry, as_of: int) -> list[Escalation]:
    notice, criticism, veto = ladder.supervision_notice, ladder.public_criticism, ladder.one_vote_veto
    out: list[Escalation] = []
    criticised: list[tuple[Escalation, Violation]] = []
    wait = params.duration(criticism.after) if criticism.after else 0
    for v in violations:
        if v.unit not in units.codes:
            continue  # external parties are not escalated against
        if v.kind in notice.applies_to and v.at <= as_of:
            issuer = notice.issued_by_when_self if v.unit == notice.issued_by and notice.issued_by_when_self else notice.issued_by
            out.append(Escalation(id=make_id("es", "supervision_notice", v.id), level="supervision_notice",
                                  unit=v.unit, issued_by=issuer, period=str(year_of(v.at)),
                                  article=notice.article, at=v.at, because=[v.id]))
        if v.kind in criticism.applies_to:
            at = v.at + wait
            if at <= as_of and _unremedied(v, at):
                esc = Escalation(id=make_id("es", "public_criticism", v.id), level="public_criticism", unit=v.unit,
                                 issued_by=criticism.issued_by, period=str(year_of(at)), article=criticism.article,
                                 at=at, because=[v.id])
                out.append(esc)
                criticised.append((esc, v))

    # one-vote veto candidates per (unit, year): (at, tie-break, because, period)
    candidates: dict[tuple[str, int], list[tuple[int, str, list[str]]]] = {}
    for a in assessments:
        if a.at > as_of:
            continue
        target, year = a.get("target"), a.get("year")
        if target not in units.codes:
            continue
        out.append(Escalation(id=make_id("es", "public_criticism", a.id), level="public_criticism", unit=target,
                              issued_by=criticism.issued_by, period=str(year), article=criticism.article,
                              at=a.at, because=[a.id]))
        candidates.setdefault((target, year), []).append((a.at, a.id, [a.id]))
    if veto.at:
        month_day = params.month_day(veto.at)
        by_unit_year: dict[tuple[str, int], list[str]] = {}
        for esc, v in criticised:
            year = year_of(esc.at)
            end = _year_end(year, month_day)
            if esc.at <= end <= as_of and _unremedied(v, end):
                by_unit_year.setdefault((esc.unit, year), []).append(v.id)
        for (unit, year), ids in by_unit_year.items():
            candidates.setdefault((unit, year), []).append((_year_end(year, month_day), "", sorted(set(ids))))
    for (unit, year), options in candidates.items():
        at, _, because = min(options)
        out.append(Escalation(id=make_id("es", "one_vote_veto", unit, year), level="one_vote_veto", unit=unit,
                              issued_by=veto.issued_by, period=str(year), article=veto.article, at=at,
                              because=because))
    return out
