"""`Prepared` statements write what SQLAlchemy would have written (store/sql.py).

They run on the sqlite3 driver directly with the column types' bind processors,
except a faster one for datetimes on SQLite; a row written either way must be
stored as the same text and read back as the same value.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, insert, select

from paymux.store.sql import Prepared

META = MetaData()
MOMENTS = Table(
    "moments",
    META,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime),
)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 22, 3, 4, 5),
        datetime(2026, 11, 22, 3, 4, 5, 7),
        datetime(1999, 12, 31, 23, 59, 59, 999999),
        datetime(2026, 11, 22, 3, 4, 5, 120000, tzinfo=UTC),
        None,
    ],
)
def test_a_prepared_insert_stores_datetimes_as_sqlalchemy_does(moment):
    engine = create_engine("sqlite://")
    META.create_all(engine)
    with engine.begin() as conn:
        ours = Prepared(insert(MOMENTS)).insert(conn, {"at": moment})
        theirs = conn.execute(insert(MOMENTS).values(at=moment)).inserted_primary_key[0]
        stored = dict(conn.exec_driver_sql("SELECT id, at FROM moments").all())
        read = dict(conn.execute(select(MOMENTS.c.id, MOMENTS.c.at)).all())
    assert stored[ours] == stored[theirs]
    assert read[ours] == read[theirs]
    assert read[ours] == (None if moment is None else moment.replace(tzinfo=None))
