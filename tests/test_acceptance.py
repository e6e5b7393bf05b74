"""Acceptance scenarios run as a user runs them: the installed `oblige` command through the
shared `check.py` (when the shared folder is beside the checkout), on the shared examples and
on this project's own scenarios in tests/scenarios/."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SHARED = ROOT.parent / "shared" / "examples"
CHECK = SHARED / "check.py"


@pytest.mark.skipif(not CHECK.exists(), reason="../shared/examples/check.py is not beside this checkout")
@pytest.mark.skipif(shutil.which("oblige") is None, reason="the oblige command is not installed")
@pytest.mark.parametrize("scenario", sorted(SHARED.glob("*.json")) + sorted((ROOT / "tests" / "scenarios").glob("*.json")),
                         ids=lambda p: p.stem)
def test_scenario(scenario: Path) -> None:
    proc = subprocess.run([sys.executable, str(CHECK), str(scenario)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
