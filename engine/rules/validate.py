"""Semantic checks of a loaded ruleset: every reference resolves, every clause is quoted.

Shape errors are caught by `engine.schema`; this module checks what needs the whole
ruleset: event types and fields, parameter names and kinds, unit codes, periods, the
source text and article coverage. It returns every problem, sorted by location.
"""
from __future__ import annotations

import re
import types
import typing
from typing import Any, get_args, get_origin

from oblige.engine.rules.errors import RuleError
from oblige.engine.rules.loader import line_of
from oblige.engine.rules.model import Located, Ruleset
from oblige.engine.rules.schema import BASES, KINDS, LEVELS, STATUSES, EventPattern, ObligationRule, ParamRef, ProhibitionRule
from oblige.facts.units import EXTERNAL, load_units
from oblige.facts.vocabulary import ALL_TYPES, CASE, UNIT_LEVEL

EVENT_UNIT = "event.unit"
_SPACE = re.compile(r"\s+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _normal(text: str) -> str:
    return _SPACE.sub("", text)


def _allowed(annotation: Any) -> tuple[set[type], set[Any] | None]:
    """Python types and (for Literal fields) the allowed values of a vocabulary field."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _allowed(get_args(annotation)[0])
    if origin is typing.Literal:
        return {str}, set(get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        allowed: set[type] = set()
        literals: set[Any] | None = None
        for arg in get_args(annotation):
            if arg is type(None):
                continue
            t, lits = _allowed(arg)
            allowed |= t
            if lits is not None:
                literals = (literals or set()) | lits
        return allowed, literals
    return {annotation}, None


def _nullable(spec: tuple[Any, Any]) -> bool:
    """May a vocabulary field be null (or absent)?"""
    annotation, default = spec
    if default is None:
        return True
    origin = get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and type(None) in get_args(annotation)


def missing_labels(ruleset: Ruleset) -> list[str]:
    """What a ruleset fails to label (checked by `rules validate`)."""
    problems = []
    want = {"status": set(STATUSES), "kind": set(KINDS), "basis": set(BASES)}
    want["events"] = set(ALL_TYPES)  # explanations name every event by its label
    findings = ALL_TYPES.get(ruleset.header.escalation.determined_by, {}).get("finding")
    if findings is not None:  # the committee's finding, as explanations of a decision name it
        want["finding"] = {str(v) for v in (_allowed(findings[0])[1] or ())}
    for group, keys in want.items():
        have = set(ruleset.header.labels.get(group, {}))
        problems += [f"labels.{group}.{k}: missing label" for k in sorted(keys - have)]
    return problems


def missing_parameter_labels(ruleset: Ruleset) -> list[str]:
    """Parameters without a title (zh and en) or a Chinese reason (checked by `rules validate`)."""
    problems = []
    for name, spec in sorted(ruleset.specs.items()):
        if spec.title is None:
            problems.append(f"{name}.title: missing title {{zh: ..., en: ...}}")
        if spec.reason_zh is None:
            problems.append(f"{name}.reason_zh: missing Chinese reason")
    return problems



class _Checker:
    def __init__(self, ruleset: Ruleset) -> None:
        self.rs = ruleset
        self.errors: list[RuleError] = []
        own = load_units(ruleset.path / "units.yaml", ruleset.units.others)
        self.unit_codes = own.codes | ruleset.units.codes

    def err(self, where: Located | None, code: str, message: str, file: str | None = None, at: str | None = None) -> None:
        if where is None:
            self.errors.append(RuleError(file or str(self.rs.path), 0, code, message))
            return
        # "trigger.where.age: ..." -> the line of that very key in the rule's YAML (or of the key `at`)
        path = tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", at or message.split(":", 1)[0]) if p)
        line = line_of(where.raw, path) if where.raw is not None else where.line
        self.errors.append(RuleError(where.file, line or where.line, code, message, where.rule.id, where.article))

    def param(self, where: Located, name: str | None, kind: str, field: str) -> None:
        if name is None:
            return
        spec = self.rs.specs.get(name)
        if spec is None:
            self.err(where, "rule_ref_error", f"{field}: unknown parameter {name!r}")
        elif spec.kind != kind:
            self.err(where, "rule_ref_error", f"{field}: parameter {name!r} is a {spec.kind}, not a {kind}")

    def pattern(self, where: Located, pattern: EventPattern, field: str, level: str) -> None:
        vocab = CASE if level == "case" else UNIT_LEVEL
        if pattern.event not in ALL_TYPES:
            self.err(where, "rule_ref_error", f"{field}.event: unknown event type {pattern.event!r}")
            return
        if pattern.event not in vocab:
            self.err(where, "rule_ref_error",
                     f"{field}.event: {pattern.event!r} is not a {'case-level' if level == 'case' else 'unit-level'} event")
        fields = ALL_TYPES[pattern.event]
        conditions = [(f"{field}.where.{n}", n, op, v) for n, op, v in pattern.conditions()]
        for i, branch in enumerate(pattern.any):
            conditions += [(f"{field}.any[{i}].{n}", n, op, v)
                           for n, op, v in EventPattern(event=pattern.event, where=branch).conditions()]
        for at, name, op, value in conditions:
            if name not in fields:
                self.err(where, "rule_ref_error", f"{at}: {pattern.event} has no data field {name!r}")
                continue
            types, literals = _allowed(fields[name][0])
            nullable = _nullable(fields[name])
            values = value if isinstance(value, list) else [value]
            if op == "in" and not isinstance(value, list):
                self.err(where, "rule_schema_error", f"{at}: 'in' takes a list")
            if op in ("lt", "lte", "gt", "gte") and int not in types:
                self.err(where, "rule_ref_error", f"{at}: {op} compares numbers; {name} is not a number")
            for v in values:
                if v is None:
                    if op not in ("eq", "ne", "in") or not nullable:
                        self.err(where, "rule_ref_error", f"{at}: {name} is never null" if not nullable
                                 else f"{at}: null can only be tested for equality")
                elif isinstance(v, ParamRef):
                    self.param(where, v.param, "integer", at)
                elif literals is not None and v not in literals:
                    self.err(where, "rule_ref_error", f"{at}: {v!r} is not one of {sorted(map(str, literals))}")
                elif literals is None and type(v) not in types:
                    self.err(where, "rule_ref_error",
                             f"{at}: {v!r} is not a {'/'.join(sorted(t.__name__ for t in types))}")

    def fulfilment(self, where: Located, rule: ObligationRule, level: str) -> None:
        ful = rule.fulfilled_by
        name = "one_of" if ful.one_of else "all_of" if ful.all_of else None
        for i, part in enumerate(ful.parts):
            self.pattern(where, part, f"fulfilled_by.{name}[{i}]" if name else "fulfilled_by", level)
        if isinstance(ful.by, list):
            for code in ful.by:
                self.unit(where, code, "fulfilled_by.by", ())

    def unit(self, where: Located, code: str, field: str, allow: tuple[str, ...]) -> None:
        if code not in self.unit_codes and code not in allow:
            self.err(where, "rule_ref_error", f"{field}: unknown unit {code!r}")

    def obligation(self, where: Located, rule: ObligationRule) -> None:
        trig, ful, dl = rule.trigger, rule.fulfilled_by, rule.deadline
        if trig.periodic:
            bearers = rule.duty_bearer
            assert not isinstance(bearers, str)
            if not bearers.members and not bearers.units:
                self.err(where, "rule_schema_error", "duty_bearer: names no unit")
            for code in bearers.units:
                self.unit(where, code, "duty_bearer.units", ())
            self.fulfilment(where, rule, "unit")
            want = {"year": "year", "quarter": "period", "once": None}[trig.every or "once"]
            if ful.period_field != want:
                self.err(where, "rule_schema_error",
                         f"fulfilled_by.period_field: a duty every {trig.every} is matched by {want or 'no period field'}")
            for part in ful.parts:
                if ful.period_field and part.event in ALL_TYPES and ful.period_field not in ALL_TYPES[part.event]:
                    self.err(where, "rule_ref_error", f"fulfilled_by.period_field: {part.event} has no field {ful.period_field!r}")
            if trig.every == "once" and trig.year is None and dl.within is None:
                self.err(where, "rule_schema_error", "deadline: a one-time duty with no year needs `within`")
            if trig.every == "year" and dl.date is None and dl.within is None:
                self.err(where, "rule_schema_error", "deadline: a yearly duty needs `date` or `within`")
        else:
            assert isinstance(rule.duty_bearer, str)
            self.unit(where, rule.duty_bearer, "duty_bearer", (EVENT_UNIT, EXTERNAL))
            self.pattern(where, trig, "trigger", "case")
            self.fulfilment(where, rule, "case")
            for i, discharge in enumerate(rule.discharged_by):
                self.pattern(where, discharge, f"discharged_by[{i}]", "case")
            if dl.extended_by is not None:
                if dl.extended_by.event not in CASE:
                    self.err(where, "rule_ref_error", f"deadline.extended_by.event: unknown case-level event type {dl.extended_by.event!r}")
                self.param(where, dl.extended_by.by, "duration", "deadline.extended_by.by")
            for i, unless in enumerate(trig.unless):
                self.pattern(where, unless, f"trigger.unless[{i}]", "case")
            self.param(where, trig.after, "duration", "trigger.after")
            if dl.date or dl.end_of_period:
                self.err(where, "rule_schema_error", "deadline: an event-triggered duty counts `within` from the trigger")
            if dl.before and dl.before not in CASE:
                self.err(where, "rule_ref_error", f"deadline.before: unknown case-level event type {dl.before!r}")
            if ful.period_field:
                self.err(where, "rule_schema_error", "fulfilled_by.period_field: only for calendar duties")
        self.param(where, dl.within, "duration", "deadline.within")
        self.param(where, dl.date, "month_day", "deadline.date")

    def prohibition(self, where: Located, rule: ProhibitionRule) -> None:
        self.pattern(where, rule.act, "act", "case")
        self.unit(where, rule.charged, "charged", (EVENT_UNIT, EXTERNAL))
        if rule.while_open:
            self.pattern(where, rule.while_open.opened_by, "while_open.opened_by", "case")
            self.pattern(where, rule.while_open.closed_by, "while_open.closed_by", "case")

    def reading(self, where: Located, rule: ObligationRule | ProhibitionRule) -> None:
        """A reading in both languages or in neither: `rules show --lang` prints the one asked for,
        never the other language in its place (as parameters carry `reason` and `reason_zh`)."""
        if rule.reading and not rule.reading_zh:
            self.err(where, "rule_schema_error", "reading_zh: missing Chinese reading (the rule has `reading`)", at="reading")
        elif rule.reading_zh and not rule.reading:
            self.err(where, "rule_schema_error", "reading: missing English reading (the rule has `reading_zh`)", at="reading_zh")
        elif rule.reading_zh and not _CJK.search(rule.reading_zh):
            self.err(where, "rule_schema_error", "reading_zh: no Chinese in the Chinese reading")

    def run(self) -> list[RuleError]:
        rs = self.rs
        seen: dict[str, Located] = {}
        source = _normal(rs.source_text)
        for where in rs.rules:
            rule = where.rule
            if rule.id in seen:
                self.err(where, "rule_schema_error", f"id: duplicate rule id (also at {seen[rule.id].file}:{seen[rule.id].line})")
            seen[rule.id] = where
            if int(rule.id[3:5]) != where.article:
                self.err(where, "rule_schema_error", f"id: a rule of article {where.article} has an id starting art{where.article:02d}.")
            if _normal(rule.clause) not in source:
                self.err(where, "rule_ref_error", "clause: not found verbatim in the source text")
            if isinstance(rule, ObligationRule):
                self.obligation(where, rule)
            else:
                self.prohibition(where, rule)
            self.reading(where, rule)
        header_file = str(rs.path / "ruleset.yaml")
        ladder = rs.header.escalation
        for level in LEVELS:
            step = getattr(ladder, level)
            for code in (step.issued_by, step.issued_by_when_self):
                if code is not None and code not in self.unit_codes:
                    self.err(None, "rule_ref_error", f"escalation.{level}.issued_by: unknown unit {code!r}", header_file)
            for name, kind in ((step.after, "duration"), (step.at, "month_day")):
                if name is not None and (name not in rs.specs or rs.specs[name].kind != kind):
                    self.err(None, "rule_ref_error", f"escalation.{level}: parameter {name!r} missing or not a {kind}", header_file)
            for code in (*step.charges, *step.exempt):
                if code != "members" and code not in self.unit_codes:
                    self.err(None, "rule_ref_error", f"escalation.{level}.charges: unknown unit {code!r}", header_file)
            if _normal(step.clause) not in source:
                self.err(None, "rule_ref_error", f"escalation.{level}.clause: not found verbatim in the source text", header_file)
        for key, want in (("determined_by", ("year", "target", "measures")), ("declined_by", ("year",))):
            event = getattr(ladder, key)
            if event not in UNIT_LEVEL:
                self.err(None, "rule_ref_error", f"escalation.{key}: unknown unit-level event {event!r}", header_file)
            else:
                for name in want:
                    if name not in UNIT_LEVEL[event]:
                        self.err(None, "rule_ref_error", f"escalation.{key}: {event} has no field {name!r}", header_file)
        for item in rs.not_modelled:
            if item.clause and _normal(item.clause) not in source:
                self.err(None, "rule_ref_error", f"not_modelled (article {item.article}): clause not found verbatim",
                         str(rs.path / "articles-without-duty.yaml"))
        for problem in missing_labels(rs):
            self.err(None, "rule_schema_error", problem, header_file)
        for problem in missing_parameter_labels(rs):
            self.err(None, "rule_schema_error", problem, str(rs.path / "parameters.yaml"))
        if rs.header.grace not in rs.specs:
            self.err(None, "rule_ref_error", f"grace: unknown parameter {rs.header.grace!r}", header_file)
        covered = {w.article for w in rs.rules} | {getattr(ladder, lv).article for lv in LEVELS}
        for article in range(1, rs.header.articles + 1):
            if article not in covered and article not in rs.no_duty:
                self.err(None, "rule_ref_error", f"article {article}: neither encoded by a rule nor listed with a reason",
                         str(rs.path / "articles-without-duty.yaml"))
        for article in rs.no_duty:
            if article in covered:
                self.err(None, "rule_ref_error", f"article {article}: listed as without duty but encoded by a rule",
                         str(rs.path / "articles-without-duty.yaml"))
        return sorted(self.errors)


def validate_ruleset(ruleset: Ruleset) -> list[RuleError]:
    return _Checker(ruleset).run()
