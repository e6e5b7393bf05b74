"""Unit records (SPEC §5) to unit-level events, for `oblige audit`.

One row per unit per year; each filled cell becomes the event its column names, dated as
written (a date means 00:00 of that day, +08:00). Which column becomes which event, who
reports it and how the report is laid out is ruleset data (`audit.yaml`, read into
`AuditSpec`); this module knows no district. Bad rows and cells are rejected with file, line
and column; everything else in the file is still audited.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oblige.engine.rules.errors import RuleError, RulesetError
from oblige.engine.rules.loader import line_of, read_yaml, validate_as
from oblige.engine.rules.ruleset import Ruleset
from oblige.engine.rules.schema import Title
from oblige.facts.reader import Accepted, Rejected, check_event
from oblige.facts.timeutil import TimeFormatError, parse_instant
from oblige.facts.vocabulary import UNIT_LEVEL

AUDIT_FILE = "audit.yaml"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Dated(BaseModel):
    """A value cell's event instant: a month-day parameter in the row's year + year_offset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    param: str
    year_offset: int = Field(default=0, ge=0, le=1)


class AuditColumn(BaseModel):
    """One record column: the event a filled cell becomes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str
    data: dict[str, str | int] = Field(default_factory=dict)  # "{year}", "{unit}", "{cell}" or a template
    cell: Literal["date", "value"] = "date"
    values: list[str] = Field(default_factory=list)  # the values a `value` cell may hold
    reported_by: str | None = None  # default: the row's unit
    dated: Dated | None = None  # a `value` cell's instant

    @model_validator(mode="after")
    def _value_cells(self) -> AuditColumn:
        if self.cell == "value" and (not self.values or self.dated is None):
            raise ValueError("a `value` column lists its `values` and says how it is `dated`")
        if self.cell == "date" and (self.values or self.dated):
            raise ValueError("`values` and `dated` are for `value` columns; a date column is dated by its cell")
        return self


class AuditSpec(BaseModel):
    """A ruleset's audit data: record columns, the matrix's duty order and short codes, the title."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    columns: dict[str, AuditColumn] = Field(min_length=1)
    duty_order: list[str] = Field(default_factory=list)
    short: dict[str, str] = Field(default_factory=dict)

    @property
    def header(self) -> tuple[str, ...]:
        """Every column a record may have, in order."""
        return ("unit", "year", *self.columns)

    def problems(self, ruleset: Ruleset) -> list[tuple[tuple[Any, ...], str]]:
        """(YAML location, message) for what does not fit the ruleset: event types, data fields,
        units, parameters and actions."""
        out: list[tuple[tuple[Any, ...], str]] = []
        actions = {getattr(w.rule, "action", None) for w in ruleset.rules}
        for name, col in self.columns.items():
            where = ("columns", name)
            if name in ("unit", "year"):
                out.append((where, f"{name}: `unit` and `year` are the key of every record, not a column to define"))
            if col.event not in UNIT_LEVEL:
                out.append(((*where, "event"), f"{name}: {col.event!r} is not a unit-level event type"))
                continue
            fields = UNIT_LEVEL[col.event]
            out += [((*where, "data", f), f"{name}: {col.event} has no field {f!r}") for f in col.data if f not in fields]
            for f, value in col.data.items():
                unknown = set(_PLACEHOLDER.findall(value)) - {"year", "unit", "cell"} if isinstance(value, str) else set()
                if unknown:
                    out.append(((*where, "data", f), f"{name}: unknown placeholder(s) {sorted(unknown)} (use year, unit, cell)"))
            if col.reported_by is not None and col.reported_by not in ruleset.units.codes:
                out.append(((*where, "reported_by"), f"{name}: unknown unit {col.reported_by!r}"))
            if col.dated is not None:
                spec = ruleset.specs.get(col.dated.param)
                if spec is None or spec.kind != "month_day":
                    out.append(((*where, "dated", "param"), f"{name}: {col.dated.param!r} is not a month-day parameter"))
        for i, action in enumerate(self.duty_order):
            if action not in actions:
                out.append((("duty_order", i), f"duty_order: no rule has the action {action!r}"))
        out += [(("short", a), f"short: no rule has the action {a!r}") for a in self.short if a not in actions]
        return out


def load_audit_spec(ruleset: Ruleset) -> AuditSpec:
    """The ruleset's `audit.yaml`, validated against the ruleset; RulesetError lists every problem."""
    path = Path(ruleset.path) / AUDIT_FILE
    if not path.is_file():
        raise RulesetError([RuleError(str(path), 0, "rule_ref_error",
                                      "the ruleset has no audit.yaml: which record column becomes which event is ruleset data")])
    raw, errors = read_yaml(path)
    if errors:
        raise RulesetError(errors)
    spec, errors = validate_as(AuditSpec, raw, path)
    if spec is None:
        raise RulesetError(errors)
    problems = spec.problems(ruleset)
    if problems:
        raise RulesetError([RuleError(str(path), line_of(raw, loc), "rule_ref_error", msg) for loc, msg in problems])
    return spec


def _fill(template: str | int, year: int, unit: str, cell: str) -> str | int:
    """A data value of the spec for one row: "{year}" alone is the year as an integer.

    >>> _fill("{year}", 2023, "commerce", ""), _fill("{year}-Q2", 2023, "commerce", ""), _fill("{unit}", 2023, "commerce", "")
    (2023, '2023-Q2', 'commerce')
    """
    if not isinstance(template, str):
        return template
    if template == "{year}":
        return year
    return template.format(year=year, unit=unit, cell=cell)


def _rows(text: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, row, error) from CSV (with a header) or JSON Lines."""
    stripped = text.lstrip("\ufeff")
    if stripped.lstrip().startswith("{"):
        for number, line in enumerate(stripped.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"malformed JSON: {exc.msg}"
                continue
            yield (number, obj, None) if isinstance(obj, dict) else (number, None, "a record is a JSON object")
        return
    reader = csv.DictReader(io.StringIO(stripped))
    for row in reader:
        yield reader.line_num, {k: v for k, v in row.items() if k is not None}, None


def read_records(text: str, file: str, ruleset: Ruleset, spec: AuditSpec | None = None) -> Iterator[Accepted | Rejected]:
    """Every cell of every record as an accepted event or a located rejection."""
    jsonl = text.lstrip("\ufeff").lstrip().startswith("{")
    return records_to_events(_rows(text), file, ruleset, spec, header_line=None if jsonl else 1)


def _column_of(line: int, column: str) -> str:
    """Where a cell is, in a CSV or JSON Lines file's messages (the line is said beside them)."""
    return f"column {column}"


def records_to_events(rows: Iterable[tuple[int, dict[str, Any] | None, str | None]], file: str, ruleset: Ruleset,
                      spec: AuditSpec | None = None, *, header_line: int | None = 1,
                      where: Callable[[int, str], str] = _column_of, line_word: str = "line") -> Iterator[Accepted | Rejected]:
    """Records already split into (line, row, error) to events: what `read_records` does after reading
    the text, for any reader of records (a spreadsheet's rows).

    `header_line`: where one header names the columns of every row (an unknown column is reported
    once, there); None when each row names its own (JSON Lines: reported on each row's line).
    `where(line, column)` says where a cell is in messages ("column year"); `line_word` names a line
    ("line", "row"). A row's values are strings, or values whose `str` is the cell's text."""
    spec = spec or load_audit_spec(ruleset)
    units, plan_years = ruleset.units, ruleset.header.plan_years
    known = spec.header
    seen: dict[tuple[str, int], int] = {}
    header_checked = False
    for line, row, error in rows:
        if row is None:
            yield Rejected(file, line, None, error or "unreadable record", "")
            continue
        raw = json.dumps(row, ensure_ascii=False)
        unknown = [c for c in row if c not in known]
        if unknown and not header_checked:
            at = line if header_line is None else header_line
            for column in unknown:
                yield Rejected(file, at, None, f"{where(at, column)}: unknown column (known: {', '.join(known)})", raw)
        header_checked = header_checked or header_line is not None
        unit = str(row.get("unit") or "").strip()
        year_text = str(row.get("year") if row.get("year") is not None else "").strip()
        if unit not in units.codes:
            yield Rejected(file, line, None, f"{where(line, 'unit')}: unknown unit {unit!r}", raw)
            continue
        try:
            year = int(year_text)
        except ValueError:
            yield Rejected(file, line, None, f"{where(line, 'year')}: not a year: {year_text!r}", raw)
            continue
        if not plan_years[0] <= year <= plan_years[1]:
            yield Rejected(file, line, None,
                           f"{where(line, 'year')}: {year} is outside the plan period {plan_years[0]}-{plan_years[1]}", raw)
            continue
        if (unit, year) in seen:
            yield Rejected(file, line, None,
                           f"{where(line, 'unit')}: a second row for {unit} {year} (first on {line_word} {seen[(unit, year)]})", raw)
            continue
        seen[(unit, year)] = line
        for column, col in spec.columns.items():
            cell = str(row.get(column) or "").strip()
            if not cell:
                continue
            event_id = f"audit:{unit}:{year}:{column}"
            if col.cell == "date":
                try:
                    parse_instant(cell)
                except TimeFormatError:
                    yield Rejected(file, line, event_id, f"{where(line, column)}: not a date: {cell!r}", raw)
                    continue
                occurred_at = cell
            else:
                if cell not in col.values:
                    yield Rejected(file, line, event_id, f"{where(line, column)}: {cell!r} is not {' or '.join(col.values)}", raw)
                    continue
                assert col.dated is not None
                month, day = ruleset.params.month_day(col.dated.param)
                occurred_at = f"{year + col.dated.year_offset:04d}-{month:02d}-{day:02d}"
            obj = {"id": event_id, "type": col.event, "occurred_at": occurred_at, "unit": col.reported_by or unit,
                   "data": {f: _fill(v, year, unit, cell) for f, v in col.data.items()}}
            verdict = check_event(obj, units, file, line, "")
            if isinstance(verdict, Rejected):
                yield Rejected(file, line, event_id, f"{where(line, column)}: {verdict.error}", raw)
            else:
                yield verdict
