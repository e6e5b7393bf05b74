"""Stored events this very reader accepted are read back from their bodies, not validated again
(facts/trusted.py, store/checked.py); every other stored event is validated again."""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generate import generate
from oblige import Engine
from oblige.engine.store import checked
from oblige.engine.store.checked import Checked
from oblige.engine.store.kept import Keeper
from oblige.engine.store.live import ingest
from oblige.engine.store.sql import Store
from oblige.facts.reader import Accepted, canonical, read_lines
from oblige.facts.trusted import from_canonical, reader_stamp
from oblige.facts.units import UnitRegistry
from tests.conftest import verdicts
from tests.strategies import event_streams

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = settings(max_examples=int(os.environ.get("OBLIGE_HYPOTHESIS_EXAMPLES", "25")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def accepted_facts(engine: Engine, lines: list[str]) -> list[Accepted]:
    return [v for v in read_lines(lines, "t", engine.ruleset.units) if isinstance(v, Accepted)]


def test_a_canonical_body_gives_back_the_fact_of_every_event_in_the_examples(engine: Engine) -> None:
    """Every event type the examples and the benchmark stream use (unit-level ones with their `about`)."""
    lines = [line for path in sorted((ROOT / "examples").glob("*.jsonl")) for line in path.read_text().splitlines()]
    lines += [json.dumps(e, ensure_ascii=False) for e in generate(3000, seed=3)]
    shared = ROOT.parent / "shared" / "examples"
    for path in sorted(shared.glob("*.json")) if shared.is_dir() else []:
        scenario = json.loads(path.read_text())
        lines += [json.dumps(e, ensure_ascii=False) for e in scenario.get("events", []) if isinstance(e, dict)]
    items = accepted_facts(engine, lines)
    assert len(items) > 3000 and len({i.fact.type for i in items}) >= 15
    assert any(i.fact.about is not None for i in items)
    for item in items:
        assert from_canonical(canonical(item.fact), item.fact.at, engine.ruleset.units) == item.fact


@SETTINGS
@given(events=event_streams(max_size=30))
def test_a_canonical_body_gives_back_the_fact_it_was_written_from(engine: Engine, events: list[dict]) -> None:
    for item in verdicts(engine, events):
        if isinstance(item, Accepted):
            assert from_canonical(canonical(item.fact), item.fact.at, engine.ruleset.units) == item.fact


def test_the_reader_stamp_follows_the_registry(engine: Engine) -> None:
    units = engine.ruleset.units
    fewer = UnitRegistry(members=units.members[1:], others=units.others, reporters=units.reporters)
    assert reader_stamp(units) == reader_stamp(UnitRegistry.model_validate_json(units.model_dump_json()))
    assert reader_stamp(fewer) != reader_stamp(units)
    assert len(reader_stamp(units)) == 16


@given(ranges=st.lists(st.tuples(st.integers(1, 60), st.integers(0, 5)), max_size=8), probe=st.integers(-2, 400))
def test_membership_in_the_noted_ranges(ranges: list[tuple[int, int]], probe: int) -> None:
    known: list[tuple[int, int]] = []
    at = 0
    for gap, length in ranges:  # ascending, disjoint, as ingests note them
        known.append((at + gap, at + gap + length))
        at += gap + length
    expected = any(a <= probe <= b for a, b in known)
    assert (probe in Checked(known)) == expected


def test_an_ingest_notes_what_it_stored_under_its_reader_and_adjacent_batches_join(tmp_path: Path, engine: Engine) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        stamp = reader_stamp(engine.ruleset.units)
        events = [json.dumps(e) for e in generate(2500, seed=5)]
        store.ingest(read_lines(events[:1200], "a", engine.ruleset.units), "a", batch_size=500, reader=stamp)
        store.ingest(read_lines(events[1200:1500], "b", engine.ruleset.units), "b")  # reader not known
        store.ingest(read_lines(events[1500:], "c", engine.ruleset.units), "c", batch_size=400, reader=stamp)
        with store._reading() as conn:
            assert checked.ranges(conn, stamp) == [(1, 1200), (1501, 2500)]
            assert checked.ranges(conn, "0" * 16) == []
    finally:
        store.close()


def test_events_stored_under_another_registry_are_validated_again(tmp_path: Path, engine: Engine) -> None:
    """Ingested under a registry that knows a unit, derived under one that does not: that unit's
    events are rejected by today's rules (as reading them again from a file would), not trusted."""
    units = engine.ruleset.units
    events = [json.dumps(e) for e in generate(1500, seed=11)]
    gone = next(u.code for u in units.members if sum(f'"unit": "{u.code}"' in e for e in events) > 10)
    listed = (ROOT / "rulesets" / "xunyang_2022" / "units.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "units.yaml").write_text("".join(line for line in listed if f"code: {gone}," not in line), encoding="utf-8")
    today = Engine.load(None, None, str(tmp_path / "units.yaml"))
    fewer = today.ruleset.units
    assert gone not in fewer.codes and reader_stamp(fewer) != reader_stamp(units)
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = Store(url)
    try:
        ingest(engine, store, read_lines(events, "old.jsonl", units), "old.jsonl", read_with_engine=True)
        keeper = Keeper(store, today)
        keeper.rebuild()
        rejected = sqlite3.connect(tmp_path / "s.db").execute("SELECT count(*) FROM oblige_kept_rejections").fetchone()[0]
        expected = sum(1 for v in read_lines(events, "old.jsonl", fewer) if not isinstance(v, Accepted))
        assert rejected == expected > 10
    finally:
        store.close()


def test_without_its_source_to_read_a_reader_trusts_nothing_another_process_stored(engine: Engine, monkeypatch) -> None:
    """A build that ships only bytecode cannot tell its own vocabulary from another's: each process
    gets a stamp of its own (a new process is modelled by clearing the cached digest)."""
    from oblige.facts import trusted

    units = engine.ruleset.units
    monkeypatch.setattr(trusted.Path, "glob", lambda self, pattern: iter(()))
    trusted._code.cache_clear()
    try:
        first = reader_stamp(units)
        assert reader_stamp(units) == first  # the same process agrees with itself
        trusted._code.cache_clear()
        assert reader_stamp(units) != first
    finally:
        monkeypatch.undo()
        trusted._code.cache_clear()
    assert reader_stamp(units) == reader_stamp(units)
