"""The operator side of skillpay: the skill registry (admin API) and the sandbox device simulator.

A skillpay order begins on the platform: a user of a voice device orders
through a skill. The simulator plays that device. paymux calls the skill's
create-order URL (signed), and only a verified, well-formed reply with a valid
`tradeNo` becomes an order; any other outcome leaves nothing behind and says
why. The user then pays: a screen device shows a QR code to the hosted
cashier, a screenless one asks for a spoken confirmation (`.../confirm`).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import httpx
import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from paymux.api.auth import require_admin, require_sandbox
from paymux.api.errors import ok
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Order
from paymux.core.money import format_decimal
from paymux.dialects import fields
from paymux.dialects.requests import json_object
from paymux.dialects.skillpay import auth, wire
from paymux.services import orders, skills
from paymux.services.urls import pin_public
from paymux.web.templating import qr_svg_data_uri, render

if TYPE_CHECKING:
    from paymux.context import Context
    from paymux.store.uow import UnitOfWork


def _admin(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    require_admin(request, ctx)
    return ctx


def _sandbox(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    require_sandbox(ctx)
    require_admin(request, ctx)
    return ctx


# -- calling the skill ----------------------------------------------------------------------------


async def call_create_order(
    ctx: Context, skill: skills.Skill, user_token: str, lines: list[dict[str, Any]], total: int
) -> str:
    """POST the signed create-order request to the skill; its `tradeNo` or SkillCallFailed."""
    body = msgspec.json.encode(
        wire.create_order_request(skill.skill_id, user_token, lines, total, secrets.token_hex(16))
    )
    headers = {"Content-Type": "application/json", "Authorization": auth.authorization(ctx, body)}
    timeout = ctx.settings.notify_timeout_s
    url, extensions = skill.create_order_url, {}
    if not ctx.settings.private_notify_urls_allowed:  # the SSRF guard, after DNS as well
        try:
            pinned = await pin_public(url, field="create_order_url")
        except PaymuxError as exc:
            raise wire.SkillCallFailed("skill_unreachable", exc.message) from None
        url, headers["Host"] = pinned.url, pinned.host
        extensions = {"sni_hostname": pinned.server_name}
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:  # redirects are not followed
            response = await http.post(url, content=body, headers=headers, extensions=extensions)
    except httpx.TimeoutException:
        raise wire.SkillCallFailed(
            "skill_timeout", f"the skill's create-order URL did not answer within {timeout:g}s", 504
        ) from None
    except httpx.HTTPError as exc:
        raise wire.SkillCallFailed(
            "skill_unreachable", f"the skill's create-order URL failed: {type(exc).__name__}"
        ) from None
    try:
        auth.check_skill_signature(
            ctx, skill, response.headers.get("authorization"), response.content
        )
    except PaymuxError as exc:
        raise wire.SkillCallFailed(
            "skill_bad_signature", f"the create-order reply was refused: {exc.message}"
        ) from None
    try:
        reply = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        raise wire.SkillCallFailed(
            "skill_bad_reply", "the create-order reply is not valid JSON"
        ) from None
    return wire.trade_no_of(response.status_code, reply, total)


async def place_order(
    ctx: Context,
    skill_id: str,
    user_token: str,
    lines: list[dict[str, Any]],
    total: int,
    screen: bool,
) -> Order:
    """Have the skill create the order, then record it; transactionId is paymux's order no."""
    skill, merchant = await ctx.store.read(skills.find_skill, skill_id)
    if not (skill.active and merchant.active):
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, f"skill {skill_id} is disabled")
    trade_no = await call_create_order(ctx, skill, user_token, lines, total)
    cmd = orders.CreateOrder(
        merchant_id=skill.merchant_id,
        merchant_order_no=trade_no,
        dialect="skillpay",
        channel="sandbox",
        amount=total,
        currency=wire.CURRENCY,
        notify_url=skill.ship_url,
        extra={"skillId": skill_id, "userToken": user_token, "details": lines, "screen": screen},
    )
    order, _created = await ctx.store.write(orders.create_order, cmd)
    return order


def view(ctx: Context, order: Order) -> dict[str, Any]:
    base = ctx.settings.public_base_url
    return wire.device_order(
        order,
        f"{base}/cashier/{order.order_no}",
        f"{base}/sandbox/v1/skillpay/orders/{order.order_no}/confirm",
    )


# -- device simulator API (sandbox, admin token) --------------------------------------------------


@post("/orders")
async def device_order(request: Request) -> Response[bytes]:
    """`{"skillId", "userToken", "details", "screen", "totalAmt"?}` → the order, or why none."""
    ctx = _sandbox(request)
    params = await json_object(request)
    fields.no_unknown(params, {"skillId", "userToken", "details", "screen", "totalAmt"})
    skill_id = fields.text(params, "skillId", max_len=32)
    user_token = fields.text(params, "userToken", max_len=256)
    lines = wire.details(params.get("details"), "details")
    total = wire.lines_total(lines, "totalAmt")
    if params.get("totalAmt") is not None and fields.amount(params, "totalAmt") != total:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"totalAmt must equal the sum of details amounts ({total})",
            field="totalAmt",
        )
    screen = params.get("screen", True)
    if not isinstance(screen, bool):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "screen must be true or false", field="screen")
    try:
        order = await place_order(ctx, skill_id, user_token, lines, total, screen)
    except wire.SkillCallFailed as exc:
        return ok({"error": {"code": exc.code, "message": exc.message}}, exc.status)
    return ok(view(ctx, order), 201)


def _skill_order(uow: UnitOfWork, order_no: str) -> Order:
    order = orders.get_by_no(uow, order_no)
    if order.dialect != "skillpay":
        raise PaymuxError(ErrorCode.ORDER_NOT_FOUND, f"no skillpay order {order_no}")
    return order


def _voice_pay(uow: UnitOfWork, order_no: str) -> Order:
    _skill_order(uow, order_no)
    return orders.pay_order(uow, order_no)


@post("/orders/{transaction_id:str}/confirm")
async def device_confirm(request: Request, transaction_id: FromPath[str]) -> Response[bytes]:
    """The user says "confirm" to a screenless device: the order is paid (sandbox channel)."""
    ctx = _sandbox(request)
    order = await ctx.store.write(_voice_pay, transaction_id)
    return ok(view(ctx, order))


@post("/refunds/settle")
async def settle_refund(request: Request) -> Response[bytes]:
    """Settle a refund the skill's `sandbox_refund` = HOLD left PROCESSING: SUCCESS or FAIL."""
    ctx = _sandbox(request)
    params = await json_object(request)
    fields.no_unknown(params, {"skillId", "refundTransactionId", "result"})
    skill_id = fields.text(params, "skillId", max_len=32)
    refund_no = fields.text(params, "refundTransactionId", pattern=wire.NO_RE)
    result = fields.text(params, "result", max_len=8)
    refund = await ctx.store.write(skills.settle_refund, skill_id, refund_no, result)
    return ok(
        {
            "refundTransactionId": refund.refund_no,
            "refundStatus": wire.REFUND_STATUS[refund.status][0],
        }
    )


# -- skill registry (admin token) -----------------------------------------------------------------


def skill_view(skill: skills.Skill) -> dict[str, Any]:
    return {
        "skillId": skill.skill_id,
        "merchant_id": skill.merchant_id,
        "public_key": skill.public_key,
        "create_order_url": skill.create_order_url,
        "ship_url": skill.ship_url,
        "refund_notify_url": skill.refund_notify_url,
        "status": skill.status,
        "sandbox_refund": skill.sandbox_refund,
    }


@post("/")
async def register_skill(request: Request) -> Response[bytes]:
    """`{"merchant_id", "public_key", "create_order_url", "ship_url", "refund_notify_url"}`."""
    ctx = _admin(request)
    params = await json_object(request)
    fields.no_unknown(params, {"merchant_id", "public_key", *skills.URL_FIELDS})
    merchant_id = fields.text(params, "merchant_id", max_len=32)
    urls = {name: fields.text(params, name, max_len=512) for name in skills.URL_FIELDS}
    if not isinstance(params.get("public_key"), str):
        raise PaymuxError(ErrorCode.MISSING_PARAM, "public_key is required", field="public_key")
    skill = await ctx.store.write(_register, merchant_id, params["public_key"], urls)
    return ok(skill_view(skill), 201)


def _register(
    uow: UnitOfWork, merchant_id: str, public_key: str, urls: dict[str, str]
) -> skills.Skill:
    return skills.register_skill(uow, merchant_id, public_key=public_key, **urls)


@get("/{skill_id:str}")
async def show_skill(request: Request, skill_id: FromPath[str]) -> Response[bytes]:
    ctx = _admin(request)
    return ok(skill_view(await ctx.store.read(skills.get_skill, skill_id)))


@post("/{skill_id:str}")
async def update_skill(request: Request, skill_id: FromPath[str]) -> Response[bytes]:
    """Rotate the key, move URLs, disable, or choose how the sandbox settles refunds."""
    ctx = _admin(request)
    params = await json_object(request)
    skill = await ctx.store.write(skills.update_skill, skill_id, params)
    return ok(skill_view(skill))


# -- device simulator page (sandbox) --------------------------------------------------------------
#
# The same simulator for a person with a browser: sandbox mode only and, like
# the cashier's sandbox pay button, without the admin token.


def _page(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    require_sandbox(ctx)
    return ctx


def _form_lines(text: str) -> list[dict[str, Any]]:
    """The page's items box: one `itemId,quantity,amount` per line."""
    lines: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.split(",")]
        if len(parts) != 3 or not all(p.isdigit() for p in parts[1:]):
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS,
                f"details line {number} must be itemId,quantity,amount",
                field="details",
            )
        lines.append({"itemId": parts[0], "quantity": int(parts[1]), "amount": int(parts[2])})
    return lines


async def _form_page(
    ctx: Context, form: dict[str, str], error: str = "", status: int = 200
) -> Response[str]:
    active = [s for s in await ctx.store.read(skills.list_skills) if s.active]
    return render("skillpay_device.html", status, skills=active, form=form, order=None, error=error)


async def _order_page(
    ctx: Context, order: Order, error: str = "", status: int = 200
) -> Response[str]:
    data = view(ctx, order)
    return render(
        "skillpay_device.html",
        status,
        order=data,
        amount=format_decimal(order.amount, order.currency),
        qr=qr_svg_data_uri(data["cashier_url"]),
        error=error,
    )


@get("/")
async def page_new(request: Request) -> Response[str]:
    return await _form_page(_page(request), {})


@post("/")
async def page_order(request: Request) -> Response[Any]:
    ctx = _page(request)
    form = {
        k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()
    }
    try:
        lines = wire.details(_form_lines(form.get("details", "")), "details")
        order = await place_order(
            ctx,
            fields.text(form, "skillId", max_len=32),
            fields.text(form, "userToken", max_len=256),
            lines,
            wire.lines_total(lines, "totalAmt"),
            form.get("screen") == "1",
        )
    except PaymuxError as exc:
        return await _form_page(ctx, form, exc.message, 400)
    except wire.SkillCallFailed as exc:
        return await _form_page(ctx, form, exc.message, exc.status)
    return Redirect(f"/sandbox/skillpay/{order.order_no}", status_code=303)


@get("/{transaction_id:str}")
async def page_show(request: Request, transaction_id: FromPath[str]) -> Response[str]:
    ctx = _page(request)
    try:
        order = await ctx.store.read(_skill_order, transaction_id)
    except PaymuxError as exc:
        return render("message.html", 404, title="订单不存在 Order not found", message=exc.message)
    return await _order_page(ctx, order)


@post("/{transaction_id:str}/confirm")
async def page_confirm(request: Request, transaction_id: FromPath[str]) -> Response[Any]:
    ctx = _page(request)
    try:
        await ctx.store.write(_voice_pay, transaction_id)
    except PaymuxError as exc:
        order = await ctx.store.read(_skill_order, transaction_id)
        return await _order_page(ctx, order, exc.message, 409)
    return Redirect(f"/sandbox/skillpay/{transaction_id}", status_code=303)


def routers() -> list[Router]:
    return [
        Router(
            path="/sandbox/v1/skillpay",
            route_handlers=[device_order, device_confirm, settle_refund],
        ),
        Router(
            path="/sandbox/skillpay", route_handlers=[page_new, page_order, page_show, page_confirm]
        ),
        Router(path="/admin/v1/skills", route_handlers=[register_skill, show_skill, update_skill]),
    ]
