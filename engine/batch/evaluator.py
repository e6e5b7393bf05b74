"""Batch evaluation in bounded memory, on both cores: for inputs far larger than what is open.

Phase 1 (this process) reads the events once, settles repeats and conflicting ids, and spills
every distinct valid event into a temporary SQLite file, keyed by partition (subject or unit).
Phase 2 (one process per shard) matches and evaluates its partitions a batch at a time and
writes each finding, as its JSON, into its own temporary SQLite file. Phase 3 finishes the
escalation ladder (assessments and vetoes need every unit's criticised violations, which are
few) and streams the findings document, merging the shards in the SPEC's sort order.

The document equals what `Session.findings` gives for the same events (tested); only memory
and speed differ: memory follows the open partitions and the batch size, not the input.
"""
from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sqlite3
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import IO, Any

from oblige.engine.batch.early import EarlyParse
from oblige.engine.batch.early import split_ranges as _split
from oblige.engine.batch.garbage import no_collections, settle_worker
from oblige.engine.batch.runs import RunWriter, chunks, merge_blocks, merge_runs
from oblige.engine.batch.workers import Workers, count
from oblige.engine.core import document
from oblige.engine.core.engine import BATCH, Engine, Partition
from oblige.engine.core.escalation import VetoCandidate
from oblige.engine.core.evaluate import PartitionEvaluator, Tally
from oblige.engine.core.findings import Rejection, Summary
from oblige.engine.core.rows import row_json
from oblige.engine.rules.ruleset import Ruleset
from oblige.facts.events import UNIT_PARTITION, Fact
from oblige.facts.files import Segment, range_verdicts
from oblige.facts.reader import Accepted, Rejected

CHUNK = 5000
RUN_BUDGET = 16 << 20  # bytes of findings per table a worker sorts in memory before writing a run


def _part_key(key: Partition) -> str:
    return f"{key[0]}\x1f{key[1]}"


def _shard(key: Partition, shards: int) -> int:
    return _shard_of_key(_part_key(key), shards)


def _shard_of_key(part_key: str, shards: int) -> int:
    return zlib.crc32(part_key.encode("utf-8")) % shards


def _unpack(blob: bytes) -> Fact:  # packed by _row
    return Fact(*marshal.loads(blob))  # marshal keeps tuples as tuples


INSERT_EV = "INSERT INTO ev VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def _create_spill(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA page_size=16384")  # fewer, larger pages: inserts and index builds ~10 % cheaper (measured)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    # indexes are built once the rows are in (a sort, cheaper than keeping a B-tree in id order
    # through a million inserts in reading order); see _write_spill
    db.execute("CREATE TABLE ev (id TEXT, digest BLOB, shard INTEGER, part TEXT, at INTEGER, eff INTEGER, "
               "type TEXT, fact BLOB, file TEXT, line INTEGER, ord INTEGER)")
    db.execute("CREATE TABLE rep (id TEXT, digest BLOB, file TEXT, line INTEGER, ord INTEGER)")
    db.execute("CREATE TABLE rej (ord INTEGER, file TEXT, line INTEGER, id TEXT, error TEXT)")


def _row(item: Accepted, shards: int, eff: bool, order: int) -> tuple[Any, ...]:
    f = item.fact
    key = _part_key(f.partition)  # formatted once, for the shard too
    return (f.id, item.digest, _shard_of_key(key, shards), key, f.at, int(eff), f.type,
            marshal.dumps((f.id, f.type, f.at, f.unit, f.subject, f.data, f.about)), item.file, item.line, order)


def _write_spill(spill: str, verdicts: Iterable[tuple[int, Accepted | Rejected]], shards: int, effective: int) -> str:
    """Phase 1 into one spill file: the first of each id in `ev`, later ones in `rep`, bad ones in
    `rej`, each with its reading-order key; `BatchEvaluator._merge` settles repeats and conflicts.

    Rows are written a chunk at a time and repeats are found by SQL once all are in, so memory
    stays at one chunk whatever the size of the input (no set of the ids seen)."""
    db = sqlite3.connect(spill)
    _create_spill(db)
    rows: list[tuple[Any, ...]] = []
    rejs: list[tuple[Any, ...]] = []
    for order, item in verdicts:
        if isinstance(item, Rejected):
            rejs.append((order, item.file, item.line, item.id, item.error))
        else:
            rows.append(_row(item, shards, item.fact.at >= effective, order))
        if len(rows) >= CHUNK or len(rejs) >= CHUNK:
            db.executemany(INSERT_EV, rows)
            db.executemany("INSERT INTO rej VALUES (?, ?, ?, ?, ?)", rejs)
            rows.clear()
            rejs.clear()
    db.executemany(INSERT_EV, rows)
    db.executemany("INSERT INTO rej VALUES (?, ?, ?, ?, ?)", rejs)
    db.execute("CREATE INDEX ev_id ON ev (id, ord, digest)")
    # every occurrence of an id after its first in this range is a repeat (usually there are none)
    db.execute("CREATE TEMP TABLE dup AS SELECT id, min(ord) AS first FROM ev GROUP BY id HAVING count(*) > 1")
    later = "FROM ev AS e JOIN dup AS d ON d.id = e.id WHERE e.ord > d.first"
    db.execute(f"INSERT INTO rep SELECT e.id, e.digest, e.file, e.line, e.ord {later}")
    db.execute(f"DELETE FROM ev WHERE rowid IN (SELECT e.rowid {later})")
    db.execute("CREATE INDEX ev_part ON ev (shard, eff, part, at, id, fact)")  # covering: phase 2 reads in order
    db.commit()
    db.close()
    return spill


def _parse_range(ruleset: Ruleset, segments: list[Segment], spill: str, shards: int) -> str:
    """Phase 1 for one byte range (runs in a worker)."""
    settle_worker()
    return _write_spill(spill, range_verdicts(segments, ruleset.units), shards, ruleset.effective)


def _parse_stored(ruleset: Ruleset, url: str, first: int, last: int, spill: str, shards: int) -> str:
    """Phase 1 for one range of the store's arrival order (runs in a worker); seq is the order key."""
    from oblige.engine.store.sql import Store, stored_verdict

    store = Store(url, create=False)  # a store gone mid-run is an error, never an empty range read as complete
    settle_worker()
    try:
        verdicts = ((seq, stored_verdict(source, line, body, ruleset.units))
                    for seq, source, line, body in store.events(first=first, last=last))
        return _write_spill(spill, verdicts, shards, ruleset.effective)
    finally:
        store.close()


def _fetched(cursor: sqlite3.Cursor, size: int = 1000) -> Iterator[list[Any]]:
    """A cursor's rows as blocks, for `merge_blocks`."""
    return iter(lambda: cursor.fetchmany(size), [])


def _events_hash(spills: list[str]) -> str:
    """`Session.events_hash` of the spilled events: SHA-256 over (id, digest) in id order.

    Fed a chunk at a time: hashing the concatenation is hashing the pieces in turn. Without
    collections: the chunks' tuples set them off, and each walked the whole engine of the calling
    process (0.13 s of collections for 0.08 s of hashing at 100,000 events, measured)."""
    with no_collections():
        return _hash_spills(spills)


def _hash_spills(spills: list[str]) -> str:
    digest = hashlib.sha256()
    dbs = [sqlite3.connect(f"file:{spill}?mode=ro", uri=True) for spill in spills]
    rows = merge_blocks([_fetched(db.execute("SELECT id, digest FROM ev ORDER BY id")) for db in dbs])
    for chunk in chunks(rows, 10_000):
        digest.update(b"".join(event_id.encode("utf-8") + b"\x00" + event_digest for event_id, event_digest in chunk))
    for db in dbs:
        db.close()
    return digest.hexdigest()


def _count_after(spills: list[str], as_of: int) -> int:
    """How many spilled events happened after `as_of`."""
    total = 0
    for spill in spills:
        db = sqlite3.connect(f"file:{spill}?mode=ro", uri=True)
        total += db.execute("SELECT count(*) FROM ev WHERE at > ?", (as_of,)).fetchone()[0]
        db.close()
    return total


@dataclass
class ShardResult:
    runs: dict[str, list[str]]  # table -> sorted run files
    tally: Tally = field(default_factory=Tally)
    vetoes: dict[tuple[str, int], VetoCandidate] = field(default_factory=dict)


def _evaluate_shard(ruleset: Ruleset, spills: list[str], shard: int, shards: int, as_of: int, out_dir: str,
                    run_budget: int = RUN_BUDGET, decisions: list[Fact] | None = None) -> ShardResult:
    """Phase 2 for one shard (runs in a worker process, or inline for one shard)."""
    engine = Engine(ruleset)
    settle_worker(collect=False)
    out = {table: RunWriter(out_dir, f"{table}-{shard}", run_budget) for table in ("ob", "vi", "es")}
    evaluator = PartitionEvaluator(engine, as_of, decisions or [])
    sources = [sqlite3.connect(f"file:{spill}?mode=ro", uri=True) for spill in spills]
    seen_units: set[str] = set()

    def partitions() -> Iterator[tuple[Partition, list[Fact]]]:
        current: str | None = None
        facts: list[Fact] = []
        streams = [src.execute("SELECT part, at, id, fact FROM ev WHERE shard = ? AND eff = 1 ORDER BY part, at, id",
                               (shard,)) for src in sources]
        for part, _, _, blob in merge_blocks(map(_fetched, streams)):  # (part, at, id) is unique: the blob is never compared
            if part != current:
                if current is not None:
                    yield _partition(current), facts
                current, facts = part, []
            facts.append(_unpack(blob))
        if current is not None:
            yield _partition(current), facts
        for unit in sorted(engine.duties):  # units that owe calendar duties but sent no events
            key = (UNIT_PARTITION, unit)
            if _shard(key, shards) == shard and unit not in seen_units:
                yield key, []

    def evaluate(batch: list[tuple[Partition, list[Fact]]]) -> None:
        rows = evaluator.evaluate(batch)
        out["ob"].extend([(o.triggered_at, o.id, row_json(o)) for o in rows.obligations])
        out["vi"].extend([(v.at, v.id, row_json(v)) for v in rows.violations])
        out["es"].extend([(e.at, e.id, row_json(e)) for e in rows.escalations])
        count(shard, len(batch))  # partitions evaluated, read by the caller for its progress display

    batch: list[tuple[Partition, list[Fact]]] = []
    size = 0
    for key, facts in partitions():
        if key[0] == UNIT_PARTITION:
            seen_units.add(key[1])
        batch.append((key, facts))
        size += len(facts) + (len(engine.duties.get(key[1], [])) if key[0] == UNIT_PARTITION else 0)
        if size >= BATCH * 8:
            evaluate(batch)
            batch, size = [], 0
    if batch:
        evaluate(batch)
    for src in sources:
        src.close()
    return ShardResult({table: writer.close() for table, writer in out.items()}, evaluator.tally, evaluator.vetoes)


def _partition(part: str) -> Partition:
    kind, _, name = part.partition("\x1f")
    return kind, name


@contextlib.contextmanager
def _reporting(workers: Workers, on_partitions: Callable[[int], None] | None, every: float = 0.25) -> Iterator[None]:
    """Tell `on_partitions` the partitions evaluated so far, from a thread of this process that reads
    the workers' shared counters every `every` seconds, and once more at the end."""
    if on_partitions is None:
        yield
        return
    stop = threading.Event()
    said = [-1]

    def say() -> None:
        n = workers.total()
        if n != said[0]:
            said[0] = n
            on_partitions(n)

    def watch() -> None:
        while not stop.wait(every):
            say()

    watcher = threading.Thread(target=watch, name="oblige-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
    say()


class BatchEvaluator:
    """Evaluate one batch of events, as of one instant, writing the findings document to a stream.

    `on_partitions`, if given, is told the number of partitions evaluated so far (a running total,
    from another thread of this process) while the workers evaluate."""

    def __init__(self, engine: Engine, workers: int = 1, tmpdir: str | None = None, run_budget: int = RUN_BUDGET,
                 on_partitions: Callable[[int], None] | None = None):
        self.engine = engine
        self.workers = max(1, workers)
        self.tmpdir = tmpdir
        self.run_budget = run_budget  # bytes of findings per table a worker sorts in memory (tests make it tiny)
        self.on_partitions = on_partitions

    def run(self, items: Iterable[Accepted | Rejected], as_of: int, out: IO[str]) -> Summary:
        with tempfile.TemporaryDirectory(prefix="oblige-", dir=self.tmpdir) as work, Workers(self.workers) as workers:
            spill = _write_spill(os.path.join(work, "events.db"), enumerate(items), self.workers,
                                 self.engine.ruleset.effective)
            return self._finish(workers, [spill], work, as_of, out)

    def run_files(self, paths: list[str], as_of: int, out: IO[str], inline: bool = False,
                  early: EarlyParse | None = None) -> Summary:
        """Like `run`, for JSON Lines files, with the parsing split across the workers too.

        Each worker parses a contiguous byte range (whole lines) into its own spill file; the
        ranges are in reading order, so an id already in an earlier range wins over a later one
        ("first read wins", SPEC §2), and the later one is settled as a repeat or a conflict.
        `inline` runs the parsing in this process (tests); `early` is that parsing already begun
        on these files (the caller closes it)."""
        if early is not None and early.paths == list(paths) and early.workers.processes == self.workers:
            spills = early.spills(self.engine.ruleset)
            if spills is not None:
                return self._finish(early.workers, spills, early.work, as_of, out)
        with tempfile.TemporaryDirectory(prefix="oblige-", dir=self.tmpdir) as work, Workers(self.workers) as workers:
            jobs = [(self.engine.ruleset, r, os.path.join(work, f"events-{k}.db"), self.workers)
                    for k, r in enumerate(_split(paths, self.workers))]
            return self._finish(workers, workers.map(_parse_range, jobs, inline), work, as_of, out)

    def run_store(self, url: str, last_seq: int, as_of: int, out: IO[str], inline: bool = False) -> Summary:
        """Like `run_files`, over the events of a store (seq 1..last_seq), split by arrival order."""
        with tempfile.TemporaryDirectory(prefix="oblige-", dir=self.tmpdir) as work, Workers(self.workers) as workers:
            step = max(1, -(-last_seq // self.workers))
            jobs = [(self.engine.ruleset, url, lo, min(last_seq, lo + step - 1), os.path.join(work, f"events-{k}.db"),
                     self.workers) for k, lo in enumerate(range(1, max(last_seq, 1) + 1, step))]
            return self._finish(workers, workers.map(_parse_stored, jobs, inline), work, as_of, out)

    def _finish(self, workers: Workers, spills: list[str], work: str, as_of: int, out: IO[str]) -> Summary:
        """Phases after parsing: settle repeats, evaluate the shards, write the document."""
        stats = self._merge(spills)
        rs = self.engine.ruleset
        with _reporting(workers, self.on_partitions):
            jobs = [workers.submit(_evaluate_shard, rs, spills, k, self.workers, as_of, work, self.run_budget,
                                   stats["decisions"]) for k in range(self.workers)]
            # hashed here while the workers evaluate: this process would only wait meanwhile, and
            # an idle worker hashing after them held up the document (0.1 s at 100,000 events)
            events_hash = _events_hash(spills)
            stats["after_as_of"] = _count_after(spills, as_of)
            results = [job() for job in jobs]
        return self._write(stats, results, spills, events_hash, as_of, out)

    def _merge(self, spills: list[str]) -> dict[str, Any]:
        """Settle ids repeated across ranges (earlier range wins) and gather the counts.

        All in SQL: a conflicting repeat becomes a row of its spill's `rej` table, which phase 3
        streams in reading order, so neither repeats nor rejections are held in memory."""
        stats: dict[str, Any] = {"events": 0, "duplicates": 0, "before_effective": 0, "decisions": [], "rejected": 0}
        conflict = "conflicting duplicate id: differs from the event first read with this id"
        dbs = [sqlite3.connect(spill) for spill in spills]
        for db in dbs:  # scratch files: nothing to journal or sync (each commit synced the file: ~10 ms)
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
        for k, db in enumerate(dbs):
            # winners: ids of this range already kept by an earlier range, with the kept digest
            db.execute("CREATE TEMP TABLE w (id TEXT PRIMARY KEY, digest BLOB)")
            for earlier in spills[:k]:
                db.execute("ATTACH DATABASE ? AS e", (earlier,))
                db.execute("INSERT OR IGNORE INTO w SELECT a.id, b.digest FROM ev AS a JOIN e.ev AS b ON b.id = a.id")
                db.commit()
                db.execute("DETACH DATABASE e")
            # every repeat with the digest it is judged against: the earlier range's, else this range's first
            settle = ("SELECT a.id AS id, a.digest AS digest, a.file AS file, a.line AS line, a.ord AS ord, "
                      "w.digest AS kept FROM ev AS a JOIN w ON w.id = a.id "
                      "UNION ALL SELECT r.id, r.digest, r.file, r.line, r.ord, COALESCE(w.digest, a.digest) "
                      "FROM rep AS r LEFT JOIN w ON w.id = r.id LEFT JOIN ev AS a ON a.id = r.id")
            stats["duplicates"] += db.execute(f"SELECT count(*) FROM ({settle}) WHERE digest IS kept").fetchone()[0]
            db.execute(f"INSERT INTO rej SELECT ord, file, line, id, ? FROM ({settle}) WHERE digest IS NOT kept",
                       (conflict,))
            db.execute("DELETE FROM ev WHERE id IN (SELECT id FROM w)")
            db.execute("CREATE INDEX rej_order ON rej (ord)")
            stats["rejected"] += db.execute("SELECT count(*) FROM rej").fetchone()[0]
            stats["events"] += db.execute("SELECT count(*) FROM ev").fetchone()[0]
            stats["before_effective"] += db.execute("SELECT count(*) FROM ev WHERE eff = 0").fetchone()[0]
            stats["decisions"] += [_unpack(blob) for (blob,) in db.execute(
                "SELECT fact FROM ev WHERE eff = 1 AND type IN (?, ?)", sorted(self.engine.decision_types))]
            db.commit()
        for db in dbs:
            db.close()
        return stats

    # ---- phase 3 --------------------------------------------------------------------------
    def _write(self, stats: dict[str, Any], results: list[ShardResult], spills: list[str], events_hash: str,
               as_of: int, out: IO[str]) -> Summary:
        engine = self.engine
        tally = Tally()
        for r in results:
            tally.merge(r.tally)
        finals = document.finish(engine, as_of, stats["decisions"], [r.vetoes for r in results], tally)
        dbs = [sqlite3.connect(f"file:{spill}?mode=ro", uri=True) for spill in spills]
        read = document.InputCounts(events=stats["events"], duplicates=stats["duplicates"], rejected=stats["rejected"],
                                    before_effective=stats["before_effective"], after_as_of=stats["after_as_of"])
        head = document.summary(read, tally)

        def merged(table: str, extra: Iterable[tuple[int, str, str]] = ()) -> Iterator[str]:
            return map(itemgetter(2), merge_runs([p for r in results for p in r.runs[table]], extra))

        rows = merge_blocks([_fetched(db.execute("SELECT ord, file, line, id, error FROM rej ORDER BY ord")) for db in dbs])
        rejected = (Rejection(file=file, line=line, id=event_id, error=error).model_dump_json()
                    for _, file, line, event_id, error in rows)  # in reading order
        document.write(out, engine.ruleset.name, as_of, head, merged("ob"), merged("vi"),
                       merged("es", [(e.at, e.id, row_json(e)) for e in finals]), rejected,
                       document.receipt(engine, events_hash, as_of))
        for db in dbs:
            db.close()
        return head
