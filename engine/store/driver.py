"""SQL handed to the database driver as it is, for the store's bulk reads and writes."""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, CursorResult


def driver_sql(conn: Connection, sql: str, params: tuple[Any, ...] | list[Any] | list[tuple[Any, ...]]) -> CursorResult[Any]:
    """`sql` (with ? marks) as the driver runs it; a list of tuples is one executemany.

    SQLAlchemy's per-row parameter processing cost more than the inserts themselves (a third of
    storing 200,000 events, a fifth of deriving their findings). Through `exec_driver_sql`, not the
    driver's own cursor, so that a failing database (full, gone) still raises SQLAlchemy's errors,
    which the store reports as a `StoreError`."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    return conn.exec_driver_sql(sql, params)
