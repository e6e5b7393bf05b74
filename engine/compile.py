"""Compile rules into durable_rules JSON: a pure, deterministic function of the ruleset.

Matching is structural: which events trigger a rule, which later events of the same
subject (or same unit and period) fulfil, block or cancel it, and which acts are
prohibited. Time — deadlines, `as_of` — is applied afterwards by `engine.lifecycle`.

Each durable_rules rule is named `<tag>_<rule index>` (a `:` in a rule name crashes durable_rules) and fires an action of the same name,
so a match comes back as (tag, rule index, the matched facts):
  t  trigger          (t)           f  fulfilment   (t or duty, f)
  b  must-precede     (t, b)        u  cancelling   (t, u)
  p  prohibited act   (e)           o / c  matter opened / closed for a prohibited act (e, o|c)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.params import Params
from engine.ruleset import Ruleset
from engine.schema import EventPattern, ObligationRule, ParamRef, ProhibitionRule

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
    """
    key = f"d_{field}"
    if op == "eq":
        return [[{key: value}]]
    if op == "ne":  # an absent (null) field is unknown, so it is not "different" either
        return [[{"$ex": {key: 1}}, {"$neq": {key: value}}]]
    if op == "in":
        return [[{key: v}] for v in value]
    return [[{f"${op}": {key: value}}]]


def patterns(p: EventPattern, params: Params, join: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """An event pattern as durable_rules conditions: one flat `$and` per alternative.

    `join` adds equalities with earlier aliases (same subject, same unit and period).
    """
    alternatives: list[list[dict[str, Any]]] = [[{"k": "ev"}, {"type": p.event}]]
    for field, op, value in p.conditions():
        alternatives = [terms + extra for terms in alternatives for extra in _terms(field, op, _value(value, params))]
    return [{"$and": terms + list(join or [])} for terms in alternatives]


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
            join: list[dict[str, Any]] = [{"unit": {"d": "unit"}}]
            if rule.fulfilled_by.period_field == "year":
                join.append({"d_year": {"d": "year"}})
            elif rule.fulfilled_by.period_field == "period":
                join.append({"d_period": {"d": "period"}})
            rules |= _rules("f", index, ("d", duty), ("f", patterns(rule.fulfilled_by, params, join)))
        elif isinstance(rule, ObligationRule):
            trig = patterns(rule.trigger, params)
            rules |= _rules("t", index, ("t", trig))
            rules |= _rules("f", index, ("t", trig), ("f", patterns(rule.fulfilled_by, params, same_subject)))
            if rule.deadline.before:
                blocker = EventPattern(event=rule.deadline.before)
                rules |= _rules("b", index, ("t", trig), ("b", patterns(blocker, params, same_subject)))
            for n, unless in enumerate(rule.trigger.unless):
                rules |= _rules(f"u{n}", index, ("t", trig), ("u", patterns(unless, params, same_subject)))
        else:
            assert isinstance(rule, ProhibitionRule)
            act = patterns(rule.act, params)
            rules |= _rules("p", index, ("e", act))
            if rule.while_open:
                same = [{"subject": {"e": "subject"}}]
                rules |= _rules("o", index, ("e", act), ("o", patterns(rule.while_open.opened_by, params, same)))
                rules |= _rules("c", index, ("e", act), ("c", patterns(rule.while_open.closed_by, params, same)))
    for name, body in rules.items():
        body["run"] = name
    return Compiled(rules, tuple(periodic))
