"""Merchant-facing API dialects. Each package: wire, auth, routes, notify, client (+ codes).

A dialect plugs into the app through one `DialectSpec`: its path prefixes, its
router, its notifier, and how it renders an error in its own shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar import Request, Response, Router

from paymux.core.errors import PaymuxError

if TYPE_CHECKING:
    from paymux.context import Context
    from paymux.services.notifications import Notifier


@dataclass(frozen=True, slots=True)
class DialectSpec:
    name: str
    prefixes: tuple[str, ...]
    make_router: Callable[[Context], Router]
    make_notifier: Callable[[Context], Notifier] | None
    render_error: Callable[[Request, PaymuxError], Response]
