"""The unit of work: one database transaction plus what must happen after it commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection


class UnitOfWork:
    """What a service function receives: a connection inside an open transaction.

    The store begins and commits; a service never commits itself. That lets the
    embedded store run many services in one durable transaction (group commit),
    each in its own savepoint, while a service stays a plain function.
    `env` carries the service dependencies (clock, ids, settings, formatters).
    """

    __slots__ = ("_after_commit", "conn", "env")

    def __init__(self, conn: Connection, env: Any) -> None:
        self.conn = conn
        self.env = env
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the transaction is durable (e.g. wake the dispatcher)."""
        self._after_commit.append(callback)

    def run_after_commit(self) -> None:
        for callback in self._after_commit:
            callback()
