"""One partition's findings at every `as_of`: the timeline a store keeps (so it never re-matches).

A partition's findings are a step function of `as_of`. The lifecycle and the escalator compare
`as_of` only with instants they know: an event's instant, a trigger's start, a duty's start,
one past a due instant, a violation's instant, a criticism's instant, a veto's instant. So the
findings are constant between consecutive such thresholds, and evaluating the partition (matched
once) at each threshold gives all of them. A partition's parts (a trigger, an act, a calendar
duty) are independent, so each is evaluated at its own thresholds only. `timeline` returns every distinct row with the
half-open `as_of` intervals [valid_from, valid_to) in which it holds; a store answers any
`as_of` with a range condition.

What needs every partition — the deciding body's events and the one veto per (unit, year) —
is left to the reader: criticisms are kept as proposals (a determination or a completed
assessment in force at the query's `as_of` replaces or declines them), and every veto proposal
is kept for the reader to take the earliest of each (unit, year).
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from oblige.engine.core.engine import Engine, Partition
from oblige.engine.core.escalation import Escalator
from oblige.engine.core.lifecycle import Grouped, Known, case_findings, duty_findings, earliest_instants, triggered_instant
from oblige.engine.core.periodic import Duty
from oblige.engine.core.rows import EscalationRow, ObligationRow, ViolationRow, row_json
from oblige.engine.rules.schema import ObligationRule
from oblige.facts.events import UNIT_PARTITION, Fact

NEVER = 2**62  # valid_to of what holds for every later as_of

OBLIGATION, VIOLATION, ESCALATION, VETO = "obligation", "violation", "escalation", "veto"


@dataclass(frozen=True, slots=True)
class VetoNote:
    """A veto proposal of a (unit, year) resting on one violation (the reader takes the earliest)."""

    unit: str
    year: int
    at: int
    v_at: int
    rule: str
    subject: str
    period: str
    because: str  # the violation's id


class Version(NamedTuple):
    """A row as it holds for every `as_of` in [valid_from, valid_to), with what filters need (a
    tuple: a frozen dataclass's constructor cost ~2 µs of the timeline's ~20 per version).

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


_THREAD = threading.local()  # per thread: an engine's decision-free escalator


def undecided_escalator(engine: Engine) -> Escalator:
    """A decision-free escalator as of NEVER, this thread's own for `engine`: its caller may set its
    as_of and clear its veto notes (threads may share an engine, and a thread uses one escalator at a
    time). Made once per thread and engine, its chargeable units computed once (a copy for each
    partition was 2 % of the timeline's samples in a profile of a 200,000-event ingest)."""
    cache: weakref.WeakKeyDictionary[Engine, Escalator] | None = getattr(_THREAD, "escalators", None)
    if cache is None:
        cache = _THREAD.escalators = weakref.WeakKeyDictionary()
    found = cache.get(engine)
    if found is None:
        rs = engine.ruleset
        found = cache[engine] = Escalator(rs.header.escalation, engine.params, rs.units, NEVER, ())
    return found


Identity = tuple[str, str, str, str | None]  # (kind, id, text, status): a row version
What = tuple[int, str, "str | None", int, object]  # (article, unit, subject, order, row)
Segment = tuple[Identity, What, int, int]  # a row version and the as_of interval [from, to) it holds in


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


class _Component:
    """One part of a partition evaluated at any `as_of`: first its obligations and violations (the
    lifecycle, at the instants it compares), then the escalations of each violation version (the
    ladder, at the instants it compares) — the escalator knows no decisions: readers apply them."""

    def __init__(self, engine: Engine, facts: Sequence[Fact], grouped: Grouped, duties: Sequence[Duty],
                 texts: _Texts, escalators: list[Escalator]):
        self.engine, self.facts, self.grouped, self.duties, self.texts = engine, facts, grouped, duties, texts
        self._escalators = escalators  # the partition's one escalator, made when a violation first needs it
        self.known: Known = {}  # what no as_of changes of its obligations, worked out at the first threshold

    @property
    def escalator(self) -> Escalator:
        if not self._escalators:
            self._escalators.append(undecided_escalator(self.engine))
        return self._escalators[0]

    def lifecycle(self, as_of: int) -> tuple[list[ObligationRow], list[ViolationRow]]:
        rs = self.engine.ruleset
        obs, vis = case_findings(rs, self.engine.params, self.facts, self.grouped, as_of, self.known)
        if self.duties:
            more_obs, more_vis = duty_findings(rs, self.facts, self.duties, self.grouped, as_of)
            obs += more_obs
            vis += more_vis
        return obs, vis

    def rows(self, points: set[int]) -> list[Segment]:
        """Obligation and violation versions; `points` are the instants of the facts involved."""
        states: dict[int, tuple[list[ObligationRow], list[ViolationRow]]] = {}
        pending = [NEVER]
        while pending:  # to a fixpoint: a state may name thresholds no earlier state showed
            for c in pending:
                states[c] = obs, _ = self.lifecycle(c)
                for o in obs:  # the lifecycle compares as_of with these (and with facts' instants)
                    points.add(o.triggered_at)
                    if o.due is not None:
                        points.add(o.due + 1)
            # From the last threshold on nothing changes: the state there is the state at NEVER, already
            # known (and so are the thresholds it names), so only the earlier points are evaluated.
            last = max(points)
            pending = [c for c in points if c not in states and c != last]
        if last not in states:
            states[last] = states[NEVER]
        texts = self.texts
        segments: list[Segment] = []
        opened: dict[Identity, tuple[int, What]] = {}
        for c in sorted(points):  # before the first of them, a component has no findings
            obs, vis = states[c]
            status_of = {o.id: o.status for o in obs}
            now: dict[Identity, What] = {}
            for o in obs:
                now[(OBLIGATION, o.id, texts(o), o.status)] = (o.article, o.duty_bearer, o.subject, o.triggered_at, o)
            for v in vis:
                now[(VIOLATION, v.id, texts(v), status_of.get(v.obligation or ""))] = (v.article, v.unit, v.subject,
                                                                                      v.at, v)
            _advance(opened, now, c, segments)
        _advance(opened, {}, NEVER, segments)
        return segments

    def escalations(self, violation: Segment) -> list[Segment]:
        """The escalations and veto proposals of one violation version, over its interval.

        The ladder compares `as_of` only with the instant each of them is made at (`at`: the
        violation's for a notice, the criticism's, the veto's) and every other condition it asks is
        the same at any `as_of` (no decisions here), so each holds from its instant on: they are made
        once, at NEVER, and each holds over [max(start, at), end)."""
        (_, _, _, status), (article, _, subject, _, row), start, end = violation
        v = row
        assert isinstance(v, ViolationRow)
        escalator, texts = self.escalator, self.texts
        escalator.as_of, escalator.vetoes = NEVER, {}
        segments: list[Segment] = []
        for e in escalator.add(v):
            if max(start, e.at) < end:
                segments.append(((ESCALATION, e.id, texts(e), status), (article, e.unit, subject, e.at, e),
                                 max(start, e.at), end))
        for (unit, year), (at, (v_at, rule, subj, period), because) in escalator.vetoes.items():
            if max(start, at) < end:
                n = VetoNote(unit, year, at, v_at, rule, subj, period, because)
                text = f"{unit}\x1f{year}\x1f{at}\x1f{v_at}\x1f{rule}\x1f{subj}\x1f{period}\x1f{because}"
                segments.append(((VETO, f"{unit}\x1f{year}\x1f{because}", text, status), (article, unit, subject, at, n),
                                 max(start, at), end))
        return segments


def _advance(opened: dict[Identity, tuple[int, What]], now: dict[Identity, What], at: int,
             segments: list[Segment]) -> None:
    """At `at`, close what no longer holds and open what begins to."""
    for identity in [i for i in opened if i not in now]:
        begun, what = opened.pop(identity)
        segments.append((identity, what, begun, at))
    for identity, what in now.items():
        if identity not in opened:
            opened[identity] = (at, what)


def _merged(segments: list[Segment]) -> list[Version]:
    """Segments as versions, the same row version over adjacent intervals joined into one."""
    segments.sort(key=lambda s: (s[0], s[2]))
    out: list[Version] = []
    for identity, what, start, end in segments:
        last = out[-1] if out else None
        if last is not None and last.valid_to == start and (last.kind, last.id, last.text, last.status) == identity:
            out[-1] = _version(identity, what, last.valid_from, end)
        else:
            out.append(_version(identity, what, start, end))
    return out


def _components(engine: Engine, facts: Sequence[Fact], grouped: Grouped,
                duties: Sequence[Duty]) -> Iterator[tuple[Grouped, Sequence[Duty], set[int]]]:
    """The independent parts of a partition — one trigger, one act, one calendar duty — each with its
    matches and the instants its findings can change at. Their findings never depend on each other's
    (the lifecycle and the escalator take them one by one; only the veto takes the earliest of them,
    and the reader does that), so each is evaluated only at its own thresholds.

    Of the facts a part pairs with, only the earliest of each kind at or after each lower bound the
    lifecycle uses (none, the part's own instant, the instant a duty begins) can change its findings
    (`lifecycle.earliest_instants`); the instants a state names (one past a due instant) are added by
    `_Component.rows`. Tested: the timeline equals the evaluation one microsecond either side of
    every fact's instant."""
    by_first: dict[tuple[int, int], dict[tuple[str, int, int], list[int]]] = {}
    for (tag, rule, first), seconds in grouped.pairs.items():
        by_first.setdefault((rule, first), {})[(tag, rule, first)] = seconds

    def instants(pairs: dict[tuple[str, int, int], list[int]], *bounds: int) -> set[int]:
        found = set(bounds)
        for seconds in pairs.values():
            if len(seconds) <= len(bounds) + 1:  # no more than the earliest ones could be: all of them
                found.update(facts[s].at for s in seconds)
            else:
                found |= earliest_instants(facts, seconds, (None, *bounds))
        return found

    rules = engine.ruleset.rules
    for rule, seqs in grouped.triggers.items():
        obligation = rules[rule].rule
        assert isinstance(obligation, ObligationRule)
        for t in seqs:
            pairs = by_first.get((rule, t), {})
            yield (Grouped(triggers={rule: [t]}, pairs=pairs), (),
                   instants(pairs, facts[t].at, triggered_instant(engine.params, obligation, facts[t])))
    for rule, seqs in grouped.acts.items():
        for e in seqs:
            pairs = by_first.get((rule, e), {})
            yield Grouped(acts={rule: [e]}, pairs=pairs), (), instants(pairs, facts[e].at)
    offset = len(facts)
    for k, duty in enumerate(duties):  # duty k sits at offset + k; alone, at offset
        pairs = {(tag, rule, offset): seconds for (tag, rule, _), seconds in
                 by_first.get((duty.rule_index, offset + k), {}).items()}
        yield Grouped(pairs=pairs), (duty,), instants(pairs, duty.start) | {duty.due + 1}


def timeline(engine: Engine, key: Partition, facts: Sequence[Fact], grouped: Grouped) -> list[Version]:
    """Every distinct row of the partition with the `as_of` intervals in which it holds.

    `facts` sorted by (time, id) and `grouped` their matches, as `Engine.match` gives them."""
    duties = engine.duties.get(key[1], []) if key[0] == UNIT_PARTITION else []
    texts = _Texts()
    escalators: list[Escalator] = []
    segments: list[Segment] = []
    for part, own_duties, points in _components(engine, facts, grouped, duties):
        component = _Component(engine, facts, part, own_duties, texts, escalators)
        rows = component.rows(points)
        segments += rows
        for segment in rows:
            if segment[0][0] == VIOLATION:
                segments += component.escalations(segment)
    return _merged(segments)


def _version(identity: Identity, what: What, start: int, end: int) -> Version:
    kind, id_, text, status = identity
    article, unit, subject, order, row = what
    return Version(kind, id_, unit, article, status, subject, order, row, text, start, end)  # type: ignore[arg-type]


def holding(versions: Sequence[Version], as_of: int) -> list[Version]:
    """The versions in force at `as_of` (what a store's range condition selects)."""
    return [v for v in versions if v.valid_from <= as_of < v.valid_to]
