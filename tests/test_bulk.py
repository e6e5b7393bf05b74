"""A refresh into empty kept tables builds their secondary indexes after the rows (store/bulk.py):
the same rows and the same indexes as row-by-row upkeep, and a crash with the indexes aside is
mended by the next refresh. On SQLite and the machine's PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from oblige import Engine
from oblige.engine.store import bulk
from oblige.engine.store import kept as kept_module
from oblige.engine.store.kept import Keeper
from oblige.engine.store.kept_tables import COUNTS, KEPT_TABLES
from oblige.engine.store.sql import Store
from oblige.facts.files import read_files
from tests.conftest import ROOT, ev, verdicts
from tests.test_store import db_url  # noqa: F401 - the fixture

EVENTS = [str(ROOT / "examples" / "events.jsonl"), str(ROOT / "examples" / "more.jsonl")]


def indexes(store: Store) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    with store._reading() as conn:
        found = inspect(conn)
        return {t.name: sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(t.name))
                for t in KEPT_TABLES}


def rows(store: Store) -> dict[str, list[tuple]]:
    with store._reading() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t)).all())) for t in KEPT_TABLES}


def kept_counts(store: Store) -> dict[tuple, int]:
    """The kept counts by key and day (a key's changes summing to nothing count as absent)."""
    out: dict[tuple, int] = {}
    with store._reading() as conn:
        for *key, n in conn.execute(select(COUNTS)).all():
            out[tuple(key)] = out.get(tuple(key), 0) + n
    return {k: n for k, n in out.items() if n}


def ingested(url: str, engine: Engine) -> Store:
    store = Store(url)
    store.ingest(read_files(EVENTS, engine.ruleset.units), "x")
    return store


@pytest.fixture
def pair(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[tuple[Store, Store, dict]]:  # noqa: F811
    """The example events in a store at `db_url` (nothing kept yet) with its schema's indexes, and
    the same events kept row by row (the indexes in place) in an SQLite store beside it."""
    plain = ingested(f"sqlite:///{tmp_path / 'plain.db'}", engine)
    store = ingested(db_url, engine)
    try:
        Keeper(plain, engine).refresh(workers=1)
        yield plain, store, indexes(store)
    finally:
        plain.close()
        store.close()


def test_indexes_built_after_the_rows_are_the_schemas_and_the_rows_the_same(engine: Engine, pair, monkeypatch) -> None:
    plain, store, schema = pair
    assert all(schema[t.name] for t in KEPT_TABLES[:4])
    aside: list[int] = []
    real = Keeper._derive_and_write

    def derive(keeper: Keeper, marks: dict[str, int]) -> int:
        aside.append(sum(len(v) for v in indexes(keeper.store).values()))  # while the rows are written
        return real(keeper, marks)

    monkeypatch.setattr(kept_module, "BULK", 1)
    monkeypatch.setattr(Keeper, "_derive_and_write", derive)
    done = Keeper(store, engine).refresh(workers=1)
    assert done.partitions and aside
    assert aside[0] == sum(1 for t in KEPT_TABLES for i in t.indexes if [c.name for c in i.columns] == ["part"])
    assert indexes(store) == schema
    assert rows(store) == rows(plain) and rows(plain)["oblige_kept_obligations"]
    assert kept_counts(store) == kept_counts(plain) and len(kept_counts(plain)) > 50  # computed in SQL, at the end
    with store._reading() as conn:
        assert not bulk.is_aside(conn)


def test_rows_already_kept_are_not_bulk_loaded(engine: Engine, tmp_path: Path, monkeypatch) -> None:
    store = ingested(f"sqlite:///{tmp_path / 'o.db'}", engine)
    try:
        Keeper(store, engine).refresh(workers=1)
        monkeypatch.setattr(kept_module, "BULK", 1)
        with store.engine.begin() as conn:
            assert bulk.set_aside(conn) is False  # the tables hold rows: their indexes stay
        assert indexes(store) == {t.name: sorted((str(i.name), tuple(c.name for c in i.columns)) for i in t.indexes)
                                  for t in KEPT_TABLES}
    finally:
        store.close()


def test_a_crash_with_the_indexes_aside_is_mended_by_the_next_refresh(engine: Engine, pair, monkeypatch) -> None:
    plain, store, schema = pair
    monkeypatch.setattr(kept_module, "BULK", 1)
    monkeypatch.setattr(kept_module, "CHUNK", 3)

    class Crash(Exception):
        pass

    real = Keeper._derive_and_write
    calls: list[int] = []

    def dies(keeper: Keeper, marks: dict[str, int]) -> int:
        calls.append(1)
        if len(calls) > 2:
            raise Crash  # as a kill after two chunks were written
        return real(keeper, marks)

    monkeypatch.setattr(Keeper, "_derive_and_write", dies)
    with pytest.raises(Crash):
        Keeper(store, engine).refresh(workers=1)
    with store._reading() as conn:
        assert bulk.is_aside(conn)
    assert indexes(store) != schema
    monkeypatch.setattr(Keeper, "_derive_and_write", real)
    monkeypatch.setattr(kept_module, "BULK", 10**9)  # the next refresh is an ordinary one
    Keeper(store, engine).refresh(workers=1)
    assert indexes(store) == schema
    assert rows(store) == rows(plain) and kept_counts(store) == kept_counts(plain)
    with store._reading() as conn:
        assert not bulk.is_aside(conn)


def test_a_crash_before_the_indexes_are_built_is_mended_by_the_next_reader(engine: Engine, pair, monkeypatch) -> None:
    """Everything derived, the process killed as it was to build the indexes: the next refresh has
    nothing to derive, finds the note and builds them."""
    plain, store, schema = pair
    monkeypatch.setattr(kept_module, "BULK", 1)

    def killed(conn: object) -> bool:
        raise KeyboardInterrupt  # as a kill before the index builds commit

    monkeypatch.setattr(bulk, "restore", killed)
    with pytest.raises(KeyboardInterrupt):
        Keeper(store, engine).refresh(workers=1)
    monkeypatch.undo()
    with store._reading() as conn:
        assert bulk.is_aside(conn)
    assert indexes(store) != schema and rows(store) == rows(plain)
    assert Keeper(store, engine).refresh(workers=1).partitions == 0  # nothing left to derive
    assert indexes(store) == schema and kept_counts(store) == kept_counts(plain)
    with store._reading() as conn:
        assert not bulk.is_aside(conn)


def test_events_stored_before_the_indexes_are_built_are_derived_first(engine: Engine, pair, monkeypatch) -> None:
    """An ingest lands between the last chunk and the index builds: the refresh derives its marks
    before it builds them, so no reader ever reads with the indexes (and, on PostgreSQL, the counts)
    aside, and the rows and counts are those of the same events kept row by row."""
    plain, store, schema = pair
    monkeypatch.setattr(kept_module, "BULK", 1)
    late = [ev("late1", "child.missing_reported", "2023-06-01T10:00:00", "public_security", "late-child", age=5)]
    real = Keeper._indexes_back
    answers: list[bool] = []

    def ingest_first(keeper: Keeper) -> bool:
        if not answers:
            store.ingest(verdicts(engine, late), "late")
        answers.append(real(keeper))
        return answers[-1]

    monkeypatch.setattr(Keeper, "_indexes_back", ingest_first)
    done = Keeper(store, engine).refresh(workers=1)
    assert answers == [False, True]
    plain.ingest(verdicts(engine, late), "late")
    Keeper(plain, engine).refresh(workers=1)
    assert indexes(store) == schema
    assert rows(store) == rows(plain) and kept_counts(store) == kept_counts(plain)
    assert done.partitions > 1 and "subject:late-child" in {r[3] for r in rows(store)["oblige_kept_obligations"]}


def event_indexes(store: Store) -> list[str]:
    with store._reading() as conn:
        return sorted(str(i["name"]) for i in inspect(conn).get_indexes("oblige_events"))


def test_a_new_store_filled_in_bulk_builds_the_readers_event_indexes_after(engine: Engine, db_url: str,  # noqa: F811
                                                                          tmp_path: Path, monkeypatch) -> None:
    """The first batch of an ingest into an empty store drops the events' indexes that only readers use
    (instant, type) in its own transaction; the refresh builds them with the kept tables' (or the next
    reader's, when the ingest is killed before it): the same indexes, rows and counts as a store filled
    with them in place. A store that holds events keeps them."""
    from oblige.engine.store import sql

    plain = ingested(f"sqlite:///{tmp_path / 'plain.db'}", engine)  # fewer events than a bulk first batch
    try:
        schema = event_indexes(plain)
        assert {"ix_oblige_events_at", "ix_oblige_events_type", "ix_oblige_events_part"} <= set(schema)
        Keeper(plain, engine).refresh(workers=1)
        monkeypatch.setattr(sql, "BULK_EVENTS", 10)
        store = ingested(db_url, engine)  # the ingest stops here, as if killed before its refresh
        try:
            assert event_indexes(store) == [i for i in schema if i not in bulk.READERS_ONLY]
            with store._reading() as conn:
                assert bulk.is_aside(conn)
            Keeper(store, engine).refresh(workers=1)  # the next reader's refresh, below BULK partitions
            assert event_indexes(store) == schema
            assert rows(store) == rows(plain) and kept_counts(store) == kept_counts(plain)
            with store._reading() as conn:
                assert not bulk.is_aside(conn)
            more = [ev(f"bulk{k}", "child.missing_reported", "2023-06-01T10:00:00", "public_security", f"bulk-child-{k}",
                       age=5) for k in range(12)]
            assert store.ingest(verdicts(engine, more), "more").stored == 12  # a batch of BULK_EVENTS, not the first
            assert event_indexes(store) == schema
            with store._reading() as conn:
                assert not bulk.is_aside(conn)
        finally:
            store.close()
    finally:
        plain.close()
