"""The kept tables' secondary indexes set aside while a large refresh fills empty tables.

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
"""
from __future__ import annotations

from sqlalchemy import Index, delete, insert, select
from sqlalchemy.engine import Connection

from oblige.engine.store import counts
from oblige.engine.store.kept_tables import COUNTS, ESCALATIONS, KEPT_TABLES, OBLIGATIONS, VETOES, VIOLATIONS
from oblige.engine.store.sql import ANALYZE_LOCK, META

ASIDE = "kept_indexes_aside"  # oblige_meta: the secondary indexes of the kept tables are dropped


def secondary() -> list[Index]:
    """The indexes set aside: every index of the kept tables but those on `part` alone."""
    return [index for table in KEPT_TABLES for index in sorted(table.indexes, key=lambda i: str(i.name))
            if [c.name for c in index.columns] != ["part"]]


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
    """In the caller's transaction, under the writers' lock: drop the secondary indexes if every kept
    table is empty (and note it). Returns whether they are aside now."""
    if is_aside(conn):
        return True
    for table in (OBLIGATIONS, VIOLATIONS, ESCALATIONS, VETOES):
        if conn.execute(select(table.c.part).limit(1)).first() is not None:
            return False
    _no_analyze(conn)
    for index in secondary():
        index.drop(conn, checkfirst=True)
    conn.execute(insert(META).values(key=ASIDE, value="1"))
    return True


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
