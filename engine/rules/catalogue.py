"""The ruleset as a reader sees it: rule listings, one rule in full, article coverage."""
from __future__ import annotations

from typing import Any

from oblige.engine.rules.ruleset import Located, Ruleset
from oblige.engine.rules.schema import EventPattern, ObligationRule, Op, ParamRef, ProhibitionRule, Value

# the words that join a rule's parts when `describe` writes them out; the parts themselves (events,
# data fields, values, parameters, units) stay codes in both languages, as the rule file spells them
WORDS: dict[str, dict[str, str]] = {
    "en": {"or": " or ", "and": " and ", "members": "every member unit", "every_year": "every year",
           "every_quarter": "every quarter", "once_for": "once, for {year}", "once": "once, at the effective instant",
           "after": ", once {after} has passed with no {unless}", "all_of": "all of: {parts}", "one_of": "one of: {parts}",
           "by_any": ", reported by any unit", "by": ", by the duty bearer or {units}",
           "same_period": " (same unit, same {period})", "same_unit": " (same unit)", "same_subject": " (same subject)",
           "from_effective": "effective instant + {within}", "from_trigger": "trigger + {within}",
           "date_next": "{date} of the year after the period (23:59:59)", "date": "{date} of the period's year (23:59:59)",
           "end_of_period": "last day of the period (23:59:59)", "before": "must precede {event}",
           "extended": "extended once by {by} at {event}", "sep": "; ", "none": "none",
           "while_open": "opened by {opened}, closed by {closed}", "year": "year", "period": "period"},
    "zh": {"or": " 或 ", "and": " 和 ", "members": "全体成员单位", "every_year": "每年",
           "every_quarter": "每季度", "once_for": "一次，{year}年度", "once": "一次，自生效时间起",
           "after": "，经过 {after} 仍无 {unless}", "all_of": "全部：{parts}", "one_of": "其一：{parts}",
           "by_any": "，任何单位报告均可", "by": "，由义务主体或 {units} 报告",
           "same_period": "（同一单位、同一{period}）", "same_unit": "（同一单位）", "same_subject": "（同一对象）",
           "from_effective": "生效时间 + {within}", "from_trigger": "触发时间 + {within}",
           "date_next": "期间次年的 {date}（23:59:59）", "date": "期间当年的 {date}（23:59:59）",
           "end_of_period": "期间最后一日（23:59:59）", "before": "须先于 {event}",
           "extended": "发生 {event} 时延长一次，延长 {by}", "sep": "；", "none": "无",
           "while_open": "自 {opened} 起，至 {closed} 止", "year": "年度", "period": "期间"},
}


def _conds(conds: list[tuple[str, Op, Value | None]]) -> str:
    return ", ".join(f"{f} {'=' if op == 'eq' else op} {'null' if v is None else getattr(v, 'param', v)}"
                     for f, op, v in conds)


def _pattern(p: EventPattern, lang: str = "en") -> str:
    text = p.event
    if p.where:
        text += f" [{_conds(p.conditions())}]"
    if p.any:
        text += " [" + WORDS[lang]["or"].join(_conds(EventPattern(event=p.event, where=w).conditions()) for w in p.any) + "]"
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


def describe(located: Located, ruleset: Ruleset | None = None, lang: str = "en") -> dict[str, Any]:
    """One rule as plain data: what a reader of the article should recognise. Its parts are codes;
    the words joining them are in `lang` (en for programs: /v1/rules; `rules show` asks for --lang).
    Both readings are kept: `engine.render.rules` prints the one of --lang."""
    rule = located.rule
    w = WORDS[lang]
    pattern = lambda p: _pattern(p, lang)  # noqa: E731
    out: dict[str, Any] = {"id": rule.id, "article": located.article, "kind": rule.kind,
                           "title": rule.title.model_dump(), "clause": rule.clause,
                           "file": located.file, "line": located.line}
    if isinstance(rule, ObligationRule):
        bearer = rule.duty_bearer
        out["action"] = rule.action
        out["duty_bearer"] = (bearer if isinstance(bearer, str) else
                              " + ".join(([w["members"]] if bearer.members else []) + bearer.units))
        trig = rule.trigger
        if trig.periodic:
            out["trigger"] = w[f"every_{trig.every}"] if trig.every != "once" else (
                w["once_for"].format(year=trig.year) if trig.year else w["once"])
        else:
            out["trigger"] = pattern(trig)
            if trig.after:
                out["trigger"] += w["after"].format(after=trig.after, unless=w["or"].join(pattern(u) for u in trig.unless))
        ful = rule.fulfilled_by
        parts = [pattern(p) for p in ful.parts]
        text = (w["all_of"].format(parts=w["and"].join(parts)) if ful.needs_all else
                w["one_of"].format(parts=w["or"].join(parts)) if len(parts) > 1 else parts[0])
        if ful.by == "any":
            text += w["by_any"]
        elif ful.by:
            text += w["by"].format(units=" / ".join(ful.by))
        out["fulfilled_by"] = text + (w["same_period"].format(period=w[ful.period_field]) if ful.period_field else
                                      w["same_unit"] if trig.periodic else w["same_subject"])
        dl = rule.deadline
        deadline = []
        if dl.within:
            deadline.append(w["from_effective" if trig.periodic else "from_trigger"].format(within=dl.within))
        if dl.date:
            deadline.append(w["date_next" if dl.year_offset else "date"].format(date=dl.date))
        if dl.end_of_period:
            deadline.append(w["end_of_period"])
        if dl.before:
            deadline.append(w["before"].format(event=dl.before))
        if dl.extended_by:
            deadline.append(w["extended"].format(by=dl.extended_by.by, event=dl.extended_by.event))
        out["deadline"] = w["sep"].join(deadline) or w["none"]
        if rule.discharged_by:
            out["discharged_by"] = w["or"].join(pattern(p) for p in rule.discharged_by)
    else:
        assert isinstance(rule, ProhibitionRule)
        out["act"] = pattern(rule.act)
        out["charged"] = rule.charged
        if rule.while_open:
            out["while_open"] = w["while_open"].format(opened=pattern(rule.while_open.opened_by),
                                                       closed=pattern(rule.while_open.closed_by))
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
