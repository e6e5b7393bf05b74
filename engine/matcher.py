"""The only module that talks to durable_rules.

One `Matcher` owns one durable_rules host with one ruleset under a name unique to it, so
several engines live in one process without sharing state. Facts are asserted one
partition (a subject, or a unit) at a time under a fresh session id that is deleted
afterwards: live sessions stay at one, and per-session fact ids are small sequential
numbers, which the measured 32-bit id hash does not collide on (checked up to 200,000).
The host's background timer threads are never started; every action runs synchronously
in the calling thread, under this matcher's lock. Traps found here (see compile.py): a `:`
in a rule name, and deleting a session where no action fired, both crash the process.
"""
from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any

from durable.engine import Host, MessageNotHandledException, MessageObservedException

from engine.compile import Compiled

Match = tuple[str, int, int, int]  # (tag, rule index, first fact seq, second fact seq or -1)

_names = itertools.count(1)


class MatcherError(RuntimeError):
    """durable_rules refused a partition or an action failed inside it."""


class _QuietHost(Host):
    """A host without the wall-clock dispatch threads (actions are run synchronously)."""

    def __init__(self, actions: Callable[[str], Callable[[Any], None]]):
        self._resolve = actions
        super().__init__()

    def _run(self) -> None:  # no timer threads: nothing here is scheduled on the wall clock
        return None

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        return self._resolve(action_name)


class Matcher:
    def __init__(self, compiled: Compiled):
        self._lock = threading.Lock()
        self._sink: list[Match] = []
        self._name = f"oblige_{next(_names)}"
        self._sids = itertools.count(1)
        self._host = _QuietHost(self._action)
        self._host.set_rulesets({self._name: copy.deepcopy(compiled.definition)})

    def _action(self, name: str) -> Callable[[Any], None]:
        parts = name.split("_")
        tag, index = parts[0].rstrip("0123456789") or parts[0], int(parts[1])  # "u0" -> "u"
        sink = self._sink

        def record(c: Any) -> None:
            matched = c._m
            first = next(matched[a] for a in ("t", "d", "e", "z") if a in matched)
            second = next((matched[a] for a in ("f", "b", "u", "o", "c") if a in matched), None)
            sink.append((tag, index, int(first["id"]), -1 if second is None else int(second["id"])))

        return record

    def match(self, facts: Sequence[dict[str, Any]]) -> list[Match]:
        """Assert one partition's facts (dicts with `id` = their position) and return all matches."""
        with self._lock:
            sid = str(next(self._sids))
            batch = [{**f, "id": str(i), "sid": sid} for i, f in enumerate(facts)]
            batch.append({"id": str(len(facts)), "sid": sid, "k": "end"})
            self._sink.clear()
            try:
                state = self._host.assert_facts(self._name, batch)
            except (MessageNotHandledException, MessageObservedException) as exc:
                raise MatcherError(getattr(exc, "message", str(exc))[:500]) from None
            finally:
                self._host.delete_state(self._name, sid)
            if isinstance(state, dict) and state.get("exception"):
                raise MatcherError(str(state["exception"])[:500])
            out = sorted(set(m for m in self._sink if m[0] not in ("sink", "end")))
            self._sink.clear()
            return out
