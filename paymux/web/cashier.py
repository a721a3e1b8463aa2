"""The hosted cashier: one page per order, with the sandbox payer's pay/fail actions."""

from __future__ import annotations

import calendar
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from paymux.core.errors import PaymuxError
from paymux.core.money import format_decimal
from paymux.services import merchants, orders, users
from paymux.web.templating import qr_svg_data_uri, render

if TYPE_CHECKING:
    from paymux.context import Context

THEMES = {"WECHAT_PAY": "wechat", "ALIPAY": "alipay", "QR_CODE": "default"}


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def _page_data(uow: Any, order_no: str) -> tuple[Any, str]:
    order = orders.get_by_no(uow, order_no)
    return order, merchants.get_merchant(uow, order.merchant_id).name


async def show(
    request: Request, order_no: str, error: str = "", status: int = 200
) -> Response[str]:
    ctx = _ctx(request)
    try:
        order, merchant_name = await ctx.store.read(_page_data, order_no)
    except PaymuxError:
        return render(
            "message.html", 404, title="订单不存在 Order not found", message=f"No order {order_no}."
        )
    url = f"{ctx.settings.public_base_url}/cashier/{order.order_no}"
    expire_epoch = (
        calendar.timegm(order.expire_at.timetuple()) - int(ctx.env.clock.offset_s)
        if order.expire_at
        else 0
    )
    return render(
        "cashier.html",
        status,
        order=order,
        merchant_name=merchant_name,
        amount=format_decimal(order.amount, order.currency),
        qr=qr_svg_data_uri(url),
        theme=THEMES.get(order.extra.get("pay_type", ""), "default"),
        sandbox=ctx.sandbox,
        error=error,
        expire_epoch=expire_epoch,
    )


@get("/cashier/{order_no:str}")
async def cashier(request: Request, order_no: FromPath[str]) -> Response[str]:
    return await show(request, order_no)


def _pay_from_wallet(uow: Any, order_no: str, token: str) -> Any:
    if not token:
        return orders.pay_order(uow, order_no)
    user_id, name = users.user_by_token(uow, token)
    order = orders.get_by_no(uow, order_no)
    wallet = users.ensure_wallet(uow, user_id, order.currency)
    return orders.pay_order(uow, order_no, payer_account_id=wallet, payer=name)


@post("/cashier/{order_no:str}/pay")
async def cashier_pay(request: Request, order_no: FromPath[str]) -> Response[Any]:
    ctx = _ctx(request)
    if not ctx.sandbox:
        return await show(request, order_no, "Sandbox payments are off in production.", 403)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("wallet_token") or [""])[0].strip()
    try:
        await ctx.store.write(_pay_from_wallet, order_no, token)
    except PaymuxError as exc:
        return await show(request, order_no, exc.message, 409)
    return Redirect(f"/cashier/{order_no}", status_code=303)


@post("/cashier/{order_no:str}/fail")
async def cashier_fail(request: Request, order_no: FromPath[str]) -> Response[Any]:
    ctx = _ctx(request)
    if not ctx.sandbox:
        return await show(request, order_no, "Sandbox payments are off in production.", 403)
    try:
        await ctx.store.write(orders.fail_order, order_no)
    except PaymuxError as exc:
        return await show(request, order_no, exc.message, 409)
    return Redirect(f"/cashier/{order_no}", status_code=303)


def make_router() -> Router:
    return Router(path="/", route_handlers=[cashier, cashier_pay, cashier_fail])
