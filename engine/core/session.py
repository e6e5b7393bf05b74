"""Engines and sessions: the embedding API.

`Engine` compiles a ruleset once (its own durable_rules host) and can open any number of
`Session`s. A session accumulates events in any order and in any batches and answers
"findings as of T"; the answer depends only on the set of events, the parameters and T.
Matching is cached per partition (subject or unit) and redone only where events arrived.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import threading
from collections.abc import Iterable
from typing import Literal

from oblige.engine.core.compile import compile_ruleset
from oblige.engine.core.escalation import Escalator, escalate
from oblige.engine.core.findings import (
    ENGINE_VERSION,
    Escalation,
    Findings,
    Obligation,
    Receipt,
    Rejection,
    Summary,
    Violation,
    basis_counts,
    status_counts,
)
from oblige.engine.rules.workdays import CALENDAR_NAME
from oblige.engine.core.lifecycle import Grouped, case_findings, duty_findings
from oblige.engine.core.matcher import Matcher
from oblige.engine.core.periodic import Duty, generate_duties
from oblige.engine.core.rows import EscalationRow, ObligationRow, ViolationRow, to_model
from oblige.engine.rules.ruleset import Ruleset, load_ruleset
from oblige.facts.events import Fact
from oblige.facts.reader import Accepted, Rejected

Partition = tuple[str, str]
BATCH = 400  # facts per durable_rules session
AddResult = Literal["new", "duplicate", "conflict"]


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


def _models(obligations: list[ObligationRow], violations: list[ViolationRow], escalations: list[EscalationRow]
            ) -> tuple[list[Obligation], list[Violation], list[Escalation]]:
    """Rows as models, each list in the SPEC's order (time, then id)."""
    return ([to_model(o) for o in sorted(obligations, key=lambda o: (o.triggered_at, o.id))],
            [to_model(v) for v in sorted(violations, key=lambda v: (v.at, v.id))],
            [to_model(e) for e in sorted(escalations, key=lambda e: (e.at, e.id))])


class Engine:
    """A compiled ruleset with its parameters and unit registry."""

    def __init__(self, ruleset: Ruleset):
        self.ruleset = ruleset
        self.params = ruleset.params
        compiled = compile_ruleset(ruleset)
        self._matcher = Matcher(compiled)
        self.cross_partition_matches = 0  # must stay 0 (tested); see match()
        self.duties: dict[str, list[Duty]] = generate_duties(ruleset, self.params, compiled.periodic)
        ladder = ruleset.header.escalation
        self.decision_types = frozenset((ladder.determined_by, ladder.declined_by))  # the deciding body's events
        canonical = json.dumps(ruleset.params.raw, sort_keys=True, ensure_ascii=False)
        self.params_hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @classmethod
    def load(cls, path: str | None = None, params_file: str | None = None, units_file: str | None = None) -> "Engine":
        return cls(load_ruleset(path, params_file, units_file))

    def session(self) -> "Session":
        return Session(self)

    def evaluate(self, items: Iterable[Accepted | Rejected], as_of: int) -> Findings:
        """One batch: read everything, then evaluate as of `as_of`."""
        session = self.session()
        session.add_all(items)
        return session.findings(as_of)

    def match(self, partitions: list[tuple[Partition, list[Fact]]]) -> dict[Partition, Grouped]:
        """Match several partitions in as few durable_rules calls as possible.

        Partitions share a durable_rules session up to BATCH facts: every join of the compiled
        rules requires the same subject (or the same unit), so they cannot match across
        partitions, and one call per partition would cost far more than the matching itself.
        """
        out: dict[Partition, Grouped] = {}
        batch: list[dict[str, object]] = []
        owners: list[tuple[Partition, int]] = []  # batch position -> (partition, position in it)
        pending: list[Partition] = []

        def flush() -> None:
            for key in pending:
                out[key] = Grouped()
            for tag, rule, first, second in self._matcher.match(batch):
                key, local = owners[first]
                if second >= 0 and owners[second][0] != key:
                    # every join requires the same subject or unit; a match across partitions is
                    # a matcher fault: never let it fulfil another subject's duty
                    self.cross_partition_matches += 1
                    continue
                out[key].add(tag, rule, local, owners[second][1] if second >= 0 else -1)
            batch.clear()
            owners.clear()
            pending.clear()

        for key, facts in partitions:
            dicts = [fact_dict(f) for f in facts]
            if key[0] == "u":
                dicts += [d.as_fact() for d in self.duties.get(key[1], [])]
            if batch and len(batch) + len(dicts) > BATCH:
                flush()
            owners.extend((key, i) for i in range(len(dicts)))
            batch.extend(dicts)
            pending.append(key)
        if pending:
            flush()
        return out


class Session:
    """Events accumulated so far, and findings as of any instant. Thread-safe."""

    def __init__(self, engine: Engine):
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

    def findings_for(self, subject: str, as_of: int) -> Findings:
        """One subject's obligations, violations and their notices and criticism, at `as_of`.

        Only that subject's partition is matched and evaluated, so an embedded service can add an
        event and read back its consequences in constant time (vetoes are per unit and year: they
        are in `findings`)."""
        engine, rs, key = self.engine, self.engine.ruleset, ("s", subject)
        with self._lock:
            if key in self._parts:
                self._refresh([key])
                obligations, violations = case_findings(rs, engine.params, self._parts[key], self._cache[key], as_of)
            else:
                obligations, violations = [], []
        escalator = Escalator(rs.header.escalation, engine.params, rs.units, as_of, self._decisions)
        escalations = [e for v in violations for e in escalator.add(v)]
        obligations, violations, escalations = _models(obligations, violations, escalations)
        status = status_counts(obligations) | basis_counts(escalations)
        summary = Summary(events=len(self._parts.get(key, [])), duplicates=0, rejected=0, before_effective=0,
                          after_as_of=sum(1 for f in self._parts.get(key, []) if f.at > as_of),
                          obligations=len(obligations), violations=len(violations), escalations=len(escalations),
                          filtered={"subject": subject}, **status)
        return Findings(ruleset=rs.name, as_of=as_of, summary=summary, obligations=obligations, violations=violations,
                        escalations=escalations, rejected=[])

    def findings(self, as_of: int) -> Findings:
        engine = self.engine
        rs = engine.ruleset
        with self._lock:
            obligations: list[ObligationRow] = []
            violations: list[ViolationRow] = []
            keys = sorted(set(self._parts) | {("u", unit) for unit in engine.duties})
            self._refresh(keys)
            for key in keys:
                facts, grouped = self._parts[key], self._cache[key]
                obs, vis = case_findings(rs, engine.params, facts, grouped, as_of)
                obligations += obs
                violations += vis
                if key[0] == "u" and key[1] in engine.duties:
                    obs, vis = duty_findings(rs, facts, engine.duties[key[1]], grouped, as_of)
                    obligations += obs
                    violations += vis
            escalations = escalate(violations, self._decisions, rs.header.escalation, engine.params, rs.units, as_of)
            if not self._times_sorted:
                self._times.sort()
                self._times_sorted = True
            after = len(self._times) - bisect.bisect_right(self._times, as_of)
            rejected = list(self.rejected)  # in reading order: files as given, lines in order
        obligations, violations, escalations = _models(obligations, violations, escalations)
        status = status_counts(obligations) | basis_counts(escalations)
        summary = Summary(events=self.events, duplicates=self.duplicates, rejected=len(rejected),
                          before_effective=self.before_effective, after_as_of=after, obligations=len(obligations),
                          violations=len(violations), escalations=len(escalations), **status)
        receipt = Receipt(engine_version=ENGINE_VERSION, ruleset=rs.name, ruleset_hash=rs.content_hash,
                          params_hash=engine.params_hash, events_hash=self.events_hash(), as_of=as_of,
                          calendar=CALENDAR_NAME)
        return Findings(ruleset=rs.name, as_of=as_of, summary=summary, obligations=obligations,
                        violations=violations, escalations=escalations, rejected=rejected, receipt=receipt)
