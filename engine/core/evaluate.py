"""The partition evaluator: the one place where matched partitions become findings.

A partition is one subject's events, or one unit's events with its calendar duties. The
in-memory session, the bounded-memory batch (one evaluator per worker) and the store all run
partitions through `PartitionEvaluator`; it keeps the counts and the escalator's veto proposals,
which merge across workers, and `document.finish` completes the ladder once.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from oblige.engine.core.engine import Engine, Partition
from oblige.engine.core.escalation import Escalator, VetoCandidate
from oblige.engine.core.lifecycle import Grouped, case_findings, duty_findings
from oblige.engine.core.rows import EscalationRow, ObligationRow, ViolationRow
from oblige.facts.events import UNIT_PARTITION, Fact


@dataclass
class Tally:
    """Counts of findings by status and basis; tallies of several workers add up."""

    status: Counter[str] = field(default_factory=Counter)
    basis: Counter[str] = field(default_factory=Counter)
    violations: int = 0
    escalations: int = 0

    def count(self, obligations: Iterable[ObligationRow], violations: Sequence[ViolationRow],
              escalations: Sequence[EscalationRow]) -> None:
        self.status.update(o.status for o in obligations)
        self.basis.update(e.basis for e in escalations)
        self.violations += len(violations)
        self.escalations += len(escalations)

    def merge(self, other: Tally) -> None:
        self.status.update(other.status)
        self.basis.update(other.basis)
        self.violations += other.violations
        self.escalations += other.escalations


@dataclass
class Rows:
    obligations: list[ObligationRow]
    violations: list[ViolationRow]
    escalations: list[EscalationRow]


class PartitionEvaluator:
    """Evaluates partitions as of one instant, noting what the escalation ladder needs."""

    def __init__(self, engine: Engine, as_of: int, decisions: Iterable[Fact]):
        rs = engine.ruleset
        self.engine, self.as_of = engine, as_of
        self.escalator = Escalator(rs.header.escalation, engine.params, rs.units, as_of, decisions)
        self.tally = Tally()

    @property
    def vetoes(self) -> dict[tuple[str, int], VetoCandidate]:
        return self.escalator.vetoes

    def evaluate(self, partitions: Sequence[tuple[Partition, Sequence[Fact]]],
                 grouped: dict[Partition, Grouped] | None = None) -> Rows:
        """Findings of these partitions, each partition's facts sorted by (time, id).

        `grouped` are their matches where already known (a session caches them); otherwise the
        partitions are matched here, in as few durable_rules calls as the engine allows."""
        engine, rs = self.engine, self.engine.ruleset
        matches = grouped if grouped is not None else engine.match(partitions)
        rows = Rows([], [], [])
        for key, facts in partitions:
            g = matches[key]
            obs, vis = case_findings(rs, engine.params, facts, g, self.as_of)
            if key[0] == UNIT_PARTITION and key[1] in engine.duties:
                more_obs, more_vis = duty_findings(rs, facts, engine.duties[key[1]], g, self.as_of)
                obs += more_obs
                vis += more_vis
            rows.obligations += obs
            rows.violations += vis
            for v in vis:
                rows.escalations += self.escalator.add(v)
        self.tally.count(rows.obligations, rows.violations, rows.escalations)
        return rows
