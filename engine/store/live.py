"""What a reader of a store asks, answered from the kept findings where they are this engine's.

One entry for the command line, the service and an embedding program: `stored_document` keeps
the findings current (derives what ingest marked) and writes the document, a page of it, or a
narrowed one; where the kept findings were derived with another ruleset, parameter set or unit
registry, it says so and evaluates the events instead (never mixing the two). `agenda` lists what
falls due in a window, and the escalations that follow if it stays undone.
"""
from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any, ParamSpec, TypeVar

from sqlalchemy import and_, select
from sqlalchemy.exc import SQLAlchemyError

from oblige.engine.core.engine import Engine
from oblige.engine.core.filters import Filters, narrow
from oblige.engine.core.findings import Findings, Summary
from oblige.engine.core.rows import ViolationRow, to_model
from oblige.engine.core.timeline import undecided_escalator
from oblige.engine.store.incoming import Incoming
from oblige.engine.store.kept import Keeper, Refreshed
from oblige.engine.store.kept_tables import ESCALATIONS, OBLIGATIONS, VIOLATIONS
from oblige.engine.store.reads import LISTS, MADE_FOR_ANOTHER, Cursor, CursorError, Reader
from oblige.engine.store.sql import EVENTS, IngestReport, Store, StoreError, stored_items, stored_verdict
from oblige.facts.events import Fact
from oblige.facts.reader import Accepted, Rejected
from oblige.facts.timeutil import format_instant, parse_instant
from oblige.facts.trusted import reader_stamp

P = ParamSpec("P")
R = TypeVar("R")


class PagingError(StoreError):
    """Pages and cursors need kept findings of this engine."""


@dataclass(frozen=True)
class StoredWritten:
    summary: Summary
    next: Cursor | None = None
    warning: str | None = None  # said when the kept findings could not be used


def _database(function: Callable[P, R]) -> Callable[P, R]:
    """A database failure in a read is a StoreError (one line, password masked), never a traceback."""

    @functools.wraps(function)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except SQLAlchemyError as exc:
            store = next(a for a in (*args, *kwargs.values()) if isinstance(a, Store))
            raise store._fail(exc) from None

    return wrapped


@_database
def keep(engine: Engine, store: Store, *, rebuild: bool = False,
         progress: Callable[[int], None] | None = None) -> tuple[Keeper, Refreshed | None]:
    """The store's keeper for this engine, its findings brought up to date (None: another stamp's)."""
    keeper = Keeper(store, engine)
    if rebuild:
        return keeper, keeper.rebuild(progress)
    if not keeper.current():
        return keeper, None
    return keeper, keeper.refresh(progress)


@_database
def ingest(engine: Engine, store: Store, items: Iterable[Accepted | Rejected | Incoming], sources: str, *,
           keeping: Callable[[], None] | None = None, progress: Callable[[int], None] | None = None,
           read_with_engine: bool = False) -> tuple[IngestReport, Keeper, Refreshed | None]:
    """Store events and bring the kept findings up to date with them (None: the store's findings are
    another stamp's, which this engine leaves alone); `keeping` is called when the events are stored.
    `read_with_engine`: every item was read with this engine's unit registry, so the keeper may take
    them back from their stored bodies without validating them again (facts/trusted.py)."""
    keeper = Keeper(store, engine)
    mine = keeper.claim()  # first: a new store is claimed with nothing to mark
    report = store.ingest(items, sources, reader=reader_stamp(engine.ruleset.units) if read_with_engine else None)
    if keeping is not None:
        keeping()
    return report, keeper, keeper.refresh(progress) if mine else None


@_database
def warm_receipt(engine: Engine, store: Store) -> None:
    """Compute and keep the receipt's hash and the counts of the stored events now (a service does it
    after each ingest, off the request path: otherwise the first reader after an ingest pays full scans)."""
    keeper = Keeper(store, engine)
    if keeper.current():
        with store._reading() as conn:
            reader = Reader(keeper)
            reader.events_hash(conn)
            reader.event_totals(conn)


@_database
def stored_document(engine: Engine, store: Store, out: IO[str], as_of: int, filters: Filters | None = None,
                    limit: int | None = None, cursor: str | None = None, *, scoped: bool = False,
                    rebuild: bool = False, progress: Callable[[int], None] | None = None) -> StoredWritten:
    """The findings document of the stored events as of `as_of` (narrowed, or one page) to `out`."""
    f = filters or Filters()
    keeper, refreshed = keep(engine, store, rebuild=rebuild, progress=progress)
    if refreshed is not None:
        try:
            position = Cursor.decode(cursor) if cursor else None
            summary, following = Reader(keeper).write(out, as_of, f, limit, position, scoped)
        except CursorError as exc:
            raise PagingError(str(exc)) from None
        return StoredWritten(summary, following)
    warning = keeper.mismatch() + "; evaluating the stored events instead (slower)"
    if limit is not None or cursor is not None:
        raise PagingError(f"{keeper.mismatch()} (pages are read from the kept findings)")
    if not f and not scoped:
        written = engine.write_document(out, as_of, store=store)
        return StoredWritten(written.summary, None, warning)
    from oblige.engine.core import document

    findings = narrow(engine.evaluate(stored_items(store, engine.ruleset.units), as_of), filters=f)
    document.write_findings(out, findings)
    return StoredWritten(findings.summary, None, warning)


def stored_findings(engine: Engine, store: Store, as_of: int, filters: Filters | None = None,
                    limit: int | None = None, cursor: str | None = None, *, rebuild: bool = False,
                    progress: Callable[[int], None] | None = None) -> tuple[Findings, StoredWritten]:
    """The same, as a `Findings` model (for the table and the reports) and what was written."""
    buffer = io.StringIO()
    written = stored_document(engine, store, buffer, as_of, filters, limit, cursor, rebuild=rebuild, progress=progress)
    doc = json.loads(buffer.getvalue())
    doc.pop("next", None)
    return _as_model(doc), written


_TIMES = {"obligations": ("triggered_at", "due", "fulfilled_at"), "violations": ("at", "remedied_at"),
          "escalations": ("at",)}


def _as_model(doc: dict[str, Any]) -> Findings:
    """A written document as the model (its instants back to epoch microseconds)."""
    for name, keys in _TIMES.items():
        for item in doc[name]:
            for key in keys:
                if item[key] is not None:
                    item[key] = parse_instant(item[key])
    doc["as_of"] = parse_instant(doc["as_of"])
    if doc.get("receipt"):
        doc["receipt"]["as_of"] = parse_instant(doc["receipt"]["as_of"])
    return Findings.model_validate(doc)


@_database
def stored_list(engine: Engine, store: Store, name: str, as_of: int, filters: Filters | None = None,
                limit: int = 100, cursor: str | None = None) -> tuple[list[str], Cursor | None, int]:
    """One list of the document (obligations, violations or escalations), a page of it: the items'
    JSON texts, the cursor of the next page, and how many the whole narrowed list holds."""
    keeper, refreshed = keep(engine, store)
    if refreshed is None:
        raise PagingError(f"{keeper.mismatch()} (lists are read from the kept findings)")
    try:
        position = Cursor.decode(cursor) if cursor else None
    except CursorError as exc:
        raise PagingError(str(exc)) from None
    if position is not None and position.as_of != as_of:
        raise PagingError(MADE_FOR_ANOTHER)
    if position is not None:  # the other lists are done: only this one is read
        position.after = {k: (v if k == name else None) for k, v in {**dict.fromkeys(LISTS), **position.after}.items()}
    else:
        position = Cursor(as_of, {k: None for k in LISTS if k != name})
    page, counts = Reader(keeper).page(as_of, filters or Filters(), limit, position)
    items: list[str] = getattr(page, name)
    following = page.next
    return items, following, counts[name]


@_database
def explain_inputs(engine: Engine, store: Store, finding_id: str, as_of: int) -> tuple[Findings, dict[str, Fact]] | None:
    """What an explanation of one finding needs, without evaluating every stored event: the events
    of the partition the kept finding belongs to (and the deciding body's), evaluated alone, with
    the escalations that need every partition (vetoes, decided measures) as the kept reader gives
    them. None where the kept findings are not this engine's (evaluate everything instead)."""
    keeper, refreshed = keep(engine, store)
    if refreshed is None:
        return None
    reader = Reader(keeper)
    with store._reading() as conn:
        part = None
        for table in (OBLIGATIONS, VIOLATIONS, ESCALATIONS):
            part = conn.execute(select(table.c.part).where(table.c.id == finding_id).limit(1)).scalar()
            if part is not None:
                break
        _, finals = reader._finals(conn, as_of, reader._decisions(conn), Filters())
        if part is None:  # a veto or a decided measure: explained with the violation it rests on, if any
            final = next((e for e, _ in finals if e.id == finding_id), None)
            behind = final.because[0] if final is not None else None
            if behind is not None:
                part = conn.execute(select(VIOLATIONS.c.part).where(VIOLATIONS.c.id == behind).limit(1)).scalar()
        query = select(EVENTS.c.source, EVENTS.c.line, EVENTS.c.body).where(
            EVENTS.c.type.in_(sorted(engine.decision_types)) | (EVENTS.c.part == part))
        rows = conn.execute(query.order_by(EVENTS.c.seq)).all()
    session = engine.session()
    session.add_all(stored_verdict(source, line, body, engine.ruleset.units) for source, line, body in rows)
    findings = session.findings(as_of)
    levels = {"one_vote_veto"}
    kept = [e for e in findings.escalations if e.level not in levels and e.basis != "determined"]
    every = sorted(kept + [to_model(e) for e, _ in finals], key=lambda e: (e.at, e.id))
    return findings.model_copy(update={"escalations": every}), session.facts()


@dataclass(frozen=True)
class AgendaItem:
    obligation: str
    rule: str
    article: int
    action: str
    title: str
    unit: str
    subject: str | None
    period: str | None
    due: int
    then: list[tuple[str, str, int]]  # (level, basis, instant) of the escalations that follow if it stays undone

    def to_json(self) -> dict[str, object]:
        return {"obligation": self.obligation, "rule": self.rule, "article": self.article, "action": self.action,
                "title": self.title, "unit": self.unit, "subject": self.subject, "period": self.period,
                "due": format_instant(self.due),
                "then": [{"level": level, "basis": basis, "at": format_instant(at)} for level, basis, at in self.then]}


@_database
def agenda(engine: Engine, store: Store, unit: str, start: int, end: int, as_of: int | None = None,
           limit: int | None = None, lang: str | None = None) -> list[AgendaItem]:
    """Open obligations of `unit` falling due in [start, end] (as known at `as_of`, default `start`),
    soonest first, each with the escalations the ladder attaches to it if it stays undone."""
    keeper, refreshed = keep(engine, store)
    if refreshed is None:
        raise PagingError(f"{keeper.mismatch()} (the agenda is read from the kept findings)")
    known = start if as_of is None else as_of
    t = OBLIGATIONS
    query = (select(t.c.id, t.c.due, t.c.body).where(
        and_(t.c.unit == unit, t.c.status == "open", t.c.due.is_not(None), t.c.due >= start, t.c.due <= end,
             t.c.valid_from <= known, t.c.valid_to > known)).order_by(t.c.due, t.c.id))
    if limit is not None:
        query = query.limit(limit)
    with store._reading() as conn:
        rows = conn.execute(query).all()
    rs = engine.ruleset
    escalator = undecided_escalator(engine)  # the ladder as it would apply to each duty left undone
    veto = rs.header.escalation.one_vote_veto
    rules = {located.rule.id: located for located in rs.rules}
    lang = lang or rs.header.default_lang
    out = []
    for id_, due, body in rows:
        o = json.loads(body)
        undone = ViolationRow(id_, o["rule"], o["article"], "overdue", unit, o.get("subject"), o.get("period"), due,
                              id_, [], None)
        escalator.vetoes = {}
        then = [(e.level, e.basis, e.at) for e in escalator.add(undone)]
        then += [("one_vote_veto", veto.basis, at) for at, _, _ in escalator.vetoes.values()]
        located = rules.get(o["rule"])
        title = getattr(located.rule.title, lang, o["action"]) if located is not None else o["action"]
        out.append(AgendaItem(id_, o["rule"], o["article"], o["action"], title, unit, o.get("subject"),
                              o.get("period"), due, then))
    return out
