"""Parsing begun before the engine is loaded (engine/batch/early.py): the same document, a fallback
when the workers read with another registry, and errors that end the command as before."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oblige import Engine
from oblige.engine.batch.evaluator import BatchEvaluator
from oblige.engine.batch.run import parse_early
from oblige.facts.timeutil import parse_instant
from tests.conftest import ROOT

OBLIGE = [sys.executable, "-c", "from oblige.cli import main; main()"]
AS_OF = parse_instant("2024-01-05")


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("early") / "e.jsonl"
    with open(path, "w", encoding="utf-8") as out:  # over 2 MB: parsed on two workers
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--events", "16000"], stdout=out, check=True)
    return path


def plain(engine: Engine, path: Path) -> str:
    out = io.StringIO()
    BatchEvaluator(engine, 2).run_files([str(path)], AS_OF, out)
    return out.getvalue()


def test_begun_early_the_document_is_the_same(engine: Engine, events: Path) -> None:
    early = parse_early([str(events)], None, (None, None, None))
    assert early is not None
    with early:
        assert early.spills(engine.ruleset) is not None  # the workers read with this very registry
        out = io.StringIO()
        BatchEvaluator(engine, 2).run_files([str(events)], AS_OF, out, early=early)
    assert out.getvalue() == plain(engine, events)
    assert parse_early([str(events)], 0, (None, None, None)) is None  # in memory: nothing to begin
    assert parse_early([str(events)], 1, (None, None, None)) is None  # one worker would parse here, now


def test_another_registry_is_parsed_again(engine: Engine, events: Path, tmp_path: Path) -> None:
    units = tmp_path / "units.yaml"
    units.write_text("members:\n  - {code: public_security, name_zh: 公安, name_en: Police}\n", encoding="utf-8")
    with parse_early([str(events)], 2, (None, None, str(units))) as early:  # e.g. files changed in between
        assert early.spills(engine.ruleset) is None
        out = io.StringIO()
        BatchEvaluator(engine, 2).run_files([str(events)], AS_OF, out, early=early)
    assert out.getvalue() == plain(engine, events)


def test_a_ruleset_error_ends_the_command_and_leaves_nothing(events: Path, tmp_path: Path) -> None:
    units = tmp_path / "units.yaml"
    units.write_text("members: [commerce\n", encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run([*OBLIGE, "eval", str(events), "--units", str(units), "--as-of", "2024-01-05", "--format", "json"],
                          capture_output=True, text=True, env={**os.environ, "TMPDIR": str(scratch)})
    assert done.returncode == 2 and "units_error: not valid YAML" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not [p for p in scratch.iterdir() if p.name.startswith("oblige-")]  # no spill left behind


def test_leaving_on_a_failure_tells_the_workers(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that fails while parsing early (a worker died) hands the failure on to its workers, which
    then stop the others rather than wait for them: waiting hung about 1 run in 15 when the killed
    worker held the job queue's lock (the others block on it forever)."""
    from concurrent.futures.process import BrokenProcessPool

    from oblige.engine.batch.workers import Workers

    seen: list[object] = []
    leave = Workers.__exit__

    def recording(self: Workers, *exc: object) -> None:
        seen.append(exc[0])
        leave(self, *exc)

    monkeypatch.setattr(Workers, "__exit__", recording)
    early = parse_early([str(events)], 2, (None, None, None))
    assert early is not None
    with pytest.raises(BrokenProcessPool), early:
        raise BrokenProcessPool("a worker died")
    assert seen == [BrokenProcessPool]
