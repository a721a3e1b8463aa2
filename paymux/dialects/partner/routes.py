"""partner HTTP routes under `/partner/api`: parse, authenticate, call a service, reply."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from litestar import Request, Router, post
from litestar.types import ASGIApp

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant, Order, Refund, Withdrawal
from paymux.core.money import parse_decimal
from paymux.dialects import fields
from paymux.dialects.partner import wire
from paymux.dialects.partner.auth import authenticate
from paymux.dialects.partner.codes import SUCCESS, message
from paymux.dialects.requests import JsonReply, json_object
from paymux.services import oauth, orders, refunds, users, withdrawals
from paymux.services.urls import check_url
from paymux.signing import partner as signing
from paymux.store.uow import UnitOfWork

if TYPE_CHECKING:
    from paymux.context import Context

NUMBER_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
OPENID_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
CODE_RE = re.compile(r"[0-9A-Za-z_-]{1,128}")
CURRENCIES = ("USDT", "CNY")
DEFAULT_EXPIRY_S = 24 * 3600  # spec 11.3 / 12.2


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def reply(data: Any) -> ASGIApp:
    return JsonReply(wire.envelope(SUCCESS, message(SUCCESS, ""), data), 200)


async def _signed(request: Request, allowed: set[str]) -> tuple[Context, Merchant, dict[str, Any]]:
    ctx = _ctx(request)
    params = await json_object(request)
    merchant = await authenticate(request, ctx, params, allowed)
    return ctx, merchant, params


def _currency(params: dict[str, Any]) -> str:
    currency = fields.text(params, "currency", required=False, max_len=8, default="USDT")
    if currency not in CURRENCIES:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"currency must be one of {', '.join(CURRENCIES)}",
            field="currency",
        )
    return currency


def _amount(params: dict[str, Any], currency: str) -> int:
    """A decimal string of yuan/USDT with at most two decimals; never a float."""
    value = params.get("amount")
    if value is None or value == "":
        raise PaymuxError(ErrorCode.MISSING_PARAM, "amount is required", field="amount")
    if not isinstance(value, str):
        raise PaymuxError(
            ErrorCode.INVALID_AMOUNT,
            'amount must be a decimal string such as "12.34"',
            field="amount",
        )
    return parse_decimal(value, currency)


def _notify_url(ctx: Context, params: dict[str, Any], merchant: Merchant) -> str:
    """The request's notifyUrl (SSRF-checked), else the partner's configured default."""
    url = fields.text(params, "notifyUrl", required=False, max_len=512)
    if not url:
        return merchant.notify_url
    return check_url(url, field="notifyUrl", allow_private=ctx.settings.private_notify_urls_allowed)


def _page_url(params: dict[str, Any], name: str) -> str:
    """A URL the user's browser is sent to: any http(s) host, paymux never fetches it."""
    url = fields.text(params, name, required=False, max_len=512)
    return check_url(url, field=name, allow_private=True) if url else ""


# -- 3.1–3.4: authorization ------------------------------------------------------------------------


async def _wallet_user_id(request: Request, ctx: Context) -> str:
    """The signed-in wallet user: `Authorization: Bearer <wallet_token>` or the wallet cookie."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        user_id, _name = await ctx.store.read(users.user_by_token, header[7:].strip())
        return user_id
    cookie = request.cookies.get(oauth.WALLET_COOKIE)
    if cookie:
        return (await ctx.store.read(oauth.wallet_user, cookie)).user_id
    raise PaymuxError(
        ErrorCode.UNAUTHORIZED,
        "no wallet user: send Authorization: Bearer <wallet_token> or the wallet session cookie",
    )


@post("/partner/user/auth/code")
async def auth_code(request: Request) -> ASGIApp:
    """3.1: the signed-in user consents; the code is valid five minutes, once."""
    ctx = _ctx(request)
    params = await json_object(request)
    merchant = await authenticate(request, ctx, params, set())
    user_id = await _wallet_user_id(request, ctx)
    return reply(await ctx.store.write(oauth.issue_code, user_id, merchant.id))


@post("/openapi/access_token/auth")
async def access_token(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, {"code"})
    code = fields.text(params, "code", max_len=128, pattern=CODE_RE)
    session = await ctx.store.write(oauth.exchange_code, merchant.id, code)
    return reply(wire.session_data(session))


@post("/openapi/access_token/refresh")
async def access_token_refresh(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, {"sessionKey"})
    key = fields.text(params, "sessionKey", max_len=128, pattern=CODE_RE)
    session = await ctx.store.write(oauth.refresh_session, merchant.id, key)
    return reply(wire.session_data(session))


@post("/openapi/user/info")
async def user_info(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, {"sessionKey"})
    key = fields.text(params, "sessionKey", max_len=128, pattern=CODE_RE)
    info = await ctx.store.read(oauth.session_user, merchant.id, key)
    return reply(wire.user_info_data(info, ctx.settings.tz))


# -- 3.5–3.6 and the refunds the ruling adds ---------------------------------------------------

PAYMENT_FIELDS = {
    "orderNo",
    "openid",
    "amount",
    "currency",
    "callbackUrl",
    "notifyUrl",
    "returnUrl",
    "description",
    "subject",
}


@post("/openapi/payment/create")
async def payment_create(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, PAYMENT_FIELDS)
    currency = _currency(params)
    openid = fields.text(params, "openid", required=False, pattern=OPENID_RE)
    callback_url = _page_url(params, "callbackUrl")
    cmd = orders.CreateOrder(
        merchant_id=merchant.id,
        merchant_order_no=fields.text(params, "orderNo", pattern=NUMBER_RE),
        dialect="partner",
        channel="sandbox",
        amount=_amount(params, currency),
        currency=currency,
        subject=fields.text(params, "subject", required=False, max_len=256),
        description=fields.text(params, "description", required=False, max_len=512),
        notify_url=_notify_url(ctx, params, merchant),
        return_url=_page_url(params, "returnUrl"),
        expire_s=ctx.settings.order_expiry_s.get("partner", DEFAULT_EXPIRY_S),
        extra=wire.present({"openid": openid, "callback_url": callback_url}),
    )
    if openid:  # an openid, once issued, always names its user: no need to hold it
        await ctx.store.read(oauth.user_for_openid, merchant.id, openid)
    order, _created = await ctx.store.write(orders.create_order, cmd)
    # paySign is made with the partner's newest secret, as its own code would make it.
    _, app_secrets = await ctx.keys.lookup("partner", params["apiKey"])
    nonce, timestamp_s = secrets.token_hex(16), ctx.env.clock.now_ms() // 1000
    pay_sign = signing.pay_sign(
        params["apiKey"], nonce, order.order_no, timestamp_s, app_secrets[0]
    )
    return reply(wire.pay_params(params["apiKey"], order.order_no, nonce, timestamp_s, pay_sign))


def _find_order(uow: UnitOfWork, merchant_id: str, number: str) -> Order:
    """A partner's order by its own order no or by paymux's (3.6 accepts either)."""
    try:
        return orders.find_order(uow, merchant_id, merchant_order_no=number)
    except PaymuxError as exc:
        if exc.code is not ErrorCode.ORDER_NOT_FOUND:
            raise
    order = orders.get_by_no(uow, number)
    if order.merchant_id != merchant_id:
        raise PaymuxError(ErrorCode.ORDER_NOT_FOUND, f"order {number} not found")
    return order


@post("/openapi/payment/query")
async def payment_query(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, {"orderNo"})
    number = fields.text(params, "orderNo", pattern=NUMBER_RE)
    order = await ctx.store.read(_find_order, merchant.id, number)
    return reply(wire.order_data(order, ctx.env.clock.now(), ctx.settings.tz))


@post("/openapi/payment/refund")
async def payment_refund(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(
        request, {"orderNo", "refundNo", "amount", "reason", "notifyUrl"}
    )
    number = fields.text(params, "orderNo", pattern=NUMBER_RE)
    refund_no = fields.text(params, "refundNo", pattern=NUMBER_RE)
    reason = fields.text(params, "reason", required=False, max_len=256)
    url = fields.text(params, "notifyUrl", required=False, max_len=512)
    if url:
        check_url(url, field="notifyUrl", allow_private=ctx.settings.private_notify_urls_allowed)
    order = await ctx.store.read(_find_order, merchant.id, number)
    amount = _amount(params, order.currency)
    refund, order = await ctx.store.write(
        _refund, merchant.id, order.order_no, refund_no, amount, reason, url
    )
    return reply(wire.refund_data(refund, order, ctx.settings.tz))


def _refund(
    uow: UnitOfWork,
    merchant_id: str,
    order_no: str,
    refund_no: str,
    amount: int,
    reason: str,
    notify_url: str,
) -> tuple[Refund, Order]:
    refund = refunds.create_refund(
        uow,
        merchant_id,
        merchant_refund_no=refund_no,
        amount=amount,
        order_no=order_no,
        reason=reason,
        notify_url=notify_url,
    )
    return refund, orders.get_by_no(uow, order_no)


def _find_refund(uow: UnitOfWork, merchant_id: str, number: str) -> tuple[Refund, Order]:
    """A partner's refund by its own refund no or by paymux's."""
    try:
        refund = refunds.get_refund(uow, merchant_id, merchant_refund_no=number)
    except PaymuxError as exc:
        if exc.code is not ErrorCode.REFUND_NOT_FOUND:
            raise
        try:
            refund = refunds.get_refund(uow, merchant_id, refund_no=number)
        except PaymuxError as again:
            if again.code is ErrorCode.ORDER_ACCESS_DENIED:
                raise PaymuxError(
                    ErrorCode.REFUND_NOT_FOUND, f"refund {number} not found"
                ) from None
            raise
    return refund, orders.get_by_no(uow, refund.order_no)


@post("/openapi/payment/refund/query")
async def refund_query(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, {"refundNo"})
    number = fields.text(params, "refundNo", pattern=NUMBER_RE)
    refund, order = await ctx.store.read(_find_refund, merchant.id, number)
    return reply(wire.refund_data(refund, order, ctx.settings.tz))


# -- 3.7–3.8: withdrawals ------------------------------------------------------------------------


@post("/openapi/account/withdraw")
async def withdraw(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(
        request, {"amount", "currency", "userId", "notifyUrl", "remark"}
    )
    currency = _currency(params)
    withdrawal = await ctx.store.write(
        _withdraw,
        merchant.id,
        fields.text(params, "userId", pattern=OPENID_RE),
        _amount(params, currency),
        currency,
        _notify_url(ctx, params, merchant),
        fields.text(params, "remark", required=False, max_len=256),
    )
    return reply(wire.withdrawal_data(withdrawal, ctx.settings.tz))


def _withdraw(
    uow: UnitOfWork,
    merchant_id: str,
    openid: str,
    amount: int,
    currency: str,
    notify_url: str,
    remark: str,
) -> Withdrawal:
    return withdrawals.request_withdrawal(
        uow,
        merchant_id,
        dialect="partner",
        user_id=oauth.user_for_openid(uow, merchant_id, openid),
        user_ref=openid,
        amount=amount,
        currency=currency,
        notify_url=notify_url,
        remark=remark,
    )


@post("/openapi/account/withdrawal/query")
async def withdrawal_query(request: Request) -> ASGIApp:
    ctx, merchant, params = await _signed(request, {"withdrawalNo"})
    number = fields.text(params, "withdrawalNo", pattern=NUMBER_RE)
    withdrawal = await ctx.store.read(withdrawals.get_withdrawal, merchant.id, number)
    return reply(wire.withdrawal_data(withdrawal, ctx.settings.tz))


def make_router(ctx: Context) -> Router:
    return Router(
        path="/partner/api",
        opt={"direct": True},
        route_handlers=[
            auth_code,
            access_token,
            access_token_refresh,
            user_info,
            payment_create,
            payment_query,
            payment_refund,
            refund_query,
            withdraw,
            withdrawal_query,
        ],
    )
