"""Why a finding exists: rule, article, quoted clause, the events, the deadline arithmetic.

Explanations are plain data built from a findings document and the events behind it, so the
command line, a service or a test can render or check them alike.
"""
from __future__ import annotations

import difflib
from typing import Any

from engine.findings import Escalation, Findings, Obligation, Violation
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


def _rule(ruleset: Ruleset, rule_id: str) -> dict[str, Any]:
    located = ruleset.rule(rule_id)
    if located is None:
        return {"rule": rule_id}
    return {"rule": rule_id, "article": located.article, "clause": located.rule.clause,
            "title": located.rule.title.model_dump(), "file": located.file, "line": located.line}


def _deadline(ruleset: Ruleset, ob: Obligation, facts: dict[str, Fact]) -> list[str]:
    located = ruleset.rule(ob.rule)
    rule = located.rule if located else None
    if not isinstance(rule, ObligationRule):
        return []
    params, dl, lines = ruleset.params, rule.deadline, []
    start = format_instant(ob.triggered_at)
    if rule.trigger.after:
        lines.append(f"triggered at {start} = {format_instant(facts[ob.triggered_by[0]].at) if ob.triggered_by and ob.triggered_by[0] in facts else 'trigger'}"
                     f" + {rule.trigger.after} ({params.raw[rule.trigger.after]}), with no "
                     + " or ".join(u.event for u in rule.trigger.unless) + " by then")
    if dl.within:
        base = "effective instant" if rule.trigger.periodic else "trigger"
        lines.append(f"due = {base} {start} + {dl.within} ({params.raw[dl.within]}) = {format_instant(ob.triggered_at + params.duration(dl.within))}")
    if dl.date:
        lines.append(f"due = {dl.date} ({params.raw[dl.date]}) of {ob.period} at 23:59:59, never earlier than effective "
                     f"+ {ruleset.header.grace} ({params.raw[ruleset.header.grace]}) → {format_instant(ob.due)}")
    if dl.end_of_period:
        lines.append(f"due = last day of {ob.period} at 23:59:59, never earlier than effective + {ruleset.header.grace} "
                     f"→ {format_instant(ob.due)}")
    if dl.before:
        lines.append(f"must precede {dl.before}: due is the earlier of the above and the first {dl.before} "
                     f"→ {format_instant(ob.due)}")
    if not lines:
        lines.append("no deadline: a required action that stays open until fulfilled")
    return lines


def _status(ob: Obligation, as_of: int) -> str:
    due = format_instant(ob.due)
    if ob.status == "fulfilled":
        return f"fulfilled by {ob.fulfilled_by} at {format_instant(ob.fulfilled_at)}" + (f", at or before the due instant {due}" if due else "")
    if ob.status == "fulfilled_late":
        return f"fulfilled late by {ob.fulfilled_by} at {format_instant(ob.fulfilled_at)}, after the due instant {due}"
    if ob.status == "overdue":
        return f"overdue: as of {format_instant(as_of)} no fulfilling event occurred at or before {due}"
    return f"open: as of {format_instant(as_of)} not yet fulfilled" + (f"; due {due}" if due else "")


def explain(finding_id: str, findings: Findings, ruleset: Ruleset, facts: dict[str, Fact]) -> dict[str, Any]:
    obligations = {o.id: o for o in findings.obligations}
    violations = {v.id: v for v in findings.violations}
    escalations = {e.id: e for e in findings.escalations}

    def ob_doc(ob: Obligation) -> dict[str, Any]:
        return {"finding": "obligation", **ob.model_dump(mode="json"), **_rule(ruleset, ob.rule),
                "trigger_events": [_event(facts.get(i), i) for i in ob.triggered_by],
                "fulfilling_event": _event(facts.get(ob.fulfilled_by), ob.fulfilled_by) if ob.fulfilled_by else None,
                "deadline": _deadline(ruleset, ob, facts), "reasoning": _status(ob, findings.as_of)}

    def vi_doc(v: Violation) -> dict[str, Any]:
        doc = {"finding": "violation", **v.model_dump(mode="json"), **_rule(ruleset, v.rule),
               "events": [_event(facts.get(i), i) for i in v.evidence]}
        if v.obligation and v.obligation in obligations:
            doc["because_obligation"] = ob_doc(obligations[v.obligation])
        doc["reasoning"] = {
            "overdue": "the due instant passed with no fulfilling event at or before it",
            "precondition": "the act the duty had to precede happened before any fulfilling event",
            "prohibited": "the act is prohibited by the clause quoted",
            "breach": "the duty was performed in a way the clause does not allow",
        }[v.kind] + (f"; remedied at {format_instant(v.remedied_at)}" if v.remedied_at else "")
        return doc

    def es_doc(e: Escalation) -> dict[str, Any]:
        ladder = ruleset.header.escalation
        step = getattr(ladder, e.level)
        doc: dict[str, Any] = {"finding": "escalation", **e.model_dump(mode="json"), "article": step.article,
                               "level_title": step.title.model_dump(), "clause_article": step.article}
        chain = []
        for ref in e.because:
            if ref in violations:
                chain.append(vi_doc(violations[ref]))
            else:
                chain.append({"finding": "assessment", **_event(facts.get(ref), ref),
                              "target": facts[ref].get("target") if ref in facts else None,
                              "year": facts[ref].get("year") if ref in facts else None})
        doc["because_chain"] = chain
        params = ruleset.params
        doc["reasoning"] = {
            "supervision_notice": f"every violation charged to a district unit gets a supervision notice at its instant (Art. {ladder.supervision_notice.article})",
            "public_criticism": (f"an overdue or precondition violation still unremedied {step.after} ({params.raw.get(step.after or '', '')}) "
                                 f"after it, or an enforcement-failure assessment (Art. {step.article})"),
            "one_vote_veto": (f"at most one flag per unit and year: an enforcement-failure assessment, or at {step.at} "
                              f"({params.raw.get(step.at or '', '')}) 23:59:59 a violation criticised that year and still unremedied; the earliest counts (Art. {step.article})"),
        }[e.level]
        return doc

    if finding_id in obligations:
        return ob_doc(obligations[finding_id])
    if finding_id in violations:
        return vi_doc(violations[finding_id])
    if finding_id in escalations:
        return es_doc(escalations[finding_id])
    every = list(obligations) + list(violations) + list(escalations)
    raise UnknownFinding(finding_id, difflib.get_close_matches(finding_id, every, n=5, cutoff=0.5))


def render_text(doc: dict[str, Any], indent: str = "") -> str:
    """A person-readable rendering of an explanation."""
    out: list[str] = []
    kind = doc["finding"]
    if kind == "assessment":
        return f"{indent}assessment {doc['id']} ({doc.get('type')}) at {doc.get('occurred_at')}: target {doc.get('target')}, year {doc.get('year')}"
    head = {"obligation": lambda d: f"obligation {d['id']}: {d['duty_bearer']} must {d['action']}"
                                    + (f" for {d['subject']}" if d['subject'] else f" for period {d['period']}"),
            "violation": lambda d: f"violation {d['id']} ({d['kind']}) charged to {d['unit']} at {d['at']}",
            "escalation": lambda d: f"escalation {d['id']}: {d['level']} ({d['level_title']['zh']}) against {d['unit']}, "
                                    f"issued by {d['issued_by']} at {d['at']}, period {d['period']}"}[kind](doc)
    out.append(indent + head)
    if "rule" in doc and kind != "escalation":
        out.append(f"{indent}  rule {doc['rule']} — Art. {doc.get('article')}: 「{doc.get('clause', '')}」")
    for e in doc.get("trigger_events", []):
        out.append(f"{indent}  triggered by {e['id']} {e.get('type', '')} at {e.get('occurred_at', '?')}")
    for line in doc.get("deadline", []):
        out.append(f"{indent}  {line}")
    if kind == "violation":
        for e in doc.get("events", []):
            out.append(f"{indent}  evidence {e['id']} {e.get('type', '')} at {e.get('occurred_at', '?')}")
    out.append(f"{indent}  why: {doc['reasoning']}")
    if "because_obligation" in doc:
        out.append(render_text(doc["because_obligation"], indent + "    "))
    for link in doc.get("because_chain", []):
        out.append(render_text(link, indent + "    "))
    return "\n".join(out)
