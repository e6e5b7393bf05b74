"""Sessions: events accumulated in any order and any batches, and findings as of any instant.

The answer depends only on the set of events, the parameters and the instant. Matching is
cached per partition (subject or unit) and redone only where events arrived; evaluation runs
through the shared partition evaluator and document builder (`core.evaluate`, `core.document`),
as the batch runtime and the store do.
"""
from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Callable, Iterable
from typing import IO, Literal

from oblige.engine.core import document
from oblige.engine.core.engine import Engine, Partition
from oblige.engine.core.evaluate import PartitionEvaluator, Rows, Tally
from oblige.engine.core.findings import Findings, Receipt, Rejection, Summary
from oblige.engine.core.lifecycle import Grouped
from oblige.engine.core.rows import row_json, to_model
from oblige.facts.events import SUBJECT_PARTITION, UNIT_PARTITION, Fact
from oblige.facts.reader import Accepted, Rejected

AddResult = Literal["new", "duplicate", "conflict"]
PROGRESS_STEP = 2000  # partitions evaluated between two calls of a progress callback


def _sorted(rows: Rows) -> Rows:
    """Each list in the SPEC's order: obligations by triggered_at, the others by at; then by id."""
    return Rows(sorted(rows.obligations, key=lambda o: (o.triggered_at, o.id)),
                sorted(rows.violations, key=lambda v: (v.at, v.id)),
                sorted(rows.escalations, key=lambda e: (e.at, e.id)))


class Session:
    """Events accumulated so far, and findings as of any instant. Thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.RLock()
        self._digests: dict[str, bytes] = {}
        self._parts: dict[Partition, list[Fact]] = {}
        self._cache: dict[Partition, Grouped] = {}
        self._times: list[int] = []  # occurred_at of every distinct valid event
        self._times_sorted = True
        self._decisions: list[Fact] = []  # the deciding body's events (SPEC §3.4), for the ladder
        self.duplicates = 0
        self.before_effective = 0
        self.rejected: list[Rejection] = []

    @property
    def events(self) -> int:
        return len(self._digests)

    def facts(self) -> dict[str, Fact]:
        """Every effective event by id (for explanations; built on demand)."""
        with self._lock:
            return {f.id: f for part in self._parts.values() for f in part}

    def events_hash(self) -> str:
        """Hash of the canonical set of valid events: the same set gives the same hash, in any order."""
        with self._lock:
            digest = hashlib.sha256()
            for item in sorted(self._digests.items()):
                digest.update(item[0].encode("utf-8") + b"\x00" + item[1])
            return digest.hexdigest()

    def add(self, item: Accepted | Rejected) -> AddResult | Literal["rejected"]:
        """Add one reader verdict. The first content seen for an id wins; a different one is rejected."""
        with self._lock:
            if isinstance(item, Rejected):
                self.rejected.append(Rejection(file=item.file, line=item.line, id=item.id, error=item.error))
                return "rejected"
            fact = item.fact
            known = self._digests.get(fact.id)
            if known is not None:
                if known == item.digest:
                    self.duplicates += 1
                    return "duplicate"
                self.rejected.append(Rejection(file=item.file, line=item.line, id=fact.id,
                                               error="conflicting duplicate id: differs from the event first read with this id"))
                return "conflict"
            self._digests[fact.id] = item.digest
            self._times.append(fact.at)
            self._times_sorted = False
            if fact.at < self.engine.ruleset.effective:
                self.before_effective += 1
                return "new"  # counted, and otherwise ignored
            if fact.type in self.engine.decision_types:
                self._decisions.append(fact)
            key = fact.partition
            self._parts.setdefault(key, []).append(fact)
            self._cache.pop(key, None)
            return "new"

    def add_all(self, items: Iterable[Accepted | Rejected]) -> None:
        for item in items:
            self.add(item)

    def _refresh(self, keys: list[Partition]) -> None:
        """Match every partition that changed since it was last matched."""
        stale = [k for k in keys if k not in self._cache]
        for key in stale:
            self._parts.setdefault(key, []).sort(key=lambda f: (f.at, f.id))
        self._cache.update(self.engine.match([(k, self._parts[k]) for k in stale]))

    def _evaluate(self, keys: list[Partition], as_of: int,
                  on_partitions: Callable[[int], None] | None = None) -> tuple[Rows, PartitionEvaluator]:
        """Findings of these partitions (matched where stale) and the evaluator that made them;
        `on_partitions` is told how many are done after each `PROGRESS_STEP` of them."""
        evaluator = PartitionEvaluator(self.engine, as_of, self._decisions)
        step = PROGRESS_STEP if on_partitions is not None else max(1, len(keys))
        rows = Rows([], [], [])
        for start in range(0, len(keys), step):  # in order: the escalator sees violations as in one pass
            chunk = keys[start:start + step]
            self._refresh(chunk)
            done = evaluator.evaluate([(k, self._parts.get(k, [])) for k in chunk],
                                      {k: self._cache.get(k, Grouped()) for k in chunk})
            rows.obligations += done.obligations
            rows.violations += done.violations
            rows.escalations += done.escalations
            if on_partitions is not None:
                on_partitions(start + len(chunk))
        return rows, evaluator

    def findings_for(self, subject: str, as_of: int) -> Findings:
        """One subject's obligations, violations and their notices and criticism, at `as_of`.

        Only that subject's partition is matched and evaluated, so an embedded service can add an
        event and read back its consequences in constant time (vetoes are per unit and year: they
        are in `findings`)."""
        key = (SUBJECT_PARTITION, subject)
        with self._lock:
            known = key in self._parts
            rows, evaluator = self._evaluate([key] if known else [], as_of)
            facts = self._parts.get(key, [])
            read = document.InputCounts(events=len(facts), duplicates=0, rejected=0, before_effective=0,
                                        after_as_of=sum(1 for f in facts if f.at > as_of))
        return self._document(_sorted(rows), evaluator.tally, read, [], None, as_of, {"subject": subject})

    def _collect(self, as_of: int, on_partitions: Callable[[int], None] | None = None,
                 ) -> tuple[Rows, Tally, document.InputCounts, list[Rejection], Receipt]:
        """Every partition evaluated and the ladder finished: the document's parts, as rows."""
        engine = self.engine
        with self._lock:
            keys = sorted(set(self._parts) | {(UNIT_PARTITION, unit) for unit in engine.duties})
            rows, evaluator = self._evaluate(keys, as_of, on_partitions)
            finals = document.finish(engine, as_of, self._decisions, [evaluator.vetoes], evaluator.tally)
            rows.escalations += finals
            if not self._times_sorted:
                self._times.sort()
                self._times_sorted = True
            read = document.InputCounts(events=self.events, duplicates=self.duplicates, rejected=len(self.rejected),
                                        before_effective=self.before_effective,
                                        after_as_of=len(self._times) - bisect.bisect_right(self._times, as_of))
            rejected = list(self.rejected)  # in reading order: files as given, lines in order
            stamp = document.receipt(engine, self.events_hash(), as_of)
        return _sorted(rows), evaluator.tally, read, rejected, stamp

    def findings(self, as_of: int, on_partitions: Callable[[int], None] | None = None) -> Findings:
        """Every finding as of `as_of`; `on_partitions`, if given, is told the number of partitions
        evaluated so far as they are (for a progress display)."""
        rows, tally, read, rejected, stamp = self._collect(as_of, on_partitions)
        return self._document(rows, tally, read, rejected, stamp, as_of, None)

    def write_document(self, out: IO[str], as_of: int,
                       on_partitions: Callable[[int], None] | None = None) -> tuple[Summary, list[Rejection]]:
        """The findings document as of `as_of`, written as JSON without building a model per finding."""
        rows, tally, read, rejected, stamp = self._collect(as_of, on_partitions)
        head = document.summary(read, tally)
        document.write(out, self.engine.ruleset.name, as_of, head, map(row_json, rows.obligations),
                       map(row_json, rows.violations), map(row_json, rows.escalations),
                       (r.model_dump_json() for r in rejected), stamp)
        return head, rejected

    def _document(self, rows: Rows, tally: Tally, read: document.InputCounts, rejected: list[Rejection],
                  stamp: Receipt | None, as_of: int, filtered: dict[str, str | int] | None) -> Findings:
        return Findings(ruleset=self.engine.ruleset.name, as_of=as_of, summary=document.summary(read, tally, filtered),
                        obligations=[to_model(o) for o in rows.obligations],
                        violations=[to_model(v) for v in rows.violations],
                        escalations=[to_model(e) for e in rows.escalations], rejected=rejected, receipt=stamp)
