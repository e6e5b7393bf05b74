"""Why a finding exists: rule, article, quoted clause, the events, the deadline arithmetic.

Explanations are plain data built from a findings document and the events behind it, so the
command line, a service or a test can render or check them alike; sentences are in `lang`.
"""
from __future__ import annotations

import difflib
from typing import Any

from engine.findings import Escalation, Findings, Obligation, Violation
from engine.i18n import PHRASES
from engine.labels import labels
from engine.ruleset import Ruleset
from engine.schema import ObligationRule
from facts.events import Fact
from facts.timeutil import format_instant


class UnknownFinding(LookupError):
    def __init__(self, finding_id: str, near: list[str]):
        self.near = near
        hint = f"; near matches: {', '.join(near)}" if near else ""
        super().__init__(f"no obligation, violation or escalation with id {finding_id!r}{hint}")


def _event(fact: Fact | None, event_id: str) -> dict[str, Any]:
    if fact is None:
        return {"id": event_id}
    return {"id": fact.id, "type": fact.type, "occurred_at": format_instant(fact.at), "unit": fact.unit,
            "subject": fact.subject}


def _rule(ruleset: Ruleset, rule_id: str, lang: str) -> dict[str, Any]:
    located = ruleset.rule(rule_id)
    if located is None:
        return {"rule": rule_id}
    return {"rule": rule_id, "article": located.article, "clause": located.rule.clause,
            "title": getattr(located.rule.title, lang), "file": located.file, "line": located.line}


def _deadline(ruleset: Ruleset, ob: Obligation, facts: dict[str, Fact], p: dict[str, str]) -> list[str]:
    located = ruleset.rule(ob.rule)
    rule = located.rule if located else None
    if not isinstance(rule, ObligationRule):
        return []
    params, dl, lines = ruleset.params, rule.deadline, []
    start, due, grace = format_instant(ob.triggered_at), format_instant(ob.due), ruleset.header.grace
    if rule.trigger.after:
        trigger = facts.get(ob.triggered_by[0]) if ob.triggered_by else None
        lines.append(p["after"].format(start=start, event=format_instant(trigger.at) if trigger else "?",
                                       param=rule.trigger.after, value=params.raw[rule.trigger.after],
                                       types=" / ".join(u.event for u in rule.trigger.unless)))
    if dl.within:
        base = p["base_effective"] if rule.trigger.periodic else p["base_trigger"]
        lines.append(p["within"].format(base=base, start=start, param=dl.within, value=params.raw[dl.within],
                                        due=format_instant(ob.triggered_at + params.duration(dl.within))))
    if dl.date:
        lines.append(p["date"].format(param=dl.date, value=params.raw[dl.date], period=ob.period, grace=grace,
                                      grace_value=params.raw[grace], due=due))
    if dl.end_of_period:
        lines.append(p["end_of_period"].format(period=ob.period, grace=grace, due=due))
    if dl.before:
        lines.append(p["before"].format(type=dl.before, due=due))
    return lines or [p["no_deadline"]]


def _status(ob: Obligation, as_of: int, p: dict[str, str]) -> str:
    due, at = format_instant(ob.due), format_instant(ob.fulfilled_at)
    if ob.status == "fulfilled":
        return p["st_fulfilled"].format(id=ob.fulfilled_by, at=at) + (p["st_fulfilled_due"].format(due=due) if due else "")
    if ob.status == "fulfilled_late":
        return p["st_fulfilled_late"].format(id=ob.fulfilled_by, at=at, due=due)
    if ob.status == "overdue":
        return p["st_overdue"].format(as_of=format_instant(as_of), due=due)
    return p["st_open"].format(as_of=format_instant(as_of)) + (p["st_open_due"].format(due=due) if due else "")


def explain(finding_id: str, findings: Findings, ruleset: Ruleset, facts: dict[str, Fact], lang: str = "en") -> dict[str, Any]:
    p = PHRASES[lang]
    obligations = {o.id: o for o in findings.obligations}
    violations = {v.id: v for v in findings.violations}
    escalations = {e.id: e for e in findings.escalations}

    def ob_doc(ob: Obligation) -> dict[str, Any]:
        return {"finding": "obligation", **ob.model_dump(mode="json"), **_rule(ruleset, ob.rule, lang),
                "trigger_events": [_event(facts.get(i), i) for i in ob.triggered_by],
                "fulfilling_event": _event(facts.get(ob.fulfilled_by), ob.fulfilled_by) if ob.fulfilled_by else None,
                "deadline": _deadline(ruleset, ob, facts, p), "reasoning": _status(ob, findings.as_of, p)}

    def vi_doc(v: Violation) -> dict[str, Any]:
        doc = {"finding": "violation", **v.model_dump(mode="json"), **_rule(ruleset, v.rule, lang),
               "events": [_event(facts.get(i), i) for i in v.evidence]}
        if v.obligation and v.obligation in obligations:
            doc["because_obligation"] = ob_doc(obligations[v.obligation])
        doc["reasoning"] = p[f"k_{v.kind}"] + (p["remedied"].format(at=format_instant(v.remedied_at)) if v.remedied_at else "")
        return doc

    def es_doc(e: Escalation) -> dict[str, Any]:
        step = getattr(ruleset.header.escalation, e.level)
        doc: dict[str, Any] = {"finding": "escalation", **e.model_dump(mode="json"),
                               "level_title": getattr(step.title, lang)}
        chain = []
        for ref in e.because:
            if ref in violations:
                chain.append(vi_doc(violations[ref]))
            else:
                fact = facts.get(ref)
                chain.append({"finding": "assessment", **_event(fact, ref),
                              "target": fact.get("target") if fact else None, "year": fact.get("year") if fact else None})
        doc["because_chain"] = chain
        raw = ruleset.params.raw
        doc["reasoning"] = p[f"l_{e.level}"].format(article=step.article, after=step.after, at=step.at,
                                                   value=raw.get(step.after or step.at or "", ""))
        return doc

    if finding_id in obligations:
        return ob_doc(obligations[finding_id])
    if finding_id in violations:
        return vi_doc(violations[finding_id])
    if finding_id in escalations:
        return es_doc(escalations[finding_id])
    every = list(obligations) + list(violations) + list(escalations)
    raise UnknownFinding(finding_id, difflib.get_close_matches(finding_id, every, n=5, cutoff=0.5))


def render_text(doc: dict[str, Any], ruleset: Ruleset, lang: str = "en", indent: str = "") -> str:
    """A person-readable rendering of an explanation, in `lang`."""
    p, lab = PHRASES[lang], labels(ruleset, lang)
    unit = lambda code: lab["units"].get(code, code)  # noqa: E731
    kind = doc["finding"]
    if kind == "assessment":
        return indent + p["h_assessment"].format(id=doc["id"], type=doc.get("type"), at=doc.get("occurred_at"),
                                                 target=unit(doc.get("target") or ""), year=doc.get("year"))
    if kind == "obligation":
        head = p["h_obligation"].format(id=doc["id"], bearer=unit(doc["duty_bearer"]), duty=doc.get("title", doc["action"]))
        head += p["h_subject"].format(subject=doc["subject"]) if doc["subject"] else p["h_period"].format(period=doc["period"])
    elif kind == "violation":
        head = p["h_violation"].format(id=doc["id"], kind=lab["kind"][doc["kind"]], unit=unit(doc["unit"]), at=doc["at"])
    else:
        head = p["h_escalation"].format(id=doc["id"], level=doc["level_title"], unit=unit(doc["unit"]),
                                        issuer=unit(doc["issued_by"]), at=doc["at"], period=doc["period"])
    out = [indent + head]
    if kind != "escalation" and "clause" in doc:
        out.append(indent + "  " + p["rule"].format(rule=doc["rule"], article=doc["article"], clause=doc["clause"]))
    for e in doc.get("trigger_events", []):
        out.append(indent + "  " + p["triggered_by"].format(id=e["id"], type=e.get("type", ""), at=e.get("occurred_at", "?")))
    out += [indent + "  " + line for line in doc.get("deadline", [])]
    if kind == "violation":
        for e in doc.get("events", []):
            out.append(indent + "  " + p["evidence"].format(id=e["id"], type=e.get("type", ""), at=e.get("occurred_at", "?")))
    out.append(indent + "  " + p["why"].format(text=doc["reasoning"]))
    if "because_obligation" in doc:
        out.append(render_text(doc["because_obligation"], ruleset, lang, indent + "    "))
    for link in doc.get("because_chain", []):
        out.append(render_text(link, ruleset, lang, indent + "    "))
    return "\n".join(out)
