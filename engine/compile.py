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


def _condition(field: str, op: str, value: Any) -> dict[str, Any]:
    key = f"d_{field}"
    if op == "eq":
        return {key: value}
    if op == "ne":  # an absent (null) field is unknown, so it is not "different" either
        return {"$and": [{"$ex": {key: 1}}, {"$neq": {key: value}}]}
    if op == "in":
        return {"$or": [{key: v} for v in value]}
    return {f"${op}": {key: value}}


def pattern(p: EventPattern, params: Params, join: dict[str, Any] | None = None) -> dict[str, Any]:
    """An event pattern as a durable_rules condition; `join` adds equality with an earlier alias."""
    terms: list[dict[str, Any]] = [{"k": "ev"}, {"type": p.event}]
    terms += [_condition(f, op, _value(v, params)) for f, op, v in p.conditions()]
    if join:
        terms.append(join)
    return {"$and": terms}


def compile_ruleset(ruleset: Ruleset, params: Params | None = None) -> Compiled:
    params = params or ruleset.params
    rules: dict[str, Any] = {"sink_0": SINK, "end_0": END}
    periodic: list[int] = []
    same_subject = {"subject": {"t": "subject"}}
    for index, located in enumerate(ruleset.rules):
        rule = located.rule
        if isinstance(rule, ObligationRule) and rule.trigger.periodic:
            periodic.append(index)
            duty = {"$and": [{"k": "duty"}, {"rule": index}]}
            join: dict[str, Any] = {"unit": {"d": "unit"}}
            if rule.fulfilled_by.period_field == "year":
                join = {"$and": [join, {"d_year": {"d": "year"}}]}
            elif rule.fulfilled_by.period_field == "period":
                join = {"$and": [join, {"d_period": {"d": "period"}}]}
            rules[f"f_{index}"] = {"all": [{"d": duty}, {"f": pattern(rule.fulfilled_by, params, join)}]}
        elif isinstance(rule, ObligationRule):
            trig = pattern(rule.trigger, params)
            rules[f"t_{index}"] = {"all": [{"t": trig}]}
            rules[f"f_{index}"] = {"all": [{"t": trig}, {"f": pattern(rule.fulfilled_by, params, same_subject)}]}
            if rule.deadline.before:
                blocker = EventPattern(event=rule.deadline.before)
                rules[f"b_{index}"] = {"all": [{"t": trig}, {"b": pattern(blocker, params, same_subject)}]}
            for n, unless in enumerate(rule.trigger.unless):
                rules[f"u_{index}_{n}"] = {"all": [{"t": trig}, {"u": pattern(unless, params, same_subject)}]}
        else:
            assert isinstance(rule, ProhibitionRule)
            act = pattern(rule.act, params)
            rules[f"p_{index}"] = {"all": [{"e": act}]}
            if rule.while_open:
                rules[f"o_{index}"] = {"all": [{"e": act}, {"o": pattern(rule.while_open.opened_by, params, {"subject": {"e": "subject"}})}]}
                rules[f"c_{index}"] = {"all": [{"e": act}, {"c": pattern(rule.while_open.closed_by, params, {"subject": {"e": "subject"}})}]}
    for name, body in rules.items():
        body["run"] = name
    return Compiled(rules, tuple(periodic))
