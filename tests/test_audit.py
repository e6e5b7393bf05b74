"""`oblige audit`: unit records to findings, bad records located, every report format."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from oblige import Engine
from oblige.cli import main
from oblige.engine.audit.records import read_records
from oblige.engine.audit.summary import unit_summary
from oblige.engine.core.findings import Escalation, Findings, Obligation, Summary, Violation
from oblige.engine.render.audit import audit_csv, audit_html, audit_json, audit_table
from oblige.engine.rules.ruleset import DEFAULT_RULESET, Ruleset
from oblige.facts.reader import Accepted, Rejected
from oblige.facts.timeutil import format_instant
from tests.conftest import ROOT

RECORDS = str(ROOT / "examples" / "unit-records.csv")
HEADER = ("unit,year,liaison_designated,implementation_plan_filed,annual_plan_filed,assessment_completed,"
          "situation_analysis_q3,enforcement_failure\n")


def audit(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "r.csv") -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path / name)


def test_cells_become_unit_level_events(engine: Engine) -> None:
    text = HEADER + ("commerce,2023,,2022-08-01,,,,prevention_ineffective\n"
                     "gov_office,2023,,,2023-03-01,,,\n"
                     "political_legal,2022,,,,2023-03-20,,\n"
                     "public_security,2022,2022-06-01,,,,2022-09-01,\n")
    items = list(read_records(text, "r.csv", engine.ruleset))
    assert all(isinstance(i, Accepted) for i in items), [i.error for i in items if isinstance(i, Rejected)]
    got = sorted((i.fact.type, i.fact.unit, i.fact.data, format_instant(i.fact.at), i.line) for i in items)  # type: ignore[union-attr]
    assert got == sorted([
        ("unit.implementation_plan_filed", "commerce", (), "2022-08-01T00:00:00+08:00", 2),
        # the committee's finding about the row's unit, dated assessment_due (03-31) of the following year
        ("assessment.enforcement_failure", "political_legal",
         (("finding", "prevention_ineffective"), ("measures", ("public_criticism", "one_vote_veto")),
          ("target", "commerce"), ("year", 2023)), "2024-03-31T00:00:00+08:00", 2),
        ("unit.annual_plan_filed", "gov_office", (("year", 2023),), "2023-03-01T00:00:00+08:00", 3),
        ("assessment.completed", "political_legal", (("year", 2022),), "2023-03-20T00:00:00+08:00", 4),
        ("unit.liaison_designated", "public_security", (), "2022-06-01T00:00:00+08:00", 5),
        ("situation_analysis.completed", "public_security", (("period", "2022-Q3"),), "2022-09-01T00:00:00+08:00", 5),
    ])
    failure = next(i for i in items if i.fact.type == "assessment.enforcement_failure")  # type: ignore[union-attr]
    assert failure.fact.partition == ("unit", "commerce")  # type: ignore[union-attr]  # it is about commerce, not the committee


def test_enforcement_failure_is_dated_by_the_parameter(tmp_path: Path) -> None:
    params = write(tmp_path, "assessment_due: \"02-28\"\n", "p.yaml")
    engine = Engine.load(None, params)
    (item,) = read_records(HEADER + "justice,2025,,,,,,duties_unperformed\n", "r.csv", engine.ruleset)
    assert isinstance(item, Accepted) and format_instant(item.fact.at) == "2026-02-28T00:00:00+08:00"


def test_bad_records_are_located_and_the_rest_audited(engine: Engine) -> None:
    text = (HEADER.rstrip("\n") + ",colour\n"
            "gov_office,2023,,,2023-03-01,,,,red\n"
            "nobody,2023,,,2023-03-01,,,,\n"
            "health,2031,,,,,,,\n"
            "gov_office,2022,2022-13-01,,2022-07-01,,,,\n"
            "gov_office,2023,,,2023-03-02,,,,\n"
            "justice,2023,,,,,,lazy,\n"
            "commerce,2023,,,2023-03-01,,,,\n"            # the district's plan is not commerce's to file
            "commerce,2024,,,,2025-03-01,,,\n"            # nor is the committee's assessment
            "political_legal,2023,,,,,,duties_unperformed,\n")  # the committee does not find against itself
    items = list(read_records(text, "r.csv", engine.ruleset))
    rejected = [(i.line, i.error) for i in items if isinstance(i, Rejected)]
    assert [(line, error.split(":")[0]) for line, error in rejected] == [
        (1, "column colour"), (3, "column unit"), (4, "column year"), (5, "column liaison_designated"),
        (6, "column unit"), (7, "column enforcement_failure"), (8, "column annual_plan_filed"),
        (9, "column assessment_completed"), (10, "column enforcement_failure")]
    assert "commerce may not report unit.annual_plan_filed" in rejected[6][1]
    assert "commerce may not report assessment.completed" in rejected[7][1]
    assert "'lazy' is not prevention_ineffective or duties_unperformed" in rejected[5][1]
    accepted = [(i.fact.unit, i.fact.type) for i in items if isinstance(i, Accepted)]
    assert accepted == [("gov_office", "unit.annual_plan_filed"), ("gov_office", "unit.annual_plan_filed")]


def test_audit_json_covers_every_unit(tmp_path: Path) -> None:
    records = HEADER + "gov_office,2023,,,2023-05-15,,,\ncommerce,2023,,,,,,duties_unperformed\n"
    code, out, _ = audit(write(tmp_path, records), "--as-of", "2024-01-05", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["units"]) == 26  # 24 members + district_government + joint_conference_office
    government = doc["units"]["district_government"]
    assert government["fulfilled_late"] == 1 and government["escalations"]["supervision_notice"] == 0  # supervised above
    assert set(government) >= {"obligations", "fulfilled", "fulfilled_late", "overdue", "open", "violations",
                               "discharged", "escalations"}
    plan = [o for o in doc["obligations"] if o["duty_bearer"] == "district_government" and o["action"] == "file_annual_plan"
            and o["period"] == "2023"]
    assert plan[0]["status"] == "fulfilled_late" and plan[0]["fulfilled_at"] == "2023-05-15T00:00:00+08:00"
    assert doc["units"]["court"]["overdue"] > 0  # a unit with no row has done nothing
    commerce = doc["units"]["commerce"]
    # the finding about 2023 is dated 2024-03-31: on 2024-01-05 the 2022 measures are only proposed
    assert commerce["escalations_by_basis"]["one_vote_veto"] == {"rule": 0, "proposed": 1, "determined": 0, "declined": 0}
    assert doc["summary"]["after_as_of"] == 1 and doc["summary"]["determined"] == 0
    code, out, _ = audit(write(tmp_path, records), "--as-of", "2024-04-01", "--format", "json")
    doc = json.loads(out)
    by_basis = doc["units"]["commerce"]["escalations_by_basis"]
    assert by_basis["one_vote_veto"]["determined"] == 1 and by_basis["public_criticism"]["determined"] == 1
    determined = [e for e in doc["escalations"] if e["basis"] == "determined"]
    assert {(e["unit"], e["issued_by"], e["period"], e["at"]) for e in determined} == {
        ("commerce", "political_legal", "2023", "2024-03-31T00:00:00+08:00")}
    assert all(e["because"] == ["audit:commerce:2023:enforcement_failure"] for e in determined)


def test_audit_exit_3_on_bad_rows(tmp_path: Path) -> None:
    code, out, err = audit(write(tmp_path, HEADER + "nobody,2023,,,,,,\ngov_office,2023,,,2023-03-01,,,\n"),
                           "--as-of", "2024-01-05", "--format", "json")
    assert code == 3 and "r.csv:2: column unit: unknown unit 'nobody'" in err
    assert json.loads(out)["summary"]["events"] == 1


def test_audit_jsonl_records(tmp_path: Path) -> None:
    rows = [{"unit": "gov_office", "year": 2023, "annual_plan_filed": "2023-03-01"}, {"unit": "health", "year": "2023"}]
    path = write(tmp_path, "\n".join(json.dumps(r) for r in rows) + "\n", "r.jsonl")
    code, out, _ = audit(path, "--as-of", "2024-01-05", "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["events"] == 1


def test_audit_csv_one_row_per_obligation_with_the_basis(tmp_path: Path) -> None:
    code, out, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "csv", "--lang", "en")
    rows = list(csv.DictReader(io.StringIO(out)))
    _, js, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "json")
    assert code == 0 and len(rows) == len(json.loads(js)["obligations"])
    inspection = next(r for r in rows if r["unit"] == "court" and r["action"] == "complete_self_inspection" and r["period"] == "2023")
    assert inspection["status"] == "overdue" and inspection["status_label"] == "Overdue"
    assert inspection["escalations"] == "supervision_notice:rule public_criticism:proposed one_vote_veto:proposed"
    assert inspection["escalations_label"] == "Supervision notice; Public criticism (proposed); One-vote veto (proposed)"
    old = next(r for r in rows if r["unit"] == "court" and r["action"] == "complete_self_inspection" and r["period"] == "2022")
    assert old["escalations"] == "supervision_notice:rule public_criticism:declined"  # 2022 assessed (the veto: liaison's)
    code, zh, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "csv")  # zh: Chinese only, headers included
    row = next(r for r in csv.DictReader(io.StringIO(zh)) if r["单位"] == "区法院" and r["事项"] == "成员单位开展自我检查和评估"
               and r["期间"] == "2023年")
    assert row["状态"] == "逾期未履行" and row["督办问责"] == "督办通知；通报批评（建议）；一票否决（建议）"
    code, excel, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "csv", "--excel")
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


def _badges_text(html: str) -> list[str]:
    return re.findall(r'<span class="badge [a-z_]+ ([a-z]+)"[^>]*>([^<]*)</span>', html)


def test_audit_html_matrix(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, _, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "html", "--out", str(out))
    assert code == 0
    html = out.read_text(encoding="utf-8")
    parser = _Cells()
    parser.feed(html)
    assert parser.lang == "zh" and '<meta charset="utf-8">' in html
    assert "http://" not in html and "https://" not in html and "<script" not in html  # self-contained
    cell = {(c["unit"], c["data-action"], c["data-period"]): c["data-status"] for c in parser.cells}
    assert cell[("district_government", "file_annual_plan", "2023")] == "fulfilled"  # filed by gov_office for it
    assert cell[("district_government", "file_annual_plan", "2022")] == "fulfilled"
    assert cell[("commerce", "designate_liaison", "")] == "fulfilled_late"
    assert cell[("commerce", "file_implementation_plan", "")] == "fulfilled_late"
    assert cell[("commerce", "complete_self_inspection", "2023")] == "overdue"
    assert cell[("public_security", "analyze_trafficking_situation", "2023-Q3")] == "fulfilled_late"
    assert cell[("political_legal", "include_in_annual_assessment", "2022")] == "fulfilled"
    assert cell[("political_legal", "include_in_annual_assessment", "2023")] == "overdue"  # due 2024-03-31
    badges = {(b["unit"], b["data-level"], b["data-basis"]) for b in parser.badges}
    assert ("commerce", "one_vote_veto", "determined") in badges and ("civil_affairs", "one_vote_veto", "determined") in badges
    assert ("court", "one_vote_veto", "proposed") in badges and ("court", "one_vote_veto", "declined") in badges
    assert ("commerce", "one_vote_veto", "proposed") not in badges  # the determination replaced the proposal
    # every Art. 36 badge says its basis: a proposal never reads like a decision
    for basis, text in _badges_text(html):
        if basis != "rule":
            assert text.split(" ×")[0].endswith({"proposed": "（建议）", "determined": "（决定）", "declined": "（未采纳）"}[basis]), text
    assert {basis for basis, _ in _badges_text(html)} == {"rule", "proposed", "determined", "declined"}
    for words in ("区商务局", "督办通知", "一票否决（建议）", "一票否决（决定）", "通报批评（未采纳）", "2023年3月31日",
                  "第三十五条", "反拐工作成员单位履职审计", "联席会议成员单位根据任务分工制定本部门"):
        assert words in html, words
    assert "第35条" not in html


def test_audit_html_in_english_has_no_chinese_labels(tmp_path: Path) -> None:
    code, html, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "html", "--lang", "en")
    assert code == 0 and 'lang="en"' in html
    for words in ("区商务局", "督办通知", "一票否决", "逾期未履行", "建议", "第三十五条"):
        assert words not in html
    assert "Commerce Bureau" in html and "One-vote veto (proposed)" in html and "One-vote veto (determined)" in html
    assert "Art. 35" in html and "<h1>Audit of member units&#39; anti-trafficking duties</h1>" in html
    for basis, text in _badges_text(html):
        if basis != "rule":
            assert text.split(" ×")[0].endswith(f"({basis})"), text


def test_audit_table_and_unit_filter() -> None:
    code, out, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "table", "--lang", "en", "--unit", "commerce")
    assert code == 0 and "Commerce Bureau" in out and "✗" in out and "I=Each member unit makes its own" in out
    assert "1 determined" in out and "proposed" not in out.split("Escalations")[1].split("Supervision notices")[0]
    code, js, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "json", "--unit", "commerce")
    doc = json.loads(js)
    assert {o["duty_bearer"] for o in doc["obligations"]} == {"commerce"}
    code, zh, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "table", "--unit", "court")
    assert "1建议" in zh and "1未采纳" in zh and "区委政法委考核决定" in zh


def _findings(ruleset: Ruleset) -> Findings:
    """A hand-made document with every status and every basis (renderers need no evaluation)."""
    def ob(id: str, status: str, action: str = "complete_self_inspection", unit: str = "court") -> Obligation:
        return Obligation(id=id, rule="art35.complete_self_inspection", article=35, action=action, duty_bearer=unit,
                          subject=None, period="2023", triggered_by=[], triggered_at=0, due=1_700_000_000_000_000,
                          status=status, fulfilled_by=None, fulfilled_at=None)  # type: ignore[arg-type]
    obligations = [ob("ob-1", "overdue"), ob("ob-2", "discharged", unit="health"), ob("ob-3", "open", unit="commerce")]
    violation = Violation(id="vi-1", rule="art35.complete_self_inspection", article=35, kind="overdue", unit="court",
                          subject=None, period="2023", at=1_700_000_000_000_000, obligation="ob-1", evidence=[],
                          remedied_at=None)

    def es(id: str, level: str, basis: str, because: str = "vi-1") -> Escalation:
        return Escalation(id=id, level=level, basis=basis, unit="court", issued_by="political_legal", period="2023",  # type: ignore[arg-type]
                          article=36, at=1_700_000_000_000_000, because=[because])
    escalations = [es("es-1", "supervision_notice", "rule"), es("es-2", "public_criticism", "proposed"),
                   es("es-3", "one_vote_veto", "proposed"), es("es-4", "public_criticism", "declined"),
                   es("es-5", "one_vote_veto", "determined", "ev-9")]
    summary = Summary(events=1, duplicates=0, rejected=0, before_effective=0, after_as_of=0, obligations=3, open=1,
                      fulfilled=0, fulfilled_late=0, overdue=1, discharged=1, violations=1, escalations=5, rule=1,
                      proposed=2, determined=1, declined=1)
    return Findings(ruleset=ruleset.name, as_of=1_710_000_000_000_000, summary=summary, obligations=obligations,
                    violations=[violation], escalations=escalations, rejected=[])


def test_every_audit_format_shows_discharged_and_each_basis(engine: Engine) -> None:
    rs = engine.ruleset
    findings = _findings(rs)
    units = unit_summary(findings, rs)
    assert units["health"]["discharged"] == 1 and units["court"]["escalations"]["one_vote_veto"] == 2
    assert units["court"]["escalations_by_basis"]["one_vote_veto"] == {"rule": 0, "proposed": 1, "determined": 1, "declined": 0}
    html = audit_html(findings, rs, "zh")
    parser = _Cells()
    parser.feed(html)
    assert {(c["unit"], c["data-status"]) for c in parser.cells} >= {("health", "discharged"), ("court", "overdue")}
    assert "事由消除" in html and 'class="discharged"' in html
    assert sorted(t for _, t in _badges_text(html) if "×" not in t) == [
        "一票否决（决定）", "一票否决（建议）", "督办通知", "通报批评（建议）", "通报批评（未采纳）"]
    assert "Discharged" in audit_html(findings, rs, "en")
    rows = {r["单位"] + r["状态"]: r for r in csv.DictReader(io.StringIO(audit_csv(findings, rs, "zh")))}
    assert "区卫生健康委事由消除" in rows
    assert rows["区法院逾期未履行"]["督办问责"] == "督办通知；通报批评（建议）；通报批评（未采纳）；一票否决（建议）"
    rows = {r["unit"] + r["status"]: r for r in csv.DictReader(io.StringIO(audit_csv(findings, rs, "en")))}
    assert rows["healthdischarged"]["status_label"] == "Discharged"
    assert rows["courtoverdue"]["escalations"] == ("supervision_notice:rule public_criticism:proposed public_criticism:declined "
                                                   "one_vote_veto:proposed")
    buffer = io.StringIO()
    audit_table(findings, rs, Console(file=buffer, width=200, color_system=None), "zh")
    table = buffer.getvalue()
    assert "○ 事由消除" in table and "1决定" in table and "1建议" in table and "1未采纳" in table
    doc = json.loads(audit_json(findings, rs))
    assert doc["summary"]["discharged"] == 1 and doc["units"]["health"]["discharged"] == 1


def test_audit_data_comes_from_the_ruleset(tmp_path: Path) -> None:
    """Columns, duty order, short codes and the title are ruleset data (audit.yaml), not engine code."""
    target = tmp_path / "rs"
    shutil.copytree(DEFAULT_RULESET, target)
    spec = target / "audit.yaml"
    text = spec.read_text(encoding="utf-8")
    text = text.replace("title: {zh: 反拐工作成员单位履职审计,", "title: {zh: 某区审计,")
    text = text.replace("  liaison_designated: {event: unit.liaison_designated}",
                        "  liaison: {event: unit.liaison_designated}")
    text = text.replace("  designate_liaison: L\n", "  designate_liaison: Z\n")
    spec.write_text(text, encoding="utf-8")
    records = write(tmp_path, "unit,year,liaison\ncommerce,2022,2022-06-01\n")
    code, out, _ = audit(records, "--ruleset", str(target), "--as-of", "2022-07-01", "--format", "table", "--unit", "commerce")
    assert code == 0 and "某区审计" in out and "Z=" in out and "L=" not in out
    code, out, err = audit(write(tmp_path, HEADER + "commerce,2022,2022-06-01,,,,,\n"), "--ruleset", str(target),
                           "--as-of", "2022-07-01", "--format", "json")
    assert code == 3 and "column liaison_designated: unknown column" in err
    spec.write_text(text.replace("event: unit.liaison_designated", "event: unit.liaison_named"), encoding="utf-8")
    code, _, err = audit(records, "--ruleset", str(target), "--as-of", "2022-07-01")
    assert code == 2 and re.search(r"audit.yaml:\d+: rule_ref_error: liaison: 'unit.liaison_named' is not a unit-level event type", err)


# Run in the browser after load (on a copy of the report: the report itself has no script): the page's
# width against the viewport's, and where every unit row of every table ends up.
_LAYOUT_PROBE = """<script>
window.addEventListener("load", () => {
  const root = document.documentElement, out = {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    innerWidth: window.innerWidth, tables: [], wide: []};
  for (const table of document.querySelectorAll("table")) {
    const rows = [...table.querySelectorAll("tbody tr[data-unit]")].map(tr => {
      const r = tr.getBoundingClientRect();
      return {unit: tr.dataset.unit, height: r.height, right: r.right};
    });
    out.tables.push({id: table.id || table.dataset.year || table.className, right: table.getBoundingClientRect().right,
                     scrollWidth: table.scrollWidth, clientWidth: table.clientWidth, rows: rows});
  }
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > root.clientWidth + 0.5) out.wide.push(el.tagName + "." + el.className + ":" + r.right);
  }
  const pre = document.createElement("pre");
  pre.id = "layout-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_audit_html_in_a_real_headless_browser(tmp_path: Path) -> None:
    """Where Debian's chromium is installed: in zh and en, at 1280 px the page is no wider than the
    window, every unit has its row in the summary and in each year's matrix, the page renders to a PNG
    with Chinese glyphs available, and it prints on A4 landscape."""
    import subprocess
    from html import unescape

    import pytest

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("OBLIGE_REQUIRE_BROWSER"):  # CI installs it and must not skip
            pytest.fail("OBLIGE_REQUIRE_BROWSER is set but no chromium is installed")
        pytest.skip("no chromium on this machine (apt-get install chromium to run this check)")
    if os.environ.get("OBLIGE_REQUIRE_BROWSER"):  # a person reads Chinese glyphs, not empty boxes
        fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
        assert fonts.strip(), "no CJK font installed (apt-get install fonts-noto-cjk)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    _, js, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "json")
    every_unit = list(json.loads(js)["units"])
    assert len(every_unit) == 26
    for lang in ("zh", "en"):
        report = tmp_path / f"report-{lang}.html"
        code, _, _ = audit(RECORDS, "--as-of", "2024-04-10", "--format", "html", "--lang", lang, "--out", str(report))
        assert code == 0
        html = report.read_text(encoding="utf-8")
        probe = tmp_path / f"probe-{lang}.html"
        probe.write_text(html.replace("</body>", _LAYOUT_PROBE + "</body>"), encoding="utf-8")
        dom = subprocess.run([browser, *flags, "--window-size=1280,900", "--virtual-time-budget=5000", "--dump-dom",
                              probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
        parser = _Cells()
        parser.feed(dom)
        cells = {(c["unit"], c["data-action"], c["data-period"]): c["data-status"] for c in parser.cells}
        assert cells[("commerce", "complete_self_inspection", "2023")] == "overdue" and parser.lang == lang
        found = re.search(r'<pre id="layout-probe">(.*?)</pre>', dom, re.S)
        assert found, f"{lang}: the layout probe did not run"
        layout = json.loads(unescape(found.group(1)))
        assert layout["innerWidth"] == 1280
        # no horizontal overflow: the page is exactly as wide as the window, and no element reaches past it
        assert layout["scrollWidth"] <= layout["clientWidth"], (lang, layout["scrollWidth"], layout["clientWidth"])
        assert layout["wide"] == [], (lang, layout["wide"][:5])
        tables = {t["id"]: t for t in layout["tables"]}
        matrices = [t for t in layout["tables"] if t["id"] in ("2022", "2023", "2024")]
        assert len(matrices) == 3, list(tables)
        for table in [tables["summary"], *matrices]:
            assert [r["unit"] for r in table["rows"]] == every_unit, (lang, table["id"])  # every unit row, in order
            assert all(r["height"] > 0 and r["right"] <= layout["clientWidth"] for r in table["rows"]), (lang, table["id"])
            assert table["scrollWidth"] <= table["clientWidth"] + 1, (lang, table["id"])  # no cell pushes out of its table
        shot = tmp_path / f"report-{lang}.png"
        subprocess.run([browser, *flags, "--window-size=1280,900", f"--screenshot={shot}", report.as_uri()],
                       capture_output=True, timeout=120)
        assert shot.exists() and shot.stat().st_size > 20_000  # a rendered page, not a blank one
        assert _png_size(shot) == (1280, 900)
    # printed: A4 landscape pages (842 x 595 pt), more than one (each section starts a page)
    pdf = tmp_path / "report.pdf"
    subprocess.run([browser, *flags, "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                    (tmp_path / "report-zh.html").as_uri()], capture_output=True, timeout=120)
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf.read_bytes())
    assert len(boxes) >= 5, len(boxes)
    assert all(abs(float(w) - 841.9) < 2 and abs(float(h) - 595.3) < 2 for w, h in boxes), set(boxes)


@pytest.mark.parametrize("width", [66, 80, 120])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_audit_table_is_drawn_whole_on_a_terminal(width: int, lang: str) -> None:
    """Every table of the terminal audit fits the terminal: a line that opens with a border closes with
    one (printed by rich, the escalations table lost its last columns at 80), and every level's column
    is there with its bases whole."""
    result = CliRunner().invoke(main, ["audit", RECORDS, "--as-of", "2023-12-31", "--lang", lang],
                                env={"COLUMNS": str(width)}, catch_exceptions=False)
    lines = result.stdout.splitlines()
    drawn = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert drawn and all(line.rstrip()[-1] in "┓┃┩│┘" for line in drawn), [ln for ln in drawn if ln.rstrip()[-1] not in "┓┃┩│┘"][:3]
    escalations = "\n".join(lines[next(i for i, ln in enumerate(lines) if ("督办问责" if lang == "zh" else "Escalations") in ln):])
    for word in (("未采纳", "一票否决", "事由消除") if lang == "zh" else ("declined", "veto", "Discharged")):
        assert word in escalations, word


@pytest.mark.parametrize("width", [40, 56])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_terminal_too_narrow_for_the_matrix_gets_a_record_a_unit(width: int, lang: str) -> None:
    """Below the width of its status columns the matrix is written unit by unit: each unit's name whole
    on a rule of its own, then its duties' short names with their statuses, as many to a line as fit.
    Nothing goes past the terminal's edge and no status is lost: each year shows as many as the table
    on a wide terminal (rich cropped the last columns off, and cut the names to nothing)."""
    title, escalations = ("单位履职情况表", "督办问责") if lang == "zh" else ("Duties by unit,", "Escalations")

    def matrix(columns: int) -> list[str]:
        result = CliRunner().invoke(main, ["audit", RECORDS, "--as-of", "2023-12-31", "--lang", lang],
                                    env={"COLUMNS": str(columns)}, catch_exceptions=False)
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert all(len(line) <= columns for line in lines), [ln for ln in lines if len(ln) > columns][:3]
        first = next(i for i, ln in enumerate(lines) if ln.strip().startswith(title))
        return lines[first:next(i for i, ln in enumerate(lines) if ln.strip() == escalations)]

    def statuses(lines: list[str]) -> dict[str, int]:
        """Per year, the status symbols shown (a unit's name has none)."""
        counts: dict[str, int] = {}
        for line in lines:
            if line.strip().startswith(title):
                year = line.split()[-1]
            elif not line.startswith(("── ", "   ")):  # a record's heading, or its wrapped part
                counts[year] = counts.get(year, 0) + sum(line.count(s) for s in "✓!✗·○")
        return counts

    narrow, wide = matrix(width), matrix(200)
    assert not [line for line in narrow if line[:1] in "┏┃│"]  # no table: records
    headings = []
    for line in narrow:
        if line.startswith("── "):
            headings.append(line[3:].rstrip("─ "))
        elif line.startswith("   ") and not line.startswith("    "):
            headings[-1] += " " + line.strip()
    rs = Engine.load().ruleset
    names = {(u.name_zh if lang == "zh" else u.name_en) for u in (*rs.units.members, *rs.units.others)}
    assert headings and set(headings) <= names, set(headings) - names
    assert statuses(narrow) == statuses(wide) and sum(statuses(wide).values()) > 50
