"""Named parameters: declared with defaults in the ruleset, overridable by name from a file."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import RuleError
from engine.loader import read_yaml
from engine.schema import ParameterSpec
from facts.timeutil import TimeFormatError, parse_duration

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class Params:
    """Resolved parameter values: durations in microseconds, month-days as (month, day)."""

    values: dict[str, int | tuple[int, int]]
    raw: dict[str, str | int]  # as written, for explanations and the receipt

    def duration(self, name: str) -> int:
        value = self.values[name]
        assert isinstance(value, int)
        return value

    def integer(self, name: str) -> int:
        return self.duration(name)

    def month_day(self, name: str) -> tuple[int, int]:
        value = self.values[name]
        assert isinstance(value, tuple)
        return value


def resolve(kind: str, value: Any) -> int | tuple[int, int]:
    """Turn a written parameter value into its working form; ValueError says why not."""
    if kind == "duration":
        try:
            return parse_duration(value)
        except TimeFormatError as exc:
            raise ValueError(str(exc)) from None
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        return value
    m = _MONTH_DAY.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"expected a month-day 'MM-DD', got {value!r}")
    month, day = int(m.group(1)), int(m.group(2))
    if not (1 <= month <= 12 and 1 <= day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)):
        raise ValueError(f"no such month-day: {value!r}")
    return (month, day)


def build_params(specs: dict[str, ParameterSpec], overrides: dict[str, Any], file: str) -> tuple[Params | None, list[RuleError]]:
    errors: list[RuleError] = []
    values: dict[str, int | tuple[int, int]] = {}
    raw: dict[str, str | int] = {}
    lines = getattr(overrides, "key_lines", {})
    for name in overrides:
        if name not in specs:
            known = ", ".join(sorted(specs))
            errors.append(RuleError(file, lines.get(name, 0), "param_error", f"{name}: unknown parameter (known: {known})"))
    for name, spec in specs.items():
        value = overrides.get(name, spec.value)
        try:
            values[name] = resolve(spec.kind, value)
            raw[name] = value
        except ValueError as exc:
            errors.append(RuleError(file if name in overrides else "parameters.yaml", lines.get(name, 0), "param_error", f"{name}: {exc}"))
    return (None if errors else Params(values, raw)), errors


def read_overrides(path: Path) -> tuple[dict[str, Any], list[RuleError]]:
    """A `--params` file: a YAML mapping of parameter name to value."""
    raw, errors = read_yaml(path)
    if errors:
        return {}, [RuleError(e.file, e.line, "param_error", e.message) for e in errors]
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [RuleError(str(path), 1, "param_error", "a parameters file is a mapping of name: value")]
    flat = type(raw)()
    flat.key_lines = getattr(raw, "key_lines", {})  # type: ignore[attr-defined]
    for name, value in raw.items():
        # accept both `name: value` and `name: {value: ...}` (the ruleset's own layout)
        flat[name] = value["value"] if isinstance(value, dict) and "value" in value else value
    return flat, []
