"""Declarative rule tests: YAML cases shipped with a ruleset, run by pytest and `oblige rules test`.

A case file holds a list of cases:

    - note: what the case shows (printed on failure)
      as_of: "2024-02-01"
      params: {report_deadline: PT12H}      # optional overrides
      events: [ {id, type, occurred_at, unit, subject, data}, ... ]
      want:                                  # each item must match exactly one finding
        obligations: [{action: ..., subject: ..., status: overdue}]
        violations: [...]
        escalations: [...]
        summary: {events: 3}
      absent:                                # each item must match no finding
        obligations: [{action: ...}]
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oblige.engine.core.engine import Engine
from oblige.engine.rules.errors import RulesetError
from oblige.engine.rules.loader import read_yaml
from oblige.engine.rules.params import build_params
from oblige.facts.reader import check_event
from oblige.facts.timeutil import parse_instant

SECTIONS = ("obligations", "violations", "escalations")


@dataclass(frozen=True)
class Case:
    file: str
    line: int
    note: str
    body: dict[str, Any]


def load_cases(path: Path) -> list[Case]:
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    cases: list[Case] = []
    for file in files:
        raw, errors = read_yaml(file)
        if errors:
            raise RulesetError(errors)
        for item in raw or []:
            cases.append(Case(str(file), getattr(item, "line", 0), str(item.get("note", "")), item))
    return cases


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _shown(want: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v!r}" for k, v in want.items()) + "}"


def nearest(items: list[dict[str, Any]], want: dict[str, Any], n: int = 2) -> list[str]:
    """The findings closest to an expectation (most fields equal; the same unit, subject and period
    first), each as its id and only the fields that differ — never whole findings of other units.

    >>> nearest([{"id": "ob-1", "status": "open", "due": "x", "unit": "a"},
    ...          {"id": "ob-2", "status": "overdue", "due": "y", "unit": "b"}], {"status": "overdue", "unit": "a"})
    ["ob-1: status: want 'overdue', got 'open'", "ob-2: unit: want 'a', got 'b'"]
    """
    keys = ("duty_bearer", "unit", "subject", "period", "action", "rule", "level")

    def closeness(item: dict[str, Any]) -> tuple[int, int]:
        same = sum(1 for k, v in want.items() if item.get(k) == v)
        return (sum(1 for k in keys if k in want and item.get(k) == want[k]), same)

    ranked = sorted((i for i in items if any(i.get(k) == v for k, v in want.items())), key=closeness, reverse=True)
    out = []
    for item in ranked[:n]:
        diffs = [f"{k}: want {v!r}, got {item.get(k)!r}" for k, v in want.items() if item.get(k) != v]
        out.append(f"{item.get('id', '?')}: " + "; ".join(diffs))
    return out


def _matches(item: dict[str, Any], want: dict[str, Any]) -> bool:
    return all(item.get(k) == v for k, v in want.items())


class CaseRunner:
    """Runs cases against one engine per distinct parameter set (engines are costly to build)."""

    def __init__(self, base: Engine):
        self.base = base
        self._engines: dict[str, Engine] = {"{}": base}

    def _engine(self, params: dict[str, Any]) -> Engine:
        key = json.dumps(params, sort_keys=True)
        if key not in self._engines:
            rs = self.base.ruleset
            resolved, errors = build_params(rs.specs, params, "case params")
            if errors or resolved is None:
                raise RulesetError(errors)
            self._engines[key] = Engine(rs.with_params(resolved))
        return self._engines[key]

    def run(self, case: Case) -> list[str]:
        """Problems found (empty when the case passes)."""
        body = case.body
        engine = self._engine(dict(body.get("params") or {}))
        items = [check_event(_plain(e), engine.ruleset.units, case.file, n, "")
                 for n, e in enumerate(body.get("events") or [], start=1)]
        doc = engine.evaluate(items, parse_instant(str(body["as_of"]))).to_json_dict()
        problems: list[str] = []
        for section, wants in (body.get("want") or {}).items():
            if section == "summary":
                wrong = {k: doc["summary"].get(k) for k, v in wants.items() if doc["summary"].get(k) != v}
                if wrong:
                    problems.append(f"summary differs: got {wrong}")
                continue
            for want in wants:
                want = _plain(want)
                found = [i for i in doc[section] if _matches(i, want)]
                if len(found) != 1:
                    problems.append(f"{section}: expected one match of {_shown(want)}, found {len(found)}"
                                    + "".join(f"\n    nearest {diff}" for diff in nearest(doc[section], want)))
        for section, wants in (body.get("absent") or {}).items():
            for want in wants:
                want = _plain(want)
                found = [i for i in doc[section] if _matches(i, want)]
                if found:
                    problems.append(f"{section}: expected no match of {want}, found {found[:2]}")
        return problems
