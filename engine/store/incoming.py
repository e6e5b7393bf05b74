"""An accepted event as the store writes it: plain values, cheap to pass between processes.

The reader's verdict carries a validated `Fact`; what the store writes of it — the canonical body,
the partition, the digest — is computed here, once. Plain tuples cross a process boundary twenty
times as cheaply as the verdicts (measured: 0.2 s to unpickle 200,000 of them, against 1.6 s for
the verdicts), so a reading process (`store.ahead`) can do this part of storing while the storing
process writes.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from oblige.facts.reader import Accepted, Rejected, canonical


class Incoming(NamedTuple):
    id: str
    digest: str  # hex: tells a repeat from a conflict
    type: str
    at: int
    unit: str
    subject: str | None
    body: str  # the validated event, canonical JSON (never the raw line)
    file: str
    line: int
    part: str  # the partition, as stored
    raw: str  # the line as read (shown if it conflicts with a stored event)


def part_of(partition: tuple[str, str]) -> str:
    """A partition as stored: "subject:<id>" or "unit:<code>"."""
    return f"{partition[0]}:{partition[1]}"


def incoming(item: Accepted) -> Incoming:
    f = item.fact
    return Incoming(f.id, item.digest.hex(), f.type, f.at, f.unit, f.subject, canonical(f), item.file, item.line,
                    part_of(f.partition), item.raw)


def prepared(items: Iterable[Accepted | Rejected | Incoming]) -> Iterator[Incoming | Rejected]:
    """Verdicts with each accepted event as the store writes it."""
    for item in items:
        yield incoming(item) if isinstance(item, Accepted) else item


def split_repeats(batch: Iterable[Incoming]) -> tuple[dict[str, Incoming], list[Incoming]]:
    """The first occurrence of each id in a batch, and the later occurrences in reading order."""
    first: dict[str, Incoming] = {}
    later: list[Incoming] = []
    for item in batch:
        if item.id in first:
            later.append(item)
        else:
            first[item.id] = item
    return first, later
