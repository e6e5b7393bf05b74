"""oblige: obligations, violations and escalations from event facts.

The embedding API: load a ruleset, build an `Engine`, open `Session`s (or run a
`BatchEvaluator`), read events with `read_lines`/`read_files`, keep them in a `Store`, and ask
for `Findings` as of an instant (`parse_instant`). Everything else is internal.
"""
from engine.batch import BatchEvaluator
from engine.errors import RuleError, RulesetError
from engine.findings import Escalation, Findings, Obligation, Violation
from engine.inputs import InputError, read_files
from engine.ruleset import Ruleset, load_ruleset
from engine.session import Engine, Session
from engine.store import Store, StoreError, stored_items
from facts.reader import read_lines
from facts.timeutil import parse_instant

__all__ = [
    "Engine", "Session", "BatchEvaluator", "Findings", "Obligation", "Violation", "Escalation",
    "Ruleset", "load_ruleset", "RuleError", "RulesetError", "Store", "StoreError", "stored_items",
    "read_lines", "read_files", "InputError", "parse_instant",
]
