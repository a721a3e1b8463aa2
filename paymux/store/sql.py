"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING; returns 1 when the row was inserted."""
    make = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    result = conn.execute(make(table).values(**values).on_conflict_do_nothing())
    return result.rowcount
