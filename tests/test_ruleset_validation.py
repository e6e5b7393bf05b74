"""Broken rulesets fail on load with file, line, rule id and field — every problem at once."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from oblige import RulesetError, load_ruleset
from oblige.engine.rules.ruleset import DEFAULT_RULESET

# art-19.yaml: line 4 "- id:", 8 action, 9 duty_bearer, 11-12 trigger event/where, 13 fulfilled_by, 14 deadline


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "rs"
    shutil.copytree(DEFAULT_RULESET, target)
    return target


def broken(copy: Path, old: str, new: str, file: str = "rules/art-19.yaml") -> RulesetError:
    path = copy / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(RulesetError) as info:
        load_ruleset(copy)
    return info.value


def test_bundled_ruleset_is_valid() -> None:
    rs = load_ruleset()
    assert len(rs.rules) >= 40
    assert rs.effective == 1652284800000000  # 2022-05-12T00:00:00+08:00


@pytest.mark.parametrize("old,new,code,line,fragment", [
    ("event: tuanyuan.alert_published", "event: tuanyuan.alert_sent", "rule_ref_error", 13, "unknown event type"),
    ("{lt: {param: child_age_limit}}", "{lt: {param: child_age}}", "rule_ref_error", 12, "unknown parameter 'child_age'"),
    ("{within: tuanyuan_deadline}", "{within: annual_plan_due}", "rule_ref_error", 14, "is a month_day, not a duration"),
    ("where: {age:", "where: {years:", "rule_ref_error", 12, "has no data field 'years'"),
    ("duty_bearer: public_security", "duty_bearer: police", "rule_ref_error", 9, "unknown unit 'police'"),
    ("用好公安部", "用好国家", "rule_ref_error", 6, "clause: not found verbatim"),
    ("kind: obligation", "kind: obligatio", "rule_schema_error", 4, "kind"),
    ("action: publish_tuanyuan_alert", "action: Publish Alert", "rule_schema_error", 8, "action"),
    ("    fulfilled_by:", "    colour: red\n    fulfilled_by:", "rule_schema_error", 13, "colour: Extra inputs"),
    ("id: art19.publish_tuanyuan_alert", "id: art18.publish_tuanyuan_alert", "rule_schema_error", 4, "art19"),
    ("trigger:", "trigger: [", "rule_parse_error", 12, ""),
])
def test_broken_rule_is_located(copy: Path, old: str, new: str, code: str, line: int, fragment: str) -> None:
    err = broken(copy, old, new)
    matching = [e for e in err.errors if e.code == code and "art-19.yaml" in e.file]
    assert matching, str(err)
    assert fragment in str(err)
    assert any(e.line == line for e in matching), [str(e) for e in matching]
    if code != "rule_parse_error":
        assert any((e.rule_id or "").endswith(".publish_tuanyuan_alert") for e in matching)


def test_all_errors_are_reported_at_once(copy: Path) -> None:
    err = broken(copy, "event: tuanyuan.alert_published", "event: nope")
    text = (copy / "rules" / "art-20.yaml").read_text(encoding="utf-8").replace("dna_deadline", "dna_deadlin")
    (copy / "rules" / "art-20.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RulesetError) as info:
        load_ruleset(copy)
    files = {Path(e.file).name for e in info.value.errors}
    assert {"art-19.yaml", "art-20.yaml"} <= files
    assert err.errors


def test_coverage_gap_is_an_error(copy: Path) -> None:
    err = broken(copy, "  - article: 29\n", "  - article: 99\n", "articles-without-duty.yaml")
    assert "article 29: neither encoded" in str(err)


def test_every_clause_is_in_the_shared_source_text() -> None:
    """The bundled source.txt is the official text minus the annex of names."""
    rs = load_ruleset()
    shared = DEFAULT_RULESET.parents[2] / ".." / "shared" / "source" / "xunyang-anti-trafficking-implementation-rules-2022.txt"
    if shared.exists():
        assert shared.read_text(encoding="utf-8").startswith(rs.source_text.rstrip("\n"))
    for located in rs.rules:
        assert "".join(located.rule.clause.split()) in "".join(rs.source_text.split())


ART18_ZH = "    reading_zh: >-\n      “定期”未明确周期；解读为每季度一次，于季度最后一日到期。\n"
ART18_EN = ("    reading: >-\n"
            "      「定期」 (regularly) names no period; it is read as once a quarter, due on the quarter's last\n      day.\n")


@pytest.mark.parametrize("old,new,line,message", [
    (ART18_ZH, "", 13, "art18.analyze_trafficking_situation: reading_zh: missing Chinese reading (the rule has `reading`)"),
    (ART18_EN, "", 13, "art18.analyze_trafficking_situation: reading: missing English reading (the rule has `reading_zh`)"),
    (ART18_ZH, "    reading_zh: Read as once a quarter.\n", 16,
     "art18.analyze_trafficking_situation: reading_zh: no Chinese in the Chinese reading"),
], ids=["no reading_zh", "no reading", "reading_zh in English"])
def test_a_reading_needs_both_languages(copy: Path, old: str, new: str, line: int, message: str) -> None:
    """`rules show --lang` prints one reading: a rule has both (as parameters have reason and reason_zh) or none."""
    err = broken(copy, old, new, "rules/art-18.yaml")
    assert [str(e) for e in err.errors] == [f"{copy / 'rules' / 'art-18.yaml'}:{line}: rule_schema_error: {message}"]
