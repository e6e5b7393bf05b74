"""Unit records (SPEC §5) to unit-level events, for `oblige audit`.

One row per unit per year; each filled cell becomes the matching event, dated as written
(a date means 00:00 of that day, +08:00). Bad rows and cells are rejected with file, line and
column; everything else in the file is still audited.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from facts.reader import Accepted, Rejected, check_event
from facts.timeutil import TimeFormatError, parse_instant
from facts.units import UnitRegistry

# column -> (event type, data built from the row's year)
DATED_COLUMNS: dict[str, tuple[str, str | None]] = {
    "liaison_designated": ("unit.liaison_designated", None),
    "annual_plan_filed": ("unit.annual_plan_filed", "year"),
    "self_inspection_completed": ("unit.self_inspection_completed", "year"),
    "campaign_reported": ("unit.campaign_reported", "year"),
    "budget_allocated": ("budget.allocated", "year"),
    "annual_evaluation_completed": ("office.annual_evaluation_completed", "year"),
    "final_evaluation_completed": ("office.final_evaluation_completed", None),
    **{f"situation_analysis_q{q}": ("situation_analysis.completed", f"Q{q}") for q in range(1, 5)},
}
COLUMNS = ("unit", "year", *DATED_COLUMNS, "enforcement_failure")
ASSESSOR = "political_legal"  # Art. 36: the committee that assesses enforcement failures


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


def read_records(text: str, file: str, units: UnitRegistry, plan_years: tuple[int, int]) -> Iterator[Accepted | Rejected]:
    seen: dict[tuple[str, int], int] = {}
    header_checked = False
    for line, row, error in _rows(text):
        if row is None:
            yield Rejected(file, line, None, error or "unreadable record", "")
            continue
        raw = json.dumps(row, ensure_ascii=False)
        unknown = [c for c in row if c not in COLUMNS]
        if unknown and not header_checked:
            for column in unknown:
                yield Rejected(file, 1 if not text.lstrip().startswith("{") else line, None,
                               f"column {column}: unknown column (known: {', '.join(COLUMNS)})", raw)
        header_checked = header_checked or not text.lstrip().startswith("{")
        unit = str(row.get("unit") or "").strip()
        year_text = str(row.get("year") if row.get("year") is not None else "").strip()
        if unit not in units.codes:
            yield Rejected(file, line, None, f"column unit: unknown unit {unit!r}", raw)
            continue
        try:
            year = int(year_text)
        except ValueError:
            yield Rejected(file, line, None, f"column year: not a year: {year_text!r}", raw)
            continue
        if not plan_years[0] <= year <= plan_years[1]:
            yield Rejected(file, line, None, f"column year: {year} is outside the plan period {plan_years[0]}-{plan_years[1]}", raw)
            continue
        if (unit, year) in seen:
            yield Rejected(file, line, None, f"column unit: a second row for {unit} {year} (first on line {seen[(unit, year)]})", raw)
            continue
        seen[(unit, year)] = line
        for column, (event_type, period) in DATED_COLUMNS.items():
            cell = str(row.get(column) or "").strip()
            if not cell:
                continue
            event_id = f"audit:{unit}:{year}:{column}"
            try:
                parse_instant(cell)
            except TimeFormatError:
                yield Rejected(file, line, event_id, f"column {column}: not a date: {cell!r}", raw)
                continue
            data: dict[str, Any] = {}
            if period == "year":
                data = {"year": year}
            elif period is not None:
                data = {"period": f"{year}-{period}"}
            obj = {"id": event_id, "type": event_type, "occurred_at": cell, "unit": unit, "data": data}
            yield check_event(obj, units, file, line, "")
        finding = str(row.get("enforcement_failure") or "").strip()
        if finding:
            obj = {"id": f"audit:{unit}:{year}:enforcement_failure", "type": "assessment.enforcement_failure",
                   "occurred_at": f"{year}-12-31",
                   "unit": ASSESSOR if ASSESSOR in units.codes else "district_government",
                   "data": {"year": year, "target": unit, "finding": finding}}
            verdict = check_event(obj, units, file, line, "")
            if isinstance(verdict, Rejected):
                yield Rejected(file, line, verdict.id, f"column enforcement_failure: {finding!r} is not "
                               "prevention_ineffective or duties_unperformed", raw)
            else:
                yield verdict
