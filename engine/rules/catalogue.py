"""The ruleset as a reader sees it: rule listings, one rule in full, article coverage."""
from __future__ import annotations

from typing import Any

from oblige.engine.rules.ruleset import Located, Ruleset
from oblige.engine.rules.schema import EventPattern, ObligationRule, Op, ParamRef, ProhibitionRule, Value


def _conds(conds: list[tuple[str, Op, Value | None]]) -> str:
    return ", ".join(f"{f} {'=' if op == 'eq' else op} {'null' if v is None else getattr(v, 'param', v)}"
                     for f, op, v in conds)


def _pattern(p: EventPattern) -> str:
    text = p.event
    if p.where:
        text += f" [{_conds(p.conditions())}]"
    if p.any:
        text += " [" + " or ".join(_conds(EventPattern(event=p.event, where=w).conditions()) for w in p.any) + "]"
    return text


def _param_refs(value: Any) -> list[str]:
    """Parameter names referenced in a `where` mapping (or any nested value)."""
    if isinstance(value, ParamRef):
        return [value.param]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _param_refs(v)]
    if isinstance(value, list):
        return [n for v in value for n in _param_refs(v)]
    return []


def _pattern_params(p: EventPattern) -> list[str]:
    return _param_refs(p.where) + [n for w in p.any for n in _param_refs(w)]


def rule_parameters(located: Located, ruleset: Ruleset) -> list[str]:
    """The parameters a rule uses, in the order a reader meets them."""
    rule = located.rule
    names: list[str] = []
    if isinstance(rule, ObligationRule):
        trig, dl = rule.trigger, rule.deadline
        if not trig.periodic:
            names += _pattern_params(trig)
        names += [trig.after] if trig.after else []
        names += [n for u in trig.unless for n in _pattern_params(u)]
        names += [n for part in rule.fulfilled_by.parts for n in _pattern_params(part)]
        names += [x for x in (dl.within, dl.date) if x]
        names += [dl.extended_by.by] if dl.extended_by else []
        if dl.date or dl.end_of_period:
            names.append(ruleset.header.grace)
    else:
        assert isinstance(rule, ProhibitionRule)
        names += _pattern_params(rule.act)
    return [n for i, n in enumerate(names) if n not in names[:i] and n in ruleset.specs]


def parameter(ruleset: Ruleset, name: str) -> dict[str, str]:
    """A parameter as people read it: value (overrides applied), basis and one-line reason."""
    spec = ruleset.specs[name]
    params = ruleset.params
    basis, reason = params.basis.get(name, (spec.basis, spec.reason))  # an override may give its own
    return {"name": name, "value": params.describe(name), "basis": basis, "reason": reason}


def parameter_line(p: dict[str, str]) -> str:
    """`labor_case_filing_deadline = 5 working days — statute: 关于实施《劳动保障监察条例》若干规定 第十八条`"""
    return f"{p['name']} = {p['value']} — {p['basis']}: {p['reason']}"


def describe(located: Located, ruleset: Ruleset | None = None) -> dict[str, Any]:
    """One rule as plain data: what a reader of the article should recognise."""
    rule = located.rule
    out: dict[str, Any] = {"id": rule.id, "article": located.article, "kind": rule.kind,
                           "title": rule.title.model_dump(), "clause": rule.clause,
                           "file": located.file, "line": located.line}
    if isinstance(rule, ObligationRule):
        bearer = rule.duty_bearer
        out["action"] = rule.action
        out["duty_bearer"] = (bearer if isinstance(bearer, str) else
                              " + ".join((["every member unit"] if bearer.members else []) + bearer.units))
        trig = rule.trigger
        if trig.periodic:
            out["trigger"] = f"every {trig.every}" if trig.every != "once" else (
                f"once, for {trig.year}" if trig.year else "once, at the effective instant")
        else:
            out["trigger"] = _pattern(trig)
            if trig.after:
                out["trigger"] += f", once {trig.after} has passed with no " + " or ".join(_pattern(u) for u in trig.unless)
        ful = rule.fulfilled_by
        parts = [_pattern(p) for p in ful.parts]
        text = ("all of: " + " and ".join(parts) if ful.needs_all else
                "one of: " + " or ".join(parts) if len(parts) > 1 else parts[0])
        if ful.by == "any":
            text += ", reported by any unit"
        elif ful.by:
            text += f", by the duty bearer or {' / '.join(ful.by)}"
        out["fulfilled_by"] = text + (f" (same unit, same {ful.period_field})" if ful.period_field else
                                      " (same unit)" if trig.periodic else " (same subject)")
        dl = rule.deadline
        deadline = []
        if dl.within:
            deadline.append(f"{'effective instant' if trig.periodic else 'trigger'} + {dl.within}")
        if dl.date:
            year = "year after the period" if dl.year_offset else "period's year"
            deadline.append(f"{dl.date} of the {year} (23:59:59)")
        if dl.end_of_period:
            deadline.append("last day of the period (23:59:59)")
        if dl.before:
            deadline.append(f"must precede {dl.before}")
        if dl.extended_by:
            deadline.append(f"extended once by {dl.extended_by.by} at {dl.extended_by.event}")
        out["deadline"] = "; ".join(deadline) or "none"
        if rule.discharged_by:
            out["discharged_by"] = " or ".join(_pattern(p) for p in rule.discharged_by)
    else:
        assert isinstance(rule, ProhibitionRule)
        out["act"] = _pattern(rule.act)
        out["charged"] = rule.charged
        if rule.while_open:
            out["while_open"] = (f"opened by {_pattern(rule.while_open.opened_by)}, "
                                 f"closed by {_pattern(rule.while_open.closed_by)}")
    if rule.reading:  # both languages (validated as a pair): a program picks; `rules show` prints one
        out["reading"] = rule.reading
        out["reading_zh"] = rule.reading_zh
    if ruleset is not None:
        out["parameters"] = [parameter(ruleset, n) for n in rule_parameters(located, ruleset)]
    return out


def coverage(ruleset: Ruleset, lang: str = "en") -> list[dict[str, Any]]:
    """Every article 1..N: the rules encoding it, or the reason it holds no checkable duty, and
    what of it is deliberately not modelled."""
    reasons = ruleset.no_duty_zh if lang == "zh" else ruleset.no_duty
    ladder = ruleset.header.escalation
    steps = [name for name in type(ladder).model_fields if hasattr(getattr(ladder, name), "article")]
    left_out = ruleset.not_modelled
    rows = []
    for article in range(1, ruleset.header.articles + 1):
        rules = [w.rule.id for w in ruleset.rules if w.article == article]
        rules += [f"escalation.{level}" for level in steps if getattr(ladder, level).article == article]
        rows.append({"article": article, "rules": rules, "reason": None if rules else reasons.get(article),
                     "not_modelled": [{"what": n.what_zh if lang == "zh" else n.what, "clause": n.clause}
                                      for n in left_out if n.article == article]})
    return rows
