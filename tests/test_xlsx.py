"""Excel in and out for `oblige audit`: records from an .xlsx workbook give the CSV's verdicts, a bad
cell is located by sheet, row and column, and `--format xlsx` writes the matrix in the HTML
report's colours, the violations and the escalations (read back with openpyxl)."""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from oblige import Engine
from oblige.cli import main
from oblige.engine.audit.records import read_records
from oblige.engine.audit.xlsx_records import cell_text, read_xlsx_records
from oblige.engine.render.labels import STATUSES, labels, unit_name
from oblige.engine.render.xlsx_report import html_styles
from oblige.facts.reader import Accepted, Rejected
from oblige.facts.timeutil import format_instant
from tests.conftest import ROOT

RECORDS = ROOT / "examples" / "unit-records.csv"
AS_OF = "2024-06-30"
TEMPLATE = ROOT / "engine" / "render" / "templates" / "audit.html.j2"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def audit(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def to_xlsx(rows: list[list[str]], path: Path, dates: str = "excel", title: str = "台账",
            above: int = 0) -> Path:
    """The CSV's rows as a workbook's first sheet: dates as Excel dates (`excel`) or as text, the
    year as a number; `above` blank rows before the header; a second sheet that must be ignored."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    for _ in range(above):
        ws.append([])
    ws.append(rows[0])
    for row in rows[1:]:
        cells: list[Any] = []
        for i, value in enumerate(row):
            if i == 1 and value.isdigit():
                cells.append(int(value))
            elif dates == "excel" and _DATE.match(value):
                cells.append(dt.date.fromisoformat(value))
            else:
                cells.append(value or None)
        ws.append(cells)
    other = wb.create_sheet("说明")
    other.append(["unit", "year"])
    other.append(["nobody", "never"])
    wb.save(path)
    return path


def csv_rows(path: Path = RECORDS) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize("dates", ["excel", "text"])
def test_a_workbook_gives_the_verdicts_of_its_csv(engine: Engine, tmp_path: Path, dates: str) -> None:
    xlsx = to_xlsx(csv_rows(), tmp_path / "r.xlsx", dates)
    if dates == "excel":  # the cells really are Excel dates, not text
        ws = load_workbook(xlsx).worksheets[0]
        assert isinstance(ws["C2"].value, dt.datetime) and ws["C2"].is_date
    from_csv = list(read_records(RECORDS.read_text(encoding="utf-8"), "records", engine.ruleset))
    from_xlsx = list(read_xlsx_records(xlsx, "records", engine.ruleset))
    assert from_csv and all(isinstance(v, Accepted) for v in from_csv)
    assert from_xlsx == from_csv  # same facts, lines (= rows), digests and raw records


@pytest.mark.parametrize("dates", ["excel", "text"])
def test_round_trip_audit_gives_the_same_findings(tmp_path: Path, dates: str) -> None:
    xlsx = to_xlsx(csv_rows(), tmp_path / "records.xlsx", dates)
    code_csv, out_csv, _ = audit(str(RECORDS), "--as-of", AS_OF, "--format", "json")
    code_xlsx, out_xlsx, err = audit(str(xlsx), "--as-of", AS_OF, "--format", "json")
    assert (code_csv, code_xlsx) == (0, 0), err
    assert json.loads(out_xlsx) == json.loads(out_csv)
    assert json.loads(out_csv)["summary"]["violations"] > 0  # a round trip of something


def test_a_workbook_is_known_by_its_content_too(tmp_path: Path) -> None:
    """A workbook saved without the .xlsx suffix is still read as one."""
    xlsx = to_xlsx(csv_rows(), tmp_path / "records.dat")
    code, out, err = audit(str(xlsx), "--as-of", AS_OF, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["summary"]["events"] > 0


def test_bad_cells_are_located_by_sheet_row_and_column(engine: Engine, tmp_path: Path) -> None:
    header = ["unit", "year", "liaison_designated", "annual_plan_filed", "situation_analysis_q3", "enforcement_failure", "colour"]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "2023年台账"
    ws.append(header)                                                               # row 1
    ws.append(["gov_office", 2023, None, dt.date(2023, 3, 1), None, None, "red"])   # row 2: fine
    ws.append(["gov_office", 2022, "soon", None, None, None, None])                 # row 3: not a date
    ws.append([])                                                                   # row 4: blank, skipped
    ws.append(["public_security", 2022, None, None, 44805, None, None])             # row 5: a number, not a date
    ws.append(["nobody", 2023, None, None, None, None, None])                       # row 6: unknown unit
    ws.append(["justice", "二〇二三", None, None, None, None, None])                 # row 7: not a year
    ws.append(["justice", 2023, None, None, None, "lazy", None])                    # row 8: not a finding
    ws.append(["health", 2023, dt.datetime(2023, 4, 2, 14, 5), None, None, None, None])  # row 9: a date-time, fine
    wb.save(tmp_path / "bad.xlsx")
    items = list(read_xlsx_records(tmp_path / "bad.xlsx", "bad.xlsx", engine.ruleset))
    # the unknown-column message ends with the list of known columns: compared up to it
    errors = {(r.line, r.error.split(" (known:")[0]) for r in items if isinstance(r, Rejected)}
    sheet = "sheet '2023年台账'"
    assert errors == {
        (1, f"{sheet}, row 1, column G (colour): unknown column"),
        (3, f"{sheet}, row 3, column C (liaison_designated): not a date: 'soon'"),
        (5, f"{sheet}, row 5, column E (situation_analysis_q3): not a date: '44805'"),
        (6, f"{sheet}, row 6, column A (unit): unknown unit 'nobody'"),
        (7, f"{sheet}, row 7, column B (year): not a year: '二〇二三'"),
        (8, f"{sheet}, row 8, column F (enforcement_failure): 'lazy' is not prevention_ineffective or duties_unperformed"),
    }
    accepted = sorted((a.line, a.fact.type, format_instant(a.fact.at)) for a in items if isinstance(a, Accepted))
    assert accepted == [(2, "unit.annual_plan_filed", "2023-03-01T00:00:00+08:00"),
                        (9, "unit.liaison_designated", "2023-04-02T14:05:00+08:00")]


def test_bad_cells_on_the_command_line_exit_3_and_the_rest_is_audited(tmp_path: Path) -> None:
    rows = csv_rows()
    rows[2][2] = "someday"  # public_security 2023, liaison_designated: row 3 of the sheet, column C
    xlsx = to_xlsx(rows, tmp_path / "records.xlsx", above=2)  # the header on row 3: the record on row 5
    code, out, err = audit(str(xlsx), "--as-of", AS_OF, "--format", "json")
    assert code == 3
    assert "sheet '台账', row 5, column C (liaison_designated): not a date: 'someday'" in err
    doc = json.loads(out)
    assert [r["line"] for r in doc["rejected"]] == [5] and doc["summary"]["events"] > 0


def test_an_unreadable_workbook_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "records.xlsx").write_text("unit,year\ncommerce,2023\n", encoding="utf-8")
    code, out, err = audit(str(tmp_path / "records.xlsx"), "--as-of", AS_OF)
    assert code == 2 and out == ""
    assert "records.xlsx: not an .xlsx workbook" in err and "Traceback" not in err
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))  # an Excel 97-2003 file
    code, out, err = audit(str(tmp_path / "old.xls"), "--as-of", AS_OF)
    assert code == 2 and "Excel 97-2003 (.xls)" in err and "save it as .xlsx" in err


def test_cell_text_is_the_csv_text() -> None:
    assert cell_text(dt.datetime(2023, 3, 30)) == "2023-03-30"
    assert cell_text(dt.datetime(2023, 3, 30, 9, 0, 0, 999_700)) == "2023-03-30T09:00:01"  # Excel's rounding
    assert cell_text(2023.0) == "2023" and cell_text(" 2023-03-30 ") == "2023-03-30" and cell_text(None) == ""


def _report(tmp_path: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    out = tmp_path / "report.xlsx"
    code, stdout, err = audit(str(RECORDS), "--as-of", AS_OF, "--format", "xlsx", "--out", str(out), *extra)
    assert code == 0, err
    assert stdout == ""
    _, doc_text, _ = audit(str(RECORDS), "--as-of", AS_OF, "--format", "json", *extra)
    return out, json.loads(doc_text)


def test_report_xlsx_has_the_matrix_in_the_html_colours_and_both_sheets(engine: Engine, tmp_path: Path) -> None:
    out, doc = _report(tmp_path, "--lang", "en")
    wb = load_workbook(out)
    lab = labels(engine.ruleset, "en")
    names = wb.sheetnames
    assert names[0] == "Summary by unit" and names[-2:] == ["Violations", "Escalations"]
    matrices = [n for n in names if n.startswith("Duties by unit, ")]
    periodic = [o for o in doc["obligations"] if o["subject"] is None]
    first_year = str(engine.ruleset.header.plan_years[0])  # a once-only duty (no period) is in the first year's matrix
    years = sorted({(o["period"] or first_year)[:4] for o in periodic})
    assert [n[-4:] for n in matrices] == years
    # every unit-level obligation is in its year's matrix: in its unit's row, its status in its colour
    seen = 0
    by_status = {label: status for status, label in lab["status"].items()}
    for name in matrices:
        ws = wb[name]
        units = {ws.cell(row=r, column=1).value: r for r in range(2, ws.max_row + 1)}
        assert len(units) == len(doc["units"])  # every unit has its row
        cells = {(ws.cell(row=r, column=1).value, c): ws.cell(row=r, column=c)
                 for r in range(2, ws.max_row + 1) for c in range(2, ws.max_column + 1)}
        for cell in cells.values():
            if cell.value == "—":
                continue
            label, _, due = cell.value.partition("\n")
            status = by_status[label]
            assert due.startswith("due 20") or status == "discharged" and not due, cell.value
            assert cell.fill.fgColor.rgb[-6:] == html_styles()[status]["background"]
            seen += 1
    assert seen == len(periodic)
    statuses = {o["status"] for o in periodic}
    assert {"fulfilled", "overdue"} <= statuses
    # the violations and escalations sheets list every finding by id
    vs, es = wb["Violations"], wb["Escalations"]
    header_v = [c.value for c in vs[1]]
    header_e = [c.value for c in es[1]]
    v_ids = [row[header_v.index("ID")] for row in vs.iter_rows(min_row=2, values_only=True)]
    e_ids = [row[header_e.index("ID")] for row in es.iter_rows(min_row=2, values_only=True)]
    assert v_ids == [v["id"] for v in doc["violations"]] and v_ids
    assert e_ids == [e["id"] for e in doc["escalations"]] and e_ids
    # instants are Excel date-times on the ruleset's clock
    first = doc["violations"][0]
    at = vs.cell(row=2, column=header_v.index("At") + 1).value
    assert isinstance(at, dt.datetime) and at.isoformat() + "+08:00" == first["at"]
    # a proposal reads as one and is outlined, never filled like a decision
    for r, e in enumerate(doc["escalations"], start=2):
        cell = es.cell(row=r, column=2)
        if e["basis"] == "proposed":
            assert "(proposed)" in cell.value and cell.fill.fill_type is None
            assert cell.border.left.style == "dashed" and cell.font.color.rgb[-6:] == html_styles()[e["level"]]["background"]
        elif e["basis"] == "rule":
            assert cell.fill.fgColor.rgb[-6:] == html_styles()[e["level"]]["background"]
    assert any(e["basis"] == "proposed" for e in doc["escalations"])


def test_report_xlsx_in_chinese_and_for_one_unit(engine: Engine, tmp_path: Path) -> None:
    out, doc = _report(tmp_path, "--lang", "zh", "--unit", "commerce")
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "各单位汇总" and wb.sheetnames[-2:] == ["违规事项", "督办问责"]
    matrix = wb[next(n for n in wb.sheetnames if n.startswith("单位履职情况表"))]
    assert [matrix.cell(row=r, column=1).value for r in range(2, matrix.max_row + 1)] == [unit_name(engine.ruleset, "commerce", "zh")]
    violations = wb["违规事项"]
    assert violations.max_row - 1 == len(doc["violations"])
    assert {row[-1] for row in violations.iter_rows(min_row=2, values_only=True)} <= {"commerce"}


def test_report_xlsx_needs_out(tmp_path: Path) -> None:
    code, out, err = audit(str(RECORDS), "--as-of", AS_OF, "--format", "xlsx")
    assert code == 2 and "--out" in err and out == ""


def test_the_colours_are_read_from_the_html_report() -> None:
    """Each status and level has its own rule in the HTML report's stylesheet, and the workbook uses
    that rule's background (3-digit colours expanded), not a default of its own."""
    css = TEMPLATE.read_text(encoding="utf-8")
    for name in (*STATUSES, "supervision_notice", "public_criticism", "one_vote_veto"):
        rule = re.search(r"(?:^|[\s}])\." + name + r"\s*\{([^}]*)\}", css, re.MULTILINE)
        assert rule, f"the HTML report has no style for {name}"
        colour = re.search(r"background:\s*#([0-9a-fA-F]+)", rule.group(1))
        assert colour, (name, rule.group(1))
        code = colour.group(1).upper()
        assert html_styles()[name]["background"] == ("".join(c * 2 for c in code) if len(code) == 3 else code)
    assert html_styles()["overdue"].get("bold") is ("font-weight" in re.search(r"\.overdue\s*\{([^}]*)\}", css).group(1))  # type: ignore[union-attr]
