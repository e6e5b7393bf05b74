"""Findings kept in the store equal the evaluation of its events: any batches, any as_of, any filters."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oblige import Engine
from oblige.engine.core.filters import Filters, narrow
from oblige.engine.store import kept as kept_module
from oblige.engine.store.kept import Keeper
from oblige.engine.store.reads import Cursor, Reader
from oblige.engine.store.sql import Store
from oblige.facts.timeutil import parse_instant
from oblige.facts.trusted import reader_stamp
from tests.conftest import verdicts
from tests.strategies import SUBJECTS, UNITS, as_of_hours, event_streams, instant

SETTINGS = settings(max_examples=int(os.environ.get("OBLIGE_HYPOTHESIS_EXAMPLES", "25")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def evaluated(engine: Engine, events: list[dict], as_of: int) -> str:
    session = engine.session()
    session.add_all(verdicts(engine, events))
    out = io.StringIO()
    session.write_document(out, as_of)
    return out.getvalue()


def kept(reader: Reader, as_of: int, f: Filters | None = None) -> str:
    out = io.StringIO()
    reader.write(out, as_of, f)
    return out.getvalue()


@pytest.fixture
def store(tmp_path: Path):
    s = Store(f"sqlite:///{tmp_path / 'kept.db'}")
    yield s
    s.close()


def ingest_in_batches(store: Store, keeper: Keeper, engine: Engine, events: list[dict], data: st.DataObject,
                      always_refresh: bool = False) -> None:
    """The events ingested in random batches, the kept findings refreshed or not in between (always,
    if asked), and refreshed at the end. Each batch is noted as read by the engine's reader or not, so
    that the keeper takes it back from the stored bodies or validates it again (facts/trusted.py)."""
    rest = list(events)
    while rest:
        cut = data.draw(st.integers(1, len(rest)))
        reader = data.draw(st.sampled_from([None, reader_stamp(engine.ruleset.units)]))
        store.ingest(verdicts(engine, rest[:cut]), "test", reader=reader)
        rest = rest[cut:]
        if always_refresh or data.draw(st.booleans()):
            keeper.refresh()
    keeper.refresh()


filters = st.builds(Filters, unit=st.none() | st.sampled_from(UNITS[:6]),
                    status=st.none() | st.sampled_from(["open", "fulfilled", "fulfilled_late", "overdue", "discharged"]),
                    article=st.none() | st.sampled_from([19, 20, 28, 35, 36, 37]),
                    subject=st.none() | st.sampled_from(SUBJECTS), period=st.none() | st.sampled_from(["2022", "2023"]),
                    level=st.none() | st.sampled_from(["supervision_notice", "public_criticism", "one_vote_veto"]),
                    basis=st.none() | st.sampled_from(["rule", "proposed", "determined", "declined"]),
                    units=st.none() | st.frozensets(st.sampled_from(UNITS[:6]), min_size=1, max_size=2))


@SETTINGS
@given(events=event_streams(), hours=st.lists(as_of_hours, min_size=1, max_size=3), data=st.data())
def test_kept_findings_equal_evaluation(engine: Engine, tmp_path_factory, events, hours, data) -> None:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('k') / 'kept.db'}")
    bulk_from = kept_module.BULK
    try:
        kept_module.BULK = data.draw(st.sampled_from([1, bulk_from]))  # from one mark: indexes built after the rows
        keeper = Keeper(store, engine)
        ingest_in_batches(store, keeper, engine, events, data)
        reader = Reader(keeper)
        for h in hours:
            as_of = parse_instant(instant(h))
            assert kept(reader, as_of) == evaluated(engine, events, as_of)
            f = data.draw(filters)
            whole = engine.evaluate(verdicts(engine, events), as_of)
            expected = narrow(whole, filters=f).to_json_dict()
            assert json.loads(kept(reader, as_of, f)) == expected
    finally:
        kept_module.BULK = bulk_from
        store.close()


@SETTINGS
@given(events=event_streams(), hours=as_of_hours, limit=st.integers(1, 4))
def test_pages_add_up_to_the_document(engine: Engine, tmp_path_factory, events, hours, limit) -> None:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('p') / 'kept.db'}")
    try:
        store.ingest(verdicts(engine, events), "test")
        keeper = Keeper(store, engine)
        keeper.refresh()
        reader = Reader(keeper)
        as_of = parse_instant(instant(hours))
        whole = json.loads(kept(reader, as_of))
        got: dict[str, list] = {"obligations": [], "violations": [], "escalations": []}
        cursor: Cursor | None = None
        for _ in range(1000):
            out = io.StringIO()
            head, cursor = reader.write(out, as_of, None, limit, cursor)
            page = json.loads(out.getvalue())
            assert all(len(page[k]) <= limit for k in got)
            assert page["summary"] == whole["summary"]
            for k in got:
                got[k] += page[k]
            if cursor is None:
                assert page["next"] is None
                break
            cursor = Cursor.decode(page["next"])
        assert got == {k: whole[k] for k in got}
    finally:
        store.close()


def test_explaining_from_one_partition_equals_explaining_from_everything(engine: Engine, store: Store) -> None:
    """`explain --db` and /v1/explain evaluate only the finding's partition (and the deciding body's
    events), with the vetoes as the kept reader gives them: every explanation is the same."""
    from oblige.engine.render.explain import explain
    from oblige.engine.store.live import explain_inputs
    from oblige.facts.files import read_files
    from tests.conftest import ROOT

    files = [str(ROOT / "examples" / "events.jsonl"), str(ROOT / "examples" / "more.jsonl")]
    store.ingest(read_files(files, engine.ruleset.units), "x")
    for day in ("2023-02-01", "2024-06-30"):
        as_of = parse_instant(day)
        session = engine.session()
        session.add_all(read_files(files, engine.ruleset.units))
        whole, facts = session.findings(as_of), session.facts()
        ids = [f.id for f in (*whole.obligations, *whole.violations, *whole.escalations)][::4]
        ids += [e.id for e in whole.escalations if e.level == "one_vote_veto" or e.basis == "determined"]
        assert any(e.level == "one_vote_veto" for e in whole.escalations)
        for finding_id in ids:
            found = explain_inputs(engine, store, finding_id, as_of)
            assert found is not None
            assert explain(finding_id, found[0], engine.ruleset, found[1], "en") == \
                explain(finding_id, whole, engine.ruleset, facts, "en"), finding_id


@SETTINGS
@given(events=event_streams(), data=st.data())
def test_kept_counts_equal_counting_the_versions_in_force(engine: Engine, tmp_path_factory, events, data) -> None:
    """The day sums plus the as_of's own day equal a count of the versions in force, at every
    instant where a version begins or ends, one either side, and the starts of their days."""
    from collections import Counter

    from sqlalchemy import select

    from oblige.engine.store import counts as kept_counts

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('c') / 'kept.db'}")
    try:
        keeper = Keeper(store, engine)  # re-derived partitions take their old versions out of the counts
        ingest_in_batches(store, keeper, engine, events, data, always_refresh=True)
        with store._reading() as conn:
            rows = {name: conn.execute(select(t.c.unit, t.c.status, t.c.level if name == "e" else t.c.unit,
                                              t.c.year if name == "e" else t.c.article, t.c.article,
                                              t.c.valid_from, t.c.valid_to)).all()
                    for name, t in kept_counts.TABLES.items()}
            edges = sorted({x for found in rows.values() for r in found for x in r[5:] if x < 2**62})
            day = kept_counts.DAY
            points = {p for x in edges for p in (x - 1, x, x + 1, x // day * day, x // day * day - 1)}
            for as_of in data.draw(st.lists(st.sampled_from(sorted(points)), max_size=12)) if points else []:
                for name, found in rows.items():
                    expected = Counter((u, s or "", lvl if name == "e" else "", yr if name == "e" else 0, a)
                                       for u, s, lvl, yr, a, vf, vt in found if vf <= as_of < vt)
                    got = kept_counts.counts_at(conn, name, as_of, Filters())
                    assert +got == expected, (name, as_of)
    finally:
        store.close()


def kept_rows(store: Store) -> dict[str, list[tuple]]:
    """Every row of every kept table, every column."""
    from sqlalchemy import select

    from oblige.engine.store.kept_tables import COUNTS, DERIVED_TABLES

    with store._reading() as conn:  # counts: a key netted to 0 may stay behind as a row
        return {t.name: sorted((tuple(r) for r in conn.execute(select(t).where(COUNTS.c.n != 0) if t is COUNTS
                                                                else select(t))), key=repr) for t in DERIVED_TABLES}


@SETTINGS
@given(events=event_streams(), data=st.data())
def test_rederiving_keeps_what_one_derivation_writes(engine: Engine, tmp_path_factory, events, data) -> None:
    """A partition re-derived keeps the stored rows it derives again and replaces the others: after any
    batches the kept rows are those one derivation of every event writes, and re-deriving every
    partition once more changes none of them (rejections apart, whose line is the batch's)."""
    root = tmp_path_factory.mktemp("r")
    batched, whole = Store(f"sqlite:///{root / 'batched.db'}"), Store(f"sqlite:///{root / 'whole.db'}")
    try:
        keeper = Keeper(batched, engine)
        ingest_in_batches(batched, keeper, engine, events, data)
        whole.ingest(verdicts(engine, events), "test")
        Keeper(whole, engine).refresh()
        got, expected = kept_rows(batched), kept_rows(whole)
        rejections = "oblige_kept_rejections"
        assert {k: v for k, v in got.items() if k != rejections} == {k: v for k, v in expected.items() if k != rejections}
        assert [r[0] for r in got[rejections]] == [r[0] for r in expected[rejections]]
        with keeper._writing() as conn:
            keeper._mark_all(conn)
        keeper.refresh()
        assert kept_rows(batched) == got
    finally:
        batched.close()
        whole.close()


def test_the_write_cache_is_the_connections_own_again_after(engine: Engine, store: Store) -> None:
    from oblige.engine.store.kept import WRITE_CACHE_KIB, _write_cache

    keeper = Keeper(store, engine)
    with keeper._writing() as conn:
        before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        with _write_cache(conn):
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -WRITE_CACHE_KIB
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == before
