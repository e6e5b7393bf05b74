"""Calendar duties (SPEC §3.3): which (rule, unit, period) duties exist, when they start, when due.

Generated once per engine from the unit registry and the plan years; whether a duty is
in force at `as_of` is decided later (its start must be at or before `as_of`).
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass

from oblige.engine.rules.params import Params
from oblige.engine.rules.ruleset import Ruleset
from oblige.engine.rules.schema import DutyBearers, ObligationRule
from oblige.facts.timeutil import end_of_day, start_of_day


@dataclass(frozen=True, slots=True)
class Duty:
    rule_index: int
    unit: str
    period: str | None
    year: int | None
    start: int  # the period's start, never before the effective instant
    due: int

    def as_fact(self) -> dict[str, object]:
        fact: dict[str, object] = {"k": "duty", "rule": self.rule_index, "unit": self.unit}
        if self.period is not None:
            fact["period"] = self.period
        if self.year is not None:
            fact["year"] = self.year
        return fact


def _date_due(year: int, month_day: tuple[int, int]) -> int:
    month, day = month_day
    return end_of_day(year, month, min(day, calendar.monthrange(year, month)[1]))


def bearers(rule: ObligationRule, ruleset: Ruleset) -> list[str]:
    """Units of the registry that owe this duty; a unit not in the registry owes nothing."""
    spec = rule.duty_bearer
    assert isinstance(spec, DutyBearers)
    codes = list(ruleset.units.member_codes) if spec.members else []
    codes += [c for c in spec.units if c in ruleset.units.codes and c not in codes]
    return codes


def periods(rule: ObligationRule, ruleset: Ruleset, params: Params) -> list[tuple[str | None, int | None, int, int]]:
    """(period, year, start, due) for every period of the plan in which the duty falls."""
    eff = ruleset.effective
    floor = eff + params.duration(ruleset.header.grace)
    first, last = ruleset.header.plan_years
    dl = rule.deadline
    out: list[tuple[str | None, int | None, int, int]] = []

    def due_for(year: int, start: int, calendar_due: int | None) -> int:
        if calendar_due is None:
            assert dl.within is not None
            return params.add(dl.within, start)
        return max(calendar_due, floor)

    def date_due(year: int) -> int | None:
        """The deadline's calendar date in `year` (shifted by its year offset), where it names one."""
        return _date_due(year + dl.year_offset, params.month_day(dl.date)) if dl.date else None

    every = rule.trigger.every
    if every == "once" and rule.trigger.year is None:
        out.append((None, None, eff, due_for(first, eff, date_due(first))))
    elif every == "once":
        year = rule.trigger.year
        assert year is not None
        start = max(start_of_day(year, 1, 1), eff)
        out.append((str(year), year, start, due_for(year, start, date_due(year))))
    elif every == "year":
        for year in range(first, last + 1):
            if end_of_day(year, 12, 31) < eff:
                continue
            start = max(start_of_day(year, 1, 1), eff)
            out.append((str(year), year, start, due_for(year, start, date_due(year))))
    else:  # quarter
        for year in range(first, last + 1):
            for q in range(1, 5):
                last_month = 3 * q
                q_end = end_of_day(year, last_month, calendar.monthrange(year, last_month)[1])
                if q_end < eff:
                    continue
                start = max(start_of_day(year, last_month - 2, 1), eff)
                out.append((f"{year}-Q{q}", year, start, due_for(year, start, q_end)))
    return out


def generate_duties(ruleset: Ruleset, params: Params, periodic: tuple[int, ...]) -> dict[str, list[Duty]]:
    """All calendar duties of the plan, by duty-bearing unit."""
    by_unit: dict[str, list[Duty]] = {}
    for index in periodic:
        rule = ruleset.rules[index].rule
        assert isinstance(rule, ObligationRule)
        spans = periods(rule, ruleset, params)
        for unit in bearers(rule, ruleset):
            for period, year, start, due in spans:
                by_unit.setdefault(unit, []).append(Duty(index, unit, period, year, start, due))
    return by_unit
