"""SQL handed to the database driver as it is, for the store's bulk reads and writes."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import DBAPIError


def driver_sql(conn: Connection, sql: str, params: tuple[Any, ...] | list[Any] | list[tuple[Any, ...]]) -> CursorResult[Any]:
    """`sql` (with ? marks) as the driver runs it; a list of tuples is one executemany.

    SQLAlchemy's per-row parameter processing cost more than the inserts themselves (a third of
    storing 200,000 events, a fifth of deriving their findings). Through `exec_driver_sql`, not the
    driver's own cursor, so that a failing database (full, gone) still raises SQLAlchemy's errors,
    which the store reports as a `StoreError`."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    return conn.exec_driver_sql(sql, params)


def in_chunks(conn: Connection, sql: str, values: Sequence[Any], size: int = 500) -> list[Any]:
    """`sql`, whose one `IN (?)` takes `values` `size` at a time, as the driver runs it; the rows read.

    SQLAlchemy renders an expanding IN list in Python at every execution: for the keeper's marks,
    20,000 a chunk, that cost more than the statements (a twentieth of deriving 200,000 events).
    PostgreSQL gets `= ANY(%s)` and one array: psycopg parses a statement of 500 placeholders in
    Python each time (too long for its cache), ~5 ms; the same reads took half the time."""
    rows: list[Any] = []
    postgresql = conn.dialect.name == "postgresql"
    if postgresql:
        sql = sql.replace("IN (?)", "= ANY(%s)", 1)
    for i in range(0, len(values), size):
        chunk = values[i:i + size]
        if postgresql:
            result = conn.exec_driver_sql(sql, (list(chunk),))
        else:
            result = driver_sql(conn, sql.replace("IN (?)", f"IN ({', '.join('?' * len(chunk))})", 1), tuple(chunk))
        if result.returns_rows:
            rows += result
    return rows


def insert_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Plain INSERTs of many rows. PostgreSQL: one COPY (psycopg's pipelined executemany spent
    ~30 µs of Python per row: half of deriving 20,000 events' findings); elsewhere `driver_sql`.
    A database error from the COPY is raised as SQLAlchemy's, like every other statement's."""
    if conn.dialect.name != "postgresql":
        driver_sql(conn, f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
        return
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    dbapi = conn.connection.driver_connection
    try:
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect) from exc


def insert_many(conn: Connection, table: str, columns: Sequence[str], types: Sequence[str],
                rows: list[tuple[Any, ...]], conflict: str = "") -> None:
    """INSERT of many rows, with an `ON CONFLICT ...` clause. PostgreSQL: one statement over one array
    per column (`types`: their SQL types), not psycopg's pipelined statement per row, whose Python
    side cost ~20 µs a row (at 200,000 events, two thirds of storing them); the rows of one call must
    not conflict with each other. Elsewhere the driver's executemany."""
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":  # binary parameters: psycopg escapes text arrays with a regex
        arrays = ", ".join(f"%b::{t}[]" for t in types)
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {conflict}",
                             tuple(list(column) for column in zip(*rows, strict=True)))
        return
    driver_sql(conn, f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}) {conflict}", rows)
