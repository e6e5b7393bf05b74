"""Every human-facing code has a Chinese and an English label; JSON keeps codes."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from oblige import Engine, RulesetError, load_ruleset
from oblige.cli import main
from oblige.engine.render.labels import LEVELS, escalation_label, labels
from oblige.engine.rules.ruleset import DEFAULT_RULESET
from tests.conftest import ROOT

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_code_has_a_label(engine: Engine, lang: str) -> None:
    lab = labels(engine.ruleset, lang)
    codes = set(engine.ruleset.units.codes)
    assert set(lab["units"]) >= codes
    assert set(lab["actions"]) == {w.rule.action for w in engine.ruleset.rules if hasattr(w.rule, "action")}
    assert set(lab["status"]) == {"open", "fulfilled", "fulfilled_late", "overdue", "discharged"}
    assert set(lab["kind"]) == {"overdue", "precondition", "prohibited", "breach"}
    assert set(lab["level"]) == set(LEVELS)
    assert set(lab["basis"]) == {"rule", "proposed", "determined", "declined"}
    for group in ("units", "actions", "rules", "status", "kind", "level", "basis"):
        for code, text in lab[group].items():
            assert text.strip(), (group, code)
            assert bool(CJK.search(text)) == (lang == "zh"), (group, code, text)


def test_levels_read_as_officials_write_them(engine: Engine) -> None:
    assert labels(engine.ruleset, "zh")["level"] == {"supervision_notice": "督办通知", "public_criticism": "通报批评",
                                                     "one_vote_veto": "一票否决"}
    assert labels(engine.ruleset, "zh")["status"]["discharged"] == "事由消除"


@pytest.mark.parametrize("lang,level,basis,text", [
    ("zh", "one_vote_veto", "proposed", "一票否决（建议）"), ("zh", "one_vote_veto", "determined", "一票否决（决定）"),
    ("zh", "public_criticism", "declined", "通报批评（未采纳）"), ("zh", "supervision_notice", "rule", "督办通知"),
    ("en", "one_vote_veto", "proposed", "One-vote veto (proposed)"),
    ("en", "public_criticism", "determined", "Public criticism (determined)"),
])
def test_a_proposal_never_reads_like_a_decision(engine: Engine, lang: str, level: str, basis: str, text: str) -> None:
    assert escalation_label(labels(engine.ruleset, lang), level, basis, lang) == text


@pytest.mark.parametrize("line", ["    discharged: {zh: 事由消除, en: Discharged}\n", "    proposed: {zh: 建议, en: Proposed}\n",
                                  "    declined: {zh: 未采纳, en: Declined}\n"])
def test_revision_2_labels_are_required(tmp_path: Path, line: str) -> None:
    target = tmp_path / "rs"
    shutil.copytree(DEFAULT_RULESET, target)
    header = target / "ruleset.yaml"
    text = header.read_text(encoding="utf-8")
    assert line in text
    header.write_text(text.replace(line, ""), encoding="utf-8")
    group = "status" if "discharged" in line else "basis"
    with pytest.raises(RulesetError, match=rf"labels.{group}.{line.split(':')[0].strip()}: missing label"):
        load_ruleset(target)


def test_missing_label_fails_validation(tmp_path: Path) -> None:
    target = tmp_path / "rs"
    shutil.copytree(DEFAULT_RULESET, target)
    header = target / "ruleset.yaml"
    header.write_text(header.read_text(encoding="utf-8").replace("    breach: {zh: 履职不当, en: Improper fulfilment}\n", ""),
                      encoding="utf-8")
    with pytest.raises(RulesetError, match="labels.kind.breach: missing label"):
        load_ruleset(target)
    rule = target / "rules" / "art-10.yaml"
    text, n = re.subn(r"title: \{zh: [^,]+, en:", "title: {en:", rule.read_text(encoding="utf-8"), count=1)
    assert n == 1
    rule.write_text(text, encoding="utf-8")
    with pytest.raises(RulesetError, match=r"art-10.yaml:\d+: rule_schema_error: art10.open_labor_case: rules.0.title.zh"):
        load_ruleset(target)


def test_json_keeps_codes_and_labels_are_optional() -> None:
    example = str(ROOT / "examples" / "events.jsonl")
    plain = json.loads(CliRunner().invoke(main, ["eval", example, "--as-of", "2023-12-31", "--format", "json"]).stdout)
    assert "labels" not in plain and not CJK.search(json.dumps(plain["escalations"], ensure_ascii=False))
    labelled = json.loads(CliRunner().invoke(main, ["eval", example, "--as-of", "2023-12-31", "--format", "json", "--labels"]).stdout)
    assert labelled["labels"]["lang"] == "zh" and labelled["labels"]["units"]["civil_affairs"] == "区民政局"
    assert labelled["obligations"] == plain["obligations"]
