"""The escalation ladder (SPEC §3.4), declared in ruleset.yaml and applied here.

1. supervision notice for every violation charged to a district unit, at the violation;
2. public criticism for an overdue/precondition violation still unremedied `after` later;
3. one-vote veto per (unit, year): at an enforcement-failure assessment (with its own
   criticism), or at year end for an unremedied violation criticised that year; the
   earliest is the one flag.
`Escalator` takes violations one at a time (so a batch of any size streams through it) and
keeps only what the veto needs; the result depends on the set of violations, not their order.
"""
from __future__ import annotations

import calendar
import functools
from collections.abc import Iterable, Sequence

from engine.findings import make_id
from engine.params import Params
from engine.rows import EscalationRow, ViolationRow
from engine.schema import Ladder
from facts.events import Fact
from facts.timeutil import end_of_day, year_of
from facts.units import UnitRegistry


@functools.lru_cache(maxsize=256)  # asked once per criticised violation; there are few distinct years
def _year_end(year: int, month_day: tuple[int, int]) -> int:
    month, day = month_day
    return end_of_day(year, month, min(day, calendar.monthrange(year, month)[1]))


def _unremedied(v: ViolationRow, instant: int) -> bool:
    return v.remedied_at is None or v.remedied_at > instant


class Escalator:
    def __init__(self, ladder: Ladder, params: Params, units: UnitRegistry, as_of: int):
        self.ladder, self.params, self.units, self.as_of = ladder, params, units, as_of
        step = ladder.public_criticism
        self.wait = params.duration(step.after) if step.after else 0
        self.year_end = params.month_day(ladder.one_vote_veto.at) if ladder.one_vote_veto.at else None
        self.veto_because: dict[tuple[str, int], list[str]] = {}  # (unit, year) -> violation ids

    def add(self, v: ViolationRow) -> list[EscalationRow]:
        """Supervision notice and public criticism for one violation (noting it for the veto)."""
        notice, criticism = self.ladder.supervision_notice, self.ladder.public_criticism
        if v.unit not in self.units.codes:
            return []  # external parties are not escalated against
        out: list[EscalationRow] = []
        if v.kind in notice.applies_to and v.at <= self.as_of:
            issuer = (notice.issued_by_when_self if v.unit == notice.issued_by and notice.issued_by_when_self
                      else notice.issued_by)
            out.append(EscalationRow(make_id("es", "supervision_notice", v.id), "supervision_notice", v.unit, issuer,
                                     str(year_of(v.at)), notice.article, v.at, [v.id]))
        if v.kind in criticism.applies_to:
            at = v.at + self.wait
            if at <= self.as_of and _unremedied(v, at):
                year = year_of(at)
                out.append(EscalationRow(make_id("es", "public_criticism", v.id), "public_criticism", v.unit,
                                         criticism.issued_by, str(year), criticism.article, at, [v.id]))
                if self.year_end is not None:
                    end = _year_end(year, self.year_end)
                    if at <= end <= self.as_of and _unremedied(v, end):
                        self.veto_because.setdefault((v.unit, year), []).append(v.id)
        return out

    def finish(self, assessments: Iterable[Fact]) -> list[EscalationRow]:
        """Criticism at each assessment, and at most one veto per (unit, year): the earliest."""
        criticism, veto = self.ladder.public_criticism, self.ladder.one_vote_veto
        out: list[EscalationRow] = []
        candidates: dict[tuple[str, int], list[tuple[int, str, list[str]]]] = {}
        for a in assessments:
            target, year = a.get("target"), a.get("year")
            if a.at > self.as_of or target not in self.units.codes:
                continue
            out.append(EscalationRow(make_id("es", "public_criticism", a.id), "public_criticism", target,
                                     criticism.issued_by, str(year), criticism.article, a.at, [a.id]))
            candidates.setdefault((target, year), []).append((a.at, a.id, [a.id]))
        if self.year_end is not None:
            for (unit, year), ids in self.veto_because.items():
                candidates.setdefault((unit, year), []).append((_year_end(year, self.year_end), "", sorted(set(ids))))
        for (unit, year), options in candidates.items():
            at, _, because = min(options)
            out.append(EscalationRow(make_id("es", "one_vote_veto", unit, year), "one_vote_veto", unit, veto.issued_by,
                                     str(year), veto.article, at, because))
        return out


def escalate(violations: Sequence[ViolationRow], assessments: Sequence[Fact], ladder: Ladder, params: Params,
             units: UnitRegistry, as_of: int) -> list[EscalationRow]:
    """All escalations of a set of violations (the whole ladder in one call)."""
    escalator = Escalator(ladder, params, units, as_of)
    out = [e for v in violations for e in escalator.add(v)]
    return out + escalator.finish(assessments)
