"""Compile rules into durable_rules JSON: a pure, deterministic function of the ruleset.

Matching is structural: which events trigger a rule, which later events of the same
subject (or same unit and period) fulfil, block or cancel it, and which acts are
prohibited. Time — deadlines, `as_of` — is applied afterwards by `engine.lifecycle`.

Each durable_rules rule is named `<tag>_<rule index>_<n>` (a `:` in a rule name crashes
durable_rules) and fires an action of the same name, so a match comes back as (tag, rule
index, the matched facts). Tags (module constants below) and the aliases of the facts:
  trigger        TRIGGER (t)              fulfilment      FULFIL / ALL_OF+k  (t or duty d, f)
  must-precede   BLOCK (t, b)             cancelling      UNLESS (t, u)
  discharging    DISCHARGE (t, q)         extending       EXTEND (t, x)
  prohibited act ACT (e)                  matter opened / closed for a prohibited act  OPENED / CLOSED (e, o|c)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Compiled:
    """What the matcher needs: the durable_rules definition and which rules are calendar duties."""

    definition: dict[str, Any]
    periodic: tuple[int, ...]  # indices of calendar-triggered obligation rules


def _value(value: Any, params: Params) -> Any:
    if isinstance(value, ParamRef):
        return params.integer(value.param)
    if isinstance(value, list):
        return [_value(v, params) for v in value]
    return value


def _terms(field: str, op: str, value: Any) -> list[list[dict[str, Any]]]:
    """One condition as alternatives, each a list of simple terms (no nested `$and`/`$or`).

    durable_rules 2.0.28 silently drops a join reference from a pattern that also holds a
    nested `$and` or `$or` (measured: a placement of one subject fulfilled another's duty), so
    `ne` is flattened into the pattern and `in` becomes one durable_rules rule per value.
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


def patterns(p: EventPattern, params: Params, join: list[dict[str, Any]] | None = None,
             units: list[list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """An event pattern as durable_rules conditions: one flat `$and` per alternative.

    `join` adds equalities with earlier aliases (same subject, same unit and period); `units`
    adds alternatives for who reported it (the duty bearer or a unit named in `by`)."""
    out: list[dict[str, Any]] = []
    for conditions in p.alternatives():
        alternatives: list[list[dict[str, Any]]] = [[{"k": "ev"}, {"type": p.event}]]
        for field, op, value in conditions:
            alternatives = [terms + extra for terms in alternatives
                            for extra in _terms(field, op, _value(value, params))]
        for who in units or [[]]:
            out += [{"$and": terms + who + list(join or [])} for terms in alternatives]
    return out


def _rules(tag: str, index: int, first: tuple[str, list[dict[str, Any]]],
           second: tuple[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """durable_rules rules `<tag>_<index>_<n>`, one per combination of alternatives."""
    out: dict[str, Any] = {}
    n = 0
    for a in first[1]:
        for b in (second[1] if second else [None]):
            body = [{first[0]: a}] + ([{second[0]: b}] if second else [])
            out[f"{tag}_{index}_{n}"] = {"all": body}
            n += 1
    return out


def _reporters(rule: ObligationRule, bearer_ref: dict[str, Any] | None) -> list[list[dict[str, Any]]] | None:
    """Who may report a fulfilling act: the duty bearer, or a unit the rule names in `by` (SPEC §3).

    `bearer_ref` is a join with the fact that names the bearer (the trigger's unit, the duty's
    unit); None means the bearer is the rule's own unit code."""
    by = rule.fulfilled_by.by
    if by == "any":
        return None
    bearer = [{"unit": bearer_ref}] if bearer_ref is not None else [{"unit": rule.duty_bearer}]
    return [bearer] + [[{"unit": code}] for code in by if code != rule.duty_bearer]


def _fulfilment(rule: ObligationRule, index: int, first: tuple[str, list[dict[str, Any]]], params: Params,
                join: list[dict[str, Any]], units: list[list[dict[str, Any]]] | None) -> dict[str, Any]:
    """One tag for a single act or `one_of` alternatives; one tag per act of an `all_of` duty."""
    ful = rule.fulfilled_by
    if ful.needs_all:
        out: dict[str, Any] = {}
        for k, part in enumerate(ful.parts):
            out |= _rules(f"{ALL_OF}{k}", index, first, ("f", patterns(part, params, join, units)))
        return out
    return _rules(FULFIL, index, first, ("f", [c for part in ful.parts for c in patterns(part, params, join, units)]))


def compile_ruleset(ruleset: Ruleset, params: Params | None = None) -> Compiled:
    params = params or ruleset.params
    rules: dict[str, Any] = {"sink_0": SINK, "end_0": END}
    periodic: list[int] = []
    same_subject = [{"subject": {"t": "subject"}}]
    for index, located in enumerate(ruleset.rules):
        rule = located.rule
        if isinstance(rule, ObligationRule) and rule.trigger.periodic:
            periodic.append(index)
            duty = [{"$and": [{"k": "duty"}, {"rule": index}]}]
            join: list[dict[str, Any]] = [{"about": {"d": "unit"}}]
            if rule.fulfilled_by.period_field == "year":
                join.append({"d_year": {"d": "year"}})
            elif rule.fulfilled_by.period_field == "period":
                join.append({"d_period": {"d": "period"}})
            rules |= _fulfilment(rule, index, ("d", duty), params, join, _reporters(rule, {"d": "unit"}))
        elif isinstance(rule, ObligationRule):
            trig = patterns(rule.trigger, params)
            rules |= _rules(TRIGGER, index, ("t", trig))
            bearer_ref = {"t": "unit"} if rule.duty_bearer == EVENT_UNIT else None
            rules |= _fulfilment(rule, index, ("t", trig), params, same_subject, _reporters(rule, bearer_ref))
            if rule.deadline.before:
                blocker = EventPattern(event=rule.deadline.before)
                rules |= _rules(BLOCK, index, ("t", trig), ("b", patterns(blocker, params, same_subject)))
            if rule.trigger.unless:
                rules |= _rules(UNLESS, index, ("t", trig),
                                ("u", [c for u in rule.trigger.unless for c in patterns(u, params, same_subject)]))
            if rule.discharged_by:
                rules |= _rules(DISCHARGE, index, ("t", trig),
                                ("q", [c for d in rule.discharged_by for c in patterns(d, params, same_subject)]))
            if rule.deadline.extended_by:
                extension = EventPattern(event=rule.deadline.extended_by.event)
                rules |= _rules(EXTEND, index, ("t", trig), ("x", patterns(extension, params, same_subject)))
        else:
            assert isinstance(rule, ProhibitionRule)
            act = patterns(rule.act, params)
            rules |= _rules(ACT, index, ("e", act))
            if rule.while_open:
                same = [{"subject": {"e": "subject"}}]
                rules |= _rules(OPENED, index, ("e", act), ("o", patterns(rule.while_open.opened_by, params, same)))
                rules |= _rules(CLOSED, index, ("e", act), ("c", patterns(rule.while_open.closed_by, params, same)))
    for name, body in rules.items():
        body["run"] = name
    return Compiled(rules, tuple(periodic))
