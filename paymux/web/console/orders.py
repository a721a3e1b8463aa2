"""Orders: the searchable list (keyset pages), the CSV export, the order page and its actions.

Actions call the same services as the merchant APIs (close_order,
create_refund), wrapped in `audit.audited` so the audit row commits with the
change or not at all. A console refund is idempotent per form: the form
carries a random key that becomes the merchant refund no, so a double submit
returns the first refund instead of making a second. A refund of an order paid
through a live channel goes through `channel_refunds`: the audited transaction
opens it (PROCESSING, amount held), then the channel is asked outside it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Mapping
from datetime import timezone
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Stream

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Order, Refund
from paymux.core.money import format_decimal
from paymux.core.states import ORDER_CLOSABLE, ORDER_REFUNDABLE, OrderStatus, RefundStatus
from paymux.services import audit, channel_refunds, orders, refunds
from paymux.services import console_queries as q
from paymux.store.uow import UnitOfWork
from paymux.web.console.auth import action, reader_actor, signed_in
from paymux.web.console.common import (
    CHANNELS,
    CURRENCIES,
    DIALECTS,
    HEADERS,
    Fmt,
    amount,
    csv_line,
    local_time,
    page,
    text,
)

PAGE_SIZE = 50
EXPORT_BATCH = 1000
REFUND_KEY = re.compile(r"^[0-9a-f]{16}$")
FILTER_FIELDS = (
    "number",
    "merchant_id",
    "dialect",
    "channel",
    "status",
    "since",
    "until",
    "min_amount",
    "max_amount",
)


def order_filter(params: Mapping[str, Any], tz: timezone) -> q.OrderFilter:
    """The list's query string as a filter; amounts are typed in yuan (two decimals)."""
    status = text(params, "status", max_len=24)
    if status and status not in OrderStatus.__members__:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"unknown status {status}", field="status")
    return q.OrderFilter(
        merchant_id=text(params, "merchant_id", max_len=32),
        dialect=text(params, "dialect", max_len=16),
        channel=text(params, "channel", max_len=32),
        status=status,
        since=local_time(params, "since", tz),
        until=local_time(params, "until", tz),
        min_amount=amount(params, "min_amount", "CNY", required=False),
        max_amount=amount(params, "max_amount", "CNY", required=False),
        number=text(params, "number", max_len=64),
    )


def _filter_query(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(params[k]) for k in FILTER_FIELDS if params.get(k)}


@get("/orders")
async def order_list(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    params = dict(request.query_params)
    flt = order_filter(params, ctx.settings.tz)
    after = q.Cursor.decode(params["after"]) if params.get("after") else None
    rows, cursor = await ctx.store.read(q.list_orders, flt, after, PAGE_SIZE)
    names = await ctx.store.read(q.merchant_names, None)
    return page(
        ctx,
        session,
        "orders.html",
        section="orders",
        rows=rows,
        names=names,
        params=params,
        query=_filter_query(params),
        next_cursor=cursor.encode() if cursor else "",
        first_page=after is None,
        statuses=list(OrderStatus),
        dialects=DIALECTS,
        channels=CHANNELS,
    )


_CSV_HEADER = [
    "order_no",
    "merchant_order_no",
    "merchant_id",
    "dialect",
    "channel",
    "status",
    "amount",
    "refunded",
    "currency",
    "created_at",
    "paid_at",
    "subject",
    "description",
]


def _csv_row(order: Order, fmt: Fmt) -> list[str]:
    return [
        order.order_no,
        order.merchant_order_no,
        order.merchant_id,
        order.dialect,
        order.channel,
        order.status,
        format_decimal(order.amount, order.currency),
        format_decimal(order.refunded_amount, order.currency),
        order.currency,
        fmt.time(order.created_at),
        fmt.time(order.paid_at),
        order.subject,
        order.description,
    ]


@get("/orders.csv")
async def order_export(request: Request) -> Stream:
    """Every order matching the list's filter, streamed in keyset batches."""
    ctx, session = await signed_in(request)
    params = dict(request.query_params)
    flt = order_filter(params, ctx.settings.tz)
    await ctx.store.write(_log_export, reader_actor(request, session), str(_filter_query(params)))
    fmt = Fmt(ctx.settings.tz)

    async def lines() -> AsyncIterator[str]:
        yield csv_line(_CSV_HEADER)
        cursor = None
        while True:
            rows, cursor = await ctx.store.read(q.list_orders, flt, cursor, EXPORT_BATCH)
            for order in rows:
                yield csv_line(_csv_row(order, fmt))
            if cursor is None:
                return

    return Stream(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={**HEADERS, "Content-Disposition": 'attachment; filename="orders.csv"'},
    )


def _log_export(uow: UnitOfWork, actor: audit.Actor, detail: str) -> None:
    audit.record(uow, actor, "orders.export", target_type="orders", detail=detail)


@get("/orders/{order_no:str}")
async def order_detail(request: Request, order_no: FromPath[str]) -> Response[str]:
    ctx, session = await signed_in(request)
    info = await ctx.store.read(q.order_page, order_no)
    order = info.order
    return page(
        ctx,
        session,
        "order.html",
        section="orders",
        done=request.query_params.get("done", ""),
        info=info,
        order=order,
        closable=order.status in ORDER_CLOSABLE,
        refundable=order.status in ORDER_REFUNDABLE,
        refundable_amount=order.amount - order.refunded_amount,
        refund_key=secrets.token_hex(8),
        currencies=CURRENCIES,
    )


def _close(uow: UnitOfWork, order_no: str) -> Order:
    order = orders.get_by_no(uow, order_no)
    return orders.close_order(uow, order.merchant_id, order_no=order_no)


@post("/orders/{order_no:str}/close")
async def order_close(request: Request, order_no: FromPath[str]) -> Redirect:
    act = await action(request)
    await act.ctx.store.write(
        audit.audited,
        act.actor,
        "order.close",
        "order",
        order_no,
        q.order_snapshot,
        _close,
        order_no,
    )
    return Redirect(f"/console/orders/{order_no}?done=closed", status_code=303)


def _refund(uow: UnitOfWork, order_no: str, amount_minor: int, reason: str, key: str) -> Refund:
    """Refund through the refunds service: at once for sandbox money, channel-first otherwise.

    A live-channel order's refund is only opened here (PROCESSING, its amount
    held); the ledger moves once the channel has returned the money.
    """
    order = orders.get_by_no(uow, order_no)
    merchant_refund_no = f"console-{key}"
    if channel_refunds.is_live(order):
        return channel_refunds.open_refund(uow, order_no, merchant_refund_no, amount_minor, reason)
    return refunds.create_refund(
        uow,
        order.merchant_id,
        merchant_refund_no=merchant_refund_no,
        amount=amount_minor,
        order_no=order_no,
        reason=reason,
    )


@post("/orders/{order_no:str}/refund")
async def order_refund(request: Request, order_no: FromPath[str]) -> Redirect:
    act = await action(request)
    currency = text(act.form, "currency", max_len=8) or "CNY"
    minor = amount(act.form, "amount", currency, required=True)
    reason = text(act.form, "reason", max_len=256)
    key = text(act.form, "key", max_len=16)
    if not REFUND_KEY.match(key):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "the refund form is incomplete; reload it")
    refund = await act.ctx.store.write(
        audit.audited,
        act.actor,
        "order.refund",
        "order",
        order_no,
        q.order_snapshot,
        _refund,
        order_no,
        minor,
        reason,
        key,
    )
    if refund.status == RefundStatus.PROCESSING:
        # Only a live-channel refund is left processing; a double submit sends it
        # again, which the channel deduplicates on the refund no.
        await channel_refunds.send_refund(act.ctx.store, refund.refund_no)
    return Redirect(f"/console/orders/{order_no}?done=refunded", status_code=303)
