"""The ruleset's own declarative cases (rulesets/xunyang_2022/tests/*.yaml), one test each."""
from __future__ import annotations

from pathlib import Path

import pytest

from oblige import Engine
from oblige.engine.rules.casetest import CaseRunner, load_cases
from oblige.engine.rules.ruleset import DEFAULT_RULESET

CASES = load_cases(DEFAULT_RULESET / "tests")


@pytest.fixture(scope="module")
def runner(engine: Engine) -> CaseRunner:
    return CaseRunner(engine)


@pytest.mark.parametrize("case", CASES, ids=[f"{Path(c.file).stem}:{c.line}" for c in CASES])
def test_case(runner: CaseRunner, case) -> None:
    problems = runner.run(case)
    assert not problems, f"{case.file}:{case.line}: {case.note}\n" + "\n".join(problems)


def _articles(engine: Engine, items: list) -> set[int]:
    found: set[int] = set()
    for item in items:
        if "article" in item:
            found.add(item["article"])
        if "rule" in item:
            found.add(int(item["rule"][3:5]))
        if "action" in item:
            found |= {w.article for w in engine.ruleset.rules if getattr(w.rule, "action", None) == item["action"]
                      and (item.get("rule") is None or w.rule.id == item["rule"])}
    return found


def test_every_encoded_article_has_a_positive_and_a_negative_case(engine: Engine) -> None:
    positive: set[int] = set()
    negative: set[int] = set()
    for case in CASES:
        for section, items in (case.body.get("want") or {}).items():
            if section != "summary":
                positive |= _articles(engine, items)
        for items in (case.body.get("absent") or {}).values():
            negative |= _articles(engine, items)
    encoded = {w.article for w in engine.ruleset.rules}
    assert encoded - positive == set(), "articles without a positive case"
    assert encoded - negative == set(), "articles without a negative case"
