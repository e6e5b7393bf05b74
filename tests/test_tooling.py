"""Explanations, rule inspection, coverage and JSON Schema export, as a user runs them."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli import main
from facts.vocabulary import ALL_TYPES
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
    assert "ev-0010 household_registration.requested at 2023-03-01T09:30:00+08:00" in text
    assert "ev-0011 household_registration.approved at 2023-03-03T10:00:00+08:00" in text
    assert "+ precondition_deadline (P30D) = 2023-03-31T09:30:00+08:00" in text
    assert "must precede household_registration.approved" in text
    doc = json.loads(run("explain", v["id"], EXAMPLE, "--as-of", "2023-12-31", "--format", "json").stdout)
    assert doc["finding"] == "violation" and doc["because_obligation"]["trigger_events"][0]["id"] == "ev-0010"


def test_explain_an_escalation_chain() -> None:
    doc = findings()
    e = next(e for e in doc["escalations"] if e["level"] == "public_criticism" and e["unit"] == "public_security")
    out = json.loads(run("explain", e["id"], EXAMPLE, "--as-of", "2023-12-31", "--format", "json", "--lang", "en").stdout)
    assert out["finding"] == "escalation" and out["because_chain"][0]["finding"] == "violation"
    assert "criticism_after (P30D)" in out["reasoning"]
    assessment = next(e for e in doc["escalations"] if e["because"] == ["ev-0090"] and e["level"] == "one_vote_veto")
    text = run("explain", assessment["id"], EXAMPLE, "--as-of", "2023-12-31", "--lang", "en").stdout
    assert "assessment ev-0090" in text and "target Civil Affairs Bureau, year 2023" in text
    zh = run("explain", assessment["id"], EXAMPLE, "--as-of", "2023-12-31").stdout
    assert "一票否决" in zh and "对象 区民政局" in zh and "第36条" in zh


def test_explain_in_chinese_by_default() -> None:
    v = next(v for v in findings()["violations"] if v["kind"] == "precondition")
    zh = run("explain", v["id"], EXAMPLE, "--as-of", "2023-12-31").stdout
    assert "违规" in zh and "前置程序违反" in zh and "区公安(分)局" in zh and "第20条" in zh
    assert "须先于 household_registration.approved" in zh and "must precede" not in zh


def test_explain_unknown_id_lists_near_matches() -> None:
    ob = findings()["obligations"][0]["id"]
    result = run("explain", ob[:-2] + "zz", EXAMPLE, "--as-of", "2023-12-31")
    assert result.exit_code == 2 and ob in result.stderr


def test_explain_needs_events() -> None:
    assert run("explain", "ob-1").exit_code == 2


def test_rules_commands() -> None:
    listing = run("rules", "list", "--article", "20").stdout.splitlines()
    assert len(listing) == 4 and all("art.20" in line for line in listing)
    shown = run("rules", "show", "art27.placed_with_buyer_family").stdout
    assert "不得由收买家庭继续抚养。" in shown and "child.placed [placement = buyer_family]" in shown
    assert run("rules", "show", "art99.nothing").exit_code == 2
    cov = json.loads(run("rules", "coverage", "--format", "json").stdout)
    assert [row["article"] for row in cov] == list(range(1, 39))
    assert all(row["rules"] or row["reason"] for row in cov)
    assert next(r for r in cov if r["article"] == 20)["rules"] == [
        "art20.collect_parent_dna", "art20.collect_child_dna", "art20.compare_dna_before_registration",
        "art20.dna_collected_outside_police"]
    assert next(r for r in cov if r["article"] == 6)["rules"] == [] and "Art. 16" in next(r for r in cov if r["article"] == 6)["reason"]
    assert "38/38 articles accounted for" in run("rules", "coverage", "--lang", "en").stdout
    zh = run("rules", "coverage").stdout
    assert "38/38 条均已说明" in zh and "第1条" in zh and "制定目的和依据" in zh
    assert "落户前采血检验入库比对" in run("rules", "list", "--article", "20").stdout
    assert "Compare DNA before household registration" in run("rules", "list", "--article", "20", "--lang", "en").stdout
    assert run("rules", "validate").exit_code == 0
    result = run("rules", "test")
    assert result.exit_code == 0 and result.stdout.strip().endswith("0 failed")


def test_rules_validate_reports_every_problem(tmp_path: Path) -> None:
    import shutil

    from engine.ruleset import DEFAULT_RULESET
    target = tmp_path / "rs"
    shutil.copytree(DEFAULT_RULESET, target)
    for name, old, new in (("art-19.yaml", "tuanyuan_deadline", "tuanyuan_deadlin"), ("art-33.yaml", "justice", "justise")):
        p = target / "rules" / name
        p.write_text(p.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    result = run("rules", "validate", str(target))
    assert result.exit_code == 2
    assert "art-19.yaml:14: rule_ref_error: art19.publish_tuanyuan_alert: deadline.within: unknown parameter 'tuanyuan_deadlin'" in result.stderr
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
