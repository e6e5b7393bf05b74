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


class EventPattern(_Strict):
    """An event type plus conditions on its data fields.

    `where: {age: {lt: {param: child_age_limit}}, parents_identified: true}`
    """

    event: str
    where: dict[str, Value | dict[Op, Value]] = Field(default_factory=dict)

    def conditions(self) -> list[tuple[str, Op, Value]]:
        out: list[tuple[str, Op, Value]] = []
        for field, spec in self.where.items():
            if isinstance(spec, dict):
                out.extend((field, op, value) for op, value in spec.items())
            else:
                out.append((field, "eq", spec))
        return out


class Trigger(EventPattern):
    """What creates an obligation: an event (optionally only after a waiting period with no
    cancelling event), or the calendar (`every`)."""

    event: str = ""  # type: ignore[assignment]
    every: Literal["year", "quarter", "once"] | None = None
    year: int | None = None  # a one-time duty tied to one plan year (e.g. the 2030 evaluation)
    after: str | None = None  # parameter: the trigger fires this long after the event
    unless: list[EventPattern] = Field(default_factory=list)  # ...if none of these happened by then

    @model_validator(mode="after")
    def _one_kind(self) -> "Trigger":
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


class Fulfilment(EventPattern):
    """The event that discharges the duty; for unit duties, the data field naming the period."""

    period_field: Literal["year", "period"] | None = None


class Deadline(_Strict):
    within: str | None = None  # parameter holding a duration, counted from the trigger
    date: str | None = None  # parameter holding a month-day, in the period's year
    end_of_period: bool = False  # the last day of the period (quarters)
    before: str | None = None  # an event type the fulfilment must precede

    @model_validator(mode="after")
    def _one_base(self) -> "Deadline":
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


class ObligationRule(_RuleBase):
    kind: Literal["obligation"]
    action: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    duty_bearer: str | DutyBearers  # a unit code, or "event.unit"
    trigger: Trigger
    fulfilled_by: Fulfilment
    deadline: Deadline = Field(default_factory=Deadline)

    @model_validator(mode="after")
    def _consistent(self) -> "ObligationRule":
        if self.trigger.periodic:
            if not isinstance(self.duty_bearer, DutyBearers):
                raise ValueError("a calendar duty names its bearers as {members: true, units: [...]}")
            if self.deadline.before:
                raise ValueError("a calendar duty cannot have to precede an event")
        elif isinstance(self.duty_bearer, DutyBearers):
            raise ValueError("an event-triggered duty has one bearer: a unit code or 'event.unit'")
        if self.deadline.end_of_period and self.trigger.every != "quarter":
            raise ValueError("`end_of_period` is for quarterly duties")
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


class NoDutyFile(_Strict):
    articles: list[NoDutyArticle]


class LadderStep(_Strict):
    article: int
    issued_by: str
    issued_by_when_self: str | None = None  # who issues when the issuer itself is charged
    applies_to: list[Literal["overdue", "precondition", "prohibited", "breach"]] = Field(default_factory=list)
    after: str | None = None  # parameter: waiting period before this level
    at: str | None = None  # parameter: month-day at which it is assessed
    assessment_event: str | None = None
    title: Title


class Ladder(_Strict):
    supervision_notice: LadderStep
    public_criticism: LadderStep
    one_vote_veto: LadderStep


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


class ParameterSpec(_Strict):
    value: str | int
    kind: Literal["duration", "integer", "month_day"]
    description: str
    reference: str
