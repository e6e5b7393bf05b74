"""The findings document of SPEC §4: the ladder finished once, the summary, the receipt, the JSON.

Every path that produces a document — the in-memory session, the bounded-memory batch, the
store — ends here: `finish` completes the escalation ladder from the partitions' notes (one
evaluator, or several workers' merged), `summary` and `receipt` build the header, and `write`
is the only writer of the document's JSON text. It streams: each list is written from an
iterator of item texts (one finding per line), so a document of any size passes through in
bounded memory, and the same findings give the same bytes whatever the path.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from oblige.engine.core.engine import Engine
from oblige.engine.core.escalation import Escalator, VetoCandidate
from oblige.engine.core.evaluate import Tally
from oblige.engine.core.findings import BASES, ENGINE_VERSION, STATUSES, Findings, Receipt, Summary
from oblige.engine.core.rows import EscalationRow
from oblige.engine.rules.workdays import CALENDAR_NAME
from oblige.facts.events import Fact
from oblige.facts.timeutil import format_instant

CHUNK = 2000  # items per write


@dataclass
class InputCounts:
    """What was read: distinct valid events, exact repeats, rejections, and those outside the evaluation."""

    events: int
    duplicates: int
    rejected: int
    before_effective: int
    after_as_of: int


def finish(engine: Engine, as_of: int, decisions: Iterable[Fact], vetoes: Iterable[dict[tuple[str, int], VetoCandidate]],
           tally: Tally) -> list[EscalationRow]:
    """The escalations that need every partition: determined measures and one veto per (unit, year).

    `vetoes` are the proposals noted by each evaluator (one, or one per worker); `tally` counts
    the returned escalations too."""
    rs = engine.ruleset
    escalator = Escalator(rs.header.escalation, engine.params, rs.units, as_of, decisions)
    for notes in vetoes:
        for key, candidate in notes.items():
            escalator.note_veto(key, candidate)
    finals = sorted(escalator.finish(), key=lambda e: (e.at, e.id))
    tally.count((), (), finals)
    return finals


def summary(read: InputCounts, tally: Tally, filtered: dict[str, str | int] | None = None) -> Summary:
    return Summary(events=read.events, duplicates=read.duplicates, rejected=read.rejected,
                   before_effective=read.before_effective, after_as_of=read.after_as_of,
                   obligations=sum(tally.status[s] for s in STATUSES), violations=tally.violations,
                   escalations=tally.escalations, filtered=filtered,
                   **{s: tally.status[s] for s in STATUSES}, **{b: tally.basis[b] for b in BASES})


def receipt(engine: Engine, events_hash: str, as_of: int) -> Receipt:
    rs = engine.ruleset
    return Receipt(engine_version=ENGINE_VERSION, ruleset=rs.name, ruleset_hash=rs.content_hash,
                   params_hash=engine.params_hash, events_hash=events_hash, as_of=as_of, calendar=CALENDAR_NAME)


def _write_list(out: IO[str], name: str, items: Iterator[str]) -> None:
    out.write(f',\n "{name}": [')
    lead = "\n  "
    for chunk in iter(lambda: list(itertools.islice(items, CHUNK)), []):
        out.write(lead + ",\n  ".join(chunk))
        lead = ",\n  "
    out.write("\n ]")


def write(out: IO[str], ruleset: str, as_of: int, head: Summary, obligations: Iterable[str],
          violations: Iterable[str], escalations: Iterable[str], rejected: Iterable[str],
          stamp: Receipt | None, extra: dict[str, object] | None = None) -> None:
    """The document's JSON text: header, then each list from its items' JSON texts, in order.

    `extra` adds top-level members after the receipt (the `labels` object of `--labels`)."""
    out.write('{\n "ruleset": ' + json.dumps(ruleset) + ',\n "as_of": ' + json.dumps(format_instant(as_of)))
    out.write(',\n "summary": ' + head.model_dump_json(exclude_none=True))
    _write_list(out, "obligations", iter(obligations))
    _write_list(out, "violations", iter(violations))
    _write_list(out, "escalations", iter(escalations))
    _write_list(out, "rejected", iter(rejected))
    if stamp is not None:
        out.write(',\n "receipt": ' + stamp.model_dump_json())
    for key, value in (extra or {}).items():
        out.write(f',\n {json.dumps(key)}: ' + json.dumps(value, ensure_ascii=False))
    out.write("\n}\n")


def write_findings(out: IO[str], findings: Findings, extra: dict[str, object] | None = None) -> None:
    """An in-memory document, written exactly as the streaming paths write theirs."""
    write(out, findings.ruleset, findings.as_of, findings.summary,
          (o.model_dump_json() for o in findings.obligations), (v.model_dump_json() for v in findings.violations),
          (e.model_dump_json() for e in findings.escalations), (r.model_dump_json() for r in findings.rejected),
          findings.receipt, extra)
