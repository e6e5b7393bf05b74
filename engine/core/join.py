"""A partition's pairs of facts, found by key from the matches of single event patterns.

A second pattern (a fulfilment, a blocker, a cancelling act, …) pairs with the first facts of its
rule in the partition — an obligation's triggers, a periodic rule's calendar duties, a
prohibition's acts — whose fields equal its join's: the partition already is the subject or the
unit, so a join holds only the rest (the bearer reporting, the year or period of a duty;
compile.py). Seconds are indexed by their join key once, so a crowded subject costs a lookup per
first fact, and first facts with the same key share one list of seconds (read only, as all of
`Grouped` is): a subject's pairs take memory in its facts, not in their square.

A fact never pairs with itself (nor did it in durable_rules' joins), and a field absent on either
side equals nothing (as in durable_rules).
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any

from oblige.engine.core.compile import ACT, TRIGGER, Join, Pattern
from oblige.engine.core.lifecycle import Grouped

Key = tuple[Any, ...]


def _unique(seqs: list[int]) -> list[int]:
    return sorted(set(seqs)) if len(seqs) > 1 else seqs


def _without(seqs: list[int], f: int) -> list[int]:
    """`seqs` (sorted) without the first fact itself: a fact never pairs with itself."""
    i = bisect_left(seqs, f)
    return seqs[:i] + seqs[i + 1:] if i < len(seqs) and seqs[i] == f else seqs


def _index(facts: Sequence[dict[str, Any]], seqs: list[int], join: Join) -> dict[Key, list[int]]:
    """Seconds by the values of their join fields (a second without one of them pairs with nothing)."""
    out: dict[Key, list[int]] = {}
    for s in _unique(seqs):
        fact = facts[s]
        key = tuple([fact.get(field) for field, _ in join])
        if None not in key:
            out.setdefault(key, []).append(s)
    return out


def pair(hits: Iterable[tuple[Pattern, int]], facts: Sequence[dict[str, Any]], events: int) -> Grouped:
    """A partition's matches from its patterns' hits: `facts` are its fact dicts by position, the
    first `events` of them its events, then its calendar duties (`Duty.as_fact`: never asserted,
    a duty is a first fact of its rule)."""
    triggers: dict[int, list[int]] = {}
    acts: dict[int, list[int]] = {}
    seconds: dict[tuple[str, int], dict[Join, list[int]]] = {}
    for (tag, rule, join), seq in hits:
        if tag == TRIGGER:
            triggers.setdefault(rule, []).append(seq)
        elif tag == ACT:
            acts.setdefault(rule, []).append(seq)
        else:
            seconds.setdefault((tag, rule), {}).setdefault(join, []).append(seq)
    grouped = Grouped({rule: _unique(seqs) for rule, seqs in triggers.items()}, {},
                      {rule: _unique(seqs) for rule, seqs in acts.items()})
    if not seconds:
        return grouped
    duties: dict[int, list[int]] = {}
    for s in range(events, len(facts)):
        duties.setdefault(facts[s]["rule"], []).append(s)
    pairs = grouped.pairs
    for (tag, rule), by_join in seconds.items():
        firsts = grouped.triggers.get(rule) or grouped.acts.get(rule) or duties.get(rule)
        if not firsts:
            continue
        if len(by_join) == 1 and () in by_join:  # the partition is the whole join: every first, every second
            every = _unique(by_join[()])
            for f in firsts:
                found = _without(every, f)
                if found:
                    pairs[(tag, rule, f)] = found
            continue
        indexes = [(tuple([field for _, field in join]), _index(facts, seqs, join)) for join, seqs in by_join.items()]
        shared: dict[tuple[Key, ...], list[int]] = {}
        for f in firsts:
            first = facts[f]
            keys = tuple([tuple([first.get(field) for field in fields]) for fields, _ in indexes])
            known = shared.get(keys)
            if known is None:
                lists = [index.get(key, []) for (_, index), key in zip(indexes, keys, strict=True)]
                known = shared[keys] = lists[0] if len(lists) == 1 else sorted(set().union(*lists))
            found = _without(known, f)
            if found:
                pairs[(tag, rule, f)] = found
    return grouped
