"""Fixtures by cost: one compiled engine per test session; sessions are cheap."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oblige import Engine
from oblige.engine.rules.ruleset import DEFAULT_RULESET
from oblige.facts.reader import Accepted, Rejected, check_event

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.load()


@pytest.fixture(scope="session")
def ruleset_dir() -> Path:
    return DEFAULT_RULESET


def ev(id: str, type: str, at: str, unit: str, subject: str | None = None, **data: Any) -> dict[str, Any]:
    """A compact event builder for tests."""
    out: dict[str, Any] = {"id": id, "type": type, "occurred_at": at, "unit": unit, "data": data}
    if subject is not None:
        out["subject"] = subject
    return out


def verdicts(engine: Engine, events: list[dict[str, Any]]) -> list[Accepted | Rejected]:
    return [check_event(json.loads(json.dumps(e)), engine.ruleset.units, "test", n, "")
            for n, e in enumerate(events, start=1)]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it when the shared acceptance scenarios were not beside this checkout (their test skips)."""
    shared = ROOT.parent / "shared" / "examples"
    if not (shared / "check.py").exists():
        terminalreporter.write_line(f"NOTE: {shared} is not beside this checkout: the acceptance scenarios (the shared "
                                    "ones and tests/scenarios, which run through its check.py) were SKIPPED",
                                    yellow=True, bold=True)
