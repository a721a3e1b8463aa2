"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

_IGNORE: dict[tuple[str, str], Any] = {}


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING; returns 1 when the row was inserted.

    The statement is built once per (dialect, table) and executed with bound
    parameters, which keeps SQLAlchemy's per-call overhead off the hot path.
    `preserve_rowcount` is needed for the count to be reported for an INSERT
    on psycopg (SQLAlchemy otherwise answers -1, which reads as "inserted").
    """
    key = (conn.dialect.name, table.name)
    statement = _IGNORE.get(key)
    if statement is None:
        make = sqlite_insert if key[0] == "sqlite" else pg_insert
        statement = _IGNORE[key] = (
            make(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
        )
    return conn.execute(statement, values).rowcount
