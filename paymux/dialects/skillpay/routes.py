"""skillpay HTTP routes the skill calls (`/paycgi/...`): parse, authenticate, call a service, reply.

Every reply, error or not, is JSON signed with the platform key. Unknown
fields are ignored: the spec announces that fields may be added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, Router, get, post

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Order, Refund
from paymux.dialects import fields
from paymux.dialects.requests import refuse_body
from paymux.dialects.skillpay import auth, device, wire
from paymux.dialects.skillpay.auth import authenticate
from paymux.logs import log
from paymux.services import orders, refunds, skills

if TYPE_CHECKING:
    from paymux.context import Context
    from paymux.store.uow import UnitOfWork


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def reply(
    ctx: Context, body: bytes, status: int = 200, media_type: str = "application/json"
) -> Response[bytes]:
    """A reply signed with the platform key, so the skill can verify it came from paymux."""
    return Response(
        body,
        status_code=status,
        media_type=media_type,
        headers={"Authorization": auth.authorization(ctx, body)},
    )


def reply_json(ctx: Context, data: dict[str, Any], status: int = 200) -> Response[bytes]:
    return reply(ctx, msgspec.json.encode(data), status)


def _version(params: dict[str, Any]) -> None:
    version = fields.text(params, "version", required=False, max_len=5, default=wire.VERSION)
    if version != wire.VERSION:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "version must be 1.0", field="version")


def _one_of(params: dict[str, Any], first: str, second: str) -> tuple[str, str]:
    """Exactly one of two identifying fields ("二选一"), each ≤ 32 digits and letters."""
    a = fields.text(params, first, required=False, max_len=32, pattern=wire.NO_RE)
    b = fields.text(params, second, required=False, max_len=32, pattern=wire.NO_RE)
    if bool(a) == bool(b):
        raise PaymuxError(
            ErrorCode.MISSING_PARAM if not a else ErrorCode.INVALID_PARAMS,
            f"give exactly one of {first} and {second}",
            field=first,
        )
    return a, b


def _skill_order(uow: UnitOfWork, merchant_id: str, order_no: str, trade_no: str) -> Order:
    """The skill's own skillpay order; any other order does not exist as far as the skill knows."""
    try:
        order = orders.find_order(
            uow, merchant_id, order_no=order_no or None, merchant_order_no=trade_no or None
        )
    except PaymuxError as exc:
        if exc.code is ErrorCode.ORDER_ACCESS_DENIED:
            raise PaymuxError(ErrorCode.ORDER_NOT_FOUND, f"order {order_no} not found") from None
        raise
    if order.dialect != "skillpay":
        raise PaymuxError(ErrorCode.ORDER_NOT_FOUND, f"order {order_no or trade_no} not found")
    return order


@post("/orderquery")
async def order_query(request: Request) -> Response[bytes]:
    ctx = _ctx(request)
    skill, params = await authenticate(request, ctx)
    _version(params)
    order_no, trade_no = _one_of(params, "transactionId", "tradeNo")
    order = await ctx.store.read(_skill_order, skill.merchant_id, order_no, trade_no)
    return reply_json(ctx, wire.success(wire.order_fields(order)))


def _create_refund(
    uow: UnitOfWork,
    skill: skills.Skill,
    order_no: str,
    trade_no: str,
    refund_trade_no: str,
    total: int,
    amount: int,
    desc: str,
    lines: list[dict[str, Any]],
) -> tuple[Refund, Order]:
    order = _skill_order(uow, skill.merchant_id, order_no, trade_no)
    if total != order.amount:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"totalAmt {total} is not the order's total {order.amount}",
            field="totalAmt",
        )
    wire.check_refund_lines(lines, order.extra.get("details", []))
    refund = refunds.create_refund(
        uow,
        skill.merchant_id,
        merchant_refund_no=refund_trade_no,
        amount=amount,
        order_no=order.order_no,
        reason=desc,
        notify_url=skill.refund_notify_url,
        complete=False,
        extra={"refundDetails": lines},
    )
    return refund, orders.get_by_no(uow, order.order_no)


@post("/refund")
async def refund(request: Request) -> Response[bytes]:
    """Accept a refund (PROCESSING), then let the sandbox channel settle it after the commit."""
    ctx = _ctx(request)
    skill, params = await authenticate(request, ctx)
    _version(params)
    order_no, trade_no = _one_of(params, "transactionId", "tradeNo")
    refund_trade_no = fields.text(params, "refundTradeNo", max_len=32, pattern=wire.NO_RE)
    total = fields.amount(params, "totalAmt")
    amount = fields.amount(params, "refundAmt")
    desc = fields.text(params, "refundDesc", required=False, max_len=64)
    lines = wire.details(params.get("refundDetails"), "refundDetails")
    if sum(line["amount"] for line in lines) != amount:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"refundAmt {amount} is not the sum of refundDetails amounts",
            field="refundAmt",
        )
    created, order = await ctx.store.write(
        _create_refund, skill, order_no, trade_no, refund_trade_no, total, amount, desc, lines
    )
    try:
        await ctx.store.write(skills.settle_refund, skill.skill_id, created.refund_no)
    except PaymuxError as exc:  # a racing settle won; the refund is settled either way
        log.info("skillpay_settle_skipped", refund_no=created.refund_no, reason=exc.message)
    return reply_json(ctx, wire.success(wire.refund_fields(created, order, with_status=False)))


def _skill_refund(
    uow: UnitOfWork, merchant_id: str, refund_no: str, refund_trade_no: str
) -> tuple[Refund, Order]:
    try:
        found = refunds.get_refund(
            uow,
            merchant_id,
            refund_no=refund_no or None,
            merchant_refund_no=refund_trade_no or None,
        )
    except PaymuxError as exc:
        if exc.code is ErrorCode.ORDER_ACCESS_DENIED:
            raise PaymuxError(ErrorCode.REFUND_NOT_FOUND, f"refund {refund_no} not found") from None
        raise
    order = orders.get_by_no(uow, found.order_no)
    if order.dialect != "skillpay":
        raise PaymuxError(
            ErrorCode.REFUND_NOT_FOUND, f"refund {refund_no or refund_trade_no} not found"
        )
    return found, order


@post("/refundquery")
async def refund_query(request: Request) -> Response[bytes]:
    ctx = _ctx(request)
    skill, params = await authenticate(request, ctx)
    _version(params)
    refund_no, refund_trade_no = _one_of(params, "refundTransactionId", "refundTradeNo")
    found, order = await ctx.store.read(
        _skill_refund, skill.merchant_id, refund_no, refund_trade_no
    )
    return reply_json(ctx, wire.success(wire.refund_fields(found, order, with_status=True)))


@get("/platform-key")
async def platform_key(request: Request) -> Response[bytes]:
    """The platform's public key, which verifies everything paymux signs.

    PEM by default; `?format=base64` gives the bare base64 body (BEGIN/END
    lines and newlines removed), the other form keys are exchanged in.
    """
    ctx = _ctx(request)
    refuse_body(request)
    kind = request.query_params.get("format", "pem")
    if kind not in ("pem", "base64"):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "format must be pem or base64", field="format")
    pem = ctx.platform_public_pem
    text = pem if kind == "pem" else "".join(pem.strip().splitlines()[1:-1])
    return reply(ctx, text.encode(), media_type="text/plain; charset=utf-8")


def make_router(ctx: Context) -> Router:
    """The skill-facing `/paycgi` API, plus the registry (admin) and device simulator (sandbox)."""
    paycgi = Router(
        path="/paycgi", route_handlers=[order_query, refund, refund_query, platform_key]
    )
    return Router(path="/", route_handlers=[paycgi, *device.routers()])
