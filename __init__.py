"""oblige: obligations, violations and escalations from event facts.

The embedding API. Load a ruleset into an `Engine` (`Engine.load()`), open `Session`s and add
events read with `read_lines` / `read_files`, and ask for `Findings` as of an instant
(`parse_instant`); keep events in a `Store`. Names are imported on first use, so that
`import oblige` stays cheap and pulls in no database or web framework until asked.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_API: dict[str, str] = {
    "Engine": "oblige.engine.core.engine",
    "Session": "oblige.engine.core.session",
    "Findings": "oblige.engine.core.findings",
    "Obligation": "oblige.engine.core.findings",
    "Violation": "oblige.engine.core.findings",
    "Escalation": "oblige.engine.core.findings",
    "BatchEvaluator": "oblige.engine.batch.evaluator",
    "Ruleset": "oblige.engine.rules.ruleset",
    "load_ruleset": "oblige.engine.rules.ruleset",
    "RuleError": "oblige.engine.rules.errors",
    "RulesetError": "oblige.engine.rules.errors",
    "Store": "oblige.engine.store.sql",
    "StoreError": "oblige.engine.store.sql",
    "stored_items": "oblige.engine.store.sql",
    "read_lines": "oblige.facts.reader",
    "read_files": "oblige.facts.files",
    "InputError": "oblige.facts.files",
    "parse_instant": "oblige.facts.timeutil",
}
__all__ = [  # the same names as _API (a test holds them equal)
    "BatchEvaluator", "Engine", "Escalation", "Findings", "InputError", "Obligation", "RuleError", "Ruleset",
    "RulesetError", "Session", "Store", "StoreError", "Violation", "load_ruleset", "parse_instant", "read_files",
    "read_lines", "stored_items",
]

if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from oblige.engine.batch.evaluator import BatchEvaluator
    from oblige.engine.core.engine import Engine
    from oblige.engine.core.findings import Escalation, Findings, Obligation, Violation
    from oblige.engine.core.session import Session
    from oblige.engine.rules.errors import RuleError, RulesetError
    from oblige.engine.rules.ruleset import Ruleset, load_ruleset
    from oblige.engine.store.sql import Store, StoreError, stored_items
    from oblige.facts.files import InputError, read_files
    from oblige.facts.reader import read_lines
    from oblige.facts.timeutil import parse_instant


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'oblige' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
