"""Small SQL helpers that differ between SQLite and PostgreSQL, and prepared hot-path statements."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Insert, Table, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.base import Executable

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Form:
    """A statement as the SQLite driver runs it: SQL text, where each parameter comes
    from (a caller's key, or a value fixed in the statement), and how rows come back."""

    sql: str
    binds: tuple[tuple[str, Any, Processor], ...]  # (key, fixed value or _CALLER, processor)
    columns: tuple[tuple[str, Processor], ...]


_CALLER = object()
# Up to this many rows a PostgreSQL `Prepared.many` INSERT is one multi-row statement.
_MULTI_ROWS = 8


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
        self._multi: dict[tuple[int, tuple[str, ...]], tuple[str, list[Any]]] = {}

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
        """Execute a write once per row (`executemany`); on PostgreSQL an INSERT is one
        multi-row statement instead: psycopg's `executemany` runs a pipeline, whose
        Python cost per call was most of a payment's (docs/performance.md)."""
        if not rows:
            return
        if conn.dialect.name != "sqlite":
            if isinstance(self.statement, Insert) and len(rows) <= _MULTI_ROWS:
                sql, binds = self._multi_row(conn.dialect, len(rows), tuple(rows[0]))
                params = {
                    name: row[key] if processor is None else processor(row[key])
                    for row, row_binds in zip(rows, binds, strict=True)
                    for name, key, processor in row_binds
                }
                conn.exec_driver_sql(sql, params)
            else:
                conn.execute(self.statement, [dict(row) for row in rows])
            return
        form = self._form(conn.dialect, rows[0])
        _driver(conn).executemany(form.sql, [_values(form, row) for row in rows])

    def _multi_row(
        self, dialect: Dialect, count: int, shape: tuple[str, ...]
    ) -> tuple[str, list[list[tuple[str, str, Processor]]]]:
        """The INSERT of `count` rows in one VALUES list, compiled once per row count
        (SQLAlchemy compiles a multi-row statement again on every execution), with each
        row's parameter names and the column types' bind processors."""
        multi = self._multi.get((count, shape))
        if multi is None:
            assert isinstance(self.statement, Insert)
            rows = [{key: bindparam(f"{key}_{i}") for key in shape} for i in range(count)]
            sql = self.statement.values(rows).compile(dialect=dialect).string
            # The column's type for every row: only the first row's parameters carry it.
            processors = {
                key: _bind_processor(self.statement.table.c[key].type, dialect) for key in shape
            }
            binds = [[(f"{key}_{i}", key, processors[key]) for key in shape] for i in range(count)]
            multi = self._multi[(count, shape)] = (sql, binds)
        return multi

    def _form(self, dialect: Dialect, params: Mapping[str, Any]) -> _Form:
        shape = tuple(params)
        form = self._forms.get(shape)
        if form is None:
            form = self._forms[shape] = _compile(self.sqlite, dialect, shape)
        return form


def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Form:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    defaults = {}
    if isinstance(statement, Insert):  # columns the caller left out take their scalar default
        table = statement.table
        for name in compiled.positiontup or ():
            if name not in keys and name in table.c:
                default = table.c[name].default
                if default is None or not default.is_scalar:
                    raise ValueError(f"{name} has no scalar default; pass it")
                defaults[name] = default.arg
    binds = []
    for name in compiled.positiontup or ():
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

    def fast(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return _iso_datetime(value)
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
