"""Explanations, rule inspection, coverage and JSON Schema export, as a user runs them."""
from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from oblige.cli import main
from oblige.facts.vocabulary import ALL_TYPES
from tests.conftest import ROOT, ev

EXAMPLE = str(ROOT / "examples" / "events.jsonl")


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def findings() -> dict:
    return json.loads(run("eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "json").stdout)


def test_explain_a_precondition_violation() -> None:
    v = next(v for v in findings()["violations"] if v["kind"] == "precondition")
    result = run("explain", v["id"], EXAMPLE, "--as-of", "2023-12-31", "--lang", "en")
    assert result.exit_code == 0
    text = result.stdout
    assert "Art. 20" in text and "对来历不明儿童落户的,要采血检验入库比对,严把儿童落户关。" in text
    # events, parameters and values by their labels (ruleset data), instants as the tables write them
    assert "ev-0010 “Household registration requested” at 2023-03-01 09:30" in text
    assert "ev-0011 “Household registration approved” at 2023-03-03 10:00" in text
    assert "+ precondition check period (30 days) = 2023-03-31 09:30" in text
    assert "must precede “Household registration approved”" in text
    assert "parameter precondition check period = 30 days — policy: " in text  # every parameter says its basis and reason
    assert "parameter child age limit (years) = 14 — statute: 「法释〔2016〕28号」 Art. 9" in text
    assert "precondition_deadline" not in text and "P30D" not in text and "2023-03-01T" not in text
    doc = json.loads(run("explain", v["id"], EXAMPLE, "--as-of", "2023-12-31", "--format", "json").stdout)
    assert doc["finding"] == "violation" and doc["because_obligation"]["trigger_events"][0]["id"] == "ev-0010"


def test_explain_an_escalation_chain() -> None:
    doc = findings()
    e = next(e for e in doc["escalations"] if e["level"] == "public_criticism" and e["unit"] == "public_security"
             and e["basis"] == "proposed")
    out = json.loads(run("explain", e["id"], EXAMPLE, "--as-of", "2023-12-31", "--format", "json", "--lang", "en").stdout)
    assert out["finding"] == "escalation" and out["because_chain"][0]["finding"] == "violation"
    assert out["level_title"] == "Public criticism (proposed)" and out["basis_title"] == "Proposed"
    assert "30 days after it (criticism waiting period)" in out["reasoning"] and "PROPOSED only" in out["reasoning"]
    assert "not a decision" in out["reasoning"] and "criticism_after" not in out["reasoning"]
    text = run("explain", e["id"], EXAMPLE, "--as-of", "2023-12-31", "--lang", "en").stdout
    assert "Public criticism (proposed) against Public Security (Sub-)Bureau, proposed to Political and Legal Affairs Commission" in text
    determined = next(e for e in doc["escalations"] if e["because"] == ["ev-0090"] and e["level"] == "one_vote_veto")
    assert determined["basis"] == "determined"
    text = run("explain", determined["id"], EXAMPLE, "--as-of", "2023-12-31", "--lang", "en").stdout
    assert "One-vote veto (determined) against Civil Affairs Bureau, issued by" in text and "DETERMINED by" in text
    assert "assessment ev-0090 “Assessment found enforcement failure”" in text
    assert "target Civil Affairs Bureau, year 2023, finding: Duties not effectively performed" in text
    zh = run("explain", determined["id"], EXAMPLE, "--as-of", "2023-12-31").stdout
    assert "一票否决（决定）" in zh and "对象 区民政局" in zh and "第三十六条" in zh and "已决定" in zh
    assert "认定「未切实履行相关职责」，措施：通报批评、一票否决" in zh and "duties_unperformed" not in zh
    declined = next(e for e in doc["escalations"] if e["basis"] == "declined" and e["level"] == "one_vote_veto")
    zh = run("explain", declined["id"], EXAMPLE, "--as-of", "2023-12-31").stdout
    assert "一票否决（未采纳）" in zh and "提请 区委政法委 决定" in zh and "未采纳：2022年度考核已完成（ev-0089" in zh


def test_explain_in_chinese_by_default() -> None:
    v = next(v for v in findings()["violations"] if v["kind"] == "precondition")
    zh = run("explain", v["id"], EXAMPLE, "--as-of", "2023-12-31").stdout
    assert "违规" in zh and "前置程序违反" in zh and "区公安(分)局" in zh and "第二十条" in zh and "第20条" not in zh
    assert "须先于「批准户口登记」" in zh and "household_registration" not in zh and "must precede" not in zh
    assert "+ 前置核查期限（30日）= 2023年3月31日 09:30" in zh and "参数 前置核查期限 = 30日 — 本规则取值：" in zh
    assert "参数 儿童年龄上限（周岁） = 14 — 法律法规规定：法释〔2016〕28号第九条" in zh


def test_explain_a_discharged_duty() -> None:
    ob = next(o for o in findings()["obligations"] if o["status"] == "discharged" and o["action"] == "collect_parent_dna")
    text = run("explain", ob["id"], EXAMPLE, "--as-of", "2023-12-31", "--lang", "en").stdout
    assert "discharged: its reason ceased (ev-0024 “Missing child found” at 2023-07-01 19:00) before the due instant" in text
    assert "no violation" in text
    assert "事由消除：期限 2023年7月8日 08:00 之前其事由已消除（ev-0024「失踪儿童找回」，2023年7月1日 19:00）" in run(
        "explain", ob["id"], EXAMPLE, "--as-of", "2023-12-31").stdout


def test_explain_working_days_on_the_official_calendar() -> None:
    """5 working days from 2023-09-27 skip the National Day holiday (10-01..06) and count the
    adjusted Saturday and Sunday (10-07, 10-08): due 10-10, not 10-02."""
    ob = next(o for o in findings()["obligations"] if o["action"] == "open_labor_case")
    assert ob["due"] == "2023-10-10T23:59:59+08:00"
    text = run("explain", ob["id"], EXAMPLE, "--as-of", "2023-12-31", "--lang", "en").stdout
    assert "+ labour-case filing period (5 working days) = 2023-10-10 23:59" in text
    assert "parameter labour-case filing period = 5 working days — statute: 「关于实施《劳动保障监察条例》若干规定」 Art. 18" in text
    zh = run("explain", ob["id"], EXAMPLE, "--as-of", "2023-12-31").stdout
    assert "+ 劳动保障监察立案期限（5个工作日）= 2023年10月10日 23:59" in zh and "working" not in zh
    assert "estimated" not in text  # 2023 is on the calendar
    extended = next(o for o in findings()["obligations"] if o["action"] == "investigate_illegal_employment")
    text = run("explain", extended["id"], EXAMPLE, "--as-of", "2023-12-31", "--lang", "en").stdout
    assert "extended by ev-0077 “Labour-inspection case extended” at 2023-12-15 09:00" in text
    assert f"+ extension for a complex case (30 working days) = {extended['due'][:16].replace('T', ' ')}" in text


def test_explain_says_when_working_days_were_estimated(tmp_path: Path) -> None:
    from oblige.engine.rules.workdays import CALENDAR_NAME, covered

    year = next(y for y in range(2026, 2031) if not covered(y + 1) and covered(y))
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps(ev("x1", "illegal_employment.found", f"{year}-12-28T10:00:00", "human_resources", "lc-9",
                                    kind="child_labor")) + "\n", encoding="utf-8")
    doc = json.loads(run("eval", str(events), "--as-of", f"{year + 1}-02-01", "--format", "json").stdout)
    ob = next(o for o in doc["obligations"] if o["action"] == "open_labor_case")
    text = run("explain", ob["id"], str(events), "--as-of", f"{year + 1}-02-01", "--lang", "en").stdout
    assert "the due date was estimated (Monday–Friday)" in text and CALENDAR_NAME in text
    zh = run("explain", ob["id"], str(events), "--as-of", f"{year + 1}-02-01").stdout
    assert "该期限为估算（按周一至周五计）" in zh


def test_explain_unknown_id_lists_near_matches() -> None:
    ob = findings()["obligations"][0]["id"]
    result = run("explain", ob[:-2] + "zz", EXAMPLE, "--as-of", "2023-12-31")
    assert result.exit_code == 2 and ob in result.stderr


def test_rules_show_gives_the_rule_file_as_its_reader_would_open_it(tmp_path: Path, monkeypatch) -> None:
    """The rule's file and line, relative to the working directory when the ruleset lies under it (as
    compilers print paths: short, and what one types to open it), else the whole path; either opens."""
    for where in (ROOT, tmp_path):
        monkeypatch.chdir(where)
        head = run("rules", "show", "art28.arrange_household_registration").stdout.splitlines()[0]
        file, line = head.split()[-1].rsplit(":", 1)
        assert Path(file).is_absolute() == (where == tmp_path)
        assert Path(file).read_text(encoding="utf-8").splitlines()[int(line) - 1] == "  - id: art28.arrange_household_registration"


def test_explain_needs_events() -> None:
    assert run("explain", "ob-1").exit_code == 2


def test_rules_commands() -> None:
    listing = run("rules", "list", "--article", "20").stdout.splitlines()
    assert len(listing) == 4 and all("art.20" in line for line in listing)
    shown = run("rules", "show", "art27.placed_with_buyer_family").stdout
    assert "不得由收买家庭继续抚养。" in shown and "child.placed [placement = buyer_family]" in shown and "第二十七条" in shown
    shown = run("rules", "show", "art10.open_labor_case").stdout
    assert "labor_case_filing_deadline: 劳动保障监察立案期限 = 5个工作日 — 法律法规规定: " in shown  # the code, then zh words
    line = next(x for x in shown.splitlines() if "labor_case_filing_deadline:" in x)
    assert "working days" not in line and "statute" not in line
    shown = run("rules", "show", "art20.collect_parent_dna", "--lang", "en").stdout
    assert "discharged_by: child.found" in shown and "dna_deadline: " in shown and "= 7 days — policy: " in shown
    assert "Art. 20" in shown
    assert run("rules", "show", "art99.nothing").exit_code == 2
    # an article as its readers cite it: every rule of it, in the coverage's order, or why it has none
    for reference in ("20", "art20", "Art. 20", "第20条"):
        shown = run("rules", "show", reference, "--lang", "en").stdout
        assert [line.split()[0] for line in shown.splitlines() if line.startswith("art")] == [
            "art20.collect_parent_dna", "art20.collect_child_dna", "art20.compare_dna_before_registration",
            "art20.dna_collected_outside_police"], reference
    shown = run("rules", "show", "36", "--lang", "en").stdout
    assert "art36.include_in_annual_assessment  (Art. 36, obligation)" in shown
    assert "Public criticism (proposed), One-vote veto (proposed)" in shown  # the ladder's steps it grounds
    assert "not modelled: Individual accountability" in shown
    assert "第三十八条  （无可核查职责）" in run("rules", "show", "38").stdout
    missing = run("rules", "show", "art39")
    assert missing.exit_code == 2 and "the articles are 1-38" in missing.stderr
    cov = json.loads(run("rules", "coverage", "--format", "json").stdout)
    assert [row["article"] for row in cov] == list(range(1, 39))
    assert all(row["rules"] or row["reason"] for row in cov)
    assert next(r for r in cov if r["article"] == 20)["rules"] == [
        "art20.collect_parent_dna", "art20.collect_child_dna", "art20.compare_dna_before_registration",
        "art20.dna_collected_outside_police"]
    assert next(r for r in cov if r["article"] == 6)["rules"] == [] and "Art. 16" in next(r for r in cov if r["article"] == 6)["reason"]
    assert next(r for r in cov if r["article"] == 36)["not_modelled"][0]["what"].startswith("Individual accountability")
    en = run("rules", "coverage", "--lang", "en").stdout
    assert "38/38 articles accounted for" in en and "not modelled: Individual accountability" in en
    zh = run("rules", "coverage").stdout
    assert "38/38 条均已说明" in zh and "制定目的和依据" in zh
    for numeral in ("第一条", "第四条", "第二十条", "第三十八条"):
        assert numeral in zh
    assert not re.search(r"第\d+条", zh)
    assert "未建模：" in zh and "「依法依纪追究有关人员的责任,」" in zh and "未建模事项" in zh
    assert "落户前采血检验入库比对" in run("rules", "list", "--article", "20").stdout
    assert "Compare DNA before registering a child of unknown origin" in run("rules", "list", "--article", "20", "--lang", "en").stdout
    assert run("rules", "validate").exit_code == 0
    result = run("rules", "test")
    assert result.exit_code == 0 and result.stdout.strip().endswith("0 failed")


def test_rules_validate_reports_every_problem(tmp_path: Path) -> None:
    import shutil

    from oblige.engine.rules.ruleset import DEFAULT_RULESET
    target = tmp_path / "rs"
    shutil.copytree(DEFAULT_RULESET, target)
    for name, old, new in (("art-19.yaml", "tuanyuan_deadline", "tuanyuan_deadlin"), ("art-33.yaml", "justice", "justise")):
        p = target / "rules" / name
        p.write_text(p.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    result = run("rules", "validate", str(target))
    assert result.exit_code == 2
    assert ("art-19.yaml:14: rule_ref_error: art19.publish_tuanyuan_alert: deadline.within: unknown parameter 'tuanyuan_deadlin'"
            in result.stderr)
    assert "art-33.yaml:9: rule_ref_error: art33.accept_legal_aid_with_priority: duty_bearer: unknown unit 'justise'" in result.stderr


def test_schema_export() -> None:
    events = json.loads(run("schema", "events").stdout)
    tags = set(events["discriminator"]["mapping"])
    assert tags == set(ALL_TYPES)
    assert events["$defs"]["ChildMissingReportedData"]["additionalProperties"] is False
    doc = json.loads(run("schema", "findings").stdout)
    assert doc["$defs"]["Obligation"]["properties"]["due"]["anyOf"][0]["type"] == "string"
    assert set(doc["properties"]) >= {"ruleset", "as_of", "summary", "obligations", "violations", "escalations", "rejected", "receipt"}


def test_receipt_is_order_independent(tmp_path: Path) -> None:
    lines = Path(EXAMPLE).read_text(encoding="utf-8").splitlines()
    rev = tmp_path / "rev.jsonl"
    rev.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    a = json.loads(run("eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "json").stdout)["receipt"]
    b = json.loads(run("eval", str(rev), "--as-of", "2023-12-31", "--format", "json").stdout)["receipt"]
    assert a == b and len(a["events_hash"]) == 64
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(ev("z", "birth.delivered", "2023-01-01", "health", "s")) + "\n", encoding="utf-8")
    c = json.loads(run("eval", EXAMPLE, str(one), "--as-of", "2023-12-31", "--format", "json").stdout)["receipt"]
    assert c["events_hash"] != a["events_hash"] and c["ruleset_hash"] == a["ruleset_hash"]
