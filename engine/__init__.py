"""oblige: obligations, violations and escalations from event facts.

The embedding API: load a ruleset, build an `Engine`, open `Session`s, ask for `Findings`.
"""
from engine.errors import RuleError, RulesetError
from engine.findings import Escalation, Findings, Obligation, Violation
from engine.ruleset import Ruleset, load_ruleset
from engine.session import Engine, Session

__all__ = [
    "Engine", "Session", "Findings", "Obligation", "Violation", "Escalation",
    "Ruleset", "load_ruleset", "RuleError", "RulesetError",
]
