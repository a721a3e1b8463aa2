"""gateway HTTP routes: parse, authenticate, call a service, shape the reply."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from litestar import Request, Router, get, post
from litestar.types import ASGIApp

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.dialects import fields
from paymux.dialects.gateway import wire
from paymux.dialects.gateway.auth import as_strings, authenticate
from paymux.dialects.gateway.codes import QUERY_OK, UNIFIED_OK
from paymux.dialects.requests import JsonReply, content_type, form_or_json, query_params
from paymux.services import orders
from paymux.services.urls import check_url

if TYPE_CHECKING:
    from paymux.context import Context

ORDER_NO_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
# attach travels unencoded inside the signed string; the spec asks for Chinese
# to be URL-encoded, so what arrives is printable ASCII.
ATTACH_RE = re.compile(r"[\x20-\x7e]*")
DEFAULT_EXPIRE_S = 2 * 3600


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def reply(message: str, data: dict[str, Any]) -> ASGIApp:
    return JsonReply(wire.envelope(True, message, data), 200)


async def _body(request: Request) -> dict[str, Any]:
    """The spec's form body, a JSON object like its request example, or multipart.

    PHP shops that hand cURL an array send multipart/form-data without meaning
    to; a drop-in platform takes that too. A file part is not a parameter.
    """
    if content_type(request) != "multipart/form-data":
        return await form_or_json(request)
    params: dict[str, Any] = {}
    for key, value in (await request.form()).multi_items():
        if not isinstance(value, str):
            raise PaymuxError(ErrorCode.INVALID_PARAMS, f"{key} must not be a file", field=key)
        if key in params:
            raise PaymuxError(ErrorCode.INVALID_PARAMS, f"parameter {key} given twice", field=key)
        params[key] = value
    return params


@post("/unified")
async def unified(request: Request) -> ASGIApp:
    """5.1 统一下单. Parameters outside the table are signed over and otherwise ignored."""
    ctx = _ctx(request)
    params = as_strings(await _body(request))
    merchant = await authenticate(request, ctx, params)
    order_no = fields.text(params, "order_no", pattern=ORDER_NO_RE)
    amount = fields.amount(params)
    bank_code = fields.text(params, "bank_code", max_len=8)
    if bank_code not in wire.BANK_CODES:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"bank_code {bank_code} is not supported; use one of {', '.join(wire.BANK_CODES)}",
            field="bank_code",
        )
    product_name = fields.text(params, "product_name", max_len=128)
    attach = fields.text(params, "attach", required=False, max_len=1024)
    if not ATTACH_RE.fullmatch(attach):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            "attach must be URL-encoded (中文需要url编码): printable ASCII only",
            field="attach",
        )
    openid = fields.text(params, "openid", required=False, max_len=128)
    notify_url = check_url(
        fields.text(params, "notify_url", max_len=512),
        field="notify_url",
        allow_private=ctx.settings.private_notify_urls_allowed,
    )
    # The payer's browser, not paymux, goes to return_url: no SSRF to guard against.
    return_url = check_url(
        fields.text(params, "return_url", max_len=512), field="return_url", allow_private=True
    )
    method, _name = wire.BANK_CODES[bank_code]
    extra: dict[str, Any] = {"bank_code": bank_code, "pay_method": method}
    if openid:
        extra["openid"] = openid
    cmd = orders.CreateOrder(
        merchant_id=merchant.id,
        merchant_order_no=order_no,
        dialect="gateway",
        channel="sandbox",
        amount=amount,
        subject=product_name,
        notify_url=notify_url,
        return_url=return_url,
        attach=attach,
        expire_s=ctx.settings.order_expiry_s.get("gateway", DEFAULT_EXPIRE_S),
        extra=extra,
    )
    order, _created = await ctx.store.write(orders.create_order, cmd)
    redirect_url = f"{ctx.settings.public_base_url}/cashier/{order.order_no}"
    return reply(UNIFIED_OK, wire.unified_data(order, redirect_url))


@get("/check_order")
async def check_order(request: Request) -> ASGIApp:
    """5.4 订单查询, by the merchant's `order_no`."""
    ctx = _ctx(request)
    params = query_params(request)
    merchant = await authenticate(request, ctx, params)
    order_no = fields.text(params, "order_no", pattern=ORDER_NO_RE)
    order = await ctx.store.read(orders.find_order, merchant.id, None, order_no)
    return reply(QUERY_OK, wire.query_data(order, ctx.settings.tz))


def make_router(ctx: Context) -> Router:
    return Router(path="/api/order", opt={"direct": True}, route_handlers=[unified, check_order])
