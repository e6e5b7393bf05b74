"""Who may report which event type (SPEC §2.1): reference data of a ruleset, validated.

An event whose `unit` may not report its type is rejected ("UNIT may not report TYPE"). A
unit-level event is about the unit that reports it, except where the table says the reporter
acts for another unit (gov_office files the district's annual plan) or names a data field
that holds the unit it is about (the committee's enforcement-failure finding is about its target).
"""
from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oblige.facts.vocabulary import ALL_TYPES, UNIT_LEVEL

Who = Literal["members", "district", "any"]


class ReporterEntry(BaseModel):
    """Event types and who may report them: unit codes, or `members` (each member unit about
    itself), `district` (any unit of the district) or `any` (`external` included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    types: list[str] = Field(min_length=1)
    by: list[str] | Who
    acting_for: str | None = None  # unit-level: the unit whose duties these events fulfil
    about_field: str | None = None  # unit-level: the data field naming the unit the event is about

    @model_validator(mode="after")
    def _about(self) -> ReporterEntry:
        if self.acting_for and self.about_field:
            raise ValueError("give `acting_for` or `about_field`, not both")
        return self


class ReporterTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reporters: list[ReporterEntry]

    @cached_property
    def by_type(self) -> dict[str, ReporterEntry]:
        return {t: entry for entry in self.reporters for t in entry.types}

    def problems(self, codes: frozenset[str]) -> list[str]:
        """What is wrong with the table against the vocabulary and the unit codes."""
        out: list[str] = []
        seen: dict[str, int] = {}
        for i, entry in enumerate(self.reporters):
            for t in entry.types:
                if t not in ALL_TYPES:
                    out.append(f"reporters[{i}].types: unknown event type {t!r}")
                elif t in seen:
                    out.append(f"reporters[{i}].types: {t!r} is listed twice (also in reporters[{seen[t]}])")
                seen.setdefault(t, i)
                if (entry.acting_for or entry.about_field) and t in ALL_TYPES and t not in UNIT_LEVEL:
                    out.append(f"reporters[{i}]: acting_for/about_field is for unit-level events, not {t!r}")
                if entry.about_field and t in ALL_TYPES and entry.about_field not in ALL_TYPES[t]:
                    out.append(f"reporters[{i}].about_field: {t} has no field {entry.about_field!r}")
            if isinstance(entry.by, list):
                out += [f"reporters[{i}].by: unknown unit {c!r}" for c in entry.by if c not in codes and c != "external"]
            if entry.acting_for and entry.acting_for not in codes:
                out.append(f"reporters[{i}].acting_for: unknown unit {entry.acting_for!r}")
        out += [f"reporters: event type {t!r} has no reporters" for t in ALL_TYPES if t not in seen]
        return out

    def may_report(self, event_type: str, unit: str, members: tuple[str, ...], codes: frozenset[str]) -> bool:
        entry = self.by_type.get(event_type)
        if entry is None:
            return False
        if entry.by == "any":
            return True
        if entry.by == "district":
            return unit in codes
        if entry.by == "members":
            return unit in members
        return unit in entry.by

    def about(self, event_type: str, unit: str, data: dict[str, object]) -> str:
        """The unit a unit-level event is about (whose partition and duties it belongs to)."""
        entry = self.by_type.get(event_type)
        if entry is None:
            return unit
        if entry.acting_for:
            return entry.acting_for
        if entry.about_field:
            value = data.get(entry.about_field)
            return value if isinstance(value, str) else unit
        return unit
