"""The escalation ladder (SPEC §3.4), declared in ruleset.yaml and applied here.

1. supervision notice (`rule`) for every violation charged to a unit the step names, at the violation;
2. public criticism (`proposed`): an overdue/precondition violation still unremedied `after`
   later, or a prohibited act or breach at once; its year is the violation's year;
3. one-vote veto (`proposed`), at most one per (unit, year): at the earliest
   max(year end, criticism) at which a criticised violation of that year is still unremedied;
4. the deciding body's events: an enforcement-failure finding *determines* the measures it
   lists (replacing the proposals of the same level, unit and year); a completed assessment
   of a year *declines* every proposal of that year that no determination replaced.

`Escalator` takes violations one at a time (so a batch of any size streams through it) and
keeps only what the veto needs; the deciding events are known before the first violation (they
are few), so every escalation is final when it is made. The result depends on the set of
violations, not their order.
"""
from __future__ import annotations

import calendar
import functools
from collections.abc import Iterable, Sequence

from oblige.engine.core.findings import make_id
from oblige.engine.core.rows import EscalationRow, ViolationRow
from oblige.engine.rules.params import Params
from oblige.engine.rules.schema import Ladder, LadderStep
from oblige.facts.events import Fact
from oblige.facts.timeutil import end_of_day, year_of
from oblige.facts.units import UnitRegistry

# (instant, (the violation's instant, rule, subject, period), violation id): the earliest is the veto;
# among violations equal in time the order rests on what they are, not on ids (which hash unit codes)
VetoCandidate = tuple[int, tuple[int, str, str, str], str]


@functools.lru_cache(maxsize=256)  # asked once per criticised violation; there are few distinct years
def _year_end(year: int, month_day: tuple[int, int]) -> int:
    month, day = month_day
    return end_of_day(year, month, min(day, calendar.monthrange(year, month)[1]))


def _unremedied(v: ViolationRow, instant: int) -> bool:
    return v.remedied_at is None or v.remedied_at > instant


def violation_year(v: ViolationRow) -> int:
    """The year of the obligation's period where it has one ("2023-Q2" -> 2023), else of `at`."""
    return int(v.period[:4]) if v.period else year_of(v.at)


def chargeable(step: LadderStep, units: UnitRegistry) -> frozenset[str]:
    """The units a step can be charged to: its `charges` (with "members" expanded) less `exempt`."""
    codes: set[str] = set()
    for code in step.charges:
        codes |= set(units.member_codes) if code == "members" else {code}
    return frozenset(codes & units.codes) - frozenset(step.exempt)


class Escalator:
    def __init__(self, ladder: Ladder, params: Params, units: UnitRegistry, as_of: int,
                 decisions: Iterable[Fact] = ()):
        self.ladder, self.params, self.units, self.as_of = ladder, params, units, as_of
        step = ladder.public_criticism
        self.wait = params.duration(step.after) if step.after else 0
        self.year_end = params.month_day(ladder.one_vote_veto.at) if ladder.one_vote_veto.at else None
        self.notice_to = chargeable(ladder.supervision_notice, units)
        self.criticism_to = chargeable(ladder.public_criticism, units)
        self.veto_to = chargeable(ladder.one_vote_veto, units)
        self.vetoes: dict[tuple[str, int], VetoCandidate] = {}  # (unit, year) -> earliest proposal
        # the deciding body's events in force at as_of
        self.findings: list[Fact] = []  # enforcement failures: they determine measures
        self.completed: set[int] = set()  # years whose assessment was completed: proposals declined
        for d in decisions:
            if d.at > self.as_of:
                continue
            if d.type == ladder.determined_by:
                self.findings.append(d)
            elif d.type == ladder.declined_by:
                self.completed.add(d.get("year"))
        self.determined: set[tuple[str, str, int]] = {  # (level, unit, year) decided
            (m, f.get("target"), f.get("year")) for f in self.findings for m in f.get("measures") or ()}

    def _basis(self, level: str, unit: str, year: int) -> str | None:
        """`proposed` or `declined`, or None when a determination replaced the proposal."""
        if (level, unit, year) in self.determined:
            return None
        return "declined" if year in self.completed else "proposed"

    def add(self, v: ViolationRow) -> list[EscalationRow]:
        """Supervision notice and public criticism for one violation (noting it for the veto)."""
        notice, criticism = self.ladder.supervision_notice, self.ladder.public_criticism
        out: list[EscalationRow] = []
        if v.kind in notice.applies_to and v.at <= self.as_of and v.unit in self.notice_to:
            issuer = (notice.issued_by_when_self if v.unit == notice.issued_by and notice.issued_by_when_self
                      else notice.issued_by)
            out.append(EscalationRow(make_id("es", "supervision_notice", v.id), "supervision_notice", notice.basis,
                                     v.unit, issuer, str(year_of(v.at)), notice.article, v.at, [v.id]))
        if v.kind not in criticism.applies_to or v.unit not in self.criticism_to:
            return out
        at = self.criticised_at(v)
        if at > self.as_of or not _unremedied(v, at):
            return out
        year = violation_year(v)
        basis = self._basis("public_criticism", v.unit, year)
        if basis is not None:
            out.append(EscalationRow(make_id("es", "public_criticism", v.id), "public_criticism", basis, v.unit,
                                     criticism.issued_by, str(year), criticism.article, at, [v.id]))
        veto_at = self.veto_at(v)
        if veto_at is not None and v.unit in self.veto_to and veto_at <= self.as_of and _unremedied(v, veto_at):
            self.note_veto((v.unit, year), (veto_at, (v.at, v.rule, v.subject or "", v.period or ""), v.id))
        return out

    def criticised_at(self, v: ViolationRow) -> int:
        """When criticism of `v` is due: `after` later for a missed duty, at once for an act (which
        is a violation the moment it happens and is never remedied)."""
        return v.at + self.wait if v.kind in ("overdue", "precondition") else v.at

    def veto_at(self, v: ViolationRow) -> int | None:
        """When a veto may rest on `v`: its year's end, or its criticism if later (None: no veto step)."""
        if self.year_end is None:
            return None
        return max(_year_end(violation_year(v), self.year_end), self.criticised_at(v))

    def note_veto(self, key: tuple[str, int], candidate: VetoCandidate) -> None:
        """Keep the earliest veto proposal of a (unit, year) (also used to merge shards' proposals)."""
        if key not in self.vetoes or candidate < self.vetoes[key]:
            self.vetoes[key] = candidate

    def finish(self) -> list[EscalationRow]:
        """Determined measures, and at most one veto per (unit, year)."""
        criticism, veto = self.ladder.public_criticism, self.ladder.one_vote_veto
        out: list[EscalationRow] = []
        decided_veto: dict[tuple[str, int], Fact] = {}
        for f in self.findings:
            target, year, measures = f.get("target"), f.get("year"), f.get("measures") or ()
            if "public_criticism" in measures and target in self.criticism_to:
                out.append(EscalationRow(make_id("es", "public_criticism", f.id), "public_criticism", "determined",
                                         target, criticism.issued_by, str(year), criticism.article, f.at, [f.id]))
            if "one_vote_veto" in measures and target in self.veto_to:
                key = (target, year)
                if key not in decided_veto or (f.at, f.id) < (decided_veto[key].at, decided_veto[key].id):
                    decided_veto[key] = f
        for (unit, year), f in decided_veto.items():
            out.append(EscalationRow(make_id("es", "one_vote_veto", unit, year), "one_vote_veto", "determined", unit,
                                     veto.issued_by, str(year), veto.article, f.at, [f.id]))
        for (unit, year), (at, _, because) in self.vetoes.items():
            basis = self._basis("one_vote_veto", unit, year)
            if basis is not None and (unit, year) not in decided_veto:
                out.append(EscalationRow(make_id("es", "one_vote_veto", unit, year), "one_vote_veto", basis, unit,
                                         veto.issued_by, str(year), veto.article, at, [because]))
        return out


def escalate(violations: Sequence[ViolationRow], decisions: Sequence[Fact], ladder: Ladder, params: Params,
             units: UnitRegistry, as_of: int) -> list[EscalationRow]:
    """All escalations of a set of violations (the whole ladder in one call)."""
    escalator = Escalator(ladder, params, units, as_of, decisions)
    out = [e for v in violations for e in escalator.add(v)]
    return out + escalator.finish()
