"""Findings read from the kept rows: any `as_of`, any filters, pages, without re-matching.

A row version holds at `as_of` when valid_from <= as_of < valid_to. What needs every partition
is finished here, as `core.document.finish` finishes it for an evaluation: the deciding body's
events in force at `as_of` (few; read from the events) replace or decline the kept criticism
proposals, and the earliest kept veto proposal of each (unit, year) becomes its veto. The same
events give the same document as `oblige eval` (tested byte for byte), and a filtered one equals
`core.filters.narrow` of it.
"""
from __future__ import annotations

import base64
import hashlib
import heapq
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from oblige.engine.core import document
from oblige.engine.core.escalation import Escalator
from oblige.engine.core.filters import Filters
from oblige.engine.core.findings import BASES, STATUSES, Summary
from oblige.engine.core.rows import EscalationRow, row_json
from oblige.engine.store import counts as kept_counts
from oblige.engine.store.kept import Keeper
from oblige.engine.store.kept_tables import ESCALATIONS, OBLIGATIONS, REJECTIONS, VETOES, VIOLATIONS
from oblige.engine.store.sql import EVENTS, META, stored_verdict
from oblige.facts.events import Fact
from oblige.facts.reader import Accepted

LISTS = ("obligations", "violations", "escalations")
Behind = tuple[str | None, int, str | None]  # (status, article, subject) of the violation behind an escalation
Final = tuple[EscalationRow, Behind | None]  # an escalation that needs every partition


class CursorError(ValueError):
    """A `cursor` this reader did not make, or one made for another `as_of`."""


MADE_FOR_ANOTHER = "cursor: made for another as_of; ask the next page with the same as_of (or none)"


@dataclass
class Cursor:
    """Where a page ends in each list: (instant, id) of its last item, or None when the list is done."""

    as_of: int
    after: dict[str, tuple[int, str] | None] = field(default_factory=dict)  # absent: from the start

    def encode(self) -> str:
        text = json.dumps({"a": self.as_of, "p": {k: list(v) if v else None for k, v in self.after.items()}},
                          separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8"))
            after: dict[str, tuple[int, str] | None] = {}
            for name, pos in raw["p"].items():
                if name not in LISTS:
                    raise ValueError(name)
                after[name] = None if pos is None else (_instant(pos[0]), str(pos[1])[:200])
            return cls(_instant(raw["a"]), after)
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, IndexError):
            raise CursorError("cursor: not the `next` of an earlier page") from None


def _instant(value: object) -> int:
    """An instant from a cursor: an integer a database column holds (a forged one is refused)."""
    if type(value) is not int or not -(2**62) <= value <= 2**62:
        raise ValueError("not an instant")
    return value


def page_as_of(as_of: int | None, cursor: str | None) -> int | None:
    """The `as_of` a page is read at: a next page asked without one is read at its cursor's (the
    first page's), since "now" has moved on by then; one asked with another is refused."""
    if cursor is None:
        return as_of
    made = Cursor.decode(cursor).as_of
    if as_of is not None and as_of != made:
        raise CursorError(MADE_FOR_ANOTHER)
    return made


@dataclass
class Page:
    """One page of a document's lists (all of them when no limit), as JSON texts in order."""

    obligations: list[str]
    violations: list[str]
    escalations: list[str]
    next: Cursor | None


def _holds(table: Any, as_of: int, sqlite: bool = False) -> ColumnElement[bool]:
    """In force at `as_of`. On SQLite, written so that its planner (which has no statistics) never
    walks a valid_from or valid_to index for it: a list is read in order along (unit, ord, id) or
    (ord, id), where a page stops after `limit` rows, instead of every row of the unit sorted."""
    if sqlite:
        return and_(table.c.valid_from + 0 <= as_of, table.c.valid_to + 0 > as_of)
    return and_(table.c.valid_from <= as_of, table.c.valid_to > as_of)


class Reader:
    """Documents from one store's kept findings (kept current by `keeper`)."""

    def __init__(self, keeper: Keeper):
        self.keeper, self.store, self.engine = keeper, keeper.store, keeper.engine
        self.ladder = self.engine.ruleset.header.escalation
        self.sqlite = self.store.dialect == "sqlite"

    # -- what needs every partition -----------------------------------------------------------
    def _decisions(self, conn: Connection) -> list[Fact]:
        effective, units = self.engine.ruleset.effective, self.engine.ruleset.units
        rows = conn.execute(select(EVENTS.c.source, EVENTS.c.line, EVENTS.c.body)
                            .where(EVENTS.c.type.in_(sorted(self.engine.decision_types)))).all()
        facts = []
        for source, line, body in rows:
            item = stored_verdict(source, line, body, units)
            if isinstance(item, Accepted) and item.fact.at >= effective:
                facts.append(item.fact)
        return facts

    def _finals(self, conn: Connection, as_of: int, decisions: list[Fact], f: Filters) -> tuple[Escalator, list[Final]]:
        """The escalator in force at as_of, and the escalations that need every partition: each with
        (status, article, subject) of the violation behind it, or None (an assessment's measure).

        The veto of a (unit, year) is the earliest of that unit's kept proposals, chosen in SQL (one
        row per unit and year comes back, not one per partition)."""
        rs = self.engine.ruleset
        escalator = Escalator(self.ladder, self.engine.params, rs.units, as_of, decisions)
        behind: dict[str, Behind] = {}
        for unit, year, at, v_at, rule, subject, period, because, status, article in self._earliest_vetoes(conn, as_of, f):
            escalator.note_veto((unit, year), (at, (v_at, rule, subject, period), because))
            behind[because] = (status, article, subject or None)
        finals = escalator.finish()
        return escalator, [(e, behind.get(e.because[0]) if e.level == "one_vote_veto" and e.basis != "determined"
                            else None) for e in finals]

    def _earliest_vetoes(self, conn: Connection, as_of: int, f: Filters) -> Iterator[tuple[Any, ...]]:
        """The earliest kept veto proposal in force at `as_of` of each (unit, year) of the units `f`
        names: one short walk of `ix_oblige_kt_key` per (unit, year), not a sort of every proposal."""
        t = VETOES
        text = (lambda c: c.collate("C")) if self.store.dialect == "postgresql" else (lambda c: c)
        if f.unit is not None:
            units = [f.unit] if f.units is None or f.unit in f.units else []
        elif f.units is not None:
            units = sorted(f.units)
        else:
            units = sorted(self.engine.ruleset.units.codes)  # kept rows name registry units only (the stamp)
        for unit in units:
            first = conn.execute(select(func.min(t.c.year)).where(t.c.unit == unit)).scalar()
            if first is None:
                continue
            last = conn.execute(select(func.max(t.c.year)).where(t.c.unit == unit)).scalar() or first
            for year in range(first, last + 1):
                row = conn.execute(
                    select(t.c.unit, t.c.year, t.c.at, t.c.v_at, t.c.rule, t.c.subject, t.c.period, t.c.because,
                           t.c.status, t.c.article)
                    .where(t.c.unit == unit, t.c.year == year, _holds(t, as_of))
                    .order_by(t.c.at, t.c.v_at, text(t.c.rule), text(t.c.subject), text(t.c.period),
                              text(t.c.because)).limit(1)).first()
                if row is not None:
                    yield tuple(row)

    # -- conditions -----------------------------------------------------------------------------
    @staticmethod
    def _unit(table: Any, f: Filters) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if f.unit is not None:
            out.append(table.c.unit == f.unit)
        if f.units is not None:
            out.append(table.c.unit.in_(sorted(f.units)))
        return out

    def _where(self, name: str, f: Filters, as_of: int, escalator: Escalator,
               by_unit: bool = True) -> list[ColumnElement[bool]]:
        """The conditions of list `name` narrowed by `f`; without those on units unless `by_unit`."""
        if name == "obligations":
            t = OBLIGATIONS
            out = [_holds(t, as_of, self.sqlite), *(self._unit(t, f) if by_unit else [])]
            out += [t.c.status == f.status] if f.status is not None else []
        elif name == "violations":
            t = VIOLATIONS
            out = [_holds(t, as_of, self.sqlite), *(self._unit(t, f) if by_unit else [])]
            out += [t.c.status == f.status] if f.status is not None else []
        else:
            t = ESCALATIONS
            out = [_holds(t, as_of, self.sqlite), *(self._unit(t, f) if by_unit else [])]
            out += [t.c.status == f.status] if f.status is not None else []
            # a criticism proposal a determination in force replaced is gone
            replaced = [and_(t.c.unit == unit, t.c.year == year)
                        for level, unit, year in sorted(escalator.determined) if level == "public_criticism"]
            if replaced:
                out.append(not_(and_(t.c.level == "public_criticism", or_(*replaced))))
            if f.level is not None:
                out.append(t.c.level == f.level)
            if f.basis is not None:
                out.append(self._basis(t, f.basis, escalator))
            if f.period is not None:
                out.append(t.c.year == int(f.period) if f.period.isdigit() and len(f.period) == 4 else false())
            if f.article is not None:
                out.append(t.c.article == f.article)
            if f.subject is not None:
                out.append(t.c.subject == f.subject)
            return out
        if f.article is not None:
            out.append(t.c.article == f.article)
        if f.subject is not None:
            out.append(t.c.subject == f.subject)
        if f.period is not None:
            out.append(t.c.period == f.period)
        return out

    @staticmethod
    def _basis(t: Any, basis: str, escalator: Escalator) -> ColumnElement[bool]:
        completed = sorted(escalator.completed)
        declined = t.c.year.in_(completed) if completed else false()
        if basis == "rule":
            return and_(t.c.level == "supervision_notice", true())
        if basis == "proposed":
            return and_(t.c.level == "public_criticism", not_(declined))
        if basis == "declined":
            return and_(t.c.level == "public_criticism", declined)
        return false()

    @staticmethod
    def _final_ok(e: EscalationRow, behind: tuple[str | None, int, str | None] | None, f: Filters) -> bool:
        if not f.unit_ok(e.unit) or (f.level is not None and e.level != f.level) \
                or (f.basis is not None and e.basis != f.basis) or (f.period is not None and e.period != f.period):
            return False
        if behind is None:
            return f.status is None and f.subject is None and (f.article is None or e.article == f.article)
        status, article, subject = behind
        return ((f.status is None or status == f.status) and (f.article is None or article == f.article)
                and (f.subject is None or subject == f.subject))

    # -- the lists ------------------------------------------------------------------------------
    def _rows(self, conn: Connection, name: str, f: Filters, where: list[ColumnElement[bool]],
              after: tuple[int, str] | None, limit: int | None) -> Iterator[tuple[int, str, str, int]]:
        """(order, id, body, year) of a list in SPEC order, of the units `f` names, after `after`, at
        most `limit` (+1). Several units: one ordered walk of (unit, ord, id) each, merged (a walk of
        every unit's rows in order, or one unit's rows sorted, would read far past the page)."""
        t = {"obligations": OBLIGATIONS, "violations": VIOLATIONS, "escalations": ESCALATIONS}[name]
        if f.unit is not None:
            if f.units is not None and f.unit not in f.units:
                return iter(())
            walks = [[t.c.unit == f.unit]]
        elif f.units is not None:
            walks = [[t.c.unit == unit] for unit in sorted(f.units)]
        else:
            walks = [[]]
        found = [self._walk(conn, t, name, [*where, *narrow], after, limit) for narrow in walks]
        if len(found) == 1:
            return found[0]
        merged = heapq.merge(*found, key=lambda r: (r[0], r[1]))
        return merged if limit is None else itertools.islice(merged, limit + 1)

    def _walk(self, conn: Connection, t: Any, name: str, where: list[ColumnElement[bool]],
              after: tuple[int, str] | None, limit: int | None) -> Iterator[tuple[int, str, str, int]]:
        ident = t.c.id.collate("C") if self.store.dialect == "postgresql" else t.c.id
        year = t.c.year if name == "escalations" else t.c.article
        query: Select[Any] = select(t.c.ord, t.c.id, t.c.body, year).where(*where)
        if after is not None:
            query = query.where(or_(t.c.ord > after[0], and_(t.c.ord == after[0], ident > after[1])))
        query = query.order_by(t.c.ord, ident)
        if limit is not None:
            query = query.limit(limit + 1)
            yield from conn.execute(query).all()
            return
        yield from conn.execute(query, execution_options={"stream_results": True, "yield_per": 5000})

    def _escalation_items(self, conn: Connection, f: Filters, as_of: int, escalator: Escalator,
                          finals: list[tuple[EscalationRow, Any]], after: tuple[int, str] | None,
                          limit: int | None) -> Iterator[tuple[int, str, str]]:
        """Kept escalations (a declined year's proposals saying so) merged with the finals, in order."""
        completed = escalator.completed
        extra = sorted((e.at, e.id, row_json(e)) for e, behind in finals if self._final_ok(e, behind, f)
                       and (after is None or (e.at, e.id) > after))
        k = 0
        for order, id_, body, year in self._rows(conn, "escalations", f, self._where(
                "escalations", f, as_of, escalator, by_unit=False), after, limit):
            while k < len(extra) and (extra[k][0], extra[k][1]) < (order, id_):
                yield extra[k]
                k += 1
            if year in completed and '"basis":"proposed"' in body:
                body = body.replace('"basis":"proposed"', '"basis":"declined"', 1)
            yield order, id_, body
        yield from extra[k:]

    def _items(self, conn: Connection, name: str, f: Filters, as_of: int, escalator: Escalator,
               finals: list[Final], after: tuple[int, str] | None, limit: int | None) -> Iterator[tuple[int, str, str]]:
        """(order, id, body) of one list in SPEC order, after `after` (at most limit + 1; all, streamed)."""
        if name == "escalations":
            return self._escalation_items(conn, f, as_of, escalator, finals, after, limit)
        return ((o, i, b) for o, i, b, _ in self._rows(conn, name, f, self._where(name, f, as_of, escalator, by_unit=False),
                                                     after, limit))

    def page(self, as_of: int, f: Filters, limit: int | None = None, cursor: Cursor | None = None,
             conn: Connection | None = None) -> tuple[Page, dict[str, int]]:
        """The lists (or a page of each) and the counts of the whole narrowed lists."""
        own = conn is None
        conn = conn or self.store._reading()
        try:
            decisions = self._decisions(conn)
            escalator, finals = self._finals(conn, as_of, decisions, f)
            start = cursor.after if cursor is not None else {}
            lists: dict[str, list[str]] = {}
            nxt: dict[str, tuple[int, str] | None] = {}
            for name in LISTS:
                if name in start and start[name] is None:  # this list was done on an earlier page
                    lists[name], nxt[name] = [], None
                    continue
                taken: list[str] = []
                last: tuple[int, str] | None = None
                more = False
                for order, id_, body in self._items(conn, name, f, as_of, escalator, finals, start.get(name), limit):
                    if limit is not None and len(taken) == limit:
                        more = True
                        break
                    taken.append(body)
                    last = (order, id_)
                lists[name] = taken
                nxt[name] = last if more else None
            counts = self._counts(conn, f, as_of, escalator, finals)
        finally:
            if own:
                conn.close()
        following = Cursor(as_of, nxt) if limit is not None and any(v is not None for v in nxt.values()) else None
        return Page(lists["obligations"], lists["violations"], lists["escalations"], following), counts

    def _counts(self, conn: Connection, f: Filters, as_of: int, escalator: Escalator,
                finals: list[tuple[EscalationRow, Any]]) -> dict[str, int]:
        """The counts of the whole narrowed lists at `as_of`: from the kept counts where they split
        on every filter given, else by counting the row versions in force."""
        if f.subject is None and f.period is None:
            counts = self._kept_counts(conn, f, as_of, escalator)
        else:
            counts = self._scanned_counts(conn, f, as_of, escalator)
        for e, behind in finals:
            if self._final_ok(e, behind, f):
                counts[e.basis] += 1
        counts["obligations"] = sum(counts[s] for s in STATUSES)
        counts["escalations"] = sum(counts[b] for b in BASES)
        return counts

    def _kept_counts(self, conn: Connection, f: Filters, as_of: int, escalator: Escalator) -> dict[str, int]:
        counts = dict.fromkeys((*STATUSES, *BASES, "violations"), 0)
        for (_, status, _, _, article), n in kept_counts.counts_at(conn, "o", as_of, f).items():
            if n and (f.status is None or status == f.status) and (f.article is None or article == f.article):
                counts[status] += n
        for (_, status, _, _, article), n in kept_counts.counts_at(conn, "v", as_of, f).items():
            if (f.status is None or (status or None) == f.status) and (f.article is None or article == f.article):
                counts["violations"] += n
        completed, determined = escalator.completed, escalator.determined
        for (unit, status, level, year, article), n in kept_counts.counts_at(conn, "e", as_of, f).items():
            if not n or (f.status is not None and (status or None) != f.status) \
                    or (f.article is not None and article != f.article) \
                    or (f.level is not None and level != f.level) \
                    or (level == "public_criticism" and ("public_criticism", unit, year) in determined):
                continue
            basis = "rule" if level == "supervision_notice" else "declined" if year in completed else "proposed"
            if f.basis is None or basis == f.basis:
                counts[basis] += n
        return counts

    def _scanned_counts(self, conn: Connection, f: Filters, as_of: int, escalator: Escalator) -> dict[str, int]:
        counts = dict.fromkeys((*STATUSES, *BASES), 0)
        for status, n in conn.execute(select(OBLIGATIONS.c.status, func.count())
                                      .where(*self._where("obligations", f, as_of, escalator))
                                      .group_by(OBLIGATIONS.c.status)):
            counts[status] = n
        counts["obligations"] = sum(counts[s] for s in STATUSES)
        counts["violations"] = conn.execute(select(func.count()).select_from(VIOLATIONS)
                                            .where(*self._where("violations", f, as_of, escalator))).scalar() or 0
        t = ESCALATIONS
        completed = escalator.completed
        for level, year, n in conn.execute(select(t.c.level, t.c.year, func.count())
                                           .where(*self._where("escalations", f, as_of, escalator))
                                           .group_by(t.c.level, t.c.year)):
            basis = "rule" if level == "supervision_notice" else "declined" if year in completed else "proposed"
            counts[basis] += n
        return counts

    # -- the document ---------------------------------------------------------------------------
    def _inputs(self, conn: Connection, as_of: int) -> tuple[document.InputCounts, list[str]]:
        """Counts over the stored events (the rejected ones apart) and the rejections' JSON, in stored order."""
        any_rejected = conn.execute(select(REJECTIONS.c.seq).limit(1)).first() is not None
        valid = EVENTS.c.seq.not_in(select(REJECTIONS.c.seq)) if any_rejected else true()
        events, before = self.event_totals(conn)
        after = conn.execute(select(func.count()).select_from(EVENTS)
                             .where(valid, EVENTS.c.occurred_at > as_of)).scalar() or 0
        rejections = [b for (b,) in conn.execute(select(REJECTIONS.c.body).order_by(REJECTIONS.c.seq))]
        return document.InputCounts(events=events, duplicates=0, rejected=len(rejections), before_effective=before,
                                    after_as_of=after), rejections

    def event_totals(self, conn: Connection) -> tuple[int, int]:
        """The valid stored events, and those of them before the ruleset took effect (kept until they change)."""

        def compute() -> str:
            valid = EVENTS.c.seq.not_in(select(REJECTIONS.c.seq))
            events = conn.execute(select(func.count()).select_from(EVENTS).where(valid)).scalar() or 0
            before = conn.execute(select(func.count()).select_from(EVENTS)
                                  .where(valid, EVENTS.c.occurred_at < self.engine.ruleset.effective)).scalar() or 0
            return f"{events},{before}"

        events, before = self._cached(conn, "event_counts", compute).split(",")
        return int(events), int(before)

    def _cached(self, conn: Connection, name: str, compute: Callable[[], str]) -> str:
        """A value over the stored events, kept in `oblige_meta` until they (or their verdicts) change."""
        key = f"{conn.execute(select(func.max(EVENTS.c.seq))).scalar() or 0}:" \
              f"{conn.execute(select(func.count()).select_from(REJECTIONS)).scalar() or 0}:{self.keeper.stamp}"
        row = conn.execute(select(META.c.value).where(META.c.key == name)).scalar()
        if row and row.startswith(key + "="):
            return str(row.split("=", 1)[1])
        value = compute()
        try:
            with self.store.engine.begin() as w:
                w.execute(META.delete().where(META.c.key == name))
                w.execute(META.insert().values(key=name, value=f"{key}={value}"))
        except SQLAlchemyError:  # a cache: a busy database only means it is computed again next time
            pass
        return value

    def events_hash(self, conn: Connection) -> str:
        """The receipt's hash of the valid events (as a session computes it), kept until they change."""

        def compute() -> str:
            ident = EVENTS.c.id.collate("C") if self.store.dialect == "postgresql" else EVENTS.c.id
            digest = hashlib.sha256()
            query = (select(EVENTS.c.id, EVENTS.c.digest).where(EVENTS.c.seq.not_in(select(REJECTIONS.c.seq)))
                     .order_by(ident))
            for id_, hexed in conn.execute(query, execution_options={"stream_results": True, "yield_per": 20000}):
                digest.update(id_.encode("utf-8") + b"\x00" + bytes.fromhex(hexed))
            return digest.hexdigest()

        return self._cached(conn, "events_hash", compute)

    def write(self, out: IO[str], as_of: int, f: Filters | None = None, limit: int | None = None,
              cursor: Cursor | None = None, scoped: bool = False) -> tuple[Summary, Cursor | None]:
        """The findings document (or one page of it) as `oblige eval` writes it, narrowed by `f`.

        `scoped` (a token's view): no counts over every unit's events, rejections only of
        `f.units`' events. A page's document ends with `"next"`: the cursor of the next page or null."""
        f = f or Filters()
        if cursor is not None and cursor.as_of != as_of:
            raise CursorError(MADE_FOR_ANOTHER)
        with self.store._reading() as conn:
            following: Cursor | None = None
            if limit is None:  # the whole lists, streamed from SQL into `out`: memory stays bounded
                escalator, finals = self._finals(conn, as_of, self._decisions(conn), f)
                counts = self._counts(conn, f, as_of, escalator, finals)
                bodies: dict[str, Iterable[str]] = {
                    name: (b for _, _, b in self._items(conn, name, f, as_of, escalator, finals, None, None))
                    for name in LISTS}
            else:
                page, counts = self.page(as_of, f, limit, cursor, conn)
                bodies, following = {n: getattr(page, n) for n in LISTS}, page.next
            read, rejections = self._inputs(conn, as_of)
            if scoped and f.units is not None:
                rejections = self._scoped_rejections(conn, rejections, f.units)
            stamp = document.receipt(self.engine, self.events_hash(conn), as_of)
            head = Summary(events=read.events, duplicates=0, rejected=len(rejections) if scoped else read.rejected,
                           before_effective=read.before_effective, after_as_of=read.after_as_of,
                           filtered=f.said() or None, **counts)
            extra: dict[str, object] = {"next": following.encode() if following else None} if limit is not None else {}
            head_out: Any = head
            if scoped:
                head_out = _Raw(head.model_dump_json(exclude_none=True, exclude={
                    "events", "duplicates", "before_effective", "after_as_of"}))
            document.write(out, self.engine.ruleset.name, as_of, head_out, bodies["obligations"],
                           bodies["violations"], bodies["escalations"], rejections, stamp, extra)
        return head, following

    def _scoped_rejections(self, conn: Connection, rejections: list[str], units: frozenset[str]) -> list[str]:
        """Rejections of stored events whose unit is one of `units` (a stored event always has an id and a unit)."""
        out = []
        for body in rejections:
            event_id = json.loads(body).get("id")
            unit = conn.execute(select(EVENTS.c.unit).where(EVENTS.c.id == event_id)).scalar() if event_id else None
            if unit in units:
                out.append(body)
        return out


class _Raw:
    """A summary already rendered (a scoped one, without the global counts)."""

    def __init__(self, text: str):
        self.text = text

    def model_dump_json(self, **_: Any) -> str:
        return self.text

