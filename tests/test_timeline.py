"""The kept timeline of a partition answers every `as_of` as the evaluation at that `as_of` does."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oblige import Engine
from oblige.engine.core.escalation import Escalator
from oblige.engine.core.lifecycle import case_findings, duty_findings
from oblige.engine.core.rows import row_json
from oblige.engine.core.timeline import ESCALATION, NEVER, OBLIGATION, VETO, VIOLATION, holding, timeline
from oblige.facts.events import UNIT_PARTITION
from oblige.facts.reader import Accepted
from oblige.facts.timeutil import parse_instant
from tests.conftest import ev, verdicts
from tests.strategies import as_of_hours, event_streams, instant

SETTINGS = settings(max_examples=int(os.environ.get("OBLIGE_HYPOTHESIS_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def partitions(engine: Engine, events: list[dict]) -> dict:
    parts: dict = {}
    for item in verdicts(engine, events):
        if isinstance(item, Accepted) and item.fact.at >= engine.ruleset.effective:
            parts.setdefault(item.fact.partition, []).append(item.fact)
    for unit in engine.duties:
        parts.setdefault((UNIT_PARTITION, unit), [])
    return {k: sorted(v, key=lambda f: (f.at, f.id)) for k, v in parts.items()}


def direct(engine: Engine, key, facts, grouped, as_of: int) -> dict[str, set[str]]:
    """The partition evaluated at `as_of` the way the session does (no decisions: readers apply them)."""
    rs = engine.ruleset
    obs, vis = case_findings(rs, engine.params, facts, grouped, as_of)
    if key[0] == UNIT_PARTITION:
        more = duty_findings(rs, facts, engine.duties.get(key[1], []), grouped, as_of)
        obs, vis = obs + more[0], vis + more[1]
    escalator = Escalator(rs.header.escalation, engine.params, rs.units, as_of, ())
    escs = [e for v in vis for e in escalator.add(v)]
    vetoes = {f"{u}\x1f{y}\x1f{at}\x1f{v_at}\x1f{r}\x1f{s}\x1f{p}\x1f{b}"
              for (u, y), (at, (v_at, r, s, p), b) in escalator.vetoes.items()}
    return {OBLIGATION: {row_json(o) for o in obs}, VIOLATION: {row_json(v) for v in vis},
            ESCALATION: {row_json(e) for e in escs}, VETO: vetoes}


def kept(versions, as_of: int) -> dict[str, set[str]]:
    """The kept rows in force at as_of; of the veto proposals, the earliest of each (unit, year)."""
    out: dict[str, set[str]] = {OBLIGATION: set(), VIOLATION: set(), ESCALATION: set(), VETO: set()}
    earliest: dict[tuple[str, str], tuple] = {}
    for v in holding(versions, as_of):
        if v.kind == VETO:
            u, y, at, v_at, r, s, p, b = v.text.split("\x1f")
            candidate = ((int(at), (int(v_at), r, s, p), b), v.text)
            earliest[(u, y)] = min(earliest.get((u, y), candidate), candidate)
        else:
            out[v.kind].add(v.text)
    out[VETO] = {text for _, text in earliest.values()}
    return out


def check(engine: Engine, events: list[dict], extra_as_of: list[int]) -> int:
    parts = partitions(engine, events)
    matched = engine.match(list(parts.items()))
    checked = 0
    for key, facts in parts.items():
        versions = timeline(engine, key, facts, matched[key])
        edges = {b for v in versions for b in (v.valid_from, v.valid_to)} - {NEVER}
        probes = {-(2**62), NEVER - 1, *extra_as_of, *(e + d for e in edges for d in (-1, 0, 1)),
                  *(f.at + d for f in facts for d in (-1, 0, 1))}
        for as_of in probes:
            assert kept(versions, as_of) == direct(engine, key, facts, matched[key], as_of), (key, as_of)
            checked += 1
        spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for v in versions:
            spans.setdefault((v.kind, v.id), []).append((v.valid_from, v.valid_to))
        for intervals in spans.values():  # one version of a row at a time
            intervals.sort()
            assert all(a[1] <= b[0] for a, b in zip(intervals, intervals[1:], strict=False))
    return checked


@SETTINGS
@given(events=event_streams(), hours=st.lists(as_of_hours, max_size=3))
def test_timeline_equals_evaluation_at_every_instant(engine: Engine, events, hours) -> None:
    check(engine, events, [parse_instant(instant(h)) for h in hours])


def test_a_late_fulfilment_has_three_versions(engine: Engine) -> None:
    """Open, then overdue (a violation, its notice, its criticism), then fulfilled late (remedied)."""
    events = [ev("t1", "child.missing_reported", "2023-03-01T10:00:00+08:00", "public_security", "c1", age=5),
              ev("f1", "tuanyuan.alert_published", "2023-06-01T10:00:00+08:00", "public_security", "c1")]
    parts = partitions(engine, events)
    key = ("subject", "c1")
    versions = timeline(engine, key, parts[key], engine.match([(key, parts[key])])[key])
    alert = [v for v in versions if v.kind == OBLIGATION and v.row.rule.endswith("tuanyuan_alert")]
    assert [v.status for v in sorted(alert, key=lambda v: v.valid_from)] == ["open", "overdue", "fulfilled_late"]
    assert check(engine, events, []) > 10


# few kinds on one subject: each trigger pairs with many facts of each kind (fulfilments, blockers,
# discharges, extensions, cancellations), so only the earliest of each can change its findings
CROWDED = [("household_registration.requested", {"age": 3, "origin": "unknown"}), ("dna.compared", {"matched": False}),
           ("household_registration.approved", {}), ("child.missing_reported", {"age": 5}), ("child.found", {}),
           ("tuanyuan.alert_published", {}), ("labor_case.opened", {}), ("labor_case.extended", {}),
           ("labor_case.closed", {}), ("aid.admitted", {"identity_known": False, "trafficking_victim": True}),
           ("identity.established", {})]


@SETTINGS
@given(events=event_streams(max_size=40, templates=CROWDED), hours=st.lists(as_of_hours, max_size=3))
def test_timeline_equals_evaluation_with_many_facts_paired_to_each_trigger(engine: Engine, events, hours) -> None:
    for e in events:
        e["subject"] = "s1"
    check(engine, events, [parse_instant(instant(h)) for h in hours])


def test_a_crowded_subject_costs_a_few_evaluations_per_trigger(engine: Engine, monkeypatch) -> None:
    """100 requests, 100 comparisons and 100 approvals of one child: each duty a request triggers is
    evaluated at a handful of instants (1,407 evaluations in all), not at the instant of every fact
    paired with it (16,371 here; for 1,200 such events the ingest took 9.8 s, now 2.2 s)."""
    from oblige.engine.core import timeline as timeline_module

    events = []
    for i in range(300):
        type_, data = CROWDED[i % 3]
        events.append(ev(f"c{i}", type_, instant(7 * i + 3 * (i % 5)), "public_security", "s1", **data))
    calls = 0
    lifecycle = timeline_module._Component.lifecycle

    def counted(self, as_of):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return lifecycle(self, as_of)

    monkeypatch.setattr(timeline_module._Component, "lifecycle", counted)
    assert check(engine, events, []) > 300
    assert calls < 2_000, calls


@SETTINGS
@given(ats=st.lists(st.integers(0, 30), max_size=40), picks=st.lists(st.booleans(), min_size=40, max_size=40),
       lo=st.none() | st.integers(-2, 32), hi=st.integers(-2, 32))
def test_the_earliest_of_a_long_list_is_searched_as_a_scan_would_find_it(ats, picks, lo, hi) -> None:
    """A list of paired facts longer than `SHORT` is searched by time (the facts sorted by (time, id),
    as every caller gives them): the same fact as the scan of every one of them, ties by id."""
    from oblige.engine.core.lifecycle import SHORT, _earliest
    from oblige.facts.events import Fact

    facts = sorted((Fact(f"e{k:02d}", "child.found", at, "public_security", "s1", (), None) for k, at in enumerate(ats)),
                   key=lambda f: (f.at, f.id))
    seqs = [s for s in range(len(facts)) if picks[s]]
    inside = [facts[s] for s in seqs if facts[s].at <= hi and (lo is None or facts[s].at >= lo)]
    expected = min(inside, key=lambda f: (f.at, f.id)) if inside else None
    assert _earliest(facts, seqs, lo, hi) == expected
    assert SHORT < 40  # (the lists drawn are long enough to be searched)


def test_threads_deriving_timelines_at_once_get_what_one_alone_gets(engine: Engine) -> None:
    """Threads of a service share an engine; each derives with an escalator of its own (an escalator
    carries the veto notes of the violation at hand). Switching threads every microsecond, the
    timelines of the example's partitions, derived by four threads at once, are those derived alone."""
    import json
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import ROOT

    lines = (ROOT / "examples" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    parts = list(partitions(engine, [json.loads(line) for line in lines if line.strip()]).items())
    matched = engine.match(parts)
    derive = lambda part: [v[:8] + v[9:] for v in timeline(engine, part[0], part[1], matched[part[0]])]  # noqa: E731
    alone = [derive(part) for part in parts]
    assert any(v[0] == VETO for versions in alone for v in versions)  # veto notes are among them
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(4) as pool:
            for _ in range(3):
                assert list(pool.map(derive, parts * 4)) == alone * 4
    finally:
        sys.setswitchinterval(interval)
