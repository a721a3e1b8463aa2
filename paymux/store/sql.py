"""Small SQL helpers that differ between SQLite and PostgreSQL, and prepared hot-path statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Dialect, Insert, Table, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.base import Executable

Processor = Callable[[Any], Any] | None
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Form:
    """A statement as the SQLite driver runs it: SQL text, where each parameter comes
    from (a caller's key, or a value fixed in the statement), and how rows come back."""

    sql: str
    binds: tuple[tuple[str, Any, Processor], ...]  # (key, fixed value or _CALLER, processor)
    columns: tuple[tuple[str, Processor], ...]


_CALLER = object()
# Up to this many rows go in one multi-row statement (`chunks`).
_MOST_AT_ONCE = 32


class Prepared:
    """A Core statement run on the SQLite driver directly, through SQLAlchemy elsewhere.

    SQLAlchemy's `Connection.execute` costs ≈ 45 µs of Python per statement
    (options, events, the result object) where the sqlite3 driver needs ≈ 5 µs.
    On the embedded store that Python runs on the writer thread and holds the
    GIL the event loop needs, so on hot paths it is most of a request's cost
    (profiled with py-spy; see docs/performance.md). The statement is compiled
    by SQLAlchemy once per shape, and parameters and rows pass through the
    column types' own bind and result processors, so a row written here reads
    back exactly as one written through SQLAlchemy (dates, JSON, booleans).
    Rows are returned as mappings on every backend. `sqlite` is the statement to
    run there instead, when SQLite needs it said differently (e.g. `INDEXED BY`).
    """

    __slots__ = ("_forms", "_multi", "sqlite", "statement")

    def __init__(self, statement: Executable, *, sqlite: Executable | None = None) -> None:
        self.statement = statement
        self.sqlite = statement if sqlite is None else sqlite
        self._forms: dict[tuple[str, ...], _Form] = {}
        self._multi: dict[tuple[str, int, tuple[str, ...]], _Form] = {}

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        if conn.dialect.name != "sqlite":
            return [row._mapping for row in conn.execute(self.statement, dict(params))]
        form = self._form(conn.dialect, params)
        cursor = _driver(conn).execute(form.sql, _values(form, params))
        return [_row(form, values) for values in cursor.fetchall()]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if conn.dialect.name != "sqlite":
            row = conn.execute(self.statement, dict(params)).first()
            return None if row is None else row._mapping
        form = self._form(conn.dialect, params)
        values = _driver(conn).execute(form.sql, _values(form, params)).fetchone()
        return None if values is None else _row(form, values)

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(conn, params)
        return None if row is None else next(iter(row.values()))

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute a write; returns the number of rows it changed."""
        if conn.dialect.name != "sqlite":
            return conn.execute(self.statement, dict(params)).rowcount
        form = self._form(conn.dialect, params)
        return _driver(conn).execute(form.sql, _values(form, params)).rowcount

    def insert(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Execute an INSERT of one row; returns its primary key."""
        if conn.dialect.name != "sqlite":
            return conn.execute(self.statement, dict(params)).inserted_primary_key[0]
        form = self._form(conn.dialect, params)
        return _driver(conn).execute(form.sql, _values(form, params)).lastrowid

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute a write once per row; an INSERT as multi-row statements instead.

        On PostgreSQL `executemany` runs a pipeline, whose Python cost per call was most
        of a payment's; on SQLite each row of an `executemany` is a step that lets go of
        the GIL and then waits to take it back from the event loop
        (docs/performance.md). Rows given together must have the same keys."""
        if not rows:
            return
        if isinstance(self.statement, Insert):
            self.inserted(conn, rows)
        elif conn.dialect.name != "sqlite":
            conn.execute(self.statement, [dict(row) for row in rows])
        else:
            form = self._form(conn.dialect, rows[0])
            _driver(conn).executemany(form.sql, [_values(form, row) for row in rows])

    def inserted(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        """An INSERT of many rows, a multi-row statement per `chunks`; the rows its
        RETURNING gave, in no particular order (SQLite promises none)."""
        returned: list[Mapping[str, Any]] = []
        for chunk in chunks(rows):
            form = self._multi_row(conn.dialect, len(chunk), tuple(chunk[0]))
            params = {f"{key}_{i}": row[key] for i, row in enumerate(chunk) for key in row}
            if conn.dialect.name == "sqlite":
                cursor = _driver(conn).execute(form.sql, _values(form, params))
                returned += [_row(form, values) for values in cursor.fetchall()]
                continue
            named = dict(
                zip((name for name, _, _ in form.binds), _values(form, params), strict=True)
            )
            result = conn.exec_driver_sql(form.sql, named)
            if result.returns_rows:
                returned += [row._mapping for row in result]
        return returned

    def _multi_row(self, dialect: Dialect, count: int, shape: tuple[str, ...]) -> _Form:
        """The INSERT of `count` rows in one VALUES list, compiled once per row count
        (SQLAlchemy compiles a multi-row statement again on every execution). Row i's
        values are the parameters `<key>_<i>`, each typed as its column."""
        key = (dialect.name, count, shape)
        form = self._multi.get(key)
        if form is None:
            statement = self.sqlite if dialect.name == "sqlite" else self.statement
            assert isinstance(statement, Insert)
            columns = statement.table.c
            rows = [
                {key: bindparam(f"{key}_{i}", type_=columns[key].type) for key in shape}
                for i in range(count)
            ]
            names = tuple(f"{key}_{i}" for i in range(count) for key in shape)
            form = self._multi[key] = _compile(statement.values(rows), dialect, names)
        return form

    def _form(self, dialect: Dialect, params: Mapping[str, Any]) -> _Form:
        shape = tuple(params)
        form = self._forms.get(shape)
        if form is None:
            form = self._forms[shape] = _compile(self.sqlite, dialect, shape)
        return form


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """`items` in runs whose lengths are powers of two, up to 32, longest first.

    A statement over many rows at once is compiled once per row count (≈ 1–13 ms
    each); with these lengths a batch of any size needs one of six counts, so a
    server's first batches do not each stall on a new count."""
    start = 0
    while start < len(items):
        size = _MOST_AT_ONCE
        while size > len(items) - start:
            size //= 2
        yield items[start : start + size]
        start += size


def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Form:
    """The binds are in the statement's order where its parameters are positional
    (SQLite), by name otherwise (PostgreSQL's psycopg)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = compiled.positiontup if compiled.positiontup is not None else list(compiled.binds)
    defaults = {}
    if isinstance(statement, Insert):  # columns the caller left out take their scalar default
        table = statement.table
        for name in names:
            if name not in keys and name in table.c:
                default = table.c[name].default
                if default is None or not default.is_scalar:
                    raise ValueError(f"{name} has no scalar default; pass it")
                defaults[name] = default.arg
    binds = []
    for name in names:
        bind = compiled.binds[name]
        if bind.expanding:
            raise ValueError("expanding (IN) parameters are not supported")
        processor = _bind_processor(bind.type, dialect)
        if name in keys:
            binds.append((name, _CALLER, processor))
        elif name in defaults:
            binds.append((name, defaults[name], processor))
        elif not bind.required:
            binds.append((name, bind.effective_value, processor))
        else:
            raise ValueError(f"parameter {name} is required")
    columns = tuple(
        (column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
        for column in getattr(statement, "exported_columns", ())
    )
    return _Form(compiled.string, tuple(binds), columns)


def _bind_processor(type_: Any, dialect: Dialect) -> Processor:
    """The column type's own bind processor, except SQLite's for datetimes: it formats a
    dict of fields into its storage format, ≈ 2 µs a value and four values an order. A
    naive datetime's `isoformat(" ", "microseconds")` is the same text (checked here, for
    the storage format this dialect was given) at a fraction of the cost."""
    processor = type_.dialect_impl(dialect).bind_processor(dialect)
    if processor is None or dialect.name != "sqlite" or not isinstance(type_, DateTime):
        return processor
    samples = (datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 11, 22, 23, 59, 59, 123456))
    if any(processor(moment) != _iso_datetime(moment) for moment in samples):
        return processor
    slow = processor
    # The last value formatted, and its text: a payment binds its batch's one `now` six
    # times. One tuple, read and replaced whole, so threads never mix two entries.
    last: tuple[Any, str] = (object(), "")

    def fast(value: Any) -> Any:
        nonlocal last
        seen = last
        if value is seen[0]:
            return seen[1]
        if type(value) is datetime and value.tzinfo is None:
            text = _iso_datetime(value)
            last = (value, text)
            return text
        return slow(value)

    return fast


def _iso_datetime(moment: datetime) -> str:
    return moment.isoformat(" ", "microseconds")


def _driver(conn: Connection) -> Any:
    return conn.connection.driver_connection


def _values(form: _Form, params: Mapping[str, Any]) -> list[Any]:
    values = []
    for name, fixed, processor in form.binds:
        value = params[name] if fixed is _CALLER else fixed
        values.append(value if processor is None else processor(value))
    return values


def _row(form: _Form, values: Sequence[Any]) -> dict[str, Any]:
    return {
        key: value if processor is None else processor(value)
        for (key, processor), value in zip(form.columns, values, strict=True)
    }


_IGNORE: dict[tuple[str, str], Prepared] = {}


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING; returns 1 when the row was inserted.

    The statement is built once per (dialect, table) and prepared (`Prepared`).
    `preserve_rowcount` is needed for the count to be reported for an INSERT
    on psycopg (SQLAlchemy otherwise answers -1, which reads as "inserted").
    """
    key = (conn.dialect.name, table.name)
    statement = _IGNORE.get(key)
    if statement is None:
        make = sqlite_insert if key[0] == "sqlite" else pg_insert
        statement = _IGNORE[key] = Prepared(
            make(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
        )
    return statement.run(conn, values)
