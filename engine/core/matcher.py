"""The only module that talks to durable_rules.

One `Matcher` owns one durable_rules host with one ruleset under a name unique to it, so
several engines live in one process without sharing state. Facts are asserted in batches of
partitions (subjects or units) under a fresh session id that is deleted afterwards: live
sessions stay at one, and per-session fact ids are small sequential numbers, which the
measured 32-bit id hash does not collide on (checked up to 200,000).

durable_rules tests every condition of every event pattern, one fact at a time (the equalities
that pair facts are applied by `core.join`: see compile.py); its firings are read straight from its C API
(`start_action_for_state` / `complete_and_start_action`), which skips the Python Closure,
Promise and state write-back that durable's wrapper spends per firing (measured: half of all
matching time) and that would otherwise swallow exceptions into a state string. The host's
wall-clock timer threads are never started. Traps found here (see compile.py): a `:` in a
rule name, and deleting a session in which no action fired, both crash the process.
"""
from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Sequence
from typing import Any

import durable_rules_engine as _dre
import orjson
from durable.engine import Host

from oblige.engine.core.compile import Compiled

Match = tuple[str, int]  # (durable_rules rule name, the seq of the fact it matched)

_names = itertools.count(1)


class MatcherError(RuntimeError):
    """durable_rules refused a batch of facts."""


class _QuietHost(Host):
    """A host without the wall-clock dispatch threads; actions are read by the matcher itself."""

    def _run(self) -> None:
        return None

    def get_action(self, action_name: str) -> Any:
        return lambda c: None  # never called: firings are consumed through the C API


class Matcher:
    def __init__(self, compiled: Compiled):
        self._lock = threading.Lock()
        self._name = f"oblige_{next(_names)}"
        self._sids = itertools.count(1)
        self._host = _QuietHost()
        self._host.set_rulesets({self._name: copy.deepcopy(compiled.definition)})
        self._handle = self._host.get_ruleset(self._name)._handle
        # the alias of each rule's one fact; the sink and end rules report nothing
        self._alias = {name: next(iter(body["all"][0])) for name, body in compiled.definition.items()
                       if name in compiled.patterns}

    def match(self, facts: Sequence[dict[str, Any]]) -> list[Match]:
        """Assert facts and return every rule firing: which pattern matched which fact.

        The dicts become the matcher's: `id` (their position) and `sid` are set in them."""
        out: list[Match] = []
        alias_of = self._alias
        with self._lock:
            sid = str(next(self._sids))
            batch = list(facts)
            for i, f in enumerate(batch):
                f["id"] = str(i)
                f["sid"] = sid
            batch.append({"id": str(len(batch)), "sid": sid, "k": "end"})
            try:
                result = _dre.assert_facts(self._handle, orjson.dumps(batch).decode("utf-8"))
                if result[0] == 1:
                    raise MatcherError("durable_rules did not handle a fact of the batch")
                if result[0] == 2:
                    raise MatcherError("durable_rules saw a fact id twice (32-bit id hash collision)")
                state = result[1]
                firing = _dre.start_action_for_state(self._handle, state) if result[0] != 3 else None
                message = firing[1] if firing else None
                while message:
                    (name, matched), = orjson.loads(message).items()
                    alias = alias_of.get(name)
                    if alias is not None:
                        out.append((name, int(matched[alias]["id"])))
                    message = _dre.complete_and_start_action(self._handle, state)
            finally:
                self._host.delete_state(self._name, sid)
        return out
