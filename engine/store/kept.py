"""Findings kept in the store, derived incrementally from its events (issue #16).

Ingest writes events and marks their partitions dirty in one transaction. `Keeper.refresh`
re-derives the dirty partitions — matched once, their timelines (`core.timeline`) written as row
versions with the `as_of` intervals in which they hold — and clears each mark in the transaction
that writes its rows. A crash between the two leaves the mark, and the next refresh (every
reader refreshes first) redoes the partition: nothing stale is ever served as current.

The kept rows are derived with one ruleset, parameter set and unit registry — the store's
*stamp*. An engine with another stamp never writes or reads them: it evaluates the events
itself until `rebuild` re-derives everything under its stamp.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from oblige.engine.batch.garbage import no_collections, settle_worker
from oblige.engine.core.engine import Engine, Partition
from oblige.engine.core.findings import Rejection
from oblige.engine.core.rows import EscalationRow, ObligationRow, ViolationRow
from oblige.engine.core.timeline import Version, VetoNote, timeline
from oblige.engine.store import bulk, checked, counts
from oblige.engine.store.checked import Checked
from oblige.engine.store.driver import driver_sql, in_chunks, insert_rows
from oblige.engine.store.incoming import part_of
from oblige.engine.store.kept_tables import (
    COUNTS,
    DERIVED_TABLES,
    ESCALATIONS,
    KEPT_TABLES,
    OBLIGATIONS,
    REJECTIONS,
    VETOES,
    VIOLATIONS,
)
from oblige.engine.store.sql import DIRTY, EVENTS, META, Store, stored_verdict
from oblige.facts.events import UNIT_PARTITION, Fact
from oblige.facts.reader import Accepted
from oblige.facts.trusted import from_canonical, reader_stamp

CHUNK = 20000  # partitions derived per transaction
PARALLEL = 8000  # dirty partitions from which the derivation runs on worker processes
BULK = 8000  # dirty partitions from which a refresh into empty kept tables builds their indexes after (bulk.py)
STAMP = "kept_stamp"
WRITER_LOCK = 7206151  # the ingest writers' PostgreSQL advisory lock


def stamp_of(engine: Engine) -> str:
    """What kept findings depend on besides the events: ruleset, parameters, unit registry."""
    units = engine.ruleset.units
    listed = "\n".join(u.model_dump_json() for u in (*units.members, *units.others))
    registry = hashlib.sha256(listed.encode("utf-8")).hexdigest()
    return f"{engine.ruleset.content_hash[:16]}:{engine.params_hash[:16]}:{registry[:16]}"


def split_part(part: str) -> Partition:
    kind, _, key = part.partition(":")
    return (kind, key)


@dataclass
class Refreshed:
    partitions: int = 0
    events: int = 0


class Keeper:
    """Keeps the findings of one store current for one engine."""

    def __init__(self, store: Store, engine: Engine):
        self.store, self.engine = store, engine
        self.stamp = stamp_of(engine)
        self.written: Counter[str] = Counter()  # rows this keeper wrote to each table in its last refresh
        # rows written since the tables' statistics were last refreshed: PostgreSQL plans the next chunk's
        # reads by `part IN (500 partitions)` with them (a table it believes empty it scans whole, each
        # read: at 1M events a chunk's writes grew from 1.6 to 16 s). Refreshed when a table has doubled
        # (at a tenth, the refreshes cost 20 s of the workers' time at 1M; the refresh ends with the tenth)
        self._unanalysed: Counter[str] = Counter()

    @functools.cached_property
    def reader(self) -> str:
        """The stamp of this engine's reader, whose stored events need no validating again (only
        deriving needs it: every reading command and request makes a keeper)."""
        return reader_stamp(self.engine.ruleset.units)

    # -- the stamp -----------------------------------------------------------------------------
    def _stamp_in(self, conn: Connection) -> str | None:
        return conn.execute(select(META.c.value).where(META.c.key == STAMP)).scalar()

    def kept_stamp(self) -> str | None:
        with self.store._reading() as conn:
            return self._stamp_in(conn)

    def current(self) -> bool:
        """Whether the kept findings are (or, unclaimed, will be) derived with this engine."""
        found = self.kept_stamp()
        return found is None or found == self.stamp

    def mismatch(self) -> str:
        """Says what differs, for a reader that cannot use the kept findings."""
        theirs = (self.kept_stamp() or "::").split(":")
        ours = self.stamp.split(":")
        names = [name for name, a, b in zip(("ruleset", "parameter set", "unit registry"), theirs, ours, strict=False)
                 if a != b]
        return ("the findings kept in this store were derived with another " + " and ".join(names or ["ruleset"])
                + "; run `oblige findings --rebuild` with these to keep theirs")

    # -- writing -------------------------------------------------------------------------------
    def _writing(self) -> Connection:
        return self.store.engine.begin()  # type: ignore[return-value]

    def _lock(self, conn: Connection) -> None:
        if self.store.dialect == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")

    def claim(self) -> bool:
        """Take an unclaimed store for this stamp; whether the store is this stamp's. Before an ingest
        into a new store it marks nothing (there are no events yet) and the ingest marks what it
        stores; claimed after, it would read every stored event again to mark the same partitions."""
        try:
            return self._claim()
        except SQLAlchemyError as exc:
            raise self.store._fail(exc) from None

    def _claim(self) -> bool:
        """Take an unclaimed store for this stamp (every partition with duties marked dirty); False
        when another stamp holds it."""
        found = self.kept_stamp()  # the common case, without the write lock
        if found is not None:
            return found == self.stamp
        with self._writing() as conn:
            self._lock(conn)
            found = self._stamp_in(conn)
            if found == self.stamp:
                return True
            if found is not None:
                return False
            conn.execute(insert(META).values(key=STAMP, value=self.stamp))
            marked = self._mark_all(conn)
        self.store.analyze({DIRTY.name: marked})
        return True

    def _mark_all(self, conn: Connection) -> int:
        """Every partition dirty: those with events, and every unit with calendar duties. Returns how
        many (the caller refreshes the marks' statistics after its transaction: see Store.analyze)."""
        self._fill_parts(conn)
        parts = dict(conn.execute(select(EVENTS.c.part, func.max(EVENTS.c.seq)).group_by(EVENTS.c.part)).all())
        for unit in self.engine.duties:
            parts.setdefault(part_of((UNIT_PARTITION, unit)), 0)
        conn.execute(delete(DIRTY))
        marks = {p: s for p, s in parts.items() if p is not None}
        self.store.mark_dirty(conn, marks)
        return len(marks)

    def _fill_parts(self, conn: Connection) -> None:
        """Events stored by schema 1 get their partition (read with this engine's registry)."""
        units = self.engine.ruleset.units
        while True:
            rows = conn.execute(select(EVENTS.c.seq, EVENTS.c.source, EVENTS.c.line, EVENTS.c.body)
                                .where(EVENTS.c.part.is_(None)).order_by(EVENTS.c.seq).limit(5000)).all()
            if not rows:
                return
            for seq, source, line, body in rows:
                item = stored_verdict(source, line, body, units)
                part = part_of(item.fact.partition) if isinstance(item, Accepted) else f"rejected:{seq}"
                conn.execute(EVENTS.update().where(EVENTS.c.seq == seq).values(part=part))

    def rebuild(self, progress: Callable[[int], None] | None = None) -> Refreshed:
        """Forget every kept finding and derive them all again with this engine (after a ruleset,
        parameter or registry change); the stamp becomes this engine's."""
        with self._writing() as conn:
            self._lock(conn)
            for table in DERIVED_TABLES:
                conn.execute(delete(table))
            conn.execute(delete(META).where(META.c.key == STAMP))
            conn.execute(insert(META).values(key=STAMP, value=self.stamp))
            marked = self._mark_all(conn)
        self.store.analyze({DIRTY.name: marked})
        return self.refresh(progress)

    def refresh(self, progress: Callable[[int], None] | None = None, workers: int | None = None) -> Refreshed:
        """Derive every dirty partition (none when another stamp holds the store); many of them on
        `workers` processes (default: the batch runtime's, from PARALLEL dirty partitions)."""
        self.written = Counter()
        try:
            done = self._refresh(progress, workers)
            if done.partitions:  # PostgreSQL plans the reads of what was just written with its statistics
                self.store.analyze({**self.written, DIRTY.name: done.partitions})  # the events: by the ingest
            return done
        except SQLAlchemyError as exc:
            raise self.store._fail(exc) from None

    def _parallel(self, workers: int | None, progress: Callable[[int], None] | None, done: Refreshed,
                  count: int) -> None:
        """The `count` dirty partitions shared out among worker processes, each deriving and writing its
        chunks (writers queue on the store's write lock; derivation, most of the work, runs side by side)."""
        from oblige.engine.batch.run import default_workers
        from oblige.engine.batch.workers import STORE, Workers

        n = default_workers() if workers is None else workers
        if count < PARALLEL or n < 2:
            return
        with self.store._reading() as conn:
            marks = [(p, s) for p, s in conn.execute(select(DIRTY.c.part, DIRTY.c.seq).order_by(DIRTY.c.part))]
        shares = [marks[i::n] for i in range(n)]
        # the first chunks of different sizes, CHUNK * (k + 1) / n, so that the workers' writes, which
        # queue on the lock, come one after the other: with equal chunks they came at once and one
        # worker waited (1.8 s of 14 s each at 200k on SQLite; 1.2 s less wall time without)
        jobs = [(self.engine.ruleset, self.store.url, share, CHUNK * (k + 1) // n) for k, share in enumerate(shares)]
        with Workers(n, STORE) as pool:
            for parts, events, written in pool.map(_derive_share, jobs):
                self.written.update(written)
                done.partitions += parts
                done.events += events
        if progress is not None:
            progress(done.partitions)

    def _refresh(self, progress: Callable[[int], None] | None, workers: int | None) -> Refreshed:
        done = Refreshed()
        if not self._claim():
            return done
        while self._derive_all(progress, workers, done):
            if self._indexes_back():  # else marks came in before they could be built: those first
                break
        return done

    def _derive_all(self, progress: Callable[[int], None] | None, workers: int | None, done: Refreshed) -> bool:
        """Derive every partition marked dirty (the marks added meanwhile too); False when there was
        nothing to do, not even indexes left aside to build (the common case, one read)."""
        with self.store._reading() as conn:
            unparted = conn.execute(select(EVENTS.c.seq).where(EVENTS.c.part.is_(None)).limit(1)).first()
            if unparted is None and conn.execute(select(DIRTY.c.part).limit(1)).first() is None:
                return bulk.is_aside(conn)  # a crash may have left them aside
        if unparted is not None:
            with self._writing() as w:
                self._lock(w)
                self._fill_parts(w)
                marked = self._mark_all(w)
            self.store.analyze({DIRTY.name: marked})
        with self.store._reading() as conn:
            count = conn.execute(select(func.count()).select_from(DIRTY)).scalar() or 0
        if count >= BULK:  # many partitions to derive: into empty kept tables, their indexes are built after
            with self._writing() as w:
                self._lock(w)
                bulk.set_aside(w)
        self._parallel(workers, progress, done, count)
        after = ""
        while True:
            with self.store._reading() as conn:
                marks = conn.execute(select(DIRTY.c.part, DIRTY.c.seq).where(DIRTY.c.part > after)
                                     .order_by(DIRTY.c.part).limit(CHUNK)).all()
            if not marks:
                if after == "":
                    break
                after = ""  # marks added behind us meanwhile: one more pass from the start
                with self.store._reading() as conn:
                    if conn.execute(select(DIRTY.c.part).limit(1)).first() is None:
                        break
                continue
            after = marks[-1][0]
            events = self._derive_and_write(dict(marks))
            self.store.checkpoint()
            done.partitions += len(marks)
            done.events += events
            if progress is not None:
                progress(done.partitions)
        return True

    def _indexes_back(self) -> bool:
        """The indexes set aside (by this refresh, or by one a crash ended), built again once nothing
        is left to derive; False if marks came in first. Nothing is read with them aside: on
        PostgreSQL the kept counts are only computed as they are built (bulk.counted_after)."""
        with self.store._reading() as conn:
            if not bulk.is_aside(conn):
                return True
        with self._writing() as conn:
            self._lock(conn)
            if conn.execute(select(DIRTY.c.part).limit(1)).first() is not None:
                return False
            if bulk.restore(conn):
                for table in KEPT_TABLES:  # their statistics are fresh (restore analysed them)
                    self.written.pop(table.name, None)
        return True

    def _derive_and_write(self, marks: dict[str, int]) -> int:
        """Derive these partitions from their events and write them, each only if its mark is unchanged."""
        engine, units = self.engine, self.engine.ruleset.units
        facts: dict[str, list[Fact]] = {p: [] for p in marks if not p.startswith("rejected:")}
        rejected: dict[str, list[tuple[int, str]]] = {}
        parts = list(marks)
        n = 0
        effective = engine.ruleset.effective
        with no_collections():  # read back and derived without the collector: see batch/garbage.py
            with self.store._reading() as conn:
                trusted = Checked(checked.ranges(conn, self.reader))  # events accepted by this very reader
                for seq, source, line, body, part, at in in_chunks(
                        conn, f"SELECT seq, source, line, body, part, occurred_at FROM {EVENTS.name} WHERE part IN (?)",
                        parts):
                    n += 1
                    if seq in trusted:
                        if at >= effective and part in facts:
                            facts[part].append(from_canonical(body, at, units))
                        continue
                    item = stored_verdict(source, line, body, units)
                    if not isinstance(item, Accepted):
                        rejection = Rejection(file=item.file, line=item.line, id=item.id, error=item.error)
                        rejected.setdefault(part, []).append((seq, rejection.model_dump_json()))
                    elif item.fact.at >= effective and part in facts:
                        facts[part].append(item.fact)
            keyed = [(split_part(p), sorted(fs, key=lambda f: (f.at, f.id))) for p, fs in facts.items()]
            matched = engine.match(keyed)
            # the rows to write, built before the write lock (which serialises the writers)
            prepared = {part_of(key): _rows_of(part_of(key), timeline(engine, key, fs, matched[key]))
                        for key, fs in keyed}
        for p, found in rejected.items():
            prepared.setdefault(p, _rows_of(p, []))[-1].extend((seq, p, body) for seq, body in found)
        with self._writing() as conn:
            self._lock(conn)
            if self._stamp_in(conn) != self.stamp:
                return n  # another engine rebuilt meanwhile: its rows, not ours
            now = dict(in_chunks(conn, f"SELECT part, seq FROM {DIRTY.name} WHERE part IN (?)", parts))
            ready = [p for p in parts if now.get(p) == marks[p]]  # a newer event re-marked the others
            counted = not (bulk.counted_after(conn) and bulk.is_aside(conn))  # else when the indexes are built
            with _write_cache(conn):
                written = _replace(conn, ready, prepared, counted)
            in_chunks(conn, f"DELETE FROM {DIRTY.name} WHERE part IN (?)", ready)
        self.written.update(written)
        self._unanalysed.update(written)
        for name in self.store.analyze(self._unanalysed, share=1.0):  # a table at least doubled
            del self._unanalysed[name]
        return n


def _derive_share(ruleset: Any, url: str, marks: list[tuple[str, int]],
                  first: int = CHUNK) -> tuple[int, int, Counter[str]]:
    """A worker's share of a refresh, in chunks of CHUNK partitions after a `first` of its own size:
    (partitions, events) derived and written, and the rows written to each table."""
    store = Store(url, create=False)
    try:
        keeper = Keeper(store, Engine(ruleset))
        settle_worker()
        events = 0
        bounds = [0, *range(first, len(marks), CHUNK), len(marks)] if marks else []
        for i, j in itertools.pairwise(bounds):
            events += keeper._derive_and_write(dict(marks[i:j]))
            store.checkpoint()
        return len(marks), events, keeper.written
    finally:
        store.close()


WRITE_CACHE_KIB = 65536  # SQLite's page cache while a chunk's rows are written (its default is 2 MiB)


@contextmanager
def _write_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a larger page cache while a chunk's rows are written, the connection's own again after.

    Every row goes into a table and its four to six indexes: with the default 2 MiB cache the pages of
    a large store's indexes are read again and again, and a chunk's changed pages spill to the WAL
    before its commit (at 200k events the writes took half the derivation; a larger cache halved them)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before or -2000)}")


Rows = tuple[list[tuple[Any, ...]], ...]  # a partition's rows of each kept table, in _COLUMNS order


def _rows_of(part: str, versions: Iterable[Version]) -> Rows:
    """A partition's row versions as the rows of each kept table (and an empty list for its rejections)."""
    obligations: list[tuple[Any, ...]] = []
    violations: list[tuple[Any, ...]] = []
    escalations: list[tuple[Any, ...]] = []
    vetoes: list[tuple[Any, ...]] = []
    for v in versions:
        row = v.row
        if isinstance(row, ObligationRow):
            obligations.append((v.id, v.valid_from, v.valid_to, part, v.unit, v.status, v.article, row.subject,
                                row.period, v.order, row.due, v.text))
        elif isinstance(row, ViolationRow):
            violations.append((v.id, v.valid_from, v.valid_to, part, v.unit, v.status, v.article, row.kind,
                               row.subject, row.period, v.order, v.text))
        elif isinstance(row, EscalationRow):
            escalations.append((v.id, v.valid_from, v.valid_to, part, v.unit, v.status, v.article, v.subject,
                                row.level, int(row.period), v.order, v.text))
        elif isinstance(row, VetoNote):
            vetoes.append((part, row.unit, row.year, v.valid_from, v.valid_to, row.at, row.v_at, row.rule,
                           row.subject, row.period, row.because, v.status, v.article))
    return obligations, violations, escalations, vetoes, []


def _replace(conn: Connection, parts: list[str], prepared: dict[str, Rows], counted: bool = True) -> Counter[str]:
    """The kept rows of `parts` become the prepared ones. A row version that is already stored, every
    column equal, stays (re-deriving a partition mostly finds its earlier versions again): only the
    stored rows that are no longer derived are deleted and only the new ones inserted, in bulk (the
    driver's executemany, a COPY on PostgreSQL: see driver.py; deleting and re-inserting unchanged
    rows, with every index of the tables kept, cost more than deriving them). The kept counts follow,
    unless not `counted` (see bulk.py). Returns the rows deleted or inserted in each table."""
    empty: Rows = ([], [], [], [], [])
    changes: Counter[tuple[counts.Key, int]] = Counter()  # the kept counts follow the rows deleted and inserted
    written: Counter[str] = Counter()  # rows deleted or inserted, by table (for the planner's statistics)
    for k, (table, columns, key) in enumerate(_COLUMNS):
        listed = _LISTED.get(table.name) if counted else None
        new = [row for p in parts for row in prepared.get(p, empty)[k]]
        old = list(map(tuple, in_chunks(conn, f"SELECT {', '.join(columns)} FROM {table.name} WHERE part IN (?)", parts)))
        if old:
            derived = set(new)
            gone = [row for row in old if row not in derived]
            if gone:
                driver_sql(conn, f"DELETE FROM {table.name} WHERE " + " AND ".join(f"{columns[c]} = ?" for c in key),
                           [tuple(row[c] for c in key) for row in gone])
                written[table.name] += len(gone)
                if listed is not None:
                    counts.of_rows(listed, columns, gone, -1, changes)
            stored = set(old)
            new = [row for row in new if row not in stored]
        if new:
            insert_rows(conn, table.name, columns, new)
            written[table.name] += len(new)
            if listed is not None:
                counts.of_rows(listed, columns, new, +1, changes)
    if changes:
        counts.add(conn, changes)
        written[COUNTS.name] += len(changes)
    return written


_LISTED = {table.name: name for name, table in counts.TABLES.items()}  # tables whose rows are counted, by list

# each kept table: its columns in the order of the rows above, and the positions of its primary key
_COLUMNS = (
    (OBLIGATIONS, ("id", "valid_from", "valid_to", "part", "unit", "status", "article", "subject", "period", "ord", "due",
                   "body"), (0, 1)),
    (VIOLATIONS, ("id", "valid_from", "valid_to", "part", "unit", "status", "article", "kind", "subject", "period", "ord",
                  "body"), (0, 1)),
    (ESCALATIONS, ("id", "valid_from", "valid_to", "part", "unit", "status", "article", "subject", "level", "year", "ord",
                   "body"), (0, 1)),
    (VETOES, ("part", "unit", "year", "valid_from", "valid_to", "at", "v_at", "rule", "subject", "period", "because",
              "status", "article"), (0, 1, 2, 3, 10)),
    (REJECTIONS, ("seq", "part", "body"), (0,)),
)
