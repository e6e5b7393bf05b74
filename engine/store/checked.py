"""Which stored events were accepted by which reader (`facts.trusted.reader_stamp`).

An ingest writes each batch of events in one transaction, under the writers' lock, with the
consecutive seqs after the last stored: it notes that range under its reader's stamp in
`oblige_meta`, in that transaction (adjacent ranges joined: one ingest is one range). The keeper
reads the ranges of its own reader's stamp and takes the events in them straight from their
bodies (`facts.trusted.from_canonical`); every other event is validated again.
"""
from __future__ import annotations

from bisect import bisect_right

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from oblige.engine.store.sql import META

PREFIX = "checked:"  # oblige_meta key of a reader stamp's ranges


def ranges(conn: Connection, stamp: str) -> list[tuple[int, int]]:
    """The seq ranges [first, last] stored under `stamp`, in order."""
    text = conn.execute(select(META.c.value).where(META.c.key == PREFIX + stamp)).scalar()
    if not text:
        return []
    return [(int(a), int(b)) for a, _, b in (r.partition("-") for r in text.split(","))]


def note(conn: Connection, stamp: str, first: int, last: int) -> None:
    """In the caller's (the batch's) transaction: seqs first..last were stored under `stamp`."""
    known = ranges(conn, stamp)
    if known and known[-1][1] + 1 == first:
        known[-1] = (known[-1][0], last)
    else:
        known.append((first, last))
    key = PREFIX + stamp
    conn.execute(delete(META).where(META.c.key == key))
    conn.execute(insert(META).values(key=key, value=",".join(f"{a}-{b}" for a, b in known)))


class Checked:
    """Membership in a stamp's ranges."""

    def __init__(self, known: list[tuple[int, int]]):
        self.firsts = [a for a, _ in known]
        self.lasts = [b for _, b in known]

    def __contains__(self, seq: int) -> bool:
        k = bisect_right(self.firsts, seq) - 1
        return k >= 0 and seq <= self.lasts[k]
