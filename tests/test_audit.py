"""`oblige audit`: unit records to findings, bad records located, every report format."""
from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

from click.testing import CliRunner

from cli import main
from engine import Engine
from engine.records import read_records
from facts.reader import Accepted, Rejected
from tests.conftest import ROOT

RECORDS = str(ROOT / "examples" / "unit-records.csv")
HEADER = "unit,year,liaison_designated,annual_plan_filed,self_inspection_completed,situation_analysis_q3,enforcement_failure\n"


def audit(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "r.csv") -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path / name)


def test_cells_become_unit_level_events(engine: Engine) -> None:
    text = HEADER + "commerce,2023,,2023-03-01,2023-12-01,,\npublic_security,2022,2022-06-01,,,2022-09-01,prevention_ineffective\n"
    items = list(read_records(text, "r.csv", engine.ruleset.units, (2022, 2030)))
    assert all(isinstance(i, Accepted) for i in items)
    got = sorted((i.fact.type, i.fact.unit, i.fact.data, i.line) for i in items)  # type: ignore[union-attr]
    assert got == sorted([
        ("unit.annual_plan_filed", "commerce", (("year", 2023),), 2),
        ("unit.self_inspection_completed", "commerce", (("year", 2023),), 2),
        ("unit.liaison_designated", "public_security", (), 3),
        ("situation_analysis.completed", "public_security", (("period", "2022-Q3"),), 3),
        ("assessment.enforcement_failure", "political_legal",
         (("finding", "prevention_ineffective"), ("target", "public_security"), ("year", 2022)), 3),
    ])


def test_bad_records_are_located_and_the_rest_audited(engine: Engine) -> None:
    text = (HEADER.rstrip("\n") + ",colour\n"
            "commerce,2023,,2023-03-01,,,,red\n"
            "nobody,2023,,2023-03-01,,,,\n"
            "health,2031,,2031-03-01,,,,\n"
            "health,2023,,2023-13-01,2023-12-01,,,\n"
            "commerce,2023,,2023-03-02,,,,\n"
            "justice,2023,,,,,lazy,\n")
    items = list(read_records(text, "r.csv", engine.ruleset.units, (2022, 2030)))
    rejected = [(i.line, i.error.split(":")[0]) for i in items if isinstance(i, Rejected)]
    assert rejected == [(1, "column colour"), (3, "column unit"), (4, "column year"), (5, "column annual_plan_filed"),
                        (6, "column unit"), (7, "column enforcement_failure")]
    accepted = [(i.fact.unit, i.fact.type) for i in items if isinstance(i, Accepted)]
    assert accepted == [("commerce", "unit.annual_plan_filed"), ("health", "unit.self_inspection_completed")]


def test_audit_json_covers_every_unit(tmp_path: Path) -> None:
    code, out, _ = audit(write(tmp_path, HEADER + "commerce,2023,,2023-05-15,,,\n"), "--as-of", "2024-01-05", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["units"]) == 26  # 24 members + district_government + joint_conference_office
    commerce = doc["units"]["commerce"]
    assert commerce["fulfilled_late"] == 1 and commerce["escalations"]["supervision_notice"] >= 1
    plan = [o for o in doc["obligations"] if o["duty_bearer"] == "commerce" and o["action"] == "file_annual_plan" and o["period"] == "2023"]
    assert plan[0]["status"] == "fulfilled_late" and plan[0]["fulfilled_at"] == "2023-05-15T00:00:00+08:00"
    assert doc["units"]["court"]["overdue"] > 0  # a unit with no row has done nothing


def test_audit_exit_3_on_bad_rows(tmp_path: Path) -> None:
    code, out, err = audit(write(tmp_path, HEADER + "nobody,2023,,,,,\ncommerce,2023,,2023-03-01,,,\n"), "--as-of", "2024-01-05", "--format", "json")
    assert code == 3 and "r.csv:2: column unit: unknown unit 'nobody'" in err
    assert json.loads(out)["summary"]["events"] == 1


def test_audit_jsonl_records(tmp_path: Path) -> None:
    rows = [{"unit": "commerce", "year": 2023, "annual_plan_filed": "2023-03-01"}, {"unit": "health", "year": "2023"}]
    path = write(tmp_path, "\n".join(json.dumps(r) for r in rows) + "\n", "r.jsonl")
    code, out, _ = audit(path, "--as-of", "2024-01-05", "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["events"] == 1


def test_audit_csv_one_row_per_obligation(tmp_path: Path) -> None:
    code, out, _ = audit(RECORDS, "--as-of", "2024-01-10", "--format", "csv", "--lang", "en")
    rows = list(csv.DictReader(io.StringIO(out)))
    _, js, _ = audit(RECORDS, "--as-of", "2024-01-10", "--format", "json")
    assert code == 0 and len(rows) == len(json.loads(js)["obligations"])
    commerce_plan = next(r for r in rows if r["unit"] == "commerce" and r["action"] == "file_annual_plan" and r["period"] == "2023")
    assert commerce_plan["status"] == "overdue"
    assert commerce_plan["escalations"] == "supervision_notice public_criticism one_vote_veto"
    code, excel, _ = audit(RECORDS, "--as-of", "2024-01-10", "--format", "csv", "--excel")
    assert excel.startswith("\ufeff") and "区商务局" in excel


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.badges: list[dict[str, str]] = []
        self.unit: str | None = None
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:  # type: ignore[no-untyped-def]
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "tr" and "data-unit" in a:
            self.unit = a["data-unit"]
        if tag == "td" and "data-status" in a:
            self.cells.append({**a, "unit": self.unit or ""})
        if tag == "span" and "data-level" in a:
            self.badges.append({**a, "unit": self.unit or ""})


def test_audit_html_matrix(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, _, _ = audit(RECORDS, "--as-of", "2024-01-10", "--format", "html", "--out", str(out))
    assert code == 0
    html = out.read_text(encoding="utf-8")
    parser = _Cells()
    parser.feed(html)
    assert parser.lang == "zh" and '<meta charset="utf-8">' in html
    assert "http://" not in html and "https://" not in html and "<script" not in html  # self-contained
    cell = {(c["unit"], c["data-action"], c["data-period"]): c["data-status"] for c in parser.cells}
    assert cell[("commerce", "file_annual_plan", "2023")] == "overdue"
    assert cell[("commerce", "file_annual_plan", "2022")] == "fulfilled"
    assert cell[("commerce", "designate_liaison", "")] == "fulfilled_late"
    assert cell[("public_security", "analyze_trafficking_situation", "2023-Q3")] == "fulfilled_late"
    assert {"unit": "commerce", "data-level": "one_vote_veto"}.items() <= next(
        b for b in parser.badges if b["unit"] == "commerce" and b["data-level"] == "one_vote_veto").items()
    for words in ("区商务局", "督办通知", "通报批评", "一票否决", "2023年3月31日", "第35条", "联席会议成员单位根据任务分工制定本部门"):
        assert words in html, words


def test_audit_html_in_english_has_no_chinese_labels(tmp_path: Path) -> None:
    code, html, _ = audit(RECORDS, "--as-of", "2024-01-10", "--format", "html", "--lang", "en")
    assert code == 0 and 'lang="en"' in html
    for words in ("区商务局", "督办通知", "一票否决", "逾期未履行"):
        assert words not in html
    assert "Commerce Bureau" in html and "One-vote veto" in html


def test_audit_table_and_unit_filter() -> None:
    code, out, _ = audit(RECORDS, "--as-of", "2024-01-10", "--format", "table", "--lang", "en", "--unit", "commerce")
    assert code == 0 and "Commerce Bureau" in out and "✗" in out
    code, js, _ = audit(RECORDS, "--as-of", "2024-01-10", "--format", "json", "--unit", "commerce")
    doc = json.loads(js)
    assert {o["duty_bearer"] for o in doc["obligations"]} == {"commerce"}


def test_audit_html_in_a_real_headless_browser(tmp_path: Path) -> None:
    """Where Debian's chromium is installed: the browser's own DOM has the matrix, and it renders."""
    import shutil
    import subprocess

    import pytest

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine (apt-get install chromium to run this check)")
    report = tmp_path / "report.html"
    code, _, _ = audit(RECORDS, "--as-of", "2024-01-10", "--format", "html", "--out", str(report))
    assert code == 0
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120).stdout
    parser = _Cells()
    parser.feed(dom)
    cells = {(c["unit"], c["data-action"], c["data-period"]): c["data-status"] for c in parser.cells}
    assert cells[("commerce", "file_annual_plan", "2023")] == "overdue" and parser.lang == "zh"
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, "--window-size=1400,1000", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000  # a rendered page, not a blank one
