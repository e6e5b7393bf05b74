"""Issue 15 (trust): every door enforces who may report what, nothing unvalidated is stored, no input
or storage fault ends in a traceback, and a database URL's password is never shown."""
from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from oblige.engine.store.sql import Store, StoreError, mask_url
from tests.test_store import PG_BASE, _pg_available, db_url  # noqa: F401  (db_url is a fixture)


def _pg_or_skip() -> None:
    import os

    problem = _pg_available()
    if problem:
        if os.environ.get("OBLIGE_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required but not reachable at {PG_BASE}: {problem}")
        pytest.skip(f"no PostgreSQL at {PG_BASE}")


# --- Store(create=False) -------------------------------------------------------------------------

def test_no_store_is_created_for_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(StoreError) as err:
        Store(f"sqlite:///{path}", create=False)
    assert str(err.value) == f"no event store at sqlite:///{path}; create one with oblige ingest"
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_an_sqlite_file_without_the_schema_is_no_store_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table t (x)")
    with pytest.raises(StoreError, match="^no event store at .*; create one with oblige ingest$"):
        Store(f"sqlite:///{path}", create=False)
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")] == ["t"]


def test_in_memory_sqlite_is_no_store_without_create() -> None:
    with pytest.raises(StoreError, match="no event store"):
        Store("sqlite://", create=False)


def test_an_existing_store_opens_without_create(db_url: str) -> None:  # noqa: F811
    Store(db_url).close()
    store = Store(db_url, create=False)
    assert store.count() == 0
    store.close()


def test_missing_postgresql_database_is_no_store_and_the_password_is_masked() -> None:
    _pg_or_skip()
    base = PG_BASE.rsplit("/", 1)[0].replace("://root@", "://root:s3cret-pw@")
    url = f"{base}/oblige_absent_{uuid.uuid4().hex[:8]}"
    with pytest.raises(StoreError) as err:
        Store(url, create=False)
    message = str(err.value)
    assert message.startswith("no event store at ") and message.endswith("; create one with oblige ingest")
    assert "s3cret-pw" not in message and "***" in message


def test_an_empty_postgresql_database_is_no_store_and_nothing_is_created(db_url: str) -> None:  # noqa: F811
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    with pytest.raises(StoreError, match="^no event store at "):
        Store(db_url, create=False)
    eng = create_engine(db_url)
    try:
        assert inspect(eng).get_table_names() == []
    finally:
        eng.dispose()


def test_mask_url() -> None:
    assert mask_url("postgresql+psycopg://u:pw@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"
    assert "pw" not in mask_url("weird://u:pw@h/x")
