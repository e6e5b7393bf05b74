"""Pairs found by key (core/join.py) are the pairs durable_rules' own joins find, and a crowded
subject's pairs take memory in its facts, not in their square."""
from __future__ import annotations

import copy
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from durable.engine import Host
from hypothesis import HealthCheck, given, settings

from oblige import Engine
from oblige.engine.core.compile import ACT, FULFIL, TRIGGER, Pattern, compile_ruleset
from oblige.engine.core.engine import fact_dict
from oblige.engine.core.join import pair
from oblige.facts.events import UNIT_PARTITION
from tests.strategies import event_streams, instant
from tests.test_timeline import partitions

SETTINGS = settings(max_examples=int(os.environ.get("OBLIGE_HYPOTHESIS_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


class _Reference(Host):
    def _run(self) -> None:  # no wall-clock threads
        return None


def _joined_definition(engine: Engine) -> dict[str, Any]:
    """The compiled patterns joined the way durable_rules joins facts: each second pattern with each
    first pattern of its rule in one rule of two facts, its join and the partition's own equality
    (same subject; the duty's unit) written as durable_rules join references."""
    compiled = compile_ruleset(engine.ruleset)
    firsts: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for name, p in compiled.patterns.items():
        if p.tag in (TRIGGER, ACT):
            firsts.setdefault(p.rule, []).append(next(iter(compiled.definition[name]["all"][0].items())))
    for index in compiled.periodic:
        firsts[index] = [("d", {"$and": [{"k": "duty"}, {"rule": index}]})]
    out: dict[str, Any] = {"sink_0": {"all": [{"a": {"$ex": {"id": 1}}}, {"b": {"$sink": 1}}]}}
    for name, p in compiled.patterns.items():
        if p.tag in (TRIGGER, ACT):
            continue
        alias, condition = next(iter(compiled.definition[name]["all"][0].items()))
        for n, (first, first_condition) in enumerate(firsts.get(p.rule, [])):
            same = {"about": {first: "unit"}} if first == "d" else {"subject": {first: "subject"}}
            terms = condition["$and"] + [same] + [{field: {first: other}} for field, other in p.join]
            out[f"{p.tag}_{p.rule}_{name}_{n}"] = {"all": [{first: first_condition}, {alias: {"$and": terms}}]}
    return out


def _reference_pairs(engine: Engine, parts: dict) -> set[tuple[str, int, Any, int, int]]:
    """(tag, rule, partition, first, second) as durable_rules' joins find them, every partition in
    one session (a pair across partitions would show as one)."""
    found: set[tuple[str, int, Any, int, int]] = set()
    definition = _joined_definition(engine)
    batch: list[dict[str, Any]] = []
    owners: list[tuple[Any, int]] = []
    for key, facts in parts.items():
        dicts = [{**fact_dict(f), **({"subject": f.subject} if f.subject else {"about": f.about or f.unit})}
                 for f in facts]
        if key[0] == UNIT_PARTITION:
            dicts += [d.as_fact() for d in engine.duties.get(key[1], [])]
        owners += [(key, i) for i in range(len(dicts))]
        batch += dicts

    def action(name: str):  # type: ignore[no-untyped-def]
        tag, rule = name.split("_")[:2]
        first_alias, second_alias = (next(iter(term)) for term in definition[name]["all"])

        def fired(c: Any) -> None:  # (an exception here would be kept in durable_rules' state, not raised)
            (k1, a), (k2, b) = (owners[int(getattr(c, alias).id)] for alias in (first_alias, second_alias))
            found.add((tag, int(rule), k1 if k1 == k2 else ("across", k1, k2), a, b))
        return fired

    host = _Reference()
    rules = copy.deepcopy(definition)
    for name, body in rules.items():
        body["run"] = action(name) if name != "sink_0" else (lambda c: None)
    host.set_rulesets({"reference": rules})
    host.assert_facts("reference", [{**d, "id": str(i), "sid": "1"} for i, d in enumerate(batch)])
    return found


@SETTINGS
@given(events=event_streams(max_size=30))
def test_pairs_found_by_key_are_durable_rules_joins(engine: Engine, events) -> None:
    parts = partitions(engine, events)
    matched = engine.match(list(parts.items()))
    ours = {(tag, rule, key, first, second) for key, grouped in matched.items()
            for (tag, rule, first), seconds in grouped.pairs.items() for second in seconds}
    assert ours == _reference_pairs(engine, parts)


def test_a_fact_never_pairs_with_itself() -> None:
    """A fact that meets both the trigger and a fulfilment pattern of one rule (possible in a
    ruleset, not in Xunyang's) fulfils the duties of the others, never its own."""
    facts = [{"k": "ev", "type": "x", "unit": "u1", "subject": "s"} for _ in range(3)]
    hits = [(Pattern(TRIGGER, 0), s) for s in range(3)] + [(Pattern(FULFIL, 0), s) for s in range(3)]
    grouped = pair(hits, facts, 3)
    assert grouped.triggers == {0: [0, 1, 2]}
    assert grouped.pairs == {(FULFIL, 0, 0): [1, 2], (FULFIL, 0, 1): [0, 2], (FULFIL, 0, 2): [0, 1]}


def test_a_bearer_join_pairs_only_the_bearers_reports() -> None:
    """A join on the reporting unit: each trigger pairs with its own unit's acts (one list shared by
    triggers of the same unit), and an act without the field pairs with none."""
    facts = [{"k": "ev", "unit": "u1"}, {"k": "ev", "unit": "u2"}, {"k": "ev", "unit": "u1"},
             {"k": "ev", "unit": "u2"}, {"k": "ev"}]
    join = (("unit", "unit"),)
    hits = [(Pattern(TRIGGER, 4), 0), (Pattern(TRIGGER, 4), 1), (Pattern(TRIGGER, 4), 2)]
    hits += [(Pattern(FULFIL, 4, join), s) for s in (3, 2, 4)]
    grouped = pair(hits, facts, 5)
    assert grouped.pairs == {(FULFIL, 4, 0): [2], (FULFIL, 4, 1): [3]}  # trigger 2 is not its own fulfilment


def test_a_crowded_subject_is_matched_in_memory_of_its_facts(tmp_path: Path) -> None:
    """6,000 events of one child — a third each registration requests, DNA comparisons and
    approvals — under a 1 GB address-space limit. durable_rules' joins made every pair of them:
    3,000 such events took 10 s and 1.15 GB, and 6,000 aborted the process (signal 6)."""
    kinds = [("household_registration.requested", {"age": 3, "origin": "unknown"}),
             ("dna.compared", {"matched": False}), ("household_registration.approved", {})]
    path = tmp_path / "crowded.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i in range(6000):
            type_, data = kinds[i % 3]
            out.write(json.dumps({"id": f"c{i}", "type": type_, "occurred_at": instant(24 * 60 + i // 10),
                                  "unit": "public_security", "subject": "s1", "data": data}) + "\n")

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    done = subprocess.run([sys.executable, "-m", "oblige.cli", "eval", str(path), "--as-of", instant(24 * 500),
                           "--format", "json"], capture_output=True, text=True, preexec_fn=limited, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    requests = [o for o in json.loads(done.stdout)["obligations"] if o["rule"] == "art20.compare_dna_before_registration"]
    assert len(requests) == 2000 and {o["status"] for o in requests} == {"fulfilled"}


def test_durable_rules_is_asked_once_per_content(engine: Engine, monkeypatch) -> None:
    """A pattern tests a fact's type, unit and data, so 300 subjects' events of three contents are
    asked of durable_rules once each, and a second match of them asks nothing, with the same pairs."""
    from oblige.engine.core.engine import Engine as Fresh
    from tests.conftest import ev

    events = []
    for s in range(300):
        events += [ev(f"r{s}", "household_registration.requested", instant(24 * 60 + s), "public_security", f"k{s}",
                      age=3, origin="unknown"),
                   ev(f"d{s}", "dna.compared", instant(24 * 60 + s + 1), "public_security", f"k{s}", matched=False),
                   ev(f"a{s}", "household_registration.approved", instant(24 * 60 + s + 2), "public_security", f"k{s}")]
    fresh = Fresh(engine.ruleset)
    asked: list[int] = []
    real = fresh._matcher.match
    monkeypatch.setattr(fresh._matcher, "match", lambda facts: asked.append(len(facts)) or real(facts))
    parts = partitions(fresh, events)
    first = fresh.match(list(parts.items()))
    assert sum(asked) == 3
    again = fresh.match(list(parts.items()))
    assert sum(asked) == 3 and again == first
    assert all(g.pairs[("ful", rule, 0)] == [1] for g in first.values() if g.triggers for rule in g.triggers
               if ("ful", rule, 0) in g.pairs) and sum(bool(g.pairs) for g in first.values()) == 300
