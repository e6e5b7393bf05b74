"""Human formats speak one language end to end (issue 17, item 5): an explanation in zh names
events, parameters, values, bases and instants in Chinese; in en in English; codes stay in JSON.
Every event type of the vocabulary and every parameter has its labels as ruleset data."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from oblige import RulesetError, load_ruleset
from oblige.cli import main
from oblige.engine.rules.ruleset import DEFAULT_RULESET
from oblige.facts.vocabulary import ALL_TYPES
from tests.conftest import ROOT

EXAMPLES = [str(ROOT / "examples" / "events.jsonl"), str(ROOT / "examples" / "more.jsonl")]
AS_OF = "2024-01-05"
YUNZHOU = ROOT / "tests" / "rulesets" / "yunzhou_school_2023"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
IDS = re.compile(r"\b[a-z]{1,3}-[0-9a-z]+\b")  # finding, event and subject ids: kept to look them up
ISO_DURATION = re.compile(r"\bP(?:\d+[WD])*(?:T(?:\d+[HMS])+)?\b")
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")
RULESETS = [DEFAULT_RULESET, YUNZHOU]


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 3), result.output  # 3: the document reports violations
    return result.stdout


@pytest.fixture(scope="module")
def sample() -> list[str]:
    """Findings of every shape an explanation takes: a skipped check, a prohibited act, calendar
    duties (a date, a quarter, the year after), working days with an extension, a discharged and a
    late duty, and escalations proposed, declined and determined (with the committee's finding)."""
    doc = json.loads(run("eval", *EXAMPLES, "--as-of", AS_OF, "--format", "json"))
    first = lambda items, **kw: next(i["id"] for i in items if all(i.get(k) == v for k, v in kw.items()))  # noqa: E731
    obligations, violations, escalations = doc["obligations"], doc["violations"], doc["escalations"]
    return [first(violations, kind="precondition"), first(violations, kind="prohibited"),
            first(obligations, action="allocate_budget"), first(obligations, action="analyze_trafficking_situation"),
            first(obligations, action="include_in_annual_assessment"), first(obligations, action="open_labor_case"),
            first(obligations, action="investigate_illegal_employment"), first(obligations, status="discharged"),
            first(obligations, status="fulfilled_late"), first(escalations, level="one_vote_veto", basis="proposed"),
            first(escalations, level="public_criticism", basis="declined"),
            first(escalations, level="one_vote_veto", basis="determined")]


def explained(finding_id: str, lang: str) -> str:
    return run("explain", finding_id, *EXAMPLES, "--as-of", AS_OF, "--lang", lang)


def test_a_chinese_explanation_has_no_code(sample: list[str]) -> None:
    ruleset = load_ruleset()
    for finding_id in sample:
        text = explained(finding_id, "zh")
        assert not [t for t in ALL_TYPES if t in text], (finding_id, text)
        assert not [name for name in ruleset.specs if name in text], (finding_id, text)
        assert not ISO_DURATION.search(text) and "working day" not in text, text
        assert not re.search(r"\b(text|statute|policy)\b", text), text
        assert not ISO_INSTANT.search(text), text
        # nothing in Latin letters but the ids (to look them up) and DNA (as the articles write it)
        assert not re.search(r"[A-Za-z]", IDS.sub("", text).replace("DNA", "")), (finding_id, text)


def test_an_english_explanation_has_no_chinese_outside_quotations(sample: list[str]) -> None:
    for finding_id in sample:
        text = explained(finding_id, "en")
        assert not CJK.search(re.sub(r"「[^」]*」", "", text)), (finding_id, text)
        assert not ISO_INSTANT.search(text) and not ISO_DURATION.search(text), text
        assert not [t for t in ALL_TYPES if t in text], (finding_id, text)


def test_json_explanations_keep_the_codes(sample: list[str]) -> None:
    doc = json.loads(run("explain", sample[0], *EXAMPLES, "--as-of", AS_OF, "--format", "json"))
    ob = doc["because_obligation"]
    assert doc["events"][0]["type"] == "household_registration.requested"
    assert ob["trigger_events"][0]["occurred_at"] == "2023-03-01T09:30:00+08:00"
    assert {p["name"] for p in ob["parameters"]} == {"child_age_limit", "precondition_deadline"}
    assert next(p for p in ob["parameters"] if p["name"] == "precondition_deadline")["value"] == "P30D"


def test_values_in_each_language() -> None:
    zh = explained(next(o for o in json.loads(run("eval", *EXAMPLES, "--as-of", AS_OF, "--format", "json"))["obligations"]
                        if o["action"] == "report_to_police")["id"], "zh")
    assert "（24小时）" in zh
    ruleset = load_ruleset()
    from oblige.engine.render.labels import parameter_words
    assert [parameter_words(ruleset, n, "zh")["value"] for n in ("precondition_deadline", "report_deadline",
                                                                   "labor_case_filing_deadline", "annual_plan_due")] == [
        "30日", "24小时", "5个工作日", "3月31日"]
    assert [parameter_words(ruleset, n, "en")["value"] for n in ("precondition_deadline", "report_deadline",
                                                                   "labor_case_filing_deadline", "year_end_due")] == [
        "30 days", "24 hours", "5 working days", "31 December"]


def test_an_override_keeps_its_own_reason(tmp_path: Path) -> None:
    from oblige.engine.render.labels import parameter_words
    params = tmp_path / "p.yaml"
    params.write_text("precondition_deadline: P10D\ndna_deadline: {value: P3D, reason: 区政府2024年通知\n}\n", encoding="utf-8")
    ruleset = load_ruleset(params_file=params)
    assert parameter_words(ruleset, "precondition_deadline", "zh")["value"] == "10日"
    assert parameter_words(ruleset, "precondition_deadline", "zh")["reason"] == ruleset.specs["precondition_deadline"].reason_zh
    assert parameter_words(ruleset, "dna_deadline", "zh")["reason"] == "区政府2024年通知"


@pytest.mark.parametrize("path", RULESETS, ids=["xunyang", "yunzhou"])
def test_every_event_type_and_parameter_is_labelled(path: Path) -> None:
    ruleset = load_ruleset(path)
    events = ruleset.header.labels["events"]
    assert set(events) == set(ALL_TYPES)
    for code, title in events.items():
        assert CJK.search(title.zh) and not CJK.search(title.en), code
    for finding, title in ruleset.header.labels["finding"].items():
        assert CJK.search(title.zh) and not CJK.search(title.en), finding
    for name, spec in ruleset.specs.items():
        assert spec.title is not None and spec.reason_zh, name
        assert CJK.search(spec.title.zh) and not CJK.search(spec.title.en), name
        assert CJK.search(spec.reason_zh) and not re.search(r"[A-Za-z]", spec.reason_zh.replace("DNA", "")), name
        assert not CJK.search(re.sub(r"「[^」]*」", "", spec.reason)), name  # Chinese only as a quotation


@pytest.mark.parametrize("file,cut,message", [
    ("ruleset.yaml", "    child.found: {zh: 失踪儿童找回, en: Missing child found}\n", "labels.events.child.found: missing label"),
    ("ruleset.yaml", "    duties_unperformed: {zh: 未切实履行相关职责, en: Duties not effectively performed}\n",
     "labels.finding.duties_unperformed: missing label"),
    ("parameters.yaml", '  title: {zh: "前置核查期限", en: "precondition check period"}\n',
     "precondition_deadline.title: missing title"),
    ("parameters.yaml", "  reason_zh: 对须在登记或审批之前完成的核查的合理期限的解读；条文未规定时限。\n",
     "precondition_deadline.reason_zh: missing Chinese reason"),
])
def test_labels_are_required(tmp_path: Path, file: str, cut: str, message: str) -> None:
    target = tmp_path / "rs"
    shutil.copytree(DEFAULT_RULESET, target)
    path = target / file
    text = path.read_text(encoding="utf-8")
    assert cut in text
    path.write_text(text.replace(cut, ""), encoding="utf-8")
    with pytest.raises(RulesetError, match=re.escape(message)):
        load_ruleset(target)


def test_second_ruleset_explains_in_one_language() -> None:
    doc = json.loads(run("eval", str(YUNZHOU / "events.jsonl"), "--ruleset", str(YUNZHOU), "--as-of", "2024-02-22",
                         "--format", "json"))
    ruleset = load_ruleset(YUNZHOU)
    for item in doc["violations"] + doc["obligations"][:5]:
        zh = run("explain", item["id"], str(YUNZHOU / "events.jsonl"), "--ruleset", str(YUNZHOU), "--as-of", "2024-02-22",
                 "--lang", "zh")
        assert not [t for t in ALL_TYPES if t in zh] and not [n for n in ruleset.specs if n in zh], zh
        assert not ISO_DURATION.search(zh) and not ISO_INSTANT.search(zh), zh


def test_the_chinese_audit_csv_is_chinese() -> None:
    records = str(ROOT / "examples" / "unit-records.csv")
    zh = run("audit", records, "--as-of", "2024-04-10", "--format", "csv")
    rows = list(csv.reader(io.StringIO(zh)))
    assert rows[0] == ["单位", "事项", "条款", "期间", "对象", "期限", "状态", "履行时间", "督办问责"]
    assert not re.search(r"[A-Za-z]", zh) and not ISO_INSTANT.search(zh)  # no code, no English word, no ISO instant
    court = next(r for r in rows if r[0] == "区法院" and r[1] == "成员单位开展自我检查和评估" and r[3] == "2023年")
    assert court[2] == "第三十五条" and court[5] == "2023年12月31日 23:59" and court[6] == "逾期未履行"
    assert court[8] == "督办通知；通报批评（建议）；一票否决（建议）"
    assert {r[6] for r in rows[1:]} <= {"待履行", "已履行", "逾期履行", "逾期未履行", "事由消除"}
    en = run("audit", records, "--as-of", "2024-04-10", "--format", "csv", "--lang", "en")
    header = next(csv.reader(io.StringIO(en)))
    assert header[:4] == ["unit", "unit_name", "action", "duty"] and not CJK.search(en.split("\n", 1)[0])
    assert run("audit", records, "--as-of", "2024-04-10", "--format", "csv", "--excel").startswith("\ufeff单位,")


# a run of three or more words in Latin letters: an English phrase (codes such as
# report_deadline or child.returned_to_parents are one word each, and DNA, SPEC or Y+1 stand alone)
ENGLISH_PHRASE = re.compile(r"[A-Za-z][\w.'-]*(?:[ ,;:()]+[A-Za-z][\w.'-]*){2,}")


def shown_reading(rule_id: str, lang: str, *more: str) -> str:
    """The reading line of `rules show` in `lang` (its text after the label)."""
    text = run("rules", "show", rule_id, "--lang", lang, *more)
    line = next(x for x in text.splitlines() if x.startswith(("  reading:", "  解读：")))
    return line.split(":", 1)[1].strip() if lang == "en" else line.split("：", 1)[1].strip()


def test_every_reading_is_shown_in_the_language_asked_for() -> None:
    ruleset = load_ruleset()
    rules = [w.rule for w in ruleset.rules if w.rule.reading]
    assert len(rules) >= 25
    for rule in rules:
        zh, en = shown_reading(rule.id, "zh"), shown_reading(rule.id, "en")
        assert zh == rule.reading_zh and en == rule.reading, rule.id
        assert CJK.search(zh) and not ENGLISH_PHRASE.search(zh), (rule.id, zh)
        assert ENGLISH_PHRASE.search(en) and not CJK.search(re.sub(r"「[^」]*」", "", en)), (rule.id, en)  # Chinese only quoted
    assert not ENGLISH_PHRASE.search("依《刑法》第九十九条；自生效时间起经过指定联络员期限（liaison_deadline）到期，DNA比对")
    assert ENGLISH_PHRASE.search("due liaison_deadline after")


def test_a_rule_without_a_reading_shows_none() -> None:
    text = run("rules", "show", "art19.publish_tuanyuan_alert", "--lang", "zh")
    assert "  解读：" not in text and "  reading:" not in run("rules", "show", "art19.publish_tuanyuan_alert", "--lang", "en")


def test_the_reading_pair_is_in_the_rules_data() -> None:
    """Programs get both readings (`describe`, as /v1/rules serves it), never one in place of the other."""
    from oblige.engine.rules.catalogue import describe

    ruleset = load_ruleset()
    d = describe(ruleset.rule("art18.analyze_trafficking_situation"))
    assert d["reading"].startswith("「定期」 (regularly)") and d["reading_zh"].startswith("“定期”未明确周期")
    assert "reading" not in describe(ruleset.rule("art19.publish_tuanyuan_alert"))


@pytest.mark.parametrize("path", RULESETS, ids=["xunyang", "yunzhou"])
def test_readings_come_in_pairs(path: Path) -> None:
    for located in load_ruleset(path).rules:
        assert bool(located.rule.reading) == bool(located.rule.reading_zh), located.rule.id


def test_a_rule_is_shown_in_one_language() -> None:
    """Under zh the labels, the rule's kind and the words joining its parts are Chinese; the parts
    stay codes (events, fields, parameters, units, as the rule file spells them). en is English."""
    for located in load_ruleset().rules:
        zh = run("rules", "show", located.rule.id, "--lang", "zh")
        body = re.sub(r"\[[^\]]*\]", "", zh.split("\n", 1)[1])  # conditions are codes: age lt child_age_limit
        assert not ENGLISH_PHRASE.search(body), (located.rule.id, ENGLISH_PHRASE.search(body))
        assert "  条文：" in zh and "clause" not in zh, zh
        en = run("rules", "show", located.rule.id, "--lang", "en")
        lines = en.splitlines()
        assert lines[2].startswith("  clause:        ")  # the article's own words, quoted
        assert not CJK.search(re.sub(r"「[^」]*」", "", "\n".join(lines[:2] + lines[3:]))), en
    zh = run("rules", "show", "art10.investigate_illegal_employment", "--lang", "zh")
    assert "（第十条，义务）" in zh and "触发时间 + labor_investigation_deadline；发生 labor_case.extended 时延长一次" in zh
    en = run("rules", "show", "art10.investigate_illegal_employment", "--lang", "en")
    assert "(Art. 10, obligation)" in en and "trigger + labor_investigation_deadline; extended once by" in en
