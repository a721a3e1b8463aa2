"""vpay HTTP routes: parse, authenticate, call a service, shape the reply."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.types import ASGIApp

from paymux.api.auth import require_admin, require_sandbox
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant
from paymux.dialects import fields
from paymux.dialects.requests import JsonReply, json_object, query_params, request_id
from paymux.dialects.vpay import wire
from paymux.dialects.vpay.auth import COMMON, authenticate
from paymux.dialects.vpay.codes import MESSAGES
from paymux.services import ledger, merchants, orders, refunds
from paymux.services.urls import check_url

if TYPE_CHECKING:
    from paymux.context import Context

ORDER_NO_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
ACCOUNT_RE = re.compile(r"[0-9A-Za-z:_-]{1,32}")
# The spec names no expiry: two hours, like the other dialects' QR orders
# (`Settings.order_expiry_s["vpay"]` overrides it).
EXPIRE_S = 2 * 3600


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def reply(request: Request, data: Any, code: str = "PAYMENT.SUCCESS") -> ASGIApp:
    ctx = _ctx(request)
    body = wire.envelope(code, data, request_id(request), ctx.env.clock.now(), ctx.settings.tz)
    return JsonReply(body, MESSAGES[code][2])


def pay_url(ctx: Context, order_no: str) -> str:
    return f"{ctx.settings.public_base_url}/cashier/{order_no}"


async def _signed(
    request: Request, allowed: set[str], *, query: bool = False
) -> tuple[Context, Merchant, dict[str, Any]]:
    ctx = _ctx(request)
    params = query_params(request) if query else await json_object(request)
    merchant = await authenticate(request, ctx, params)
    fields.no_unknown(params, allowed | COMMON)
    return ctx, merchant, params


# -- merchants ------------------------------------------------------------------------------------


@post("/merchants")
async def create_merchant(request: Request) -> ASGIApp:
    ctx = _ctx(request)
    require_sandbox(ctx)
    params = await json_object(request)
    fields.no_unknown(params, {"merchant_name"})
    name = fields.text(params, "merchant_name", max_len=128)
    created = await ctx.store.write(merchants.create_merchant, name)
    data = wire.merchant_data(created.merchant, ctx.platform_public_pem)
    data["secret_key"] = created.credentials["vpay"]["secret_key"]
    return reply(request, data, "MERCHANT.CREATE_SUCCESS")


@post("/merchants/info")
async def merchant_info(request: Request) -> ASGIApp:
    ctx, merchant, _ = await _signed(request, set())
    return reply(request, wire.merchant_data(merchant, ctx.platform_public_pem))


@post("/merchants/update")
async def merchant_update(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, {"merchant_name"})
    name = fields.text(params, "merchant_name", max_len=128)
    updated = await ctx.store.write(partial(merchants.update_merchant, name=name), merchant.id)
    ctx.keys.invalidate()
    return reply(request, {"merchant_id": updated.id, "merchant_name": updated.name})


@post("/merchants/regenerate-keys")
async def merchant_regenerate_keys(request: Request) -> ASGIApp:
    ctx, merchant, _ = await _signed(request, set())
    secret = await ctx.store.write(merchants.rotate_secret, merchant.id, "vpay")
    ctx.keys.invalidate()
    return reply(
        request,
        {
            "merchant_id": merchant.id,
            "public_key": ctx.platform_public_pem,
            "secret_key": secret,
            "old_secret_grace_period_s": ctx.settings.secret_grace_period_s,
        },
    )


@get("/merchants/search")
async def merchant_search(request: Request) -> ASGIApp:
    ctx = _ctx(request)
    require_admin(request, ctx)
    params = query_params(request)
    fields.no_unknown(params, {"merchant_name", "page", "page_size"})
    name = fields.text(params, "merchant_name", required=False, max_len=128)
    page = fields.integer(params, "page", default=1, minimum=1, maximum=10**6)
    size = fields.integer(params, "page_size", default=10, minimum=1, maximum=100)
    total, rows = await ctx.store.read(merchants.search_merchants, name, page, size)
    items = [wire.merchant_data(m, ctx.platform_public_pem) for m in rows]
    return reply(request, wire.page_data(total, page, size, items))


# -- orders ---------------------------------------------------------------------------------------

ORDER_CREATE_FIELDS = {
    "merchant_order_id",
    "amount",
    "currency",
    "channel",
    "notify_url",
    "product_desc",
}


@post("/orders/create")
async def order_create(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, ORDER_CREATE_FIELDS)
    merchant_order_no = fields.text(params, "merchant_order_id", pattern=ORDER_NO_RE)
    amount = fields.amount(params)
    currency = fields.text(params, "currency", required=False, max_len=8, default="CNY")
    channel = fields.text(params, "channel", max_len=16)
    if channel not in wire.PAY_TYPES:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"channel must be one of {', '.join(wire.PAY_TYPES)}",
            field="channel",
        )
    notify_url = fields.text(params, "notify_url", required=False, max_len=512)
    if notify_url:
        check_url(
            notify_url, field="notify_url", allow_private=ctx.settings.private_notify_urls_allowed
        )
    cmd = orders.CreateOrder(
        merchant_id=merchant.id,
        merchant_order_no=merchant_order_no,
        dialect="vpay",
        channel="sandbox",
        amount=amount,
        currency=currency,
        description=fields.text(params, "product_desc", required=False, max_len=256),
        notify_url=notify_url,
        expire_s=ctx.settings.order_expiry_s.get("vpay", EXPIRE_S),
        extra={"pay_type": channel},
    )
    order, _created = await ctx.store.write(orders.create_order, cmd)
    return reply(
        request, wire.order_data(order, pay_url(ctx, order.order_no)), "ORDER.CREATE_SUCCESS"
    )


def _order_ref(params: dict[str, Any]) -> dict[str, str | None]:
    order_no = fields.text(params, "order_id", required=False, pattern=ORDER_NO_RE)
    merchant_no = fields.text(params, "merchant_order_id", required=False, pattern=ORDER_NO_RE)
    if not order_no and not merchant_no:
        raise PaymuxError(
            ErrorCode.MISSING_PARAM, "order_id or merchant_order_id is required", field="order_id"
        )
    return {"order_no": order_no or None, "merchant_order_no": merchant_no or None}


@post("/orders/query")
async def order_query(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, {"order_id", "merchant_order_id"})
    ref = _order_ref(params)
    order = await ctx.store.read(
        orders.find_order, merchant.id, ref["order_no"], ref["merchant_order_no"]
    )
    return reply(request, wire.order_data(order, pay_url(ctx, order.order_no)))


@post("/orders/close")
async def order_close(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, {"order_id", "merchant_order_id"})
    order = await ctx.store.write(_close, merchant.id, _order_ref(params))
    return reply(
        request,
        {
            "order_id": order.order_no,
            "merchant_order_id": order.merchant_order_no,
            "status": wire.STATUS_CODE[order.status],
        },
    )


def _close(uow: Any, merchant_id: str, ref: dict[str, str | None]) -> Any:
    return orders.close_order(uow, merchant_id, **ref)


@post("/orders/pay")
async def order_pay(request: Request) -> ASGIApp:
    ctx = _ctx(request)
    require_sandbox(ctx)
    params = await json_object(request)
    fields.no_unknown(params, {"order_id", "from_account", "to_account"})
    order_no = fields.text(params, "order_id", pattern=ORDER_NO_RE)
    source = fields.text(params, "from_account", pattern=ACCOUNT_RE)
    target = fields.text(params, "to_account", pattern=ACCOUNT_RE)
    order = await ctx.store.write(_pay, order_no, source, target)
    return reply(
        request,
        {
            "order_id": order.order_no,
            "transaction_id": str(order.extra.get("pay_entry_id", "")),
            "amount": order.amount,
            "currency": order.currency,
            "status": wire.STATUS_CODE[order.status],
            "pay_time": wire.utc_time(order.paid_at),
        },
    )


def _pay(uow: Any, order_no: str, source: str, target: str) -> Any:
    ledger.get_account(uow, source)
    ledger.get_account(uow, target)
    return orders.pay_order(uow, order_no, payer_account_id=source, payee_account_id=target)


@get("/orders/list")
async def order_list(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(
        request, {"status", "start_time", "end_time", "page", "page_size"}, query=True
    )
    status = fields.integer(params, "status", default=-1, minimum=0, maximum=4)
    page = fields.integer(params, "page", default=1, minimum=1, maximum=10**6)
    size = fields.integer(params, "page_size", default=10, minimum=1, maximum=100)
    tz = ctx.settings.tz
    total, rows = await ctx.store.read(
        _list,
        merchant.id,
        wire.STATUSES_BY_CODE.get(status),
        fields.moment(params, "start_time", tz),
        fields.moment(params, "end_time", tz),
        page,
        size,
    )
    items = [wire.order_data(o, pay_url(ctx, o.order_no)) for o in rows]
    return reply(request, wire.page_data(total, page, size, items))


def _list(
    uow: Any, merchant_id: str, statuses: Any, start: Any, end: Any, page: int, size: int
) -> Any:
    return orders.list_orders(
        uow, merchant_id, statuses=statuses, start=start, end=end, page=page, page_size=size
    )


@post("/orders/refund")
async def order_refund(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(
        request,
        {"order_id", "merchant_order_id", "merchant_refund_id", "amount", "reason", "notify_url"},
    )
    ref = _order_ref(params)
    refund_no = fields.text(params, "merchant_refund_id", pattern=ORDER_NO_RE)
    amount = fields.amount(params)
    reason = fields.text(params, "reason", required=False, max_len=256)
    notify_url = fields.text(params, "notify_url", required=False, max_len=512)
    if notify_url:
        check_url(
            notify_url, field="notify_url", allow_private=ctx.settings.private_notify_urls_allowed
        )
    refund, order = await ctx.store.write(
        _refund, merchant.id, ref, refund_no, amount, reason, notify_url
    )
    return reply(request, wire.refund_data(refund, order))


def _refund(
    uow: Any,
    merchant_id: str,
    ref: dict[str, str | None],
    refund_no: str,
    amount: int,
    reason: str,
    notify_url: str,
) -> Any:
    refund = refunds.create_refund(
        uow,
        merchant_id,
        merchant_refund_no=refund_no,
        amount=amount,
        reason=reason,
        notify_url=notify_url,
        **ref,
    )
    return refund, orders.get_by_no(uow, refund.order_no)


# -- accounts -------------------------------------------------------------------------------------


async def _account_caller(
    request: Request, allowed: set[str], *, query: bool = False
) -> tuple[Context, str | None, dict[str, Any]]:
    """Who is calling an account endpoint: a signing merchant, or anyone in sandbox mode.

    The spec leaves these endpoints unsigned; paymux keeps that in sandbox mode
    and requires the signed common parameters in production, where an account
    belongs to the merchant that created it.
    """
    ctx = _ctx(request)
    params = query_params(request) if query else await json_object(request)
    if "app_id" in params or not ctx.sandbox:
        merchant = await authenticate(request, ctx, params)
        fields.no_unknown(params, allowed | COMMON)
        return ctx, merchant.id, params
    fields.no_unknown(params, allowed)
    return ctx, None, params


@post("/accounts")
async def account_create(request: Request) -> ASGIApp:
    ctx = _ctx(request)
    body = await request.body()
    if body.strip():
        ctx, owner, params = await _account_caller(request, {"currency"})
    else:
        if not ctx.sandbox:
            raise PaymuxError(ErrorCode.MISSING_PARAM, "app_id is required", field="app_id")
        owner, params = None, {}
    currency = fields.text(params, "currency", required=False, max_len=8, default="CNY")
    account = await ctx.store.write(
        ledger.open_account, "merchant" if owner else "sandbox", owner or "", currency
    )
    return reply(request, wire.account_data(account))


@get("/accounts/{account_id:str}")
async def account_info(request: Request, account_id: FromPath[str]) -> ASGIApp:
    ctx, owner, _ = await _account_caller(request, set(), query=True)
    account = await ctx.store.read(ledger.get_account, account_id)
    if owner is not None and account.owner_id != owner:
        raise PaymuxError(ErrorCode.ACCOUNT_ACCESS_DENIED, "account belongs to another merchant")
    return reply(request, wire.account_data(account))


async def _move_outside(request: Request, move: Any, time_field: str) -> ASGIApp:
    """Recharge and withdraw: money in from, or out to, the world outside paymux."""
    ctx, owner, params = await _account_caller(request, {"account_id", "amount"})
    account_id = fields.text(params, "account_id", pattern=ACCOUNT_RE)
    amount = fields.amount(params)
    entry, account = await ctx.store.write(move, account_id, amount, owner)
    return reply(
        request,
        {
            "account_id": account.id,
            "transaction_id": str(entry),
            "amount": amount,
            "balance": account.balance,
            time_field: wire.utc_time(ctx.env.clock.now()),
        },
    )


@post("/accounts/recharge")
async def account_recharge(request: Request) -> ASGIApp:
    return await _move_outside(request, ledger.recharge, "recharge_time")


@post("/accounts/withdraw")
async def account_withdraw(request: Request) -> ASGIApp:
    return await _move_outside(request, ledger.withdraw_now, "withdraw_time")


@post("/accounts/transfer")
async def account_transfer(request: Request) -> ASGIApp:
    ctx, owner, params = await _account_caller(request, {"from_account", "to_account", "amount"})
    source = fields.text(params, "from_account", pattern=ACCOUNT_RE)
    target = fields.text(params, "to_account", pattern=ACCOUNT_RE)
    amount = fields.amount(params)
    entry, _ = await ctx.store.write(ledger.account_transfer, source, target, amount, owner)
    return reply(
        request,
        {
            "from_account_id": source,
            "to_account_id": target,
            "transaction_id": str(entry),
            "amount": amount,
            "transfer_time": wire.utc_time(ctx.env.clock.now()),
        },
    )


@get("/accounts/{account_id:str}/transactions")
async def account_transactions(request: Request, account_id: FromPath[str]) -> ASGIApp:
    ctx, owner, params = await _account_caller(
        request, {"type", "start_time", "end_time", "page", "page_size"}, query=True
    )
    kind = fields.integer(params, "type", default=0, minimum=0, maximum=5)
    page = fields.integer(params, "page", default=1, minimum=1, maximum=10**6)
    size = fields.integer(params, "page_size", default=10, minimum=1, maximum=100)
    tz = ctx.settings.tz
    total, lines = await ctx.store.read(
        _lines,
        account_id,
        owner,
        wire.ENTRY_TYPE_BY_CODE.get(kind),
        fields.moment(params, "start_time", tz),
        fields.moment(params, "end_time", tz),
        page,
        size,
    )
    return reply(
        request, wire.page_data(total, page, size, [wire.transaction_data(x) for x in lines])
    )


def _lines(
    uow: Any,
    account_id: str,
    owner: str | None,
    kind: str | None,
    start: Any,
    end: Any,
    page: int,
    size: int,
) -> Any:
    account = ledger.get_account(uow, account_id)
    if owner is not None and account.owner_id != owner:
        raise PaymuxError(ErrorCode.ACCOUNT_ACCESS_DENIED, "account belongs to another merchant")
    return ledger.account_lines(
        uow, account_id, entry_type=kind, start=start, end=end, page=page, page_size=size
    )


def make_router(ctx: Context) -> Router:
    return Router(
        path="/api/v1",
        opt={"direct": True},
        route_handlers=[
            create_merchant,
            merchant_info,
            merchant_update,
            merchant_regenerate_keys,
            merchant_search,
            order_create,
            order_query,
            order_close,
            order_pay,
            order_list,
            order_refund,
            account_create,
            account_info,
            account_recharge,
            account_withdraw,
            account_transfer,
            account_transactions,
        ],
    )
