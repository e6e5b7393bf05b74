"""The durable event store: append-only, idempotent, crash-safe (sqlmodel over SQLAlchemy).

Events are the source of truth. Each is stored once under its id with the canonical hash of
its content; a repeat is counted, a different content under a known id is rejected. Writes go
in transactions of bounded size; what a finished transaction acknowledged survives a crash,
and running the same ingest again completes it with nothing doubled.

SQLite (the default, `oblige.db`) runs in WAL mode with a busy timeout and takes its write
lock at BEGIN (IMMEDIATE), so concurrent ingests queue instead of failing; any other
SQLAlchemy URL (PostgreSQL) uses INSERT ... ON CONFLICT DO NOTHING for the same effect.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import BigInteger, Column, Index, String, Table, Text, event, func, inspect, make_url, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine

from oblige.engine.store.driver import in_chunks, insert_many, insert_rows
from oblige.engine.store.incoming import Incoming, prepared, split_repeats
from oblige.engine.store.kept_tables import DERIVED_TABLES
from oblige.facts.reader import Accepted, Rejected, read_line

SCHEMA_VERSION = "3"  # 2: events know their partition; findings are kept (engine/store/kept.py); 3: counts kept
DEFAULT_URL = "sqlite:///oblige.db"
BULK_EVENTS = 5000  # events in an ingest's first batch into an empty store from which readers' indexes wait (bulk.py)
BATCH = 5000  # events per ingest transaction: each commit is synced (with 500, the syncs were a sixth of storing)


class StoreError(Exception):
    """The database cannot be used (wrong schema version, unreachable, not a database)."""


class _Transient(StoreError):
    """A lock conflict worth trying again (said as any StoreError if it persists)."""


class NoStore(StoreError):
    """There is no event store at the URL (and the caller did not ask to create one)."""


class StoredEvent(SQLModel, table=True):
    __tablename__ = "oblige_events"
    __table_args__ = (Index("ix_oblige_events_seq", "seq"), Index("ix_oblige_events_at", "occurred_at"),
                      Index("ix_oblige_events_type", "type"))

    id: str = Field(sa_column=Column(String(128), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))  # receive order: the first stored wins
    digest: str = Field(sa_column=Column(String(32), nullable=False))
    type: str = Field(sa_column=Column(String(64), nullable=False))
    occurred_at: int = Field(sa_column=Column(BigInteger, nullable=False))  # epoch microseconds
    unit: str = Field(sa_column=Column(String(64), nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    body: str = Field(sa_column=Column(Text, nullable=False))  # the validated event, canonical JSON (never the raw line)
    received_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))
    line: int = Field(sa_column=Column(BigInteger, nullable=False))
    # the partition it is matched in ("subject:<id>" or "unit:<code>"); NULL in a store made by schema 1
    part: str | None = Field(default=None, sa_column=Column(String(200), nullable=True, index=True))


class Dirty(SQLModel, table=True):
    """Partitions whose kept findings are behind their events: written in the transaction that
    stores the events, removed in the one that stores the findings (a crash between loses nothing)."""

    __tablename__ = "oblige_dirty"

    part: str = Field(sa_column=Column(String(200), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))  # the newest event that made it dirty


class IngestLog(SQLModel, table=True):
    __tablename__ = "oblige_ingest_log"

    id: int | None = Field(default=None, primary_key=True)
    started_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    finished_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    sources: str = Field(sa_column=Column(Text, nullable=False))
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0


class Meta(SQLModel, table=True):
    __tablename__ = "oblige_meta"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))


def _table(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table behind a model (sqlmodel sets `__table__` without declaring it)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


EVENTS, INGEST_LOG, META, DIRTY = _table(StoredEvent), _table(IngestLog), _table(Meta), _table(Dirty)
_EVENT_COLUMNS = ("id", "seq", "digest", "type", "occurred_at", "unit", "subject", "body", "received_at", "source", "line",
                  "part")
_EVENT_TYPES = ("text", "bigint", "text", "text", "bigint", "text", "text", "text", "bigint", "text", "bigint", "text")


@dataclass
class IngestReport:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Rejected] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {"read": self.read, "stored": self.stored, "duplicates": self.duplicates, "rejected": self.rejected}


def _now_us() -> int:
    return time.time_ns() // 1000


WAL_LIMIT = 64 << 20  # bytes of SQLite write-ahead log from which a writer of kept findings checkpoints
READ_ONLY = "oblige_read_only"  # execution option of the connections that only read


def _sqlite_file_exists(database: str | None) -> bool:
    """Whether an SQLite URL's database is an existing file (an in-memory database never is)."""
    if not database or database == ":memory:":
        return False
    if database.startswith("file:"):  # a URI filename: left to SQLite
        return True
    return Path(database).is_file()


def _sqlite_setup(engine: SqlEngine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")  # first: switching to WAL waits for the lock too
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # writers take the write lock up front (no lock upgrade deadlock between two ingests);
        # readers take a WAL snapshot and block nobody: a `findings` reading a large store in two
        # workers used to hold the write lock, so one worker waited for the other (and an ingest
        # for both, up to the busy timeout)
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def mask_url(url: str) -> str:
    """The URL as it may be shown: its password, if any, replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy understands: mask what looks like user:password@
        return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except Exception:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _transient(exc: OperationalError) -> bool:
    """A failure worth retrying: another writer holds the lock, or a deadlock was broken."""
    text = _first_line(exc).lower()
    return any(word in text for word in ("locked", "busy", "deadlock", "could not serialize"))


SCHEMA_LOCK = 7206150  # PostgreSQL advisory lock taken while the schema is created
_ABSENT_DATABASE = re.compile(r'database "([^"]+)" does not exist')  # PostgreSQL's FATAL on connecting
ANALYZE_LOCK = 7206152  # PostgreSQL advisory lock taken while statistics are refreshed


class Store:
    def __init__(self, url: str = DEFAULT_URL, *, create: bool = True, pool: tuple[int, int] | None = None):
        """`pool`: (size, overflow) of the connection pool, for a service reading from many threads."""
        self.url = url
        self.shown_url = mask_url(url)
        self._create = create
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise StoreError(f"cannot use database {self.shown_url!r}: {self._scrub(_first_line(exc))}") from None
        if not create and parsed.get_backend_name() == "sqlite" and not _sqlite_file_exists(parsed.database):
            raise self._missing()
        try:
            memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
            sizes = {} if pool is None or memory else {"pool_size": pool[0], "max_overflow": pool[1]}
            self.engine = create_engine(url, pool_pre_ping=True, **sizes)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot use database {self.shown_url!r}: {self._scrub(_first_line(exc))}") from None
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            _sqlite_setup(self.engine)
        try:
            self._prepare(create)
        except BaseException:
            self.engine.dispose()
            raise

    def _missing(self) -> StoreError:
        return NoStore(f"no event store at {self.shown_url}; create one with oblige ingest")

    def _scrub(self, message: str) -> str:
        """A message with the URL's password, wherever it appears, replaced by ***."""
        password = _password(self.url)
        message = message.replace(self.url, self.shown_url)
        if password:
            message = message.replace(password, "***")
        return message

    def _fail(self, exc: BaseException) -> StoreError:
        text = self._scrub(_first_line(exc))
        absent = _ABSENT_DATABASE.search(text) if self.dialect == "postgresql" else None
        if absent is not None and isinstance(exc, OperationalError):
            # oblige makes its tables, not the server's databases (that takes a role allowed to)
            advice = f"the server has no database {absent.group(1)}; create it (e.g. createdb {absent.group(1)})"
            if self._create:
                return StoreError(f"cannot use database {self.shown_url!r}: {advice}, then run this again")
            return NoStore(f"no event store at {self.shown_url}: {advice}, then store events with oblige ingest")
        return StoreError(f"cannot use database {self.shown_url!r}: {text}")

    def _version(self, conn: Connection) -> str | None:
        if not inspect(conn).has_table(META.name):
            return None
        return conn.execute(select(META.c.value).where(META.c.key == "schema_version")).scalar()

    def _prepare(self, create: bool) -> None:
        """The schema checked, and made or upgraded under a lock; a transient lock conflict (several
        processes opening a new SQLite file at once: its switch to WAL can answer "locked" without
        waiting) is tried again, as `_write` does."""
        for attempt in range(5):
            try:
                return self._prepare_once(create)
            except _Transient:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _prepare_once(self, create: bool) -> None:
        try:
            with self._reading() as conn:  # the common case: the schema is there (no write lock taken)
                found = self._version(conn)
            if found is None:
                if not create:
                    raise self._missing()
                with self.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock
                    if self.dialect == "postgresql":
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                    found = self._version(conn)  # another process may have created it meanwhile
                    if found is None:
                        SQLModel.metadata.create_all(conn, tables=[EVENTS, INGEST_LOG, META, DIRTY, *DERIVED_TABLES])
                        conn.execute(META.insert().values(key="schema_version", value=SCHEMA_VERSION))
                        found = SCHEMA_VERSION
            if found == "1":
                found = self._upgrade_from_1()
            if found == "2":
                found = self._upgrade_from_2()
            if found != SCHEMA_VERSION:
                raise StoreError(f"{self.shown_url}: database schema version {found}, this oblige uses {SCHEMA_VERSION}")
        except OperationalError as exc:
            failure = self._fail(exc)
            raise (_Transient(str(failure)) if _transient(exc) else failure) from None
        except SQLAlchemyError as exc:
            raise self._fail(exc) from None
        except OSError as exc:
            raise StoreError(f"cannot use database {self.shown_url!r}: {exc.strerror or exc}") from None

    def _upgrade_from_1(self) -> str:
        """Schema 1 -> 2: events gain their partition (filled in by the keeper, which can read them)
        and the kept-findings tables appear. Under the write lock; another process may have done it."""
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            found = self._version(conn)
            if found != "1":
                return found or SCHEMA_VERSION
            conn.exec_driver_sql("ALTER TABLE oblige_events ADD COLUMN part VARCHAR(200)")
            conn.exec_driver_sql("CREATE INDEX ix_oblige_events_part ON oblige_events (part)")
            conn.exec_driver_sql("CREATE INDEX ix_oblige_events_at ON oblige_events (occurred_at)")
            conn.exec_driver_sql("CREATE INDEX ix_oblige_events_type ON oblige_events (type)")
            SQLModel.metadata.create_all(conn, tables=[DIRTY])
            conn.execute(META.update().where(META.c.key == "schema_version").values(value="2"))
        return "2"

    def _upgrade_from_2(self) -> str:
        """Schema 2 -> 3: the kept findings gain their counts and other indexes. They are derived
        data: dropped and derived again (the next refresh finds no stamp and marks every partition)."""
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            found = self._version(conn)
            if found != "2":
                return found or SCHEMA_VERSION
            SQLModel.metadata.drop_all(conn, tables=DERIVED_TABLES)
            SQLModel.metadata.create_all(conn, tables=DERIVED_TABLES)
            conn.execute(META.delete().where(META.c.key.in_(["kept_stamp", "events_hash", "event_counts"])))
            conn.execute(META.update().where(META.c.key == "schema_version").values(value=SCHEMA_VERSION))
        return SCHEMA_VERSION

    def checkpoint(self) -> None:
        """SQLite: fold a large write-ahead log back into the database file. Two processes deriving
        kept findings read and write in turn, so the automatic checkpoint always finds a reader on
        an older snapshot and the log only grows (2.9 GB by the middle of a 1M-event ingest); a
        TRUNCATE checkpoint waits (busy timeout) for that reader's short read instead."""
        database = make_url(self.url).database
        if self.dialect != "sqlite" or not _sqlite_file_exists(database) or str(database).startswith("file:"):
            return
        wal = Path(f"{database}-wal")
        try:
            if wal.stat().st_size < WAL_LIMIT:
                return
        except OSError:
            return
        raw = self.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()

    def analyze(self, written: Mapping[str, int], share: float = 0.1) -> list[str]:
        """PostgreSQL: refresh the planner's statistics of the tables to which `written` rows were just
        written, where they are over `share` of the rows the planner knows (a tenth: autovacuum's own rule,
        applied now rather than left to a daemon that may be off or a minute behind; the writer
        counts, because the server's own counts of changes reach its statistics views late).
        Right after a 200,000-event ingest the planner still held the empty tables' statistics: it
        sorted all 68,000 rows of a unit for a page of 100 (152 ms) instead of walking (unit, ord,
        id) (0.7 ms). SQLite: nothing (its reads are written for a planner without statistics).
        Returns the tables analysed."""
        if self.dialect != "postgresql" or not any(written.values()):
            return []
        with self.engine.begin() as conn:
            # one at a time: two ANALYZE of one table at once can fail ("tuple concurrently updated");
            # a process that finds another analysing leaves it to that one
            if not conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({ANALYZE_LOCK})").scalar():
                return []
            query = text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:names)")
            known: dict[str, float] = dict(conn.execute(query, {"names": sorted(written)}).all())
            stale = sorted(name for name, n in written.items()
                           if name in known and n > 50 + share * max(float(known[name]), 0.0))
            if stale:
                conn.exec_driver_sql("ANALYZE " + ", ".join(stale))
        return stale

    def close(self) -> None:
        self.engine.dispose()

    def _reading(self) -> Connection:
        """A connection whose transactions only read (on SQLite: a snapshot, not the write lock)."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    def _supported(self) -> None:
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"unsupported database dialect {self.dialect!r} (SQLite and PostgreSQL are supported)")

    def ingest(self, items: Iterable[Accepted | Rejected | Incoming], sources: str, batch_size: int = BATCH,
               reader: str | None = None) -> IngestReport:
        """Store valid events in bounded transactions; count repeats; reject conflicts. `reader`: the
        stamp (facts.trusted) of the reader that accepted every item, noted with what is stored
        (store/checked.py); None when not known.

        A database that fails (full, read-only, corrupt, gone) raises StoreError; what the
        transactions before it committed stays."""
        try:
            return self._ingest(items, sources, batch_size, reader)
        except SQLAlchemyError as exc:
            raise self._fail(exc) from None

    def _ingest(self, items: Iterable[Accepted | Rejected | Incoming], sources: str, batch_size: int,
                reader: str | None) -> IngestReport:
        report = IngestReport()
        with Session(self.engine) as session:
            log = IngestLog(started_at=_now_us(), sources=sources)
            session.add(log)
            session.commit()
            log_id = log.id
        pending: list[Incoming] = []
        marked = 0  # dirty marks written (their table's statistics are refreshed with the events')
        for item in prepared(items):
            report.read += 1
            if isinstance(item, Rejected):
                report.rejected += 1
                report.rejections.append(item)
                continue
            pending.append(item)
            if len(pending) >= batch_size:
                marked += self._write(pending, report, reader)
                pending = []
        if pending:
            marked += self._write(pending, report, reader)
        with Session(self.engine) as session:
            found_log = session.get(IngestLog, log_id)
            assert found_log is not None
            log = found_log
            log.finished_at = _now_us()
            log.read, log.stored, log.duplicates, log.rejected = report.read, report.stored, report.duplicates, report.rejected
            session.add(log)
            session.commit()
        # the keeper reads and deletes the marks next: planned for an empty table, each delete was a scan
        self.analyze({EVENTS.name: report.stored, DIRTY.name: marked})
        return report

    def _write(self, batch: list[Incoming], report: IngestReport, reader: str | None = None) -> int:
        """Store a batch; returns the partitions it marked dirty."""
        from oblige.engine.store import checked

        first, later = split_repeats(batch)  # repeats inside the batch are settled after the write
        table = EVENTS
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    if self.dialect == "postgresql":  # one writer at a time, so seq is the arrival order
                        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7206151)")
                    # writers are serialised (this lock, or SQLite's BEGIN IMMEDIATE): what is not
                    # stored now is inserted by this transaction alone
                    # the batch's ids already stored, with their digests
                    known: dict[str, str] = dict(in_chunks(conn, f"SELECT id, digest FROM {table.name} WHERE id IN (?)",
                                                           list(first)))
                    seq0 = conn.execute(select(table.c.seq).order_by(table.c.seq.desc()).limit(1)).scalar() or 0
                    now = _now_us()
                    rows: list[tuple[Any, ...]] = []
                    dirty: dict[str, int] = {}
                    for item in first.values():
                        if item.id in known:
                            continue
                        seq = seq0 + len(rows) + 1
                        dirty[item.part] = seq
                        rows.append((item.id, seq, item.digest, item.type, item.at, item.unit, item.subject, item.body,
                                     now, item.file, item.line, item.part))
                    if rows:
                        self._supported()
                        if seq0 == 0 and len(rows) >= BULK_EVENTS:  # a new store filled in bulk: see bulk.py
                            from oblige.engine.store import bulk

                            bulk.set_events_aside(conn)
                        if self.dialect == "postgresql":
                            # one COPY, 40 % less than the INSERT of arrays (storing 200,000 events: 10.1 -> 8.4 s).
                            # It has no ON CONFLICT and needs none: under the lock no other writer inserts,
                            # and none of these ids is stored (`known`); a conflict would fail the batch
                            insert_rows(conn, EVENTS.name, _EVENT_COLUMNS, rows)
                        else:  # ON CONFLICT DO NOTHING: a second line of defence
                            insert_many(conn, EVENTS.name, _EVENT_COLUMNS, _EVENT_TYPES, rows, "ON CONFLICT (id) DO NOTHING")
                        self.mark_dirty(conn, dirty)
                        if reader is not None:  # the seqs just written, all accepted by this reader
                            checked.note(conn, reader, seq0 + 1, seq0 + len(rows))
                inserted = {row[0] for row in rows}
                existing_ids = [i for i in first if i in known]
                break
            except OperationalError as exc:
                if attempt == 4 or not _transient(exc):  # a full disk or a read-only file will not pass
                    raise
                time.sleep(0.2 * (attempt + 1))
        report.stored += len(inserted)
        for event_id in existing_ids:
            self._settle(first[event_id], known.get(event_id), report)
        for item in later:
            self._settle(item, first[item.id].digest, report)
        return len(dirty)

    def mark_dirty(self, conn: Connection, parts: dict[str, int]) -> None:
        """Note (in the caller's transaction) that these partitions' kept findings are behind."""
        if not parts:
            return
        self._supported()
        insert_many(conn, DIRTY.name, ("part", "seq"), ("text", "bigint"), list(parts.items()),
                    "ON CONFLICT (part) DO UPDATE SET seq = excluded.seq")  # the newest seq of the partition

    @staticmethod
    def _settle(item: Incoming, stored_digest: str | None, report: IngestReport) -> None:
        if stored_digest == item.digest:
            report.duplicates += 1
        else:
            report.rejected += 1
            report.rejections.append(Rejected(item.file, item.line, item.id,
                                              "conflicting duplicate id: differs from the event already stored with this id",
                                              item.raw))

    def events(self, batch: int = 5000, first: int = 1, last: int | None = None) -> Iterator[tuple[int, str, int, str]]:
        """(seq, source, line, body) of the stored events with first <= seq <= last, in stored order."""
        try:
            yield from self._events(batch, first, last)
        except SQLAlchemyError as exc:
            raise self._fail(exc) from None

    def _events(self, batch: int, first: int, last: int | None) -> Iterator[tuple[int, str, int, str]]:
        table = EVENTS
        after = first - 1
        with self._reading() as conn:
            while True:
                query = select(table.c.seq, table.c.source, table.c.line, table.c.body).where(table.c.seq > after)
                if last is not None:
                    query = query.where(table.c.seq <= last)
                rows = conn.execute(query.order_by(table.c.seq).limit(batch)).all()
                if not rows:
                    return
                yield from rows
                after = rows[-1][0]

    def max_seq(self) -> int:
        try:
            with self._reading() as conn:
                return conn.execute(select(func.max(EVENTS.c.seq))).scalar() or 0
        except SQLAlchemyError as exc:
            raise self._fail(exc) from None

    def count(self) -> int:
        try:
            with self._reading() as conn:
                return conn.execute(select(func.count()).select_from(EVENTS)).scalar() or 0
        except SQLAlchemyError as exc:
            raise self._fail(exc) from None

    def units_of(self, ids: Iterable[str]) -> dict[str, str]:
        """The unit of each stored event among `ids` (for scoping rejections to a reader's units)."""
        wanted = list(dict.fromkeys(ids))
        try:
            with self._reading() as conn:
                return dict(in_chunks(conn, f"SELECT id, unit FROM {EVENTS.name} WHERE id IN (?)", wanted))
        except SQLAlchemyError as exc:
            raise self._fail(exc) from None


def stored_verdict(source: str, line: int, body: str, units: Any) -> Accepted | Rejected:
    """A stored event as a reader verdict (validated again against the registry in use, by the
    reader of JSON Lines: a body stored by an older oblige as received is held to today's rules)."""
    item = read_line(body, source, line, units)
    if item is None:  # pragma: no cover - only ingest writes bodies
        return Rejected(source, line, None, "stored event is empty", body)
    return item


def stored_items(store: Store, units: Any, first: int = 1, last: int | None = None) -> Iterator[Accepted | Rejected]:
    """Stored events with first <= seq <= last, in the order they were stored, as reader verdicts."""
    for _seq, source, line, body in store.events(first=first, last=last):
        yield stored_verdict(source, line, body, units)
