"""Secondary indexes set aside while empty tables are filled in bulk: the kept tables' by a large
refresh, the events' readers-only ones by an ingest's first batch into an empty store.

Every kept row goes into its table and four to six indexes, most of them on keys that land all
over the index (a finding's hashed id, its unit and instant). Filling empty tables (a new store,
a rebuild) is faster without them and building each index once at the end, from the finished
table, is a sort (SQLite, 200,000 events: the keeper's writes 10.2 → 5.9 s in all, and 1.7 s to
build the indexes). The indexes on `part` stay: the keeper finds a partition's rows by them.

On PostgreSQL the kept counts (store/counts.py) are not kept while the indexes are aside either:
they are computed from the finished rows, in SQL, where the indexes are built (`counted_after`).

That the indexes are aside is written in `oblige_meta` in the transaction that drops them; the
refresh that finds nothing left to derive builds them again, in the transaction that clears the
note. A crash in between leaves the note, and the next refresh (every reader refreshes first)
builds them: reads never depend on an index for their answers, only for their speed.

An ingest whose first transaction fills an empty store with a whole batch sets aside the events'
indexes that only readers use (on the instant and the type) the same way, under the same note:
the store writes every event into them at random places (at 200,000 events on SQLite, 1.6 s of
inserting against 0.9 s without them and 0.25 s to build them after), and the next refresh builds
them with the others. The indexes by which the store finds an event (id, seq) and the keeper a
partition's events (part) stay.
"""
from __future__ import annotations

from sqlalchemy import Index, delete, insert, select
from sqlalchemy.engine import Connection

from oblige.engine.store import counts
from oblige.engine.store.kept_tables import COUNTS, ESCALATIONS, KEPT_TABLES, OBLIGATIONS, VETOES, VIOLATIONS
from oblige.engine.store.sql import ANALYZE_LOCK, EVENTS, META

ASIDE = "kept_indexes_aside"  # oblige_meta: indexes of secondary() are dropped (the name is schema 3's)
READERS_ONLY = ("ix_oblige_events_at", "ix_oblige_events_type")  # events' indexes that only readers use


def kept_secondary() -> list[Index]:
    """The kept tables' indexes a bulk refresh sets aside: all but those on `part` alone."""
    return [index for table in KEPT_TABLES for index in sorted(table.indexes, key=lambda i: str(i.name))
            if [c.name for c in index.columns] != ["part"]]


def events_secondary() -> list[Index]:
    """The events' indexes a bulk first ingest sets aside."""
    return sorted((index for index in EVENTS.indexes if index.name in READERS_ONLY), key=lambda i: str(i.name))


def secondary() -> list[Index]:
    """Every index that may be set aside (restore builds those missing)."""
    return kept_secondary() + events_secondary()


def _no_analyze(conn: Connection) -> None:
    """PostgreSQL: wait for a refresh of statistics to end, and hold off the next until commit. An
    ANALYZE holds a lock on each table it has read until it commits, and dropping or building an
    index waits for those locks while holding its own: without this the two could wait for each
    other (seen as "deadlock detected" between two concurrent ingests)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ANALYZE_LOCK})")


def counted_after(conn: Connection) -> bool:
    """Are the kept counts left, while the indexes are aside, to `restore` (computed from the rows)?
    On PostgreSQL: adding thousands of keys per chunk was a third of the keeper's writes, and the
    aggregate takes 0.9 s at 200,000 events. Not on SQLite, where the aggregate (a scan of every row
    and its body) cost more than keeping the counts chunk by chunk."""
    return conn.dialect.name == "postgresql"


def is_aside(conn: Connection) -> bool:
    return conn.execute(select(META.c.value).where(META.c.key == ASIDE)).first() is not None


def set_aside(conn: Connection) -> bool:
    """In the caller's transaction, under the writers' lock: drop the kept tables' secondary indexes
    if every kept table is empty (and note it). Returns whether they were (and are aside now)."""
    for table in (OBLIGATIONS, VIOLATIONS, ESCALATIONS, VETOES):
        if conn.execute(select(table.c.part).limit(1)).first() is not None:
            return False
    _drop(conn, kept_secondary())
    return True


def set_events_aside(conn: Connection) -> None:
    """In the transaction of an ingest's first batch into an empty store, under the writers' lock:
    drop the events' indexes that only readers use (and note it)."""
    _drop(conn, events_secondary())


def _drop(conn: Connection, indexes: list[Index]) -> None:
    _no_analyze(conn)
    for index in indexes:
        index.drop(conn, checkfirst=True)
    if not is_aside(conn):
        conn.execute(insert(META).values(key=ASIDE, value="1"))


def restore(conn: Connection) -> bool:
    """In the caller's transaction, under the writers' lock: build the indexes set aside (those
    missing) and clear the note. Returns whether there was anything to restore."""
    if not is_aside(conn):
        return False
    _no_analyze(conn)
    for index in secondary():
        index.create(conn, checkfirst=True)
    if counted_after(conn):
        counts.rebuild(conn)
    if conn.dialect.name == "postgresql":  # an index build sets the table's row count, not its statistics
        conn.exec_driver_sql("ANALYZE " + ", ".join(table.name for table in (*KEPT_TABLES, COUNTS)))
    conn.execute(delete(META).where(META.c.key == ASIDE))
    return True
