"""The rule language as pydantic models: what a rule file may say (shape only).

Semantic checks that need the whole ruleset (parameter names, event fields, units) live in
`engine.validate`; this module only knows the shapes.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in"]
Scalar = bool | int | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamRef(_Strict):
    """A value taken from a named parameter, e.g. `{param: child_age_limit}`."""

    param: str


Value = Scalar | ParamRef | list[Scalar]


Where = dict[str, Value | None | dict[Op, Value]]


def _conditions(where: Where) -> list[tuple[str, Op, Value | None]]:
    out: list[tuple[str, Op, Value | None]] = []
    for field, spec in where.items():
        if isinstance(spec, dict):
            out.extend((field, op, value) for op, value in spec.items())
        else:
            out.append((field, "eq", spec))
    return out


class EventPattern(_Strict):
    """An event type plus conditions on its data fields.

    `where` holds conditions that must all hold; `any` lists alternatives of which one must
    hold as well (`any: [{guardian_identified: false}, {guardian_identified: null}]`).
    `null` means "absent or null" (the value is unknown).
    """

    event: str
    where: Where = Field(default_factory=dict)
    any: list[Where] = Field(default_factory=list)

    def conditions(self) -> list[tuple[str, Op, Value | None]]:
        return _conditions(self.where)

    def alternatives(self) -> list[list[tuple[str, Op, Value | None]]]:
        """Every condition, as alternatives of which one must hold (each a list of conditions)."""
        base = self.conditions()
        if not self.any:
            return [base]
        return [base + _conditions(branch) for branch in self.any]


class Trigger(EventPattern):
    """What creates an obligation: an event (optionally only after a waiting period with no
    cancelling event), or the calendar (`every`)."""

    event: str = ""
    every: Literal["year", "quarter", "once"] | None = None
    year: int | None = None  # a one-time duty tied to one plan year (e.g. the 2030 evaluation)
    after: str | None = None  # parameter: the trigger fires this long after the event
    unless: list[EventPattern] = Field(default_factory=list)  # ...if none of these happened by then

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        if bool(self.event) == bool(self.every):
            raise ValueError("a trigger names either an event or `every` (year, quarter, once)")
        if self.every and (self.where or self.after or self.unless):
            raise ValueError("a calendar trigger takes no `where`, `after` or `unless`")
        if self.year is not None and self.every != "once":
            raise ValueError("`year` goes with `every: once`")
        if self.unless and not self.after:
            raise ValueError("`unless` needs `after` (the waiting period)")
        return self

    @property
    def periodic(self) -> bool:
        return self.every is not None


class Fulfilment(_Strict):
    """What fulfils the duty: one event pattern, `one_of` several, or `all_of` several (the duty
    is fulfilled when the last of them has occurred). Only events reported by the duty bearer
    count, or by a unit named in `by` (`by: any` admits every reporter, `external` included).
    For unit duties, `period_field` names the data field that holds the period."""

    event: str | None = None
    where: Where = Field(default_factory=dict)
    any: list[Where] = Field(default_factory=list)
    one_of: list[EventPattern] = Field(default_factory=list)
    all_of: list[EventPattern] = Field(default_factory=list)
    by: list[str] | Literal["any"] = Field(default_factory=list)
    period_field: Literal["year", "period"] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Fulfilment:
        forms = [self.event is not None, bool(self.one_of), bool(self.all_of)]
        if sum(forms) != 1:
            raise ValueError("fulfilled_by names one `event`, or `one_of` / `all_of` a list of events")
        if self.event is None and (self.where or self.any):
            raise ValueError("`where` and `any` go with `event`; put them in each item of the list")
        return self

    @property
    def parts(self) -> list[EventPattern]:
        """The acts: one (event), alternatives (one_of) or all required (all_of)."""
        if self.event is not None:
            return [EventPattern(event=self.event, where=self.where, any=self.any)]
        return list(self.one_of or self.all_of)

    @property
    def needs_all(self) -> bool:
        return bool(self.all_of)


class Extension(_Strict):
    """An event that moves the due instant on by a parameter, once (Art. 10's approved extension)."""

    event: str
    by: str  # parameter: a duration or working days, added to the due instant


class Deadline(_Strict):
    within: str | None = None  # parameter holding a duration or working days, counted from the trigger
    date: str | None = None  # parameter holding a month-day, in the period's year
    year_offset: int = Field(default=0, ge=0, le=1)  # 1: the date falls in the year after the period (Art. 36)
    end_of_period: bool = False  # the last day of the period (quarters)
    before: str | None = None  # an event type the fulfilment must precede
    extended_by: Extension | None = None

    @model_validator(mode="after")
    def _one_base(self) -> Deadline:
        bases = [self.within is not None, self.date is not None, self.end_of_period]
        if sum(bases) > 1:
            raise ValueError("a deadline has at most one of `within`, `date`, `end_of_period`")
        return self


class DutyBearers(_Strict):
    """Who owes a unit duty: every member unit and/or named units."""

    members: bool = False
    units: list[str] = Field(default_factory=list)


class Title(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _RuleBase(_Strict):
    id: str = Field(pattern=r"^art\d{2}\.[a-z0-9_.]+$")
    clause: str = Field(min_length=4)
    title: Title
    note: str | None = None
    # where the SPEC is silent: what was chosen, and why; in English (Chinese only as 「」 quotations)
    # and in Chinese, as parameters carry `reason` and `reason_zh`: each --lang shows its own, so
    # one is required with the other (engine.rules.validate)
    reading: str | None = Field(default=None, min_length=4)
    reading_zh: str | None = Field(default=None, min_length=2)


class ObligationRule(_RuleBase):
    kind: Literal["obligation"]
    action: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    duty_bearer: str | DutyBearers  # a unit code, or "event.unit"
    trigger: Trigger
    fulfilled_by: Fulfilment
    deadline: Deadline = Field(default_factory=Deadline)
    discharged_by: list[EventPattern] = Field(default_factory=list)  # the duty's reason ceased (SPEC §1)

    @model_validator(mode="after")
    def _consistent(self) -> ObligationRule:
        if self.trigger.periodic:
            if not isinstance(self.duty_bearer, DutyBearers):
                raise ValueError("a calendar duty names its bearers as {members: true, units: [...]}")
            if self.deadline.before:
                raise ValueError("a calendar duty cannot have to precede an event")
            if self.discharged_by or self.deadline.extended_by:
                raise ValueError("a calendar duty has no discharging or extending events")
        elif isinstance(self.duty_bearer, DutyBearers):
            raise ValueError("an event-triggered duty has one bearer: a unit code or 'event.unit'")
        if self.deadline.end_of_period and self.trigger.every != "quarter":
            raise ValueError("`end_of_period` is for quarterly duties")
        if self.deadline.year_offset and self.deadline.date is None:
            raise ValueError("`year_offset` goes with `date`")
        if self.deadline.extended_by and self.deadline.within is None:
            raise ValueError("`extended_by` extends a `within` deadline")
        return self


class WhileOpen(_Strict):
    """The act is prohibited only while a matter opened earlier is not yet closed."""

    opened_by: EventPattern
    closed_by: EventPattern


class ProhibitionRule(_RuleBase):
    """An act that is a violation at the instant it happens (prohibited act or breach)."""

    kind: Literal["prohibition", "breach"]
    act: EventPattern
    charged: str  # a unit code, "event.unit" or "external"
    while_open: WhileOpen | None = None


Rule = ObligationRule | ProhibitionRule


class ArticleFile(_Strict):
    """One rule file: the rules encoding one article."""

    article: int = Field(ge=1)
    chapter: str | None = None
    rules: list[Annotated[ObligationRule | ProhibitionRule, Field(discriminator="kind")]] = Field(min_length=1)


class NoDutyArticle(_Strict):
    article: int = Field(ge=1)
    reason: str = Field(min_length=10)
    reason_zh: str = Field(min_length=4)


class NotModelled(_Strict):
    """A duty of the text that the ruleset deliberately leaves out (SPEC §3.5), with why."""

    article: int = Field(ge=1)
    what: str = Field(min_length=4)
    what_zh: str = Field(min_length=2)
    clause: str | None = None  # quoted from the source text where one clause carries it


class NoDutyFile(_Strict):
    articles: list[NoDutyArticle]
    not_modelled: list[NotModelled] = Field(default_factory=list)


class LadderStep(_Strict):
    """One level of the escalation ladder (SPEC §3.4).

    `basis: rule` — the ruleset calls for it whenever its condition holds; `basis: proposed` — the
    engine recommends it to the body that decides (`Ladder.determined_by`)."""

    article: int
    clause: str = Field(min_length=4)  # quoted from the source text
    basis: Literal["rule", "proposed"]
    issued_by: str
    issued_by_when_self: str | None = None  # who issues when the issuer itself is charged
    charges: list[str] = Field(min_length=1)  # who may receive it: unit codes, or "members"
    exempt: list[str] = Field(default_factory=list)  # units never charged at this level
    applies_to: list[Literal["overdue", "precondition", "prohibited", "breach"]] = Field(default_factory=list)
    after: str | None = None  # parameter: wait before an overdue/precondition violation leads to it
    at: str | None = None  # parameter: month-day of the year's end at which it is assessed
    title: Title


# the findings vocabulary (SPEC §4) that rulesets label and the ladder refers to
LEVELS = ("supervision_notice", "public_criticism", "one_vote_veto")
STATUSES = ("open", "fulfilled", "fulfilled_late", "overdue", "discharged")
KINDS = ("overdue", "precondition", "prohibited", "breach")
BASES = ("rule", "proposed", "determined", "declined")


class Ladder(_Strict):
    supervision_notice: LadderStep
    public_criticism: LadderStep
    one_vote_veto: LadderStep
    # the decision on proposals: an event (year, target, measures) determines measures; an event
    # (year) completing the year's assessment declines every proposal of that year not determined
    determined_by: str
    declined_by: str


class RulesetHeader(_Strict):
    """`ruleset.yaml`: name, time frame, labels and the escalation ladder."""

    name: str
    title: Title
    source: str
    zone: Literal["Asia/Shanghai"]
    effective: str
    plan_years: tuple[int, int]
    articles: int = Field(ge=1)
    default_lang: Literal["zh", "en"] = "zh"
    grace: str  # parameter: a calendar-date due is never earlier than effective + this
    escalation: Ladder
    labels: dict[str, dict[str, Title]]


class WorkingDays(_Strict):
    """`{working_days: N}`: 23:59:59 of the N-th working day after the start's date (official calendar)."""

    working_days: int = Field(ge=1, le=3650)


class ParameterSpec(_Strict):
    """A named parameter. `basis` says who fixes the value: the article (`text`), another law
    (`statute`, cited in `reason`) or a reading chosen here (`policy`)."""

    value: str | int | WorkingDays
    kind: Literal["duration", "integer", "month_day"]  # a duration may be ISO 8601 or working days
    basis: Literal["text", "statute", "policy"]
    reason: str = Field(min_length=4, max_length=300)
    description: str
    reference: str
    # for people (explanations): the parameter's name and its reason in Chinese; optional in the
    # shape, required of every parameter by `rules validate` (engine.rules.validate)
    title: Title | None = None
    reason_zh: str | None = Field(default=None, min_length=2, max_length=300)
