"""The ruleset as a reader sees it: rule listings, one rule in full, article coverage."""
from __future__ import annotations

from typing import Any

from engine.ruleset import Located, Ruleset
from engine.schema import EventPattern, ObligationRule, ProhibitionRule


def _pattern(p: EventPattern) -> str:
    conds = [f"{f} {'=' if op == 'eq' else op} {getattr(v, 'param', v)}" for f, op, v in p.conditions()]
    return p.event + (f" [{', '.join(conds)}]" if conds else "")


def describe(located: Located) -> dict[str, Any]:
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
        out["fulfilled_by"] = _pattern(rule.fulfilled_by) + (
            f" (same unit, same {rule.fulfilled_by.period_field})" if rule.fulfilled_by.period_field else
            " (same unit)" if trig.periodic else " (same subject)")
        dl = rule.deadline
        parts = []
        if dl.within:
            parts.append(f"{'effective instant' if trig.periodic else 'trigger'} + {dl.within}")
        if dl.date:
            parts.append(f"{dl.date} of the period's year (23:59:59)")
        if dl.end_of_period:
            parts.append("last day of the period (23:59:59)")
        if dl.before:
            parts.append(f"must precede {dl.before}")
        out["deadline"] = "; ".join(parts) or "none"
    else:
        assert isinstance(rule, ProhibitionRule)
        out["act"] = _pattern(rule.act)
        out["charged"] = rule.charged
        if rule.while_open:
            out["while_open"] = (f"opened by {_pattern(rule.while_open.opened_by)}, "
                                 f"closed by {_pattern(rule.while_open.closed_by)}")
    return out


def coverage(ruleset: Ruleset, lang: str = "en") -> list[dict[str, Any]]:
    """Every article 1..N: the rules encoding it, or the reason it holds no checkable duty."""
    reasons = ruleset.no_duty_zh if lang == "zh" else ruleset.no_duty
    ladder = ruleset.header.escalation
    rows = []
    for article in range(1, ruleset.header.articles + 1):
        rules = [w.rule.id for w in ruleset.rules if w.article == article]
        rules += [f"escalation.{level}" for level in type(ladder).model_fields if getattr(ladder, level).article == article]
        rows.append({"article": article, "rules": rules, "reason": None if rules else reasons.get(article)})
    return rows
