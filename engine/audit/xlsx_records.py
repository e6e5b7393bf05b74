"""Unit records (SPEC §5) from an Excel or WPS workbook (.xlsx), for `oblige audit records.xlsx`.

The first sheet holds the records as the CSV does: a header row (`unit`, `year`, then the
record columns), one row per unit and year. A date cell may be an Excel date or text written
as in the CSV ("2023-03-30"); a whole number may be a number ("2023"). Each row's cells are
turned into the CSV's text and handed to `records_to_events`, so a workbook yields the verdicts
its CSV would; a bad cell is located by sheet, row and column ("sheet 'Sheet1', row 5,
column C (annual_plan_filed): not a date: 'soon'").
"""
from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from oblige.engine.audit.records import AuditSpec, records_to_events
from oblige.engine.rules.ruleset import Ruleset
from oblige.facts.reader import Accepted, Rejected

XLSX_SUFFIXES = (".xlsx", ".xlsm", ".xls")  # .xls only to be told to save it as .xlsx
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an Excel 97-2003 .xls (or .et) file, which openpyxl cannot read


class WorkbookError(Exception):
    """The file is not a workbook that can be read (not .xlsx, damaged, no sheet)."""


def is_workbook(path: str) -> bool:
    """A workbook: by its name, or by its first bytes (a zip archive or an old .xls; a CSV never starts so)."""
    if Path(path).suffix.lower() in XLSX_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) in (_ZIP_MAGIC, _OLE_MAGIC)
    except OSError:
        return False


def cell_text(value: Any) -> str:
    """A cell's value as the CSV would hold it.

    >>> cell_text(dt.datetime(2023, 3, 30)), cell_text(dt.datetime(2023, 3, 30, 14, 5)), cell_text(dt.date(2023, 3, 30))
    ('2023-03-30', '2023-03-30T14:05:00', '2023-03-30')
    >>> cell_text(2023), cell_text(2023.0), cell_text(None), cell_text("  2023-03-30 ")
    ('2023', '2023', '', '2023-03-30')
    """
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.microsecond:  # a time of day stored as a fraction of a day: to the nearest second
            value = (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time | dt.timedelta):  # a time of day alone is no date: shown as Excel shows it
        return str(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


def read_xlsx_records(source: str | Path | IO[bytes], file: str, ruleset: Ruleset,
                      spec: AuditSpec | None = None) -> Iterator[Accepted | Rejected]:
    """Every cell of every record on the workbook's first sheet as an accepted event or a rejection
    located by sheet, row and column. Raises WorkbookError at once when the workbook cannot be read."""
    sheet, rows = _sheet_rows(source, file)
    header_row, header = rows[0] if rows else (1, [])
    names = [cell_text(v) for v in header]
    letters = {name: _column_letter(i) for i, name in reversed(list(enumerate(names, start=1))) if name}

    def where(row: int, column: str) -> str:
        letter = letters.get(column)
        return f"sheet {sheet!r}, row {row}, " + (f"column {letter} ({column})" if letter else f"column {column} (missing)")

    def records() -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
        for number, values in rows[1:]:
            record: dict[str, Any] = {}
            for name, value in zip(names, values, strict=False):
                if name:  # a repeated header: the last one counts, as in a CSV
                    record[name] = cell_text(value)
            for name in names[len(values):]:  # a short row: its missing cells are empty, as in a CSV
                if name and name not in record:
                    record[name] = ""
            yield number, record, None

    return records_to_events(records(), file, ruleset, spec, header_line=header_row, where=where, line_word="row")


def _sheet_rows(source: str | Path | IO[bytes], file: str) -> tuple[str, list[tuple[int, tuple[Any, ...]]]]:
    """The first sheet's title and its non-empty rows (row number, values), the header first."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # opened here, so that the name's suffix does not matter; data_only: a formula cell holds
        # the value Excel or WPS last computed for it
        stream = open(source, "rb") if isinstance(source, str | Path) else source  # noqa: SIM115 - closed below
    except OSError as exc:
        raise WorkbookError(f"{file}: cannot read: {exc.strerror or exc}") from None
    try:
        head = stream.read(4)
        stream.seek(0)
        if head == _OLE_MAGIC:
            raise WorkbookError(f"{file}: an Excel 97-2003 (.xls) workbook, which cannot be read: "
                                "save it as .xlsx (Excel Workbook) or as CSV")
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except WorkbookError:
        stream.close()
        raise
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        stream.close()
        raise WorkbookError(f"{file}: not an .xlsx workbook that can be read ({_reason(exc)}); "
                            "save it as .xlsx (Excel Workbook) or as CSV") from None
    try:
        if not workbook.worksheets:
            raise WorkbookError(f"{file}: the workbook has no sheet")
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers record wrong dimensions: read every row there is
        rows: list[tuple[int, tuple[Any, ...]]] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            values = tuple(values)
            while values and (values[-1] is None or values[-1] == ""):
                values = values[:-1]
            if values and any(cell_text(v) for v in values):
                rows.append((number, values))
        return str(sheet.title), rows
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise WorkbookError(f"{file}: the first sheet cannot be read ({_reason(exc)})") from None
    finally:
        workbook.close()
        stream.close()


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]
