"""Why a finding exists: rule, article, quoted clause, the events, the deadline arithmetic.

Explanations are plain data built from a findings document and the events behind it, so the
command line, a service or a test can render or check them alike. The data keep the codes (event
types, parameter names, ISO instants); the sentences (`deadline`, `reasoning`) and `render_text`
speak `lang` alone: events, parameters and values by their labels (ruleset data), instants as
the tables write them.
"""
from __future__ import annotations

import difflib
from typing import Any

from oblige.engine.core.findings import Escalation, Findings, Obligation, Violation
from oblige.engine.render.i18n import PHRASES, article_label, format_period, format_when, when_text
from oblige.engine.render.labels import charged_units, escalation_label, labels, parameter_words
from oblige.engine.rules import workdays
from oblige.engine.rules.catalogue import parameter, rule_parameters
from oblige.engine.rules.ruleset import Ruleset
from oblige.engine.rules.schema import EventPattern, ObligationRule
from oblige.facts.events import Fact
from oblige.facts.timeutil import format_instant


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


def _matches(fact: Fact, pattern: EventPattern, ob: Obligation) -> bool:
    """Is `fact` an event of `pattern` about the obligation's subject (conditions are the engine's
    business; an explanation only needs to name the event)?"""
    return fact.type == pattern.event and (ob.subject is None or fact.subject == ob.subject)


def _first(facts: dict[str, Fact], patterns: list[EventPattern], ob: Obligation, until: int | None) -> Fact | None:
    found = [f for f in facts.values() if any(_matches(f, p, ob) for p in patterns)
             and f.at >= ob.triggered_at and (until is None or f.at <= until)]
    return min(found, key=lambda f: (f.at, f.id)) if found else None


class _Words:
    """The words of one explanation in one language: events, parameters and instants by their labels."""

    def __init__(self, ruleset: Ruleset, lang: str) -> None:
        self.ruleset, self.lang, self.p, self.lab = ruleset, lang, PHRASES[lang], labels(ruleset, lang)

    def type(self, code: str | None) -> str:
        return self.lab["events"].get(code or "", code or "?")

    def event(self, event_id: str, code: str | None) -> str:
        """ev-0010「申请户口登记」 / ev-0010 “Household registration requested”."""
        return self.p["event"].format(id=event_id, type=self.type(code))

    def events(self, codes: list[str]) -> str:
        quoted = [self.p["event"].format(id="", type=self.type(c)).strip() for c in codes]
        return ("、" if self.lang == "zh" else " or ").join(dict.fromkeys(quoted))

    def by_event(self, fact: Fact) -> str:
        return self.p["by_event"].format(event=self.event(fact.id, fact.type), at=self.when(fact.at))

    def when(self, us: int | None) -> str:
        return format_when(us, self.lang)

    def param(self, name: str) -> str:
        return parameter_words(self.ruleset, name, self.lang)["title"]

    def value(self, name: str) -> str:
        return parameter_words(self.ruleset, name, self.lang)["value"]


def _deadline(ruleset: Ruleset, ob: Obligation, facts: dict[str, Fact], w: _Words) -> list[str]:
    located = ruleset.rule(ob.rule)
    rule = located.rule if located else None
    if not isinstance(rule, ObligationRule):
        return []
    p, params, dl, lines = w.p, ruleset.params, rule.deadline, []
    start, due, grace = w.when(ob.triggered_at), w.when(ob.due), ruleset.header.grace
    if rule.trigger.after:
        trigger = facts.get(ob.triggered_by[0]) if ob.triggered_by else None
        lines.append(p["after"].format(start=start, event=w.when(trigger.at) if trigger else "?",
                                       param=w.param(rule.trigger.after), value=w.value(rule.trigger.after),
                                       types=w.events([u.event for u in rule.trigger.unless])))
    if dl.within:
        base = p["base_effective"] if rule.trigger.periodic else p["base_trigger"]
        first_due = params.add(dl.within, ob.triggered_at)
        lines.append(p["within"].format(base=base, start=start, param=w.param(dl.within), value=w.value(dl.within),
                                        due=w.when(first_due)))
        estimated = params.estimated(dl.within, ob.triggered_at)  # working days beyond the calendar's years
        if dl.extended_by:
            ext = _first(facts, [EventPattern(event=dl.extended_by.event)], ob, first_due)
            if ext is not None:
                second = params.add(dl.extended_by.by, first_due)
                lines.append(p["extended"].format(id=ext.id, type=w.type(ext.type), at=w.when(ext.at),
                                                  first=w.when(first_due), param=w.param(dl.extended_by.by),
                                                  value=w.value(dl.extended_by.by), due=w.when(second)))
                estimated = estimated or params.estimated(dl.extended_by.by, first_due)
        if estimated:
            lines.append(p["estimated"].format(calendar=workdays.CALENDAR_NAME, first=workdays.FIRST_YEAR,
                                               last=workdays.LAST_YEAR))
    if dl.date:
        lines.append(p["date_next" if dl.year_offset else "date"].format(
            param=w.param(dl.date), value=w.value(dl.date), period=format_period(ob.period, w.lang),
            grace=w.param(grace), grace_value=w.value(grace), due=due))
    if dl.end_of_period:
        lines.append(p["end_of_period"].format(period=format_period(ob.period, w.lang), grace=w.param(grace),
                                               grace_value=w.value(grace), due=due))
    if dl.before:
        lines.append(p["before"].format(type=w.events([dl.before]), due=due))
    return lines or [p["no_deadline"]]


def _status(ob: Obligation, as_of: int, w: _Words, ruleset: Ruleset, facts: dict[str, Fact]) -> str:
    p, due, at = w.p, w.when(ob.due) if ob.due is not None else "", w.when(ob.fulfilled_at)
    if ob.status == "fulfilled":
        return p["st_fulfilled"].format(id=ob.fulfilled_by, at=at) + (p["st_fulfilled_due"].format(due=due) if due else "")
    if ob.status == "fulfilled_late":
        return p["st_fulfilled_late"].format(id=ob.fulfilled_by, at=at, due=due)
    if ob.status == "overdue":
        return p["st_overdue"].format(as_of=w.when(as_of), due=due)
    if ob.status == "discharged":
        located = ruleset.rule(ob.rule)
        patterns = located.rule.discharged_by if located and isinstance(located.rule, ObligationRule) else []
        ended = _first(facts, patterns, ob, ob.due)
        return p["st_discharged"].format(what=w.by_event(ended) if ended else "", due=due or "—")
    return p["st_open"].format(as_of=w.when(as_of)) + (p["st_open_due"].format(due=due) if due else "")


def _parameters(ruleset: Ruleset, rule_id: str) -> list[dict[str, str]]:
    located = ruleset.rule(rule_id)
    return [parameter(ruleset, n) for n in rule_parameters(located, ruleset)] if located else []


def explain(finding_id: str, findings: Findings, ruleset: Ruleset, facts: dict[str, Fact], lang: str = "en") -> dict[str, Any]:
    w = _Words(ruleset, lang)
    p, lab = w.p, w.lab
    obligations = {o.id: o for o in findings.obligations}
    violations = {v.id: v for v in findings.violations}
    escalations = {e.id: e for e in findings.escalations}

    def ob_doc(ob: Obligation) -> dict[str, Any]:
        return {"finding": "obligation", **ob.model_dump(mode="json"), **_rule(ruleset, ob.rule, lang),
                "trigger_events": [_event(facts.get(i), i) for i in ob.triggered_by],
                "fulfilling_event": _event(facts.get(ob.fulfilled_by), ob.fulfilled_by) if ob.fulfilled_by else None,
                "deadline": _deadline(ruleset, ob, facts, w), "parameters": _parameters(ruleset, ob.rule),
                "reasoning": _status(ob, findings.as_of, w, ruleset, facts)}

    def vi_doc(v: Violation) -> dict[str, Any]:
        doc = {"finding": "violation", **v.model_dump(mode="json"), **_rule(ruleset, v.rule, lang),
               "events": [_event(facts.get(i), i) for i in v.evidence]}
        if v.obligation and v.obligation in obligations:
            doc["because_obligation"] = ob_doc(obligations[v.obligation])
        else:
            doc["parameters"] = _parameters(ruleset, v.rule)
        doc["reasoning"] = p[f"k_{v.kind}"] + (p["remedied"].format(at=w.when(v.remedied_at)) if v.remedied_at else "")
        return doc

    def es_doc(e: Escalation) -> dict[str, Any]:
        ladder = ruleset.header.escalation
        step = getattr(ladder, e.level)
        doc: dict[str, Any] = {"finding": "escalation", **e.model_dump(mode="json"),
                               "level_title": escalation_label(lab, e.level, e.basis, lang),
                               "basis_title": lab["basis"].get(e.basis, e.basis)}
        chain = []
        for ref in e.because:
            if ref in violations:
                chain.append(vi_doc(violations[ref]))
            else:
                fact = facts.get(ref)
                measures = fact.get("measures") if fact else None
                chain.append({"finding": "assessment", **_event(fact, ref),
                              "target": fact.get("target") if fact else None, "year": fact.get("year") if fact else None,
                              "assessment_finding": fact.get("finding") if fact else None,
                              "measures": list(measures) if measures else []})
        doc["because_chain"] = chain
        article = article_label(step.article, lang)
        name = step.after or step.at
        rule_text = p[f"l_{e.level}"].format(article=article, after=w.param(step.after) if step.after else "",
                                             at=w.param(step.at) if step.at else "", value=w.value(name) if name else "",
                                             level=lab["level"][e.level], charged=charged_units(ruleset, e.level, lang))
        if e.basis == "rule":
            doc["reasoning"] = rule_text
        elif e.basis == "proposed":
            doc["reasoning"] = rule_text + p["b_proposed"].format(issuer=lab["units"].get(e.issued_by, e.issued_by),
                                                                  period=e.period)
        elif e.basis == "determined":
            doc["reasoning"] = p["b_determined"].format(issuer=lab["units"].get(e.issued_by, e.issued_by), article=article)
        else:
            completed = [f for f in facts.values() if f.type == ladder.declined_by and str(f.get("year")) == e.period]
            first = min(completed, key=lambda f: (f.at, f.id)) if completed else None
            doc["declined_by"] = _event(first, first.id) if first else None
            doc["reasoning"] = rule_text + p["b_declined"].format(period=e.period, event=w.by_event(first) if first else "")
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
    """A person-readable rendering of an explanation, in `lang` alone: events, parameters, values
    and instants by their labels; ids (of findings, events, subjects) are kept to look them up."""
    w = _Words(ruleset, lang)
    p, lab = w.p, w.lab
    unit = lambda code: lab["units"].get(code, code)  # noqa: E731
    at = lambda e: when_text(e.get("occurred_at"), lang) if e.get("occurred_at") else "?"  # noqa: E731
    kind = doc["finding"]
    if kind == "assessment":
        text = indent + p["h_assessment"].format(event=w.event(doc["id"], doc.get("type")), at=at(doc),
                                                 target=unit(doc.get("target") or ""), year=doc.get("year"))
        if doc.get("assessment_finding"):
            finding = doc["assessment_finding"]
            text += p["h_assessment_finding"].format(finding=lab["finding"].get(finding, finding), measures=(
                "、" if lang == "zh" else ", ").join(lab["level"].get(m, m) for m in doc.get("measures", [])))
        return text
    if kind == "obligation":
        head = p["h_obligation"].format(id=doc["id"], bearer=unit(doc["duty_bearer"]), duty=doc.get("title", doc["action"]))
        head += (p["h_subject"].format(subject=doc["subject"]) if doc["subject"] else
                 p["h_period"].format(period=format_period(doc["period"], lang)) if doc["period"] else p["h_once"])
    elif kind == "violation":
        head = p["h_violation"].format(id=doc["id"], kind=lab["kind"][doc["kind"]], unit=unit(doc["unit"]),
                                       at=when_text(doc["at"], lang))
    else:
        phrase = "h_escalation_proposal" if doc.get("basis") in ("proposed", "declined") else "h_escalation"
        head = p[phrase].format(id=doc["id"], level=doc["level_title"], unit=unit(doc["unit"]),
                                issuer=unit(doc["issued_by"]), at=when_text(doc["at"], lang), period=doc["period"])
    out = [indent + head]
    if kind != "escalation" and "clause" in doc:
        phrase = "rule_basis" if kind == "obligation" else "rule"
        out.append(indent + "  " + p[phrase].format(title=doc.get("title", ""), article=article_label(doc["article"], lang),
                                                    clause=doc["clause"]))
    for e in doc.get("trigger_events", []):
        out.append(indent + "  " + p["triggered_by"].format(event=w.event(e["id"], e.get("type")), at=at(e)))
    out += [indent + "  " + line for line in doc.get("deadline", [])]
    for q in doc.get("parameters", []):
        out.append(indent + "  " + p["param"].format(**parameter_words(ruleset, q["name"], lang)))
    if kind == "violation":
        for e in doc.get("events", []):
            out.append(indent + "  " + p["evidence"].format(event=w.event(e["id"], e.get("type")), at=at(e)))
    out.append(indent + "  " + p["why"].format(text=doc["reasoning"]))
    if "because_obligation" in doc:
        out.append(render_text(doc["because_obligation"], ruleset, lang, indent + "    "))
    for link in doc.get("because_chain", []):
        out.append(render_text(link, ruleset, lang, indent + "    "))
    return "\n".join(out)
