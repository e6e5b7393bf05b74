"""The README is tested: its first lines, its Python example, and every command it names."""
from __future__ import annotations

import os
import re
from pathlib import Path

from click.testing import CliRunner

from oblige.cli import main
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_first_lines_are_the_two_commands() -> None:
    block = README.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert block[0].startswith("pip install -e . && oblige eval examples/")
    assert block[1] == "pip install -e '.[test]' && python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e . && oblige eval examples/events.jsonl" in ci and block[1] in ci


def test_python_example_runs(tmp_path: Path) -> None:
    code = README.split("```python\n", 1)[1].split("```", 1)[0]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert (tmp_path / "example.db").exists()


def test_every_command_named_exists() -> None:
    named = set(re.findall(r"(?<!from )`?oblige ([a-z]+(?: (?:list|show|coverage|validate|test))?)", README))
    assert {"eval", "ingest", "findings", "audit", "explain", "serve", "rules list", "rules show",
            "rules coverage", "rules validate", "rules test"} <= named
    for command in named:
        result = CliRunner().invoke(main, [*command.split(), "--help"])
        assert result.exit_code == 0, command


def test_unit_level_example_says_what_the_engine_finds(tmp_path: Path) -> None:
    """The README's skipped self-inspection: notice by rule, measures proposed, then declined."""
    import json

    block = README.split("### A unit-level example", 1)[1].split("cat > plan.jsonl <<'JSON'\n", 1)[1].split("JSON\n", 1)[0]
    plan = tmp_path / "plan.jsonl"
    plan.write_text(block, encoding="utf-8")

    def commerce_2023(as_of: str) -> set[tuple[str, str, str, str]]:
        result = CliRunner().invoke(main, ["eval", str(plan), "--as-of", as_of, "--format", "json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        return {(e["level"], e["basis"], e["issued_by"], e["at"]) for e in doc["escalations"]
                if e["unit"] == "commerce" and e["period"] == "2023"}

    assert commerce_2023("2024-02-05") == {
        ("supervision_notice", "rule", "joint_conference_office", "2023-12-31T23:59:59+08:00"),
        ("public_criticism", "proposed", "political_legal", "2024-01-30T23:59:59+08:00"),
        ("one_vote_veto", "proposed", "political_legal", "2024-01-30T23:59:59+08:00")}
    assert {(lv, b) for lv, b, _, _ in commerce_2023("2024-04-01")} == {
        ("supervision_notice", "rule"), ("public_criticism", "declined"), ("one_vote_veto", "declined")}
    assert "2024-01-30T23:59:59+08:00" in README and "`declined`" in README
