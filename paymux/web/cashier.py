"""The hosted cashier: one page per order, in the look of the payment method the order uses.

Every dialect's `redirect_url`/`pay_url` points here. The page shows the
amount and product, a QR code (scan methods, and H5 methods on a desktop), a
countdown to expiry and, in sandbox mode, the payer's "pay" and "fail"
actions. When the order has a result and a `return_url`, the page sends the
payer back to the merchant with the dialect's signed sync-return form.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import parse_qs

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from paymux.api.errors import ok
from paymux.core.errors import PaymuxError
from paymux.core.models import Credential, Order
from paymux.core.money import format_decimal
from paymux.core.states import OrderStatus
from paymux.services import merchants, orders, users
from paymux.web.templating import qr_svg_data_uri, render

if TYPE_CHECKING:
    from paymux.context import Context


@runtime_checkable
class SyncReturn(Protocol):
    """A dialect notifier that also signs the browser's way back to `return_url`.

    The sync return is the merchant-facing message of the page-redirect flow
    (gateway 5.3 "同步通知"), so it lives with the dialect's other outgoing
    messages rather than in the cashier.
    """

    def sync_return(self, order: Order, cred: Credential) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class Look:
    brand: str  # wechat | alipay | bank | default: colours and the channel's name
    layout: str  # qr: scan a code; h5: open the app (QR on a desktop); bank: pick a bank
    title: str
    mark: str  # the one-character logo


# Payment methods a dialect names in `order.extra["pay_method"]`.
METHODS: dict[str, Look] = {
    "wechat_qr": Look("wechat", "qr", "微信支付", "微"),
    "wechat_h5": Look("wechat", "h5", "微信支付", "微"),
    "alipay_qr": Look("alipay", "qr", "支付宝", "支"),
    "alipay_h5": Look("alipay", "h5", "支付宝", "支"),
    "bank": Look("bank", "bank", "网银支付", "银"),
}
DEFAULT_LOOK = Look("default", "qr", "收银台", "P")
# vpay's `pay_type`, which predates `pay_method`.
PAY_TYPES = {"WECHAT_PAY": "wechat_qr", "ALIPAY": "alipay_qr"}

BANKS = ("工商银行", "建设银行", "农业银行", "中国银行", "招商银行", "交通银行")

STATUS_LABELS = {
    OrderStatus.PENDING: "待支付",
    OrderStatus.PAID: "支付成功",
    OrderStatus.PARTIALLY_REFUNDED: "支付成功（部分退款）",
    OrderStatus.REFUNDED: "已退款",
    OrderStatus.CLOSED: "已关闭",
    OrderStatus.EXPIRED: "已过期",
    OrderStatus.FAILED: "支付失败",
}


def look_of(order: Order) -> Look:
    method = order.extra.get("pay_method") or PAY_TYPES.get(order.extra.get("pay_type", ""), "")
    return METHODS.get(method, DEFAULT_LOOK)


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def _page_data(uow: Any, order_no: str) -> tuple[Order, str, Credential | None]:
    """The order, its merchant's name, and the credential that signs its sync return."""
    order = orders.get_by_no(uow, order_no)
    name = merchants.get_merchant(uow, order.merchant_id).name
    cred = None
    if order.return_url:
        cred = merchants.current_credential(uow, order.merchant_id, order.dialect)
    return order, name, cred


async def show(
    request: Request, order_no: str, error: str = "", status: int = 200
) -> Response[str]:
    ctx = _ctx(request)
    try:
        order, merchant_name, cred = await ctx.store.read(_page_data, order_no)
    except PaymuxError:
        return render(
            "message.html", 404, title="订单不存在 Order not found", message=f"No order {order_no}."
        )
    notifier = ctx.env.notifiers.get(order.dialect)
    back: dict[str, str] | None = None
    if cred is not None and isinstance(notifier, SyncReturn):
        back = notifier.sync_return(order, cred)
    url = f"{ctx.settings.public_base_url}/cashier/{order.order_no}"
    expire_epoch = (
        calendar.timegm(order.expire_at.timetuple()) - int(ctx.env.clock.offset_s)
        if order.expire_at
        else 0
    )
    # Past expire_at an order cannot be paid even before the expiry job closes it.
    lapsed = order.expire_at is not None and order.expire_at <= ctx.env.clock.now()
    label = STATUS_LABELS.get(order.status, order.status)
    if lapsed and order.status == OrderStatus.PENDING:
        label = STATUS_LABELS[OrderStatus.EXPIRED]
    return render(
        "cashier.html",
        status,
        order=order,
        merchant_name=merchant_name,
        amount=format_decimal(order.amount, order.currency),
        qr=qr_svg_data_uri(url),
        look=look_of(order),
        status_label=label,
        pending=order.status == OrderStatus.PENDING and not lapsed,
        banks=BANKS,
        back=back,
        sandbox=ctx.sandbox,
        error=error,
        expire_epoch=expire_epoch,
    )


@get("/cashier/{order_no:str}")
async def cashier(request: Request, order_no: FromPath[str]) -> Response[str]:
    return await show(request, order_no)


@get("/cashier/{order_no:str}/status")
async def cashier_status(request: Request, order_no: FromPath[str]) -> Response[bytes]:
    """What the open page polls, so a payment made on another device shows at once."""
    order = await _ctx(request).store.read(orders.get_by_no, order_no)
    return ok({"status": order.status})


def _pay(uow: Any, order_no: str, token: str, bank: str) -> Order:
    if not token:
        return orders.pay_order(uow, order_no, payer=bank)
    user_id, name = users.user_by_token(uow, token)
    order = orders.get_by_no(uow, order_no)
    wallet = users.ensure_wallet(uow, user_id, order.currency)
    return orders.pay_order(uow, order_no, payer_account_id=wallet, payer=name)


@post("/cashier/{order_no:str}/pay")
async def cashier_pay(request: Request, order_no: FromPath[str]) -> Response[Any]:
    """Sandbox: pay from a sandbox wallet (token given) or from outside, as a channel would."""
    ctx = _ctx(request)
    if not ctx.sandbox:
        return await show(request, order_no, "Sandbox payments are off in production.", 403)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("wallet_token") or [""])[0].strip()
    bank = (form.get("bank") or [""])[0].strip()
    if bank and bank not in BANKS:
        return await show(request, order_no, f"Unknown bank {bank}.", 400)
    try:
        await ctx.store.write(_pay, order_no, token, bank)
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
    return Router(path="/", route_handlers=[cashier, cashier_status, cashier_pay, cashier_fail])
