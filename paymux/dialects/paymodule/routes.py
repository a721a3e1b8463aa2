"""paymodule HTTP routes: parse, identify the caller, call a service, shape the reply."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.types import ASGIApp
from sqlalchemy.exc import SQLAlchemyError

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.money import check_amount
from paymux.dialects import fields
from paymux.dialects.paymodule import wire
from paymux.dialects.paymodule.auth import caller
from paymux.dialects.paymodule.codes import SUCCESS
from paymux.dialects.requests import JsonReply, json_object, refuse_body
from paymux.notify import outbox
from paymux.services import payments
from paymux.services.urls import check_url

if TYPE_CHECKING:
    from paymux.context import Context

BIZ_ORDER_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
CREATE_FIELDS = {"bizOrderId", "amount", "subject", "description", "callbackUrl"}
EXPIRE_S = 2 * 3600
# The outbox is healthy while nothing due has waited longer than this.
DISPATCH_LAG_S = 60


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def reply(data: Any, status: int = SUCCESS[0], msg: str = SUCCESS[1]) -> ASGIApp:
    return JsonReply(wire.envelope(status, msg, data), status)


async def _create(request: Request, pay_method: str) -> ASGIApp:
    ctx = _ctx(request)
    merchant = await caller(request, ctx)
    params = await json_object(request)
    fields.no_unknown(params, CREATE_FIELDS)
    biz_order_id = fields.text(params, "bizOrderId", pattern=BIZ_ORDER_RE)
    if params.get("amount") is None:
        raise PaymuxError(ErrorCode.MISSING_PARAM, "amount is required", field="amount")
    amount = check_amount(params["amount"])
    subject = fields.text(params, "subject", max_len=127)
    description = fields.text(params, "description", required=False, max_len=128)
    callback_url = check_url(
        fields.text(params, "callbackUrl", max_len=512),
        field="callbackUrl",
        allow_private=ctx.settings.private_notify_urls_allowed,
    )
    payment = await payments.start_payment(
        ctx.store,
        payments.StartPayment(
            merchant_id=merchant.id,
            merchant_order_no=biz_order_id,
            dialect="paymodule",
            pay_method=pay_method,
            amount=amount,
            subject=subject,
            description=description,
            notify_url=callback_url,
            expire_s=ctx.settings.order_expiry_s.get("paymodule", EXPIRE_S),
        ),
    )
    return reply(wire.create_data(payment, ctx.env.clock.now(), ctx.settings.tz))


@post("/pay/wechat/native")
async def wechat_native(request: Request) -> ASGIApp:
    return await _create(request, "WECHAT")


@post("/pay/alipay/precreate")
async def alipay_precreate(request: Request) -> ASGIApp:
    return await _create(request, "ALIPAY")


def _order_no(raw: str) -> str:
    """`orderId` is a positive 64-bit integer; paymux's order no is its decimal form."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or not 0 < int(raw) < 2**63:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "orderId must be a positive 64-bit integer", field="orderId"
        )
    return str(int(raw))


async def _payment(request: Request, order_id: str) -> tuple[Context, payments.Payment]:
    ctx = _ctx(request)
    refuse_body(request)
    merchant = await caller(request, ctx)
    payment = await ctx.store.read(payments.get_payment, merchant.id, _order_no(order_id))
    return ctx, payment


@get("/pay/orders/{order_id:str}")
async def order_query(request: Request, order_id: FromPath[str]) -> ASGIApp:
    ctx, payment = await _payment(request, order_id)
    return reply(wire.order_data(payment, ctx.env.clock.now(), ctx.settings.tz))


@get("/pay/orders/{order_id:str}/transactions/latest")
async def latest_transaction(request: Request, order_id: FromPath[str]) -> ASGIApp:
    ctx, payment = await _payment(request, order_id)
    data = wire.transaction_data(payment, ctx.env.clock.now(), ctx.settings.tz)
    if data is None:
        raise PaymuxError(ErrorCode.NOT_FOUND, "the order has no transaction yet")
    return reply(data)


@get("/health")
async def health(request: Request) -> ASGIApp:
    """Database and notification dispatcher health; 503 when the database cannot be read.

    The dispatcher may run in this process or in `paymux worker`s elsewhere, so
    its health is judged by the outbox it drains: nothing due may wait long.
    """
    ctx = _ctx(request)
    refuse_body(request)
    now = ctx.env.clock.now()
    data: dict[str, Any] = {
        "status": "UP",
        "service": "paymux",
        "time": wire.local_time(now, ctx.settings.tz),
        "message": "支付模块服务运行正常",
    }
    dispatcher = request.app.state.get("dispatcher")
    try:
        depth, oldest = await ctx.store.read(outbox.queue_stats)
    except (SQLAlchemyError, PaymuxError, OSError) as exc:
        data.update(status="DOWN", message="数据库不可用", database={"status": "DOWN"})
        data["database"]["error"] = type(exc).__name__
        return reply(data, 503, "服务暂时不可用: database unreachable")
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    data["database"] = {"status": "UP"}
    data["dispatcher"] = {
        "status": "UP" if lag <= DISPATCH_LAG_S else "LAGGING",
        "embedded": bool(dispatcher is not None and dispatcher.config.embedded),
        "due": depth,
        "oldestDueSeconds": round(lag, 3),
    }
    if lag > DISPATCH_LAG_S:
        data.update(status="DEGRADED", message="通知投递积压")
    return reply(data)


def make_router(ctx: Context) -> Router:
    return Router(
        path="/api",
        opt={"direct": True},
        route_handlers=[wechat_native, alipay_precreate, order_query, latest_transaction, health],
    )
