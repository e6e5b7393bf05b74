"""The counts of the kept lists at any `as_of`, without counting every row version.

A list's count at `as_of` is the number of its row versions with valid_from <= as_of < valid_to.
`oblige_kept_counts` holds, per list, unit, key (status, article; an escalation's level and year) and day,
the versions that begin that day less those that end on it, changed with the rows the keeper deletes
and inserts, in the same transaction. Then

    count(as_of) = sum of the days before as_of's day            (one short index range)
                 + versions beginning within that day up to as_of, still in force
                 - versions begun before that day, ending within it up to as_of

and the last two read one day of versions through the valid_from and valid_to indexes. The counts
are those of `Reader`'s scans (tested equal for random events, batches and `as_of`); a filter they
do not split on (subject, period) is counted by a scan instead.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, select
from sqlalchemy.engine import Connection

from oblige.engine.core.filters import Filters
from oblige.engine.core.timeline import NEVER
from oblige.engine.store.driver import insert_many
from oblige.engine.store.kept_tables import COUNTS, ESCALATIONS, OBLIGATIONS, VIOLATIONS

DAY = 86_400_000_000  # instants are microseconds
TABLES: dict[str, Any] = {"o": OBLIGATIONS, "v": VIOLATIONS, "e": ESCALATIONS}
Key = tuple[str, str, str, str, int, int]  # (list, unit, status, level, year, article)
Split = tuple[str, str, str, int, int]  # (unit, status, level, year, article): what a count is split on


def day_of(instant: int) -> int:
    """The day of an instant as SQL's integer division computes it (truncating toward zero)."""
    return instant // DAY if instant >= 0 else -(-instant // DAY)


def of_rows(name: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]], sign: int,
            into: Counter[tuple[Key, int]]) -> None:
    """What rows of list `name` (tuples in the order of `columns`, as the keeper writes them) change
    in the counts: `sign` +1 for rows inserted, -1 for rows deleted."""
    at = {c: columns.index(c) for c in ("valid_from", "valid_to", "unit", "status", "article")}
    level, year = (columns.index("level"), columns.index("year")) if name == "e" else (None, None)
    for row in rows:
        key: Key = (name, row[at["unit"]], row[at["status"]] or "", "" if level is None else row[level],
                    0 if year is None else row[year], row[at["article"]])
        into[(key, day_of(row[at["valid_from"]]))] += sign
        if row[at["valid_to"]] != NEVER:
            into[(key, day_of(row[at["valid_to"]]))] -= sign


_KEY = ("list", "unit", "status", "level", "year", "article", "day")
_TYPES = ("text", "text", "text", "text", "int", "int", "bigint", "bigint")  # and n
_INTO = f"INSERT INTO {COUNTS.name} ({', '.join(_KEY)}, n) "
_ADD = f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET n = {COUNTS.name}.n + excluded.n"


def add(conn: Connection, changes: Counter[tuple[Key, int]]) -> None:
    """Add `changes` to the kept counts (thousands of keys per chunk; those of one call are distinct,
    a Counter's, so that no row is updated twice by one statement)."""
    insert_many(conn, COUNTS.name, (*_KEY, "n"), _TYPES, [(*key, day, n) for (key, day), n in changes.items() if n],
                _ADD)


AGGREGATE_MEMORY = "64MB"  # PostgreSQL's work_mem for `rebuild`, in its transaction only


def rebuild(conn: Connection) -> None:
    """The kept counts computed again from the kept rows, in SQL (one aggregate per list): what the
    keeper's `add` would have built row by row. A refresh with the indexes set aside (store/bulk.py)
    leaves the counts to this, run where the indexes are built: on PostgreSQL adding thousands of
    keys per chunk cost a third of the keeper's writes. Days as `day_of` computes them (SQL's integer
    division truncates toward zero); keys whose changes sum to nothing are left out."""
    conn.execute(COUNTS.delete())
    if conn.dialect.name == "postgresql":  # the aggregate in memory: with the default 4 MB it spilled (3.5 s, not 0.9)
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{AGGREGATE_MEMORY}'")
    parts = []
    for name, table in TABLES.items():
        level, year = ("level", "year") if name == "e" else ("''", "0")
        what = (f"'{name}' AS list, unit AS unit, coalesce(status, '') AS status, {level} AS level, {year} AS year, "
                "article AS article")
        parts.append(f"SELECT {what}, valid_from / {DAY} AS day, 1 AS n FROM {table.name}")
        parts.append(f"SELECT {what}, valid_to / {DAY} AS day, -1 AS n FROM {table.name} WHERE valid_to <> {NEVER}")
    keys = ", ".join(_KEY)
    conn.exec_driver_sql(f"{_INTO}SELECT {keys}, sum(n) FROM ({' UNION ALL '.join(parts)}) AS c "
                         f"GROUP BY {keys} HAVING sum(n) <> 0")


def _units(table: Any, f: Filters, indexed: bool = True) -> list[ColumnElement[bool]]:
    """The unit conditions of `f`; not `indexed`: written so that SQLite's planner (no statistics)
    does not walk a unit index for them but the day's valid_from or valid_to range."""
    column = table.c.unit if indexed else table.c.unit + ""
    out: list[ColumnElement[bool]] = []
    if f.unit is not None:
        out.append(column == f.unit)
    if f.units is not None:
        out.append(column.in_(sorted(f.units)))
    return out


def counts_at(conn: Connection, name: str, as_of: int, f: Filters) -> Counter[Split]:
    """The row versions of list `name` in force at `as_of`, of the units `f` names, by (unit,
    status, level, year, article)."""
    table = TABLES[name]
    start = day_of(as_of) * DAY
    out: Counter[Split] = Counter()
    c = COUNTS
    where = [c.c.list == name, c.c.day < day_of(as_of), *_units(c, f)]
    for unit, status, level, year, article, n in conn.execute(
            select(c.c.unit, c.c.status, c.c.level, c.c.year, c.c.article, func.sum(c.c.n)).where(*where)
            .group_by(c.c.unit, c.c.status, c.c.level, c.c.year, c.c.article)):
        out[(unit, status, level, int(year), int(article))] += int(n)
    level = table.c.level if name == "e" else literal("")
    year = table.c.year if name == "e" else literal(0)
    narrow = _units(table, f, indexed=conn.dialect.name != "sqlite")
    begun = and_(table.c.valid_from >= start, table.c.valid_from <= as_of, table.c.valid_to > as_of)
    ended = and_(table.c.valid_to >= start, table.c.valid_to <= as_of, table.c.valid_from < start)
    for condition, sign in ((begun, +1), (ended, -1)):
        for unit, status, lvl, yr, article, n in conn.execute(
                select(table.c.unit, table.c.status, level, year, table.c.article, func.count())
                .where(condition, *narrow).group_by(table.c.unit, table.c.status, level, year, table.c.article)):
            out[(unit, status or "", lvl, int(yr), int(article))] += sign * n
    return out
