"""The event-time obligation lifecycle (SPEC §1, §4): from matches to obligations and violations.

Pure functions. Input: one partition's facts (position = the seq the matcher saw), its
matches, the rules, parameters and `as_of`. Events after `as_of` are invisible here; events
before the effective instant never reached the matcher.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from oblige.engine.core.compile import ALL_OF, BLOCK, CLOSED, DISCHARGE, EVENT_UNIT, EXTEND, FULFIL, OPENED, UNLESS
from oblige.engine.core.findings import make_id
from oblige.engine.core.periodic import Duty
from oblige.engine.core.rows import ObligationRow, ViolationRow
from oblige.engine.rules.params import Params
from oblige.engine.rules.ruleset import Ruleset
from oblige.engine.rules.schema import ObligationRule, ProhibitionRule
from oblige.facts.events import Fact
from oblige.facts.units import EXTERNAL


@dataclass
class Grouped:
    """Matches of one partition, indexed for the lifecycle (positions in the partition; every list
    ascends: `core.join.pair` makes them)."""

    triggers: dict[int, list[int]] = field(default_factory=dict)
    pairs: dict[tuple[str, int, int], list[int]] = field(default_factory=dict)  # (tag, rule, first) -> seconds
    acts: dict[int, list[int]] = field(default_factory=dict)


SHORT = 8  # a list of paired facts this long is scanned; a longer one is searched (facts sorted by time)


def _first_from(facts: Sequence[Fact], seqs: Sequence[int], lo: int | None) -> int:
    """The position in `seqs` (ascending over facts sorted by time) of the first fact at or after `lo`."""
    return 0 if lo is None else bisect_left(seqs, lo, key=lambda s: facts[s].at)


def _earliest(facts: Sequence[Fact], seqs: list[int], lo: int | None, hi: int) -> Fact | None:
    """The earliest fact (by time, then id) among `seqs` with lo <= at <= hi.

    `seqs` ascend, and a partition's facts are sorted by (time, id) (as every caller gives them:
    `evaluate.PartitionEvaluator`), so in a long list the first one at or after `lo` is the
    earliest: a crowded subject's thousands of paired facts are not scanned at every `as_of`."""
    if len(seqs) > SHORT:
        i = _first_from(facts, seqs, lo)
        return facts[seqs[i]] if i < len(seqs) and facts[seqs[i]].at <= hi else None
    best: Fact | None = None
    for s in seqs:
        f = facts[s]
        if f.at > hi or (lo is not None and f.at < lo):
            continue
        if best is None or (f.at, f.id) < (best.at, best.id):
            best = f
    return best


def earliest_instants(facts: Sequence[Fact], seqs: Sequence[int], bounds: Iterable[int | None]) -> set[int]:
    """Where `_earliest(facts, seqs, lo, as_of)` can change as `as_of` grows, for each `lo` in `bounds`
    (None: none): at the earliest of them at or after `lo`, and nowhere else, since a later one is
    never the earliest. A timeline asks the lifecycle at these (core/timeline.py): with all of them, a
    subject with hundreds of events paired to each trigger cost hundreds of evaluations per trigger.
    (`seqs` ascend over facts sorted by time, as for `_earliest`.)"""
    found: set[int] = set()
    for lo in bounds:
        i = _first_from(facts, seqs, lo)
        if i < len(seqs):
            found.add(facts[seqs[i]].at)
    return found


def triggered_instant(params: Params, rule: ObligationRule, t: Fact) -> int:
    """When a trigger's duty begins: at the trigger, or its waiting period (`after`) later."""
    return params.add(rule.trigger.after, t.at) if rule.trigger.after else t.at


def _fulfilment(rule: ObligationRule, index: int, first: int, facts: Sequence[Fact], matches: Grouped,
                lo: int | None, as_of: int) -> Fact | None:
    """The act that fulfils the duty (SPEC §1): the earliest qualifying one, or for an all-of duty
    the last of the earliest of each required act (fulfilled when the last of them occurs)."""
    if not rule.fulfilled_by.needs_all:
        return _earliest(facts, matches.pairs.get((FULFIL, index, first), []), lo, as_of)
    acts = [_earliest(facts, matches.pairs.get((f"{ALL_OF}{k}", index, first), []), lo, as_of)
            for k in range(len(rule.fulfilled_by.parts))]
    if any(a is None for a in acts):
        return None
    return max((a for a in acts if a is not None), key=lambda f: (f.at, f.id))


def _close(ob_id: str, rule_id: str, article: int, action: str, bearer: str, subject: str | None, period: str | None,
           triggered_by: list[str], triggered_at: int, base_due: int | None, blocker: Fact | None,
           fulfil: Fact | None, as_of: int, evidence: list[str],
           discharge: Fact | None = None) -> tuple[ObligationRow, ViolationRow | None]:
    """Status at `as_of` and the violation, if any, of one obligation.

    A discharging event at or before the due instant and before any fulfilment ends the duty
    (`discharged`, no violation); a fulfilment at or before the discharge wins over it."""
    due = base_due
    precondition = False
    if blocker is not None and (base_due is None or blocker.at < base_due):
        due, precondition = blocker.at, True
    if discharge is not None and fulfil is not None and fulfil.at <= discharge.at:
        discharge = None
    if discharge is not None and (due is None or discharge.at <= due):
        status = "discharged"
        fulfil = None
    elif fulfil is not None:
        status = "fulfilled" if due is None or fulfil.at <= due else "fulfilled_late"
    else:
        status = "overdue" if due is not None and as_of > due else "open"
    obligation = ObligationRow(ob_id, rule_id, article, action, bearer, subject, period, triggered_by, triggered_at,
                               due, status, fulfil.id if fulfil else None, fulfil.at if fulfil else None)
    violation = None
    if status in ("overdue", "fulfilled_late"):
        assert due is not None
        proof = list(evidence)
        if precondition and blocker is not None:
            proof.append(blocker.id)
        if fulfil is not None:
            proof.append(fulfil.id)
        violation = ViolationRow(make_id("vi", ob_id), rule_id, article, "precondition" if precondition else "overdue",
                                 bearer, subject, period, due, ob_id, proof, fulfil.at if fulfil else None)
    return obligation, violation


class _Case(NamedTuple):
    """What no `as_of` changes of one trigger's obligation (`owed` False: cancelled within its
    waiting period, or owed by a unit no longer in the registry)."""

    triggered_at: int
    owed: bool
    bearer: str
    base_due: int | None
    ob_id: str


def _case(ruleset: Ruleset, params: Params, rule: ObligationRule, index: int, t_seq: int, t: Fact,
          matches: Grouped, facts: Sequence[Fact]) -> _Case:
    triggered_at = triggered_instant(params, rule, t)
    bearer = t.unit if rule.duty_bearer == EVENT_UNIT else rule.duty_bearer
    assert isinstance(bearer, str)
    # e.g. Art. 28: identity established or discharged within the waiting period (a fact at or
    # before triggered_at: seen at every as_of at which the obligation could be seen)
    cancelled = _earliest(facts, matches.pairs.get((UNLESS, index, t_seq), []), t.at, triggered_at) is not None
    registered = bearer == EXTERNAL or bearer in ruleset.units.codes  # a unit removed from the registry owes nothing
    if cancelled or not registered:
        return _Case(triggered_at, False, bearer, None, "")
    dl = rule.deadline
    base_due = params.add(dl.within, triggered_at) if dl.within else None
    return _Case(triggered_at, True, bearer, base_due, make_id("ob", rule.id, t.subject, None, bearer, t.id))


Known = dict[tuple[int, int], _Case]  # (rule, trigger) -> its case, for a caller asking at many as_of


def case_findings(ruleset: Ruleset, params: Params, facts: Sequence[Fact], matches: Grouped,
                  as_of: int, known: Known | None = None) -> tuple[list[ObligationRow], list[ViolationRow]]:
    """Obligations and violations of one subject's partition. `known` keeps what no `as_of`
    changes across calls with the same facts and matches (the timeline asks at many as_of)."""
    obligations: list[ObligationRow] = []
    violations: list[ViolationRow] = []
    for index, seqs in matches.triggers.items():
        located = ruleset.rules[index]
        rule = located.rule
        assert isinstance(rule, ObligationRule)
        dl = rule.deadline
        for t_seq in seqs:
            t = facts[t_seq]
            if t.at > as_of:
                continue
            case = known.get((index, t_seq)) if known is not None else None
            if case is None:
                case = _case(ruleset, params, rule, index, t_seq, t, matches, facts)
                if known is not None:
                    known[(index, t_seq)] = case
            triggered_at, owed, bearer, base_due, ob_id = case
            if triggered_at > as_of or not owed:
                continue
            evidence = [t.id]
            if dl.extended_by is not None and base_due is not None:
                extension = _earliest(facts, matches.pairs.get((EXTEND, index, t_seq), []), t.at, min(base_due, as_of))
                if extension is not None:  # once: the due instant moves on by the named parameter
                    base_due = params.add(dl.extended_by.by, base_due)
                    evidence.append(extension.id)
            blocker = _earliest(facts, matches.pairs.get((BLOCK, index, t_seq), []), t.at, as_of)
            precede = dl.before is not None
            fulfil = _fulfilment(rule, index, t_seq, facts, matches, None if precede else triggered_at, as_of)
            discharge = _earliest(facts, matches.pairs.get((DISCHARGE, index, t_seq), []), t.at, as_of)
            ob, vi = _close(ob_id, rule.id, located.article, rule.action, bearer, t.subject, None, [t.id],
                            triggered_at, base_due, blocker, fulfil, as_of, evidence, discharge)
            obligations.append(ob)
            if vi is not None:
                violations.append(vi)
    for index, seqs in matches.acts.items():
        located = ruleset.rules[index]
        rule = located.rule
        assert isinstance(rule, ProhibitionRule)
        for e_seq in seqs:
            e = facts[e_seq]
            if e.at > as_of:
                continue
            evidence = [e.id]
            if rule.while_open:
                opened = [facts[s] for s in matches.pairs.get((OPENED, index, e_seq), []) if facts[s].at <= e.at]
                closed = [facts[s] for s in matches.pairs.get((CLOSED, index, e_seq), []) if facts[s].at <= e.at]
                still_open = sorted((o for o in opened if not any(o.at <= c.at for c in closed)),
                                    key=lambda f: (f.at, f.id))
                if not still_open:
                    continue
                evidence = [still_open[0].id, e.id]
            unit = e.unit if rule.charged == EVENT_UNIT else rule.charged
            violations.append(ViolationRow(
                make_id("vi", rule.id, e.id), rule.id, located.article,
                "prohibited" if rule.kind == "prohibition" else "breach", unit, e.subject, None, e.at, None, evidence, None))
    return obligations, violations


def duty_findings(ruleset: Ruleset, facts: Sequence[Fact], duties: Sequence[Duty], matches: Grouped,
                  as_of: int) -> tuple[list[ObligationRow], list[ViolationRow]]:
    """Calendar duties of one unit: duty seq k is at position len(facts) + k in the partition."""
    obligations: list[ObligationRow] = []
    violations: list[ViolationRow] = []
    offset = len(facts)
    for k, duty in enumerate(duties):
        if duty.start > as_of:
            continue
        located = ruleset.rules[duty.rule_index]
        rule = located.rule
        assert isinstance(rule, ObligationRule)
        fulfil = _fulfilment(rule, duty.rule_index, offset + k, facts, matches, None, as_of)
        ob, vi = _close(make_id("ob", rule.id, None, duty.period, duty.unit), rule.id, located.article, rule.action,
                        duty.unit, None, duty.period, [], duty.start, duty.due, None, fulfil, as_of, [])
        obligations.append(ob)
        if vi is not None:
            violations.append(vi)
    return obligations, violations
