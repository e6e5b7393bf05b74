"""The compiled engine: one ruleset with its parameters, on its own durable_rules host.

`Engine` compiles a ruleset once and matches partitions of facts (a subject's events, or a
unit's events with its calendar duties) in as few durable_rules calls as it can; sessions,
the batch runtime and the store evaluate through it. Several engines live in one process
without sharing state, and one engine serves several threads.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import IO, TYPE_CHECKING

from oblige.engine.core.compile import Pattern, compile_ruleset
from oblige.engine.core.findings import Findings
from oblige.engine.core.join import pair
from oblige.engine.core.lifecycle import Grouped
from oblige.engine.core.matcher import Matcher
from oblige.engine.core.periodic import Duty, generate_duties
from oblige.engine.rules.ruleset import Ruleset, load_ruleset
from oblige.facts.events import UNIT_PARTITION, Fact
from oblige.facts.reader import Accepted, Rejected

if TYPE_CHECKING:
    from oblige.engine.batch.early import EarlyParse
    from oblige.engine.batch.run import Written
    from oblige.engine.core.session import Session
    from oblige.engine.store.sql import Store

Partition = tuple[str, str]  # (UNIT_PARTITION, unit code) or (SUBJECT_PARTITION, subject id)
BATCH = 400  # facts per durable_rules session


def fact_dict(fact: Fact) -> dict[str, object]:
    """An event as a durable_rules fact: envelope plus data fields prefixed `d_` (nulls left out)."""
    out: dict[str, object] = {"k": "ev", "type": fact.type, "unit": fact.unit}
    if fact.subject is not None:
        out["subject"] = fact.subject
    else:
        out["about"] = fact.about or fact.unit  # whose unit duties it concerns (SPEC §2.1)
    for key, value in fact.data:
        if value is not None and value.__class__ is not tuple:  # lists are not matched on
            out[f"d_{key}"] = value
    return out



class Engine:
    """A compiled ruleset with its parameters and unit registry."""

    def __init__(self, ruleset: Ruleset):
        self.ruleset = ruleset
        self.params = ruleset.params
        compiled = compile_ruleset(ruleset)
        self._matcher = Matcher(compiled)
        self._patterns = compiled.patterns
        self.duties: dict[str, list[Duty]] = generate_duties(ruleset, self.params, compiled.periodic)
        ladder = ruleset.header.escalation
        self.decision_types = frozenset((ladder.determined_by, ladder.declined_by))  # the deciding body's events
        canonical = json.dumps(ruleset.params.raw, sort_keys=True, ensure_ascii=False)
        self.params_hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @classmethod
    def load(cls, path: str | None = None, params_file: str | None = None, units_file: str | None = None) -> Engine:
        return cls(load_ruleset(path, params_file, units_file))

    def session(self) -> Session:
        from oblige.engine.core.session import Session  # the session evaluates through this engine

        return Session(self)

    def evaluate(self, items: Iterable[Accepted | Rejected], as_of: int,
                 on_partitions: Callable[[int], None] | None = None) -> Findings:
        """One batch in memory: read everything, then evaluate as of `as_of` (`on_partitions`: as in
        `Session.findings`)."""
        session = self.session()
        session.add_all(items)
        return session.findings(as_of, on_partitions)

    def write_document(self, out: IO[str], as_of: int, *, paths: Sequence[str] | None = None,
                       store: Store | None = None, workers: int | None = None, early: EarlyParse | None = None,
                       on_partitions: Callable[[int], None] | None = None) -> Written:
        """Evaluate files or a store and write the findings document, choosing the path by size
        (in memory, or bounded memory on `workers` processes): see `oblige.engine.batch.run`."""
        from oblige.engine.batch.run import write_document

        return write_document(self, out, as_of, paths=paths, store=store, workers=workers, early=early,
                              on_partitions=on_partitions)

    def match(self, partitions: Sequence[tuple[Partition, Sequence[Fact]]]) -> dict[Partition, Grouped]:
        """Match several partitions in as few durable_rules calls as possible.

        Partitions share a durable_rules session up to BATCH facts: its rules test one fact each,
        so nothing matches across partitions, and one call per partition would cost far more than
        the matching itself. Each partition's facts are then paired by key (`core.join`).
        """
        out: dict[Partition, Grouped] = {}
        batch: list[dict[str, object]] = []
        owners: list[tuple[Partition, int]] = []  # batch position -> (partition, position in it)
        pending: dict[Partition, tuple[list[dict[str, object]], int, list[tuple[Pattern, int]]]] = {}
        patterns = self._patterns

        def flush() -> None:
            for name, position in self._matcher.match(batch):
                key, local = owners[position]
                pending[key][2].append((patterns[name], local))
            for key, (dicts, events, hits) in pending.items():
                out[key] = pair(hits, dicts, events)
            batch.clear()
            owners.clear()
            pending.clear()

        for key, facts in partitions:
            dicts = [fact_dict(f) for f in facts]
            if batch and len(batch) + len(dicts) > BATCH:
                flush()
            owners.extend((key, i) for i in range(len(dicts)))
            batch.extend(dicts)
            if key[0] == UNIT_PARTITION:  # the calendar duties: first facts of their rules, never asserted
                dicts = dicts + [d.as_fact() for d in self.duties.get(key[1], [])]
            pending[key] = (dicts, len(facts), [])
        if pending:
            flush()
        return out
