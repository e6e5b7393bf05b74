"""A loaded ruleset as one immutable value: its header, parameters, units, rules and texts.

Built by `ruleset.load_ruleset`, checked by `validate`; everything downstream reads it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oblige.engine.rules.params import Params
from oblige.engine.rules.schema import NotModelled, ObligationRule, ParameterSpec, ProhibitionRule, RulesetHeader
from oblige.facts.timeutil import parse_instant
from oblige.facts.units import UnitRegistry

AnyRule = ObligationRule | ProhibitionRule


@dataclass(frozen=True)
class Located:
    """A rule with where it was written."""

    rule: AnyRule
    article: int
    file: str
    line: int
    raw: Any = field(default=None, compare=False, repr=False)  # the YAML mapping, with line numbers


@dataclass(frozen=True)
class Ruleset:
    path: Path
    header: RulesetHeader
    specs: dict[str, ParameterSpec]
    params: Params
    units: UnitRegistry
    rules: tuple[Located, ...]
    no_duty: dict[int, str]
    source_text: str
    content_hash: str
    no_duty_zh: dict[int, str] = field(default_factory=dict)
    not_modelled: tuple[NotModelled, ...] = ()
    effective: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "effective", parse_instant(self.header.effective))

    @property
    def name(self) -> str:
        return self.header.name

    def rule(self, rule_id: str) -> Located | None:
        for located in self.rules:
            if located.rule.id == rule_id:
                return located
        return None

    def with_params(self, params: Params) -> Ruleset:
        return Ruleset(self.path, self.header, self.specs, params, self.units, self.rules, self.no_duty,
                       self.source_text, self.content_hash, self.no_duty_zh, self.not_modelled)
