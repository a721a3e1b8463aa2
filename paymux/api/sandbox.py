"""The sandbox control API (`/sandbox/v1`): admin token, sandbox mode only (404 otherwise).

Every dialect's tests, and outside test tools, drive payments and time through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, Router, post
from litestar.types import ASGIApp

from paymux.api.auth import require_admin, require_sandbox
from paymux.api.errors import ok
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.dialects import fields
from paymux.dialects.requests import JsonReply, json_object
from paymux.services import orders, platform, users

if TYPE_CHECKING:
    from paymux.context import Context


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    require_sandbox(ctx)
    require_admin(request, ctx)
    return ctx


def order_view(order: Any) -> dict[str, Any]:
    return {
        "platform_order_no": order.order_no,
        "status": order.status,
        "amount": order.amount,
        "currency": order.currency,
        "dialect": order.dialect,
    }


def _order_reply(order: Any) -> ASGIApp:
    return JsonReply(msgspec.json.encode(order_view(order)), 200)


# pay and fail are served in front of Litestar's router (paymux/dialects/direct.py): a
# load test's payments spent more in Litestar than in the payment.
@post("/orders/{order_no:str}/pay")
async def pay(request: Request) -> ASGIApp:
    """Pay any dialect's order through the sandbox channel (money from outside)."""
    ctx = _ctx(request)
    order = await ctx.store.write(orders.pay_order, request.path_params["order_no"])
    return _order_reply(order)


@post("/orders/{order_no:str}/fail")
async def fail(request: Request) -> ASGIApp:
    ctx = _ctx(request)
    order = await ctx.store.write(orders.fail_order, request.path_params["order_no"])
    return _order_reply(order)


@post("/clock/advance")
async def advance(request: Request) -> Response[bytes]:
    """Move the platform clock forward; due retries and timed jobs run at once."""
    ctx = _ctx(request)
    params = await json_object(request)
    seconds = params.get("seconds")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not (0 < seconds <= 366 * 86400)
    ):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "seconds must be a number in (0, 31622400]", field="seconds"
        )
    offset = await ctx.store.write(platform.advance_clock, float(seconds))
    ctx.env.clock.set_offset(offset)
    for hook in ctx.on_clock_advance:
        await hook()
    return ok({"offset_s": offset, "now": ctx.env.clock.now().isoformat() + "Z"})


@post("/users")
async def create_user(request: Request) -> Response[bytes]:
    """A sandbox payer with a funded wallet: `{"name", "balance", "currency"}`."""
    ctx = _ctx(request)
    params = await json_object(request)
    fields.no_unknown(params, {"name", "balance", "currency"})
    name = fields.text(params, "name", max_len=64)
    balance = fields.integer(params, "balance", default=0, minimum=0, maximum=10**12)
    currency = fields.text(params, "currency", required=False, max_len=8, default="CNY")
    user = await ctx.store.write(users.create_user, name, balance, currency)
    return ok(
        {
            "user_id": user.user_id,
            "wallet_token": user.wallet_token,
            "wallet_account_id": users.wallet_account_id(user.user_id, currency),
        },
        201,
    )


def make_router() -> Router:
    return Router(
        path="/sandbox/v1", opt={"direct": True}, route_handlers=[pay, fail, advance, create_user]
    )
