"""One partition's findings at every `as_of`: the timeline a store keeps (so it never re-matches).

A partition's findings are a step function of `as_of`. The lifecycle and the escalator compare
`as_of` only with instants they know: an event's instant, a trigger's start, a duty's start,
one past a due instant, a violation's instant, a criticism's instant, a veto's instant. So the
findings are constant between consecutive such thresholds, and evaluating the partition (matched
once) at each threshold gives all of them. `timeline` returns every distinct row with the
half-open `as_of` intervals [valid_from, valid_to) in which it holds; a store answers any
`as_of` with a range condition.

What needs every partition — the deciding body's events and the one veto per (unit, year) —
is left to the reader: criticisms are kept as proposals (a determination or a completed
assessment in force at the query's `as_of` replaces or declines them), and each partition keeps
its earliest veto proposal per (unit, year) for the reader to take the earliest of.
"""
from __future__ import annotations

import copy
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from oblige.engine.core.engine import Engine, Partition
from oblige.engine.core.escalation import Escalator, _year_end, violation_year
from oblige.engine.core.lifecycle import Grouped, case_findings, duty_findings
from oblige.engine.core.rows import EscalationRow, ObligationRow, ViolationRow, row_json
from oblige.facts.events import UNIT_PARTITION, Fact

DAWN = -(2**62)  # valid_from of what holds before any event
NEVER = 2**62  # valid_to of what holds for every later as_of

OBLIGATION, VIOLATION, ESCALATION, VETO = "obligation", "violation", "escalation", "veto"


@dataclass(frozen=True, slots=True)
class VetoNote:
    """A partition's earliest veto proposal of a (unit, year): what `Escalator.note_veto` keeps."""

    unit: str
    year: int
    at: int
    v_at: int
    rule: str
    subject: str
    period: str
    because: str  # the violation's id


@dataclass(frozen=True, slots=True)
class Version:
    """A row as it holds for every `as_of` in [valid_from, valid_to), with what filters need.

    `text` is the row's JSON as the document writes it; `status` is the obligation's status (for
    a violation or an escalation: of the obligation behind it; None for an act); `article` is the
    row's own article for obligations and violations, the article of the violation behind it for
    escalations and vetoes (which is what narrowing by article means)."""

    kind: str
    id: str
    unit: str
    article: int
    status: str | None
    subject: str | None  # for an escalation or a veto: of the violation behind it
    order: int  # the instant it is sorted by: triggered_at for obligations, at for the others
    row: ObligationRow | ViolationRow | EscalationRow | VetoNote
    text: str
    valid_from: int
    valid_to: int


@dataclass
class _State:
    obligations: list[ObligationRow]
    violations: list[ViolationRow]
    escalations: list[EscalationRow]
    vetoes: list[VetoNote]


_ESCALATORS: weakref.WeakKeyDictionary[Engine, Escalator] = weakref.WeakKeyDictionary()


def _escalator(engine: Engine) -> Escalator:
    """One decision-free escalator per engine (its chargeable sets are worth computing once)."""
    found = _ESCALATORS.get(engine)
    if found is None:
        rs = engine.ruleset
        found = _ESCALATORS[engine] = Escalator(rs.header.escalation, engine.params, rs.units, NEVER, ())
    return found


class _Evaluator:
    """Evaluates one partition at any `as_of`; the escalator knows no decisions (readers apply them)."""

    def __init__(self, engine: Engine, key: Partition, facts: Sequence[Fact], grouped: Grouped):
        self.engine, self.facts, self.grouped = engine, facts, grouped
        self.duties = engine.duties.get(key[1], []) if key[0] == UNIT_PARTITION else []
        self.escalator = copy.copy(_escalator(engine))  # its own as_of and notes: threads may share an engine

    def at(self, as_of: int) -> _State:
        rs, params = self.engine.ruleset, self.engine.params
        obs, vis = case_findings(rs, params, self.facts, self.grouped, as_of)
        if self.duties:
            more_obs, more_vis = duty_findings(rs, self.facts, self.duties, self.grouped, as_of)
            obs += more_obs
            vis += more_vis
        escalator = self.escalator
        escalator.as_of, escalator.vetoes = as_of, {}
        escs = [e for v in vis for e in escalator.add(v)]
        vetoes = [VetoNote(unit, year, at, v_at, rule, subject, period, because)
                  for (unit, year), (at, (v_at, rule, subject, period), because) in escalator.vetoes.items()]
        return _State(obs, vis, escs, vetoes)

    def thresholds(self, state: _State) -> Iterator[int]:
        """The instants at which findings like these may change (see the module docstring)."""
        escalator = self.escalator
        for o in state.obligations:
            yield o.triggered_at
            if o.due is not None:
                yield o.due + 1
        for v in state.violations:
            yield v.at
            if v.kind in ("overdue", "precondition"):
                yield v.at + escalator.wait
            if escalator.year_end is not None:
                yield max(_year_end(violation_year(v), escalator.year_end),
                          v.at + escalator.wait if v.kind in ("overdue", "precondition") else v.at)
        for e in state.escalations:
            yield e.at
        for n in state.vetoes:
            yield n.at


class _Texts:
    """Row texts by id, reused while a row is unchanged (a row holds over many thresholds)."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[ObligationRow | ViolationRow | EscalationRow, str]] = {}

    def __call__(self, row: ObligationRow | ViolationRow | EscalationRow) -> str:
        found = self.known.get(row.id)
        if found is not None and found[0] == row:
            return found[1]
        text = row_json(row)
        self.known[row.id] = (row, text)
        return text


Identity = tuple[str, str, str, str | None]  # (kind, id, text, status): a row version
What = tuple[int, str, "str | None", int, object]  # (article, unit, subject, order, row)


def _versions_of(state: _State, row_json: _Texts) -> dict[Identity, What]:
    """The rows of one state by identity; a Version is made only where a row version begins."""
    status_of = {o.id: o.status for o in state.obligations}
    behind: dict[str, tuple[int, str | None, str | None]] = {
        v.id: (v.article, status_of.get(v.obligation or ""), v.subject) for v in state.violations}
    out: dict[Identity, What] = {}
    for o in state.obligations:
        out[(OBLIGATION, o.id, row_json(o), o.status)] = (o.article, o.duty_bearer, o.subject, o.triggered_at, o)
    for v in state.violations:
        out[(VIOLATION, v.id, row_json(v), behind[v.id][1])] = (v.article, v.unit, v.subject, v.at, v)
    for e in state.escalations:
        article, status, subject = behind[e.because[0]]
        out[(ESCALATION, e.id, row_json(e), status)] = (article, e.unit, subject, e.at, e)
    for n in state.vetoes:
        article, status, subject = behind[n.because]
        text = f"{n.unit}\x1f{n.year}\x1f{n.at}\x1f{n.v_at}\x1f{n.rule}\x1f{n.subject}\x1f{n.period}\x1f{n.because}"
        out[(VETO, f"{n.unit}\x1f{n.year}", text, status)] = (article, n.unit, subject, n.at, n)
    return out


def timeline(engine: Engine, key: Partition, facts: Sequence[Fact], grouped: Grouped) -> list[Version]:
    """Every distinct row of the partition with the `as_of` intervals in which it holds.

    `facts` sorted by (time, id) and `grouped` their matches, as `Engine.match` gives them."""
    evaluator = _Evaluator(engine, key, facts, grouped)
    points: set[int] = {f.at for f in facts}
    for d in evaluator.duties:
        points.update((d.start, d.due + 1))
    states: dict[int, _State] = {}
    pending = [NEVER, *points]
    while pending:  # to a fixpoint: a state may name thresholds no earlier state showed
        found: set[int] = set()
        for c in pending:
            if c not in states:
                states[c] = state = evaluator.at(c)
                found.update(evaluator.thresholds(state))
        found -= points
        points |= found
        pending = list(found)
    instants = sorted(points | {DAWN})
    out: list[Version] = []
    texts = _Texts()
    opened: dict[Identity, tuple[int, What]] = {}
    for c in instants:
        found_state = states.get(c)
        if found_state is None:  # DAWN: before everything
            found_state = states[c] = evaluator.at(c)
        now = _versions_of(found_state, texts)
        for identity in [i for i in opened if i not in now]:
            start, what = opened.pop(identity)
            out.append(_version(identity, what, start, c))
        for identity, what in now.items():
            if identity not in opened:
                opened[identity] = (c, what)
    for identity, (start, what) in opened.items():
        out.append(_version(identity, what, start, NEVER))
    return out


def _version(identity: Identity, what: What, start: int, end: int) -> Version:
    kind, id_, text, status = identity
    article, unit, subject, order, row = what
    return Version(kind, id_, unit, article, status, subject, order, row, text, start, end)  # type: ignore[arg-type]


def holding(versions: Sequence[Version], as_of: int) -> list[Version]:
    """The versions in force at `as_of` (what a store's range condition selects)."""
    return [v for v in versions if v.valid_from <= as_of < v.valid_to]
