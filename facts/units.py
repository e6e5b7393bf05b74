"""The unit registry: who can act in events and who bears duties.

The member list is reference data of a ruleset (SPEC §1) and can be replaced by a file; the
units that always exist (Xunyang's `district_government` and `joint_conference_office`) are the
ruleset's too: the `others` of its units.yaml, which a units file never replaces. `external` is
a valid actor that is never a district unit (SPEC-level, not ruleset data).
"""
from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from oblige.facts.reporters import ReporterTable

EXTERNAL = "external"
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class UnitsFileError(ValueError):
    """A units file that cannot be used; the message names the file and the entry."""


class Unit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    lead: bool = False

    @field_validator("code")
    @classmethod
    def _code_shape(cls, v: str) -> str:
        if not _CODE.match(v):
            raise ValueError("a unit code is lower-case letters, digits and _ (starting with a letter)")
        if v == EXTERNAL:
            raise ValueError("'external' is reserved for parties outside the district")
        return v


class UnitRegistry(BaseModel):
    """The member units (replaceable by a units file) plus the ruleset's `others`, which always exist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    members: tuple[Unit, ...]
    others: tuple[Unit, ...] = ()
    reporters: ReporterTable | None = None  # who may report what (SPEC §2.1); None: anyone

    @field_validator("members", "others")
    @classmethod
    def _unique(cls, v: tuple[Unit, ...]) -> tuple[Unit, ...]:
        seen: set[str] = set()
        for unit in v:
            if unit.code in seen:
                raise ValueError(f"unit {unit.code!r} is listed twice")
            seen.add(unit.code)
        return v

    @model_validator(mode="after")
    def _apart(self) -> UnitRegistry:
        always = {u.code for u in self.others}
        for i, unit in enumerate(self.members):
            if unit.code in always:
                raise ValueError(f"members.{i}: {unit.code!r} always exists and is not a member unit")
        return self

    @cached_property
    def member_codes(self) -> tuple[str, ...]:
        return tuple(u.code for u in self.members)

    @cached_property
    def codes(self) -> frozenset[str]:
        """Every district unit: members plus the units that always exist (`others`)."""
        return frozenset(self.member_codes) | frozenset(u.code for u in self.others)

    def may_report(self, event_type: str, code: str) -> bool:
        """May this unit report events of this type (SPEC §2.1)?"""
        return self.reporters is None or self.reporters.may_report(event_type, code, self.member_codes, self.codes)

    def unknown_unit(self, code: str) -> str | None:
        """Why `code` names no unit (with "did you mean …?"), or None when it names one.

        >>> from oblige.engine.rules.ruleset import load_ruleset
        >>> load_ruleset().units.unknown_unit("commerc")
        "no unit 'commerc' in the unit registry; did you mean commerce?"
        """
        if self.is_actor(code):
            return None
        import difflib

        codes = sorted(self.codes | {EXTERNAL})
        by_name = [u.code for u in (*self.members, *self.others) if code in (u.name_zh, u.name_en)]
        hint = by_name or difflib.get_close_matches(code, codes, n=3, cutoff=0.6)
        return f"no unit {code!r} in the unit registry" + (f"; did you mean {' or '.join(hint)}?" if hint else
                                                           f"; the units are: {', '.join(codes)}")

    def is_actor(self, code: str) -> bool:
        """May this code stand in an event's `unit` field?"""
        return code in self.codes or code == EXTERNAL

    def label(self, code: str, lang: str = "zh") -> str:
        for unit in (*self.members, *self.others):
            if unit.code == code:
                return unit.name_zh if lang == "zh" else unit.name_en
        return code


def _member_lines(text: str) -> list[int]:
    """The line of each entry of the `members` list (for messages), or [] when it cannot be told."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "members" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def load_units(path: Path, always: tuple[Unit, ...]) -> UnitRegistry:
    """Read a units file: `members:` a list of {code, name_zh, name_en}; `always` are the ruleset's
    `others` (a units file replaces only the members). Every problem is reported, each with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnitsFileError(f"{path}: cannot read units file: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise UnitsFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("members"), list):
        raise UnitsFileError(f"{path}: a units file is a mapping with a 'members' list of "
                             "{code, name_zh, name_en} entries")
    try:
        return UnitRegistry(members=tuple(raw["members"]), others=always)
    except ValidationError as exc:
        lines = _member_lines(text)
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            line = lines[int(loc[1])] if len(loc) > 1 and loc[0] == "members" and loc[1].isdigit() \
                and int(loc[1]) < len(lines) else None
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{path}:{line}: {'.'.join(loc)}: {msg}" if line else f"{path}: {'.'.join(loc)}: {msg}")
        raise UnitsFileError("\n".join(problems)) from None
