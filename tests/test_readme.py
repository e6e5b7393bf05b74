"""The README is tested: its first lines, its Python example, and every command it names."""
from __future__ import annotations

import os
import re
from contextlib import ExitStack
from pathlib import Path

import pytest
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


def _shell_blocks() -> list[tuple[int, str]]:
    """Every ```sh block of the README with its line, as a new user would paste it."""
    return [(README[:m.start()].count("\n") + 1, m.group(1)) for m in re.finditer(r"```sh\n(.*?)```", README, re.S)]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("line,block", _shell_blocks(), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_every_shell_block_runs_as_written(line: int, block: str, tmp_path: Path) -> None:
    """Run each block in a fresh folder holding the shipped examples. `pip install` lines are
    left out (the project is installed), and so is the block that runs this very test suite."""
    import shutil
    import subprocess

    if "python -m pytest" in block and not block.startswith("pip install -e . &&"):
        pytest.skip("the block that runs the test suite itself")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    script = "\n".join(cmd for cmd in block.splitlines() if not cmd.startswith("pip install -e '.["))
    script = script.replace("pip install -e . && ", "").replace("pip install -e '.[test]' && python -m pytest", "")
    cleanup = ExitStack()
    if "postgresql+psycopg://" in script:
        url = os.environ.get("OBLIGE_TEST_DB_URL")
        if not url:
            if os.environ.get("OBLIGE_REQUIRE_PG"):
                pytest.fail("OBLIGE_REQUIRE_PG is set but OBLIGE_TEST_DB_URL is not")
            pytest.skip("no PostgreSQL server for the README's PostgreSQL block (set OBLIGE_TEST_DB_URL)")
        from sqlalchemy import create_engine, text

        name = f"oblige_readme_{os.getpid()}_{line}"  # a fresh database, dropped afterwards
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()

        cleanup.callback(drop)
        script = re.sub(r"postgresql\+psycopg://\S+", url.rsplit("/", 1)[0] + f"/{name}", script)
    script = script.replace("8080", str(_free_port()))
    with cleanup:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                              timeout=180, env={**os.environ, "COLUMNS": "120"})
    assert done.returncode == 0, f"README line {line}:\n{script}\n--- stderr:\n{done.stderr[-2000:]}"
    if "--out report.html" in script:
        assert "<html" in (tmp_path / "report.html").read_text(encoding="utf-8")
    if "findings.json" in script:
        import json

        assert json.loads((tmp_path / "findings.json").read_text(encoding="utf-8"))["summary"]["events"] > 40
