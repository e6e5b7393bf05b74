"""Named parameters: declared with defaults in the ruleset, overridable by name from a file.

A duration is ISO 8601 (`P7D`) or working days on the official calendar (`{working_days: 5}`,
engine.workdays); every parameter states its basis (text, statute, policy) and a reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oblige.engine.rules.errors import RuleError
from oblige.engine.rules.loader import read_yaml
from oblige.engine.rules.schema import ParameterSpec
from oblige.engine.rules.workdays import add_working_days, estimated
from oblige.facts.timeutil import DAY_US, TimeFormatError, parse_duration

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class WorkingDaysValue:
    n: int


Value = int | tuple[int, int] | WorkingDaysValue


@dataclass(frozen=True)
class Params:
    """Resolved parameter values: durations in microseconds or working days, month-days as (month, day)."""

    values: dict[str, Value]
    raw: dict[str, Any]  # as written, for explanations and the receipt
    basis: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (basis, reason), overrides applied

    def add(self, name: str, start: int) -> int:
        """`start` moved on by a duration parameter (working days end at 23:59:59 of the last one)."""
        value = self.values[name]
        if isinstance(value, WorkingDaysValue):
            return add_working_days(start, value.n)
        assert isinstance(value, int)
        return start + value

    def estimated(self, name: str, start: int) -> bool:
        """Did `add(name, start)` count working days beyond the official calendar's years?"""
        value = self.values[name]
        return isinstance(value, WorkingDaysValue) and estimated(start, value.n)

    def duration(self, name: str) -> int:
        """A fixed duration in microseconds (for waiting periods that are not working days)."""
        value = self.values[name]
        if isinstance(value, WorkingDaysValue):  # a rough length, used only where a fixed span is needed
            return value.n * 7 // 5 * DAY_US
        assert isinstance(value, int)
        return value

    def integer(self, name: str) -> int:
        value = self.values[name]
        assert isinstance(value, int)
        return value

    def month_day(self, name: str) -> tuple[int, int]:
        value = self.values[name]
        assert isinstance(value, tuple)
        return value

    def describe(self, name: str) -> str:
        """The value as a person reads it: `P7D`, `5 working days`, `03-31`, `14`."""
        value = self.values[name]
        if isinstance(value, WorkingDaysValue):
            return f"{value.n} working days"
        raw = self.raw.get(name)
        return str(raw)


def resolve(kind: str, value: Any) -> Value:
    """Turn a written parameter value into its working form; ValueError says why not."""
    if kind == "duration":
        if isinstance(value, dict) or hasattr(value, "working_days"):
            n = value.get("working_days") if isinstance(value, dict) else value.working_days
            if isinstance(value, dict) and set(value) != {"working_days"}:
                raise ValueError(f"expected an ISO 8601 duration or {{working_days: N}}, got {dict(value)!r}")
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 3650:
                raise ValueError(f"working_days: expected a whole number from 1 to 3650, got {n!r}")
            return WorkingDaysValue(n)
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


def _plain(value: Any) -> Any:
    """A parameter value as plain data (a working-days model or mapping as a dict)."""
    if hasattr(value, "working_days"):
        return {"working_days": value.working_days}
    if isinstance(value, dict):
        return dict(value)
    return value


def build_params(specs: dict[str, ParameterSpec], overrides: dict[str, Any], file: str) -> tuple[Params | None, list[RuleError]]:
    """Defaults with overrides applied. An override is `name: value` or `name: {value, basis, reason}`;
    it keeps the default's basis and reason unless it gives its own."""
    errors: list[RuleError] = []
    values: dict[str, Value] = {}
    raw: dict[str, Any] = {}
    basis: dict[str, tuple[str, str]] = {}
    lines = getattr(overrides, "key_lines", {})
    for name in overrides:
        if name not in specs:
            known = ", ".join(sorted(specs))
            errors.append(RuleError(file, lines.get(name, 0), "param_error", f"{name}: unknown parameter (known: {known})"))
    for name, spec in specs.items():
        given = overrides.get(name, spec.value)
        value = given
        why: tuple[str, str] = (spec.basis, spec.reason)
        if isinstance(given, dict) and "value" in given:
            value = given["value"]
            extra = set(given) - {"value", "basis", "reason", "kind", "description", "reference"}
            if extra:
                errors.append(RuleError(file, lines.get(name, 0), "param_error", f"{name}: unknown keys {sorted(extra)}"))
            b, r = given.get("basis", spec.basis), given.get("reason", spec.reason)
            if b not in ("text", "statute", "policy"):
                errors.append(RuleError(file, lines.get(name, 0), "param_error",
                                        f"{name}: basis must be text, statute or policy, got {b!r}"))
            if not isinstance(r, str) or len(r.strip()) < 4:
                errors.append(RuleError(file, lines.get(name, 0), "param_error", f"{name}: a reason is one line of text"))
            why = (str(b), str(r))
        try:
            values[name] = resolve(spec.kind, value)
            raw[name] = _plain(value)
            basis[name] = why
        except ValueError as exc:
            errors.append(RuleError(file if name in overrides else "parameters.yaml", lines.get(name, 0), "param_error", f"{name}: {exc}"))
    return (None if errors else Params(values, raw, basis)), errors


def read_overrides(path: Path) -> tuple[dict[str, Any], list[RuleError]]:
    """A `--params` file: a YAML mapping of parameter name to value (or to {value, basis, reason})."""
    raw, errors = read_yaml(path)
    if errors:
        return {}, [RuleError(e.file, e.line, "param_error", e.message) for e in errors]
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [RuleError(str(path), 1, "param_error", "a parameters file is a mapping of name: value")]
    return raw, []
