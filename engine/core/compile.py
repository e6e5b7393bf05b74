"""Compile rules into durable_rules JSON: a pure, deterministic function of the ruleset.

Matching is structural: which events trigger a rule, which events of the same subject (or
same unit and period) fulfil, block or cancel it, and which acts are prohibited. Time —
deadlines, `as_of` — is applied afterwards by `engine.lifecycle`.

durable_rules tests every condition of every single event pattern; the equalities that tie a
second event to the first (the duty bearer reporting, the same year or period) are kept beside
each pattern as a `Join` and applied by `core.join`. durable_rules' own joins materialise every
pair of facts: 3,000 events of one subject made a million pairs (10 s, 1.15 GB) and 6,000
aborted the process inside durable_rules ("double free"). Apart, each event is matched once per
pattern it meets, and the pairs a partition needs are found by key.

Each durable_rules rule is named `<tag>_<rule index>_<n>` (a `:` in a rule name crashes
durable_rules) and fires an action of the same name, so a match comes back as (pattern, the
matched fact). Tags (module constants below) and the alias of the fact each pattern matches:
  trigger        TRIGGER (t)     fulfilment  FULFIL / ALL_OF+k (f)   must-precede  BLOCK (b)
  cancelling     UNLESS (u)      discharging DISCHARGE (q)           extending     EXTEND (x)
  prohibited act ACT (e)         matter opened / closed for a prohibited act  OPENED (o) / CLOSED (c)
A second pattern pairs with the first facts of its rule: the triggers of an obligation, the
calendar duties of a periodic one (`Duty`, never asserted), the acts of a prohibition.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from oblige.engine.rules.params import Params
from oblige.engine.rules.ruleset import Ruleset
from oblige.engine.rules.schema import EventPattern, ObligationRule, ParamRef, ProhibitionRule

EVENT_UNIT = "event.unit"

TRIGGER, FULFIL, ALL_OF, BLOCK, UNLESS, DISCHARGE, EXTEND = "trig", "ful", "all", "blk", "unl", "dis", "ext"
ACT, OPENED, CLOSED = "act", "opn", "cls"

# A fact no rule uses must still be "handled" by durable_rules, or a whole batch is refused:
# this join takes every fact on its left side and never completes (no fact has `$sink`).
SINK = {"all": [{"a": {"$ex": {"id": 1}}}, {"b": {"$sink": 1}}], "run": "sink_0"}
# durable_rules crashes (segfault) deleting a session in which no action ever fired, so
# every partition ends with an `end` fact that this rule always fires on.
END = {"all": [{"z": {"k": "end"}}], "run": "end_0"}


Join = tuple[tuple[str, str], ...]  # (field of the second fact, field of the first fact): equal, both present


class Pattern(NamedTuple):
    """What one compiled durable_rules rule stands for: its tag, the index of its rule, and for a
    second pattern the equalities with the first fact it pairs with (`core.join`)."""

    tag: str
    rule: int
    join: Join = ()


Alternative = tuple[dict[str, Any], Join]  # a flat durable_rules condition, and its join with the first fact


@dataclass(frozen=True)
class Compiled:
    """What the matcher needs: the durable_rules definition, what each of its rules stands for,
    and which rules are calendar duties."""

    definition: dict[str, Any]
    patterns: dict[str, Pattern]  # by durable_rules rule name (the sink and end rules stand for none)
    periodic: tuple[int, ...]  # indices of calendar-triggered obligation rules


def _value(value: Any, params: Params) -> Any:
    if isinstance(value, ParamRef):
        return params.integer(value.param)
    if isinstance(value, list):
        return [_value(v, params) for v in value]
    return value


def _terms(field: str, op: str, value: Any) -> list[list[dict[str, Any]]]:
    """One condition as alternatives, each a list of simple terms (no nested `$and`/`$or`).

    durable_rules 2.0.28 silently dropped a join reference from a pattern that also held a
    nested `$and` or `$or` (measured: a placement of one subject fulfilled another's duty). Joins
    are now applied apart, but patterns stay flat: `ne` is flattened into the pattern and `in`
    becomes one durable_rules rule per value.
    `None` is "absent or null": facts leave null fields out.
    """
    key = f"d_{field}"
    if op == "eq":
        return [[{"$nex": {key: 1}}]] if value is None else [[{key: value}]]
    if op == "ne":  # an absent (null) field is unknown, so it is not "different" either
        return [[{"$ex": {key: 1}}]] if value is None else [[{"$ex": {key: 1}}, {"$neq": {key: value}}]]
    if op == "in":
        return [alt for v in value for alt in _terms(field, "eq", v)]
    return [[{f"${op}": {key: value}}]]


def patterns(p: EventPattern, params: Params, join: Join = (),
             reporters: list[tuple[list[dict[str, Any]], Join]] | None = None) -> list[Alternative]:
    """An event pattern as durable_rules conditions, one flat `$and` per alternative, each with
    its join: `join` (the year or period of a duty) and, from `reporters`, who reported it (the
    duty bearer, a join; or a unit named in `by`, a condition)."""
    out: list[Alternative] = []
    for conditions in p.alternatives():
        alternatives: list[list[dict[str, Any]]] = [[{"k": "ev"}, {"type": p.event}]]
        for field, op, value in conditions:
            alternatives = [terms + extra for terms in alternatives
                            for extra in _terms(field, op, _value(value, params))]
        for who, whose in reporters or [([], ())]:
            out += [({"$and": terms + who}, join + whose) for terms in alternatives]
    return out


def _rules(tag: str, index: int, alias: str, alternatives: list[Alternative]) -> dict[str, tuple[dict[str, Any], Pattern]]:
    """durable_rules rules `<tag>_<index>_<n>` of one fact each, one per alternative."""
    return {f"{tag}_{index}_{n}": ({"all": [{alias: condition}]}, Pattern(tag, index, join))
            for n, (condition, join) in enumerate(alternatives)}


def _reporters(rule: ObligationRule, periodic: bool) -> list[tuple[list[dict[str, Any]], Join]] | None:
    """Who may report a fulfilling act: the duty bearer, or a unit the rule names in `by` (SPEC §3).

    The bearer is the trigger's unit (`event.unit`) or the calendar duty's unit, a join; or the
    rule's own unit code, a condition."""
    by = rule.fulfilled_by.by
    if by == "any":
        return None
    joined = periodic or rule.duty_bearer == EVENT_UNIT
    bearer: tuple[list[dict[str, Any]], Join] = ([], (("unit", "unit"),)) if joined else ([{"unit": rule.duty_bearer}], ())
    return [bearer] + [([{"unit": code}], ()) for code in by if code != rule.duty_bearer]


def _fulfilment(rule: ObligationRule, index: int, params: Params, join: Join,
                reporters: list[tuple[list[dict[str, Any]], Join]] | None) -> dict[str, tuple[dict[str, Any], Pattern]]:
    """One tag for a single act or `one_of` alternatives; one tag per act of an `all_of` duty."""
    ful = rule.fulfilled_by
    if ful.needs_all:
        out: dict[str, tuple[dict[str, Any], Pattern]] = {}
        for k, part in enumerate(ful.parts):
            out |= _rules(f"{ALL_OF}{k}", index, "f", patterns(part, params, join, reporters))
        return out
    return _rules(FULFIL, index, "f", [c for part in ful.parts for c in patterns(part, params, join, reporters)])


# Facts are matched per partition (a subject; or a unit with its calendar duties), and case-level
# rules only name case-level events (rules/validate.py): so any two facts a rule pairs are of the same
# subject, or about the same unit, and a join holds only what the partition does not (the bearer
# reporting, the year or period of a calendar duty).
SAME_SUBJECT: Join = ()


def compile_ruleset(ruleset: Ruleset, params: Params | None = None) -> Compiled:
    params = params or ruleset.params
    rules: dict[str, tuple[dict[str, Any], Pattern]] = {}
    periodic: list[int] = []
    for index, located in enumerate(ruleset.rules):
        rule = located.rule
        if isinstance(rule, ObligationRule) and rule.trigger.periodic:
            periodic.append(index)  # its first facts are the calendar duties (`Duty.as_fact`)
            join: Join = ()  # about the duty's unit: the partition
            if rule.fulfilled_by.period_field == "year":
                join += (("d_year", "year"),)
            elif rule.fulfilled_by.period_field == "period":
                join += (("d_period", "period"),)
            rules |= _fulfilment(rule, index, params, join, _reporters(rule, True))
        elif isinstance(rule, ObligationRule):
            rules |= _rules(TRIGGER, index, "t", patterns(rule.trigger, params))
            rules |= _fulfilment(rule, index, params, SAME_SUBJECT, _reporters(rule, False))
            if rule.deadline.before:
                rules |= _rules(BLOCK, index, "b", patterns(EventPattern(event=rule.deadline.before), params, SAME_SUBJECT))
            if rule.trigger.unless:
                rules |= _rules(UNLESS, index, "u", [c for u in rule.trigger.unless for c in patterns(u, params, SAME_SUBJECT)])
            if rule.discharged_by:
                rules |= _rules(DISCHARGE, index, "q",
                                [c for d in rule.discharged_by for c in patterns(d, params, SAME_SUBJECT)])
            if rule.deadline.extended_by:
                extension = EventPattern(event=rule.deadline.extended_by.event)
                rules |= _rules(EXTEND, index, "x", patterns(extension, params, SAME_SUBJECT))
        else:
            assert isinstance(rule, ProhibitionRule)
            rules |= _rules(ACT, index, "e", patterns(rule.act, params))
            if rule.while_open:
                rules |= _rules(OPENED, index, "o", patterns(rule.while_open.opened_by, params, SAME_SUBJECT))
                rules |= _rules(CLOSED, index, "c", patterns(rule.while_open.closed_by, params, SAME_SUBJECT))
    definition: dict[str, Any] = {"sink_0": SINK, "end_0": END}
    for name, (body, _) in rules.items():
        definition[name] = {**body, "run": name}
    return Compiled(definition, {name: pattern for name, (_, pattern) in rules.items()}, tuple(periodic))
