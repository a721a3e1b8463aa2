"""Paged lists over histories that only grow: a bounded window and a capped total.

A list answers from the newest LIST_WINDOW matching rows, and its total counts at
most that many. An exact COUNT(*) costs one index entry per matching row on every
call — seconds for a merchant with millions of orders or a settlement account
with millions of postings, which is what the growth benchmark found — and paging
past the window with OFFSET would cost as much. Every list that pages a growing
history (orders, an account's transactions) goes through `window_page`, so they
all behave, and are documented, the same way.

A total at the cap is kept for CAPPED_TOTAL_TTL_S: the count can only drop below
the cap when matching rows leave the filter (an order changing status), and
counting a full window again on every call is what the cap is there to avoid.
Below the cap the total is counted on every call and always exact.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from paymux.store.uow import UnitOfWork

LIST_WINDOW = 10_000
CAPPED_TOTAL_TTL_S = 10.0
# Lists remembered at the cap; past this many the memory is dropped, not grown.
MAX_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class WindowPage:
    """The capped total, and which rows of the window the requested page is."""

    total: int
    offset: int
    limit: int  # 0: the page lies past the last page, or past the window


def window_page(
    uow: UnitOfWork, key: tuple[Hashable, ...], matching: Select[Any], page: int, page_size: int
) -> WindowPage:
    """Count `matching` up to the window and place page `page` (1-based) inside it.

    `matching` selects one narrow column (a key) of every matching row, with
    the list's filters and no order or limit; the caller fetches the page
    itself with its own columns and order, using `offset` and `limit`. `key`
    names the list and its filters (its first item the kind of list, so two
    kinds never share a remembered total).
    """
    total = _capped_total(uow, key, matching)
    offset = (page - 1) * page_size
    if offset >= total:
        return WindowPage(total, offset, 0)
    return WindowPage(total, offset, min(page_size, LIST_WINDOW - offset))


def _capped_total(uow: UnitOfWork, key: tuple[Hashable, ...], matching: Select[Any]) -> int:
    now = uow.env.clock.time()
    if uow.env.capped_totals.get(key, 0.0) > now:
        return LIST_WINDOW
    window = matching.limit(LIST_WINDOW).subquery()
    total = int(uow.conn.execute(select(func.count()).select_from(window)).scalar_one())
    if total >= LIST_WINDOW:
        if len(uow.env.capped_totals) > MAX_REMEMBERED:
            uow.env.capped_totals.clear()
        uow.env.capped_totals[key] = now + CAPPED_TOTAL_TTL_S
    return total
