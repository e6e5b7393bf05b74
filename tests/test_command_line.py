"""One command line: --out everywhere a document is written, a closed pipe ends quietly, explain
speaks --format table, rule tests filter and explain their failures, units files say where."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from oblige.cli import main
from tests.conftest import ROOT

EXAMPLE = str(ROOT / "examples" / "events.jsonl")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from oblige.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [
    ["eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "json"],
    ["eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "table", "--lang", "en"],
    ["explain", "vi-acca777f638bd086", EXAMPLE, "--as-of", "2023-12-31", "--format", "json"],
    ["schema", "findings"],
])
def test_out_writes_what_stdout_would(command: list[str], tmp_path: Path) -> None:
    printed = CliRunner().invoke(main, command)
    target = tmp_path / "out.txt"
    quiet = CliRunner().invoke(main, [*command, "--out", str(target)])
    assert printed.exit_code == quiet.exit_code == 0
    assert quiet.stdout == "" and target.read_text(encoding="utf-8") == printed.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary file left beside it


def test_out_is_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    target.write_text("the previous document\n", encoding="utf-8")
    failed = CliRunner().invoke(main, ["eval", str(tmp_path / "missing.jsonl"), "--as-of", "2023-12-31",
                                       "--format", "json", "--out", str(target)])
    assert failed.exit_code == 2 and "cannot read" in failed.stderr
    assert target.read_text(encoding="utf-8") == "the previous document\n"  # kept, not half-written
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_a_closed_pipe_ends_quietly() -> None:
    """`| head` closes the pipe: no traceback, and never exit 1 (the code of --fail-on-violation)."""
    script = (f"{sys.executable} -c 'from oblige.cli import main; main()' eval {EXAMPLE} --as-of 2023-12-31 "
              "--format json --fail-on-violation | head -c 10 > /dev/null; echo ${PIPESTATUS[0]}")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "0", done.stderr
    assert "Traceback" not in done.stderr and "Broken pipe" not in done.stderr


def test_explain_speaks_format_table_like_every_command() -> None:
    table = CliRunner().invoke(main, ["explain", "vi-acca777f638bd086", EXAMPLE, "--as-of", "2023-12-31",
                                      "--format", "table", "--lang", "en"])
    text = CliRunner().invoke(main, ["explain", "vi-acca777f638bd086", EXAMPLE, "--as-of", "2023-12-31",
                                     "--format", "text", "--lang", "en"])
    assert table.exit_code == 0 and table.stdout == text.stdout and "Art. 20" in table.stdout


def test_rules_test_filters_and_shows_what_differs(tmp_path: Path) -> None:
    copy = tmp_path / "rs"
    shutil.copytree(ROOT / "rulesets" / "xunyang_2022", copy)
    picked = CliRunner().invoke(main, ["rules", "test", "--ruleset", str(copy), "-k", "ART. 27", "-v"])
    assert picked.exit_code == 0
    assert all(line.startswith("ok ") for line in picked.stdout.splitlines()[:-1]) and "Art. 27" in picked.stdout
    assert picked.stdout.splitlines()[-1].endswith("passed, 0 failed")
    cases = copy / "tests" / "art-20-dna.yaml"
    text = cases.read_text(encoding="utf-8")
    wrong = text.replace("subject: k2, duty_bearer: public_security, status: fulfilled, fulfilled_by: e0}",
                         "subject: k2, duty_bearer: public_security, status: overdue, fulfilled_by: e0}")
    assert wrong != text
    cases.write_text(wrong, encoding="utf-8")
    failed = CliRunner().invoke(main, ["rules", "test", "--ruleset", str(copy), "-k", "art-20"])
    assert failed.exit_code == 1
    lines = failed.stdout.splitlines()
    near = [line.strip() for line in lines if line.strip().startswith("nearest ")]
    assert near and near[0].startswith("nearest ob-") and near[0].endswith("status: want 'overdue', got 'fulfilled'")
    assert not any("{'id'" in line for line in lines)  # no raw dicts of unrelated findings
    none = CliRunner().invoke(main, ["rules", "test", "--ruleset", str(copy), "-k", "no such case"])
    assert none.exit_code == 2 and "no case matches" in none.stderr


def test_a_malformed_units_file_says_where(tmp_path: Path) -> None:
    units = tmp_path / "units.yaml"
    units.write_text("members:\n  - {code: commerce, name_zh: 商务局, name_en: Commerce}\n  - {code: Bad-Code, name_zh: x}\n",
                     encoding="utf-8")
    done = CliRunner().invoke(main, ["eval", EXAMPLE, "--units", str(units), "--as-of", "2023-12-31", "--format", "json"])
    assert done.exit_code == 2 and "Traceback" not in done.stderr
    assert f"{units}:3: units_error: members.1.code: a unit code is lower-case" in done.stderr
    assert f"{units}:3: units_error: members.1.name_en: Field required" in done.stderr
    units.write_text("members: [commerce\n", encoding="utf-8")
    done = CliRunner().invoke(main, ["eval", EXAMPLE, "--units", str(units), "--as-of", "2023-12-31", "--format", "json"])
    assert done.exit_code == 2 and f"{units}:2: units_error: not valid YAML" in done.stderr
    assert json.loads(CliRunner().invoke(main, ["eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "json"]).stdout)
