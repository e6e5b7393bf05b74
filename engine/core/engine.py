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
Content = tuple[str, str, tuple[tuple[str, object], ...]]  # what a pattern tests: type, unit, data (strictly typed)
MET = 20_000  # contents whose patterns are remembered (an engine forgets them all past this)
HELD = 4_000  # facts held before their partitions are paired


def fact_dict(fact: Fact) -> dict[str, object]:
    """An event as a durable_rules fact: its type, unit and data fields prefixed `d_` (nulls left
    out) — what patterns test; its subject or unit partition is where it is matched."""
    out: dict[str, object] = {"k": "ev", "type": fact.type, "unit": fact.unit}
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
        self._met: dict[Content, tuple[Pattern, ...]] = {}  # the patterns a fact of this content meets
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
        """Which pattern each fact meets, then each partition's pairs (`core.join`).

        A pattern tests a fact's type, unit and data only (strictly typed values: never 1 for True),
        so facts of the same content meet the same patterns. durable_rules is asked once per content
        (`_met` remembers up to MET of them), in sessions of up to BATCH facts: one call per fact or per
        partition would cost far more than the matching itself. 50k generated events hold 83 contents;
        matching them took 0.49-0.6 s of CPU, and takes 0.13 s.
        """
        out: dict[Partition, Grouped] = {}
        met, patterns = self._met, self._patterns
        asked: dict[Content, dict[str, object]] = {}  # one fact of each content durable_rules is to be asked about
        waiting: list[tuple[list[tuple[Pattern, int]], int, Content]] = []  # their partition's hits, position, content
        pending: list[tuple[Partition, list[dict[str, object]], int, list[tuple[Pattern, int]]]] = []
        held = 0

        def flush() -> None:
            contents, facts = list(asked), list(asked.values())
            found: list[list[Pattern]] = [[] for _ in facts]
            for start in range(0, len(facts), BATCH):
                for name, position in self._matcher.match(facts[start:start + BATCH]):
                    found[start + position].append(patterns[name])
            learned = {content: tuple(meets) for content, meets in zip(contents, found, strict=True)}
            for hits, local, content in waiting:
                for p in learned[content]:
                    hits.append((p, local))
            if len(met) + len(learned) > MET:  # (threads may share the engine: `met` is only ever added to or cleared)
                met.clear()
            met.update(learned)
            for key, dicts, events, hits in pending:
                out[key] = pair(hits, dicts, events)
            asked.clear()
            waiting.clear()
            pending.clear()

        for key, facts in partitions:
            dicts = [fact_dict(f) for f in facts]
            hits: list[tuple[Pattern, int]] = []
            for i, f in enumerate(facts):
                content = (f.type, f.unit, f.data)
                known = met.get(content)
                if known is None:
                    asked.setdefault(content, dicts[i])
                    waiting.append((hits, i, content))
                else:
                    for p in known:
                        hits.append((p, i))
            if key[0] == UNIT_PARTITION:  # the calendar duties: first facts of their rules, never asserted
                dicts += [d.as_fact() for d in self.duties.get(key[1], [])]
            pending.append((key, dicts, len(facts), hits))
            held += len(dicts)
            if len(asked) >= BATCH or held >= HELD:
                flush()
                held = 0
        flush()
        return out
