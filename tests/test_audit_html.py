"""The HTML audit report a district official acts on (issue 17 item 6), read as markup; the browser
check of its layout is test_audit.py::test_audit_html_in_a_real_headless_browser."""
from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from oblige.cli import main
from tests.conftest import ROOT

RECORDS = str(ROOT / "examples" / "unit-records.csv")


def report(lang: str, *extra: str) -> str:
    result = CliRunner().invoke(main, ["audit", RECORDS, "--as-of", "2024-04-10", "--format", "html", "--lang", lang,
                                       *extra], catch_exceptions=False)
    assert result.exit_code == 0
    return result.stdout


@pytest.fixture(scope="module")
def doc() -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["audit", RECORDS, "--as-of", "2024-04-10", "--format", "json"])
    return json.loads(result.stdout)  # type: ignore[no-any-return]


class _Page(HTMLParser):
    """Ids, links, matrix cells (with their text) and the rows of the per-unit details."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.cells: list[dict[str, str]] = []
        self.detail_rows: dict[str, dict[str, str]] = {}  # row id -> attrs + text + section unit
        self.section: str | None = None
        self._cell: dict[str, str] | None = None
        self._row: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:  # type: ignore[no-untyped-def]
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href", "").startswith("#"):
            self.links.append(a["href"][1:])
            if self._cell is not None:
                self._cell["href"] = a["href"][1:]
        if tag == "section" and "unit-detail" in a.get("class", ""):
            self.section = a["data-unit"]
        if tag == "td" and "data-status" in a:
            self._cell = {**a, "text": ""}
        if tag == "tr" and self.section and "id" in a:
            self._row = {**a, "text": "", "section": self.section}

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.cells.append(self._cell)
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.detail_rows[self._row["id"]] = self._row
            self._row = None
        if tag == "section":
            self.section = None

    def handle_data(self, data: str) -> None:
        for item in (self._cell, self._row):
            if item is not None:
                item["text"] += data


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_violation_and_escalation_is_under_its_unit_with_its_duty(lang: str, doc: dict) -> None:  # type: ignore[type-arg]
    page = parse(report(lang))
    duty = {o["id"]: o for o in doc["obligations"]}
    for v in doc["violations"]:
        row = page.detail_rows[v["id"]]
        assert row["section"] == v["unit"] and row["data-unit"] == v["unit"]
        title = "各成员单位指定1名联络员" if lang == "zh" else None
        if title and duty[v["obligation"]]["action"] == "designate_liaison":
            assert title in row["text"]
    by_violation = {v["id"]: v for v in doc["violations"]}
    html = report(lang)
    for e in doc["escalations"]:
        (ref,) = e["because"]
        if ref in by_violation:  # listed in the row of the violation (and so the duty) it concerns
            row = page.detail_rows[ref]
            assert f'<li id="{e["id"]}" data-level="{e["level"]}" data-basis="{e["basis"]}">' in html
            assert row["section"] == e["unit"]
        else:  # a decision of the committee's assessment: a row of its own in the unit's section
            row = page.detail_rows[e["id"]]
            assert row["section"] == e["unit"] and row["data-basis"] == "determined"
            assert ("区委政法委年度考核（2023年度）" if lang == "zh" else "Political and Legal Affairs Commission's assessment of 2023") \
                in unescape(row["text"])


def test_proposed_and_decided_escalations_cannot_be_confused() -> None:
    html = report("zh")
    section = html.split('id="unit-commerce"', 1)[1].split("</section>", 1)[0]
    assert "一票否决（决定）" in section and "区委政法委考核决定" in section and "一票否决（建议）" not in section
    court = html.split('id="unit-court"', 1)[1].split("</section>", 1)[0]
    assert "一票否决（建议）" in court and "建议区委政法委决定" in court and "区委政法委考核未采纳" in court
    # the legend says what each look means; a proposal is dashed, a decision solid
    assert "虚线框“建议”：仅为建议，尚未决定" in html and "实心“决定”：已由考核决定" in html
    assert re.search(r"\.badge\.proposed \{[^}]*dashed", html)
    en = report("en")
    assert "proposed to Political and Legal Affairs Commission for decision" in en
    assert "decided by Political and Legal Affairs Commission in its assessment" in en


def test_due_dates_are_written_in_every_matrix_cell(doc: dict) -> None:  # type: ignore[type-arg]
    page = parse(report("zh"))
    assert len(page.cells) == len(doc["obligations"])  # every unit-level duty has its cell
    for cell in page.cells:
        assert "期限" in cell["text"], cell
    cell = next(c for c in page.cells if c["data-action"] == "complete_self_inspection" and c["data-period"] == "2023")
    assert "期限 12月31日" in cell["text"]
    late = [c for c in page.cells if c["data-status"] == "fulfilled_late"]
    assert late and all("履行于" in c["text"] for c in late)
    # a deadline in another year than the column's is written in full
    nxt = next(c for c in page.cells if c["data-action"] == "include_in_annual_assessment" and c["data-period"] == "2022")
    assert "期限 2023年3月31日" in nxt["text"]
    en = parse(report("en"))
    assert all("due " in c["text"] for c in en.cells)
    assert any("due Dec 31" in c["text"] for c in en.cells)
    assert 'title="' not in report("zh")  # nothing is only on hover


def test_matrix_cells_link_to_the_details(doc: dict) -> None:  # type: ignore[type-arg]
    page = parse(report("zh"))
    assert set(page.links) <= page.ids  # no dangling anchor
    violation_of = {v["obligation"]: v for v in doc["violations"]}
    for cell in page.cells:
        if cell["data-status"] in ("overdue", "fulfilled_late"):
            assert cell.get("href", "").startswith("vi-"), cell
    linked = {c["href"] for c in page.cells if "href" in c}
    assert linked == {v["id"] for v in violation_of.values()}  # every violated duty's cell, and only those
    assert {f"unit-{code}" for code in ("commerce", "court", "district_government")} <= set(page.links)


def test_the_receipt_is_explained_in_words(doc: dict) -> None:  # type: ignore[type-arg]
    receipt = doc["receipt"]
    html = report("zh")
    section = html.split('<section id="receipt">', 1)[1]
    assert "本报告由 oblige" in section and "40 条有效记录" in section and "哈希值相同则报告内容必然相同" in section
    assert "国务院公布的法定节假日安排（chinese-calendar" in section and "Mon-Fri" not in section
    for key in ("ruleset_hash", "params_hash", "events_hash"):
        assert receipt[key] in section
    en = report("en").split('<section id="receipt">', 1)[1]
    assert "This report was computed by oblige" in en and "equal hashes mean the same report" in en
    assert receipt["events_hash"] in en


def test_printable_and_named_fonts() -> None:
    html = report("zh")
    css = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert re.search(r"@page\s*\{\s*size:\s*A4 landscape", css)
    print_css = css.split("@media print", 1)[1]
    assert "break-before: page" in print_css and "table-header-group" in print_css and "break-inside: avoid" in print_css
    assert "table-layout: fixed" in css  # wide tables wrap inside the page instead of being clipped
    for family in re.findall(r"font-family:([^;]+);", css):
        names = [n.strip().strip('"') for n in family.split(",")]
        if "Noto Sans CJK SC" not in names:
            continue
        generic = min(names.index(g) for g in ("sans-serif", "system-ui", "serif") if g in names)
        for cjk in ("Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC"):
            assert names.index(cjk) < generic, (cjk, names)
    assert css.count("Noto Sans CJK SC") >= 2  # zh and en
    assert html.count('<section class="page"') >= 4  # each matrix, the details, the clauses start a printed page


def test_unit_filter_keeps_the_report_whole() -> None:
    html = report("en", "--unit", "commerce")
    page = parse(html)
    assert {row["section"] for row in page.detail_rows.values()} == {"commerce"}
    assert set(page.links) <= page.ids
    assert "Civil Affairs" not in html
