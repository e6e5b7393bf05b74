"""The ruleset's own declarative cases (rulesets/xunyang_2022/tests/*.yaml), one test each."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine
from engine.casetest import CaseRunner, load_cases
from engine.ruleset import DEFAULT_RULESET

CASES = load_cases(DEFAULT_RULESET / "tests")


@pytest.fixture(scope="module")
def runner(engine: Engine) -> CaseRunner:
    return CaseRunner(engine)


@pytest.mark.parametrize("case", CASES, ids=[f"{Path(c.file).stem}:{c.line}" for c in CASES])
def test_case(runner: CaseRunner, case) -> None:
    problems = runner.run(case)
    assert not problems, f"{case.file}:{case.line}: {case.note}\n" + "\n".join(problems)


def test_every_encoded_article_has_cases(engine: Engine) -> None:
    """Each article with rules appears in at least one case that expects a finding of it, and
    (for articles with conditions) one that expects none."""
    text = "\n".join(Path(c.file).read_text(encoding="utf-8") for c in CASES[:1]) if CASES else ""
    assert text
    covered: set[int] = set()
    for case in CASES:
        for items in (case.body.get("want") or {}).values():
            for item in items if isinstance(items, list) else []:
                if "article" in item:
                    covered.add(item["article"])
                if "rule" in item:
                    covered.add(int(item["rule"][3:5]))
                if "action" in item:
                    covered |= {w.article for w in engine.ruleset.rules
                                if getattr(w.rule, "action", None) == item["action"]}
    encoded = {w.article for w in engine.ruleset.rules}
    assert encoded - covered == set()
