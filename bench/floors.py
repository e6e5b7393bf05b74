"""Matching-only floors for the benchmark, on the same event stream as `oblige eval`.

(a) raw durable_rules: the rules `engine.compile` generates, facts asserted per subject
    partition (batched as oblige does), trivial actions, no deadlines, no findings;
(b) the same patterns in CLIPS through clipspy, translated from the same compiled rules.
Since the twelfth session the compiled rules test one fact each (oblige pairs facts by key in
`core.join`), so both floors measure single-pattern matching; earlier figures included joins.
Both read the stream and group it by partition first, as oblige must.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from oblige.engine.core.compile import compile_ruleset
from oblige.engine.core.engine import fact_dict
from oblige.engine.rules.ruleset import Ruleset

BATCH = 400


def partitions(lines: Iterable[str], ruleset: Ruleset) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Group raw events by subject (case) or unit (unit-level) as durable_rules facts."""
    from oblige.facts.reader import Accepted, read_lines

    parts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for item in read_lines(lines, "bench", ruleset.units):
        if isinstance(item, Accepted) and item.fact.at >= ruleset.effective:
            parts[item.fact.partition].append(fact_dict(item.fact))
    return parts


def durable_floor(parts: dict[tuple[str, str], list[dict[str, Any]]], ruleset: Ruleset) -> int:
    """Assert every partition into durable_rules with the compiled rules; return the match count."""
    import copy

    from durable.engine import Host

    count = [0]

    class Quiet(Host):
        def _run(self) -> None:
            return None

        def get_action(self, name: str):  # type: ignore[no-untyped-def]
            def action(c: Any) -> None:
                count[0] += 1
            return action

    host = Quiet()
    host.set_rulesets({"floor": copy.deepcopy(compile_ruleset(ruleset).definition)})
    batch: list[dict[str, Any]] = []
    sid = 0

    def flush() -> None:
        nonlocal sid
        sid += 1
        facts = [{**f, "id": str(i), "sid": str(sid)} for i, f in enumerate(batch)]
        facts.append({"id": str(len(batch)), "sid": str(sid), "k": "end"})
        host.assert_facts("floor", facts)
        host.delete_state("floor", str(sid))
        batch.clear()

    for facts in parts.values():
        if batch and len(batch) + len(facts) > BATCH:
            flush()
        batch.extend(facts)
    if batch:
        flush()
    return count[0]


# ---- CLIPS -------------------------------------------------------------------------------

def _slot_value(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def clips_rules(ruleset: Ruleset) -> tuple[list[str], list[str]]:
    """deftemplate slots and defrules equivalent to the compiled durable_rules patterns."""
    definition = compile_ruleset(ruleset).definition
    from oblige.facts.vocabulary import ALL_TYPES

    slots: set[str] = {"id", "k", "type", "subject", "unit", "rule", "period", "year", "part"}
    slots |= {f"d_{name}" for fields in ALL_TYPES.values() for name in fields}
    rules = []
    for name, rule in definition.items():
        if name.startswith(("sink", "end")):
            continue
        patterns = []
        bound: dict[tuple[str, str], str] = {}
        for alias_pattern in rule["all"]:
            alias, pattern = next(iter(alias_pattern.items()))
            terms = pattern.get("$and", [pattern])
            constraints: dict[str, list[str]] = defaultdict(list)
            tests: dict[str, list[str]] = defaultdict(list)
            for term in terms:
                (key, value), = term.items()
                if key.startswith("$"):
                    (field, operand), = value.items()
                    slots.add(field)
                    var = f"?{alias}_{field}"
                    op = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">=", "$neq": "neq", "$ex": None, "$nex": ""}[key]
                    if op is None:
                        tests[field].append("~nil")
                    elif op == "":  # absent: the slot keeps its default
                        tests[field].append("nil")
                    else:
                        tests[field].append(f":({op} {var} {_slot_value(operand)})")
                        if var not in constraints[field]:
                            constraints[field].insert(0, var)
                elif isinstance(value, dict):  # a join: equal to an earlier alias's field
                    (other, field), = value.items()
                    slots.add(key)
                    constraints[key].append(bound[(other, field)])
                else:
                    slots.add(key)
                    constraints[key].append(_slot_value(value))
            for field, extra in tests.items():
                constraints[field].extend(extra)
            for field in ("subject", "unit", "period", "year"):
                var = f"?{alias}_{field}_b"
                bound[(alias, field)] = var
                constraints[field].insert(0, var)
            body = " ".join(f"({f} {'&'.join(c)})" for f, c in constraints.items())
            patterns.append(f"(fact (part ?part) {body})")
        rules.append(f"(defrule {name.replace('_', '-')} {' '.join(patterns)} => (bind ?*matches* (+ ?*matches* 1)))")
    return sorted(slots), rules


def clips_floor(parts: dict[tuple[str, str], list[dict[str, Any]]], ruleset: Ruleset) -> int:
    import clips

    slots, rules = clips_rules(ruleset)
    env = clips.Environment()
    env.build("(defglobal ?*matches* = 0)")
    env.build("(deftemplate fact " + " ".join(f"(slot {s} (default nil))" for s in slots) + ")")
    for rule in rules:
        env.build(rule)
    env.eval("(set-reset-globals FALSE)")  # reset clears facts between batches, not the match count
    def literal(v: Any) -> str:
        return ("TRUE" if v else "FALSE") if isinstance(v, bool) else json.dumps(v) if isinstance(v, str) else str(v)

    chunk: list[str] = []
    size = 0
    for n, facts in enumerate(parts.values()):
        for f in facts:
            chunk.append("(fact (part " + str(n) + ") " + " ".join(f"({k} {literal(v)})" for k, v in f.items()) + ")")
        size += len(facts)
        if size >= BATCH:
            env.load_facts(" ".join(chunk))  # one call per batch: the per-fact Python path dominated
            env.run()
            env.reset()
            chunk, size = [], 0
    if chunk:
        env.load_facts(" ".join(chunk))
        env.run()
    return int(env.eval("?*matches*"))
