"""`Prepared` statements write what SQLAlchemy would have written (store/sql.py).

They run on the sqlite3 driver directly with the column types' bind processors,
except a faster one for datetimes on SQLite; a row written either way must be
stored as the same text and read back as the same value.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
)

from paymux.store.engine import normalize_url
from paymux.store.sql import Prepared, chunks
from tests.harness import PG_URL, pg_schema

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
    META.create_all(engine, tables=[MOMENTS])
    with engine.begin() as conn:
        ours = Prepared(insert(MOMENTS)).insert(conn, {"at": moment})
        theirs = conn.execute(insert(MOMENTS).values(at=moment)).inserted_primary_key[0]
        stored = dict(conn.exec_driver_sql("SELECT id, at FROM moments").all())
        read = dict(conn.execute(select(MOMENTS.c.id, MOMENTS.c.at)).all())
    assert stored[ours] == stored[theirs]
    assert read[ours] == read[theirs]
    assert read[ours] == (None if moment is None else moment.replace(tzinfo=None))


ROWS = Table(
    "many_rows",
    META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("n", Integer),
    Column("label", String(16)),
    Column("flag", Boolean),
    Column("at", DateTime),
    Column("doc", JSON),
)


def _engines() -> list[str]:
    return ["sqlite"] + (["postgresql"] if PG_URL else [])


def _rows_engine(stack: contextlib.ExitStack, backend: str) -> Engine:
    """An engine on a fresh database of `backend` holding the empty ROWS table."""
    url = "sqlite://" if backend == "sqlite" else stack.enter_context(pg_schema())
    engine = create_engine(normalize_url(url))
    stack.callback(engine.dispose)
    META.create_all(engine, tables=[ROWS])
    return engine


@pytest.mark.parametrize("backend", _engines())
@pytest.mark.parametrize("count", [1, 3, 32, 33, 70])
def test_many_writes_every_row_as_sqlalchemy_does(backend, count):
    """An INSERT's rows go as multi-row statements of up to 32 rows (`chunks`), each
    compiled once per row count; every row must read back as written, in order."""
    with contextlib.ExitStack() as stack:
        engine = _rows_engine(stack, backend)
        rows = [
            {
                "n": i,
                "label": f"row-{i}",
                "flag": i % 2 == 0,
                "at": datetime(2026, 11, 22, 9, i % 60, 5, 1000 * i),
                "doc": {"i": i, "tags": ["a", i]},
            }
            for i in range(count)
        ]
        prepared = Prepared(insert(ROWS))
        with engine.begin() as conn:
            prepared.many(conn, rows)
            prepared.many(conn, rows)  # the statement compiled for this count, used again
            conn.execute(insert(ROWS), rows)
            stored = [
                dict(row._mapping) for row in conn.execute(select(ROWS).order_by(ROWS.c.id)).all()
            ]
    for row in stored:
        del row["id"]
    assert stored == rows * 3


@pytest.mark.parametrize("backend", _engines())
def test_inserted_returns_what_returning_names_for_every_row(backend):
    """`inserted` hands back each row's RETURNING values (in no promised order): every
    generated id belongs to the row that was inserted with it."""
    with contextlib.ExitStack() as stack:
        engine = _rows_engine(stack, backend)
        rows = [
            {"n": i, "label": f"row-{i}", "flag": False, "at": None, "doc": {}} for i in range(45)
        ]
        prepared = Prepared(insert(ROWS).returning(ROWS.c.id, ROWS.c.label))
        with engine.begin() as conn:
            conn.execute(insert(ROWS), [{**rows[0], "n": -1}])  # ids no longer start at 1
            returned = prepared.inserted(conn, rows)
            stored = {row.id: row.label for row in conn.execute(select(ROWS.c.id, ROWS.c.label))}
    assert sorted(row["label"] for row in returned) == sorted(row["label"] for row in rows)
    assert {row["id"]: row["label"] for row in returned}.items() <= stored.items()
    assert len({row["id"] for row in returned}) == 45


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL")
def test_one_prepared_insert_serves_both_backends_in_one_process():
    """Statements are compiled per dialect: the suite (and a bench's setup) uses one
    module-level `Prepared` on SQLite and on PostgreSQL in the same process."""
    prepared = Prepared(insert(ROWS).returning(ROWS.c.n))
    rows = [{"n": i, "label": "x", "flag": True, "at": None, "doc": []} for i in range(3)]
    with contextlib.ExitStack() as stack:
        for backend in ("sqlite", "postgresql"):
            with _rows_engine(stack, backend).begin() as conn:
                assert sorted(row["n"] for row in prepared.inserted(conn, rows)) == [0, 1, 2]


@pytest.mark.parametrize("count", [0, 1, 5, 32, 33, 63, 64, 100])
def test_chunks_are_powers_of_two_in_order(count):
    """Six row counts serve a batch of any size, so six compiled statements do."""
    items = list(range(count))
    runs = [list(run) for run in chunks(items)]
    assert [item for run in runs for item in run] == items
    assert all(len(run) in (1, 2, 4, 8, 16, 32) for run in runs)
    assert [len(run) for run in runs] == sorted((len(run) for run in runs), reverse=True)
