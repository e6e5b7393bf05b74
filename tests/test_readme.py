"""The README is tested: its first lines, its Python example, and every command it names."""
from __future__ import annotations

import os
import re
from pathlib import Path

from click.testing import CliRunner

from cli import main
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
    named = set(re.findall(r"`?oblige ([a-z]+(?: (?:list|show|coverage|validate|test))?)", README))
    assert {"eval", "ingest", "findings", "audit", "explain", "serve", "rules list", "rules show",
            "rules coverage", "rules validate", "rules test"} <= named
    for command in named:
        result = CliRunner().invoke(main, [*command.split(), "--help"])
        assert result.exit_code == 0, command
