"""The sandbox wallet app — the partner spec's "系统APP" — as server-rendered pages under /wallet.

A sandbox user signs in with the wallet token from `POST /sandbox/v1/users`
and gets an HttpOnly, SameSite=Lax session cookie; every form carries the
session's CSRF token (the sign-in form a double-submit cookie). The pages
stand in for the app's two deep links: `nexaauth://oauth/authorize?…` is
`/wallet/oauth/authorize?…` (consent, then a redirect with `code`), and
`nexaauth://order?…` is `/wallet/pay?…` (paySign checked, the order shown and
paid from the wallet, then a redirect to `redirectUrl`).
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant, Order
from paymux.core.money import CURRENCY_EXPONENT, format_decimal
from paymux.dialects.partner.codes import message, wire_code
from paymux.dialects.partner.wire import local_time, order_status
from paymux.services import ledger, oauth, orders, users
from paymux.services.urls import check_url
from paymux.signing import partner as signing
from paymux.store.uow import UnitOfWork
from paymux.web.templating import render

if TYPE_CHECKING:
    from paymux.context import Context

LOGIN_CSRF_COOKIE = "paymux_wallet_login"
# The deep link's query: what paySign covers (all required), then where to return.
LINK_FIELDS = ("orderNo", "paySign", "signType", "apiKey", "nonce", "timestamp")
PAY_FIELDS = (*LINK_FIELDS, "redirectUrl")
HISTORY_LINES = 20


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def _secure(ctx: Context) -> bool:
    return ctx.settings.public_base_url.startswith("https://")


async def _signed_in(request: Request) -> oauth.WalletUser | None:
    token = request.cookies.get(oauth.WALLET_COOKIE)
    if not token:
        return None
    try:
        return await _ctx(request).store.read(oauth.wallet_user, token)
    except PaymuxError:
        return None


def _to_login(request: Request) -> Redirect:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect("/wallet/login?" + urlencode({"next": here}), status_code=303)


PAGE_STATUS = {
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ORDER_NOT_FOUND: 404,
    ErrorCode.MERCHANT_NOT_FOUND: 404,
}


def _explain(error: PaymuxError) -> str:
    """The partner code and message, so the H5 developer can look the error up."""
    code = wire_code(error.code, app_side=True)
    return f"{code} {message(code, error.message)}"


def _problem(error: PaymuxError) -> Response[str]:
    return render(
        "wallet_message.html",
        PAGE_STATUS.get(error.code, 400),
        title="出错了 Something is wrong",
        message=_explain(error),
    )


async def _form(request: Request, user: oauth.WalletUser) -> dict[str, str]:
    """The posted form, once its CSRF token matches the session's."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not hmac.compare_digest(form.get("csrf", "").encode(), user.csrf_token.encode()):
        raise PaymuxError(ErrorCode.FORBIDDEN, "the form expired or came from another site")
    return form


def _with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query (what the partner's redirect target receives)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [
        (k, v) for k, v in params.items() if v
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _local_next(value: str) -> str:
    """Only a wallet path may follow sign-in: never an open redirect to another site."""
    if value.startswith("/wallet") and not value.startswith("//") and "\\" not in value:
        return value
    return "/wallet"


# -- sign-in --------------------------------------------------------------------------------------


@get("/login")
async def login_page(request: Request) -> Response[str]:
    token = secrets.token_urlsafe(24)
    response = render(
        "wallet_login.html",
        next=_local_next(request.query_params.get("next", "")),
        csrf=token,
        error="",
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path="/wallet",
        httponly=True,
        samesite="lax",
        secure=_secure(_ctx(request)),
    )
    return response


@post("/login")
async def login(request: Request) -> Response[Any]:
    ctx = _ctx(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    next_url = _local_next(form.get("next", ""))
    if not expected or not hmac.compare_digest(form.get("csrf", "").encode(), expected.encode()):
        return render(
            "wallet_message.html", 403, title="请重试 Try again", message="The form expired."
        )
    try:
        signed = await ctx.store.write(oauth.sign_in, form.get("wallet_token", "").strip())
    except PaymuxError as exc:
        return render("wallet_login.html", 401, next=next_url, csrf=expected, error=exc.message)
    cookie = Cookie(
        key=oauth.WALLET_COOKIE,
        value=signed.token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(ctx),
        max_age=oauth.WALLET_SESSION_TTL_S,
    )
    return Redirect(next_url, status_code=303, cookies=[cookie])


@post("/logout")
async def logout(request: Request) -> Response[Any]:
    """`everywhere=1` also ends every partner session key of the user (spec 5.2)."""
    user = await _signed_in(request)
    if user is None:
        return Redirect("/wallet/login", status_code=303)
    try:
        form = await _form(request, user)
    except PaymuxError as exc:
        return _problem(exc)
    ctx = _ctx(request)
    if form.get("everywhere") == "1":
        await ctx.store.write(oauth.sign_out_everywhere, user.user_id)
    else:
        await ctx.store.write(oauth.sign_out, request.cookies.get(oauth.WALLET_COOKIE, ""))
    response = Redirect("/wallet/login", status_code=303)
    response.delete_cookie(oauth.WALLET_COOKIE, path="/")
    return response


# -- balance and history --------------------------------------------------------------------------


def _wallets(uow: UnitOfWork, user_id: str) -> list[dict[str, Any]]:
    wallets = []
    for currency in CURRENCY_EXPONENT:
        try:
            account = ledger.get_account(uow, users.wallet_account_id(user_id, currency))
        except PaymuxError:
            continue
        _, lines = ledger.account_lines(
            uow,
            account.id,
            entry_type=None,
            start=None,
            end=None,
            page=1,
            page_size=HISTORY_LINES,
        )
        wallets.append({"account": account, "lines": lines})
    return wallets


@get("/")
async def home(request: Request) -> Response[Any]:
    user = await _signed_in(request)
    if user is None:
        return _to_login(request)
    ctx = _ctx(request)
    wallets = await ctx.store.read(_wallets, user.user_id)
    return render(
        "wallet_home.html",
        user=user,
        wallets=wallets,
        money=format_decimal,
        when=lambda moment: local_time(moment, ctx.settings.tz),
    )


# -- consent (nexaauth://oauth/authorize) ---------------------------------------------------------


async def _partner(ctx: Context, api_key: str) -> tuple[Merchant, list[str]]:
    if not api_key:
        raise PaymuxError(ErrorCode.MISSING_PARAM, "apikey is required", field="apikey")
    merchant, app_secrets = await ctx.keys.lookup("partner", api_key)
    if not merchant.active:
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, "the partner is disabled")
    return merchant, app_secrets


def _redirect_target(value: str, name: str) -> str:
    if not value:
        raise PaymuxError(ErrorCode.MISSING_PARAM, f"{name} is required", field=name)
    return check_url(value, field=name, allow_private=True)


@get("/oauth/authorize")
async def authorize_page(request: Request) -> Response[Any]:
    user = await _signed_in(request)
    if user is None:
        return _to_login(request)
    query = request.query_params
    try:
        merchant, _ = await _partner(_ctx(request), query.get("apikey", ""))
        redirect_uri = _redirect_target(query.get("redirect_uri", ""), "redirect_uri")
    except PaymuxError as exc:
        return _problem(exc)
    return render(
        "wallet_authorize.html",
        user=user,
        partner=merchant,
        apikey=query.get("apikey", ""),
        redirect_uri=redirect_uri,
        state=query.get("state", ""),
    )


@post("/oauth/authorize")
async def authorize(request: Request) -> Response[Any]:
    user = await _signed_in(request)
    if user is None:
        return _to_login(request)
    ctx = _ctx(request)
    try:
        form = await _form(request, user)
        merchant, _ = await _partner(ctx, form.get("apikey", ""))
        redirect_uri = _redirect_target(form.get("redirect_uri", ""), "redirect_uri")
        state = form.get("state", "")
        if form.get("decision") != "allow":
            return Redirect(
                _with_query(redirect_uri, error="access_denied", state=state), status_code=303
            )
        code = await ctx.store.write(oauth.issue_code, user.user_id, merchant.id)
    except PaymuxError as exc:
        return _problem(exc)
    return Redirect(_with_query(redirect_uri, code=code, state=state), status_code=303)


# -- payment (nexaauth://order) -------------------------------------------------------------------


async def _checked_order(ctx: Context, params: dict[str, str]) -> tuple[Merchant, Order, str]:
    """The order a deep link names, once its paySign verifies; and where to go afterwards."""
    missing = [name for name in LINK_FIELDS if not params.get(name)]
    if missing:
        raise PaymuxError(ErrorCode.MISSING_PARAM, f"{missing[0]} is required", field=missing[0])
    if params["signType"] != "MD5":
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "signType must be MD5", field="signType")
    redirect_url = params.get("redirectUrl", "")
    if redirect_url:
        check_url(redirect_url, field="redirectUrl", allow_private=True)
    merchant, app_secrets = await _partner(ctx, params["apiKey"])
    args = (params["apiKey"], params["nonce"], params["orderNo"], params["timestamp"])
    if not any(signing.verify_pay_sign(*args, s, params["paySign"]) for s in app_secrets):
        raise PaymuxError(ErrorCode.INVALID_SIGNATURE, "paySign does not verify")
    order = await ctx.store.read(_order_of, merchant.id, params["orderNo"])
    return merchant, order, redirect_url


def _order_of(uow: UnitOfWork, merchant_id: str, order_no: str) -> Order:
    try:
        return orders.find_order(uow, merchant_id, order_no=order_no)
    except PaymuxError as exc:
        if exc.code is ErrorCode.ORDER_ACCESS_DENIED:
            raise PaymuxError(ErrorCode.ORDER_NOT_FOUND, f"order {order_no} not found") from None
        raise


def _payable_by(uow: UnitOfWork, order: Order, user_id: str) -> None:
    """An order made for an openid can only be paid by that user."""
    openid = order.extra.get("openid")
    if openid and oauth.user_for_openid(uow, order.merchant_id, openid) != user_id:
        raise PaymuxError(ErrorCode.FORBIDDEN, "this order was created for another user")


def _pay_view(uow: UnitOfWork, order: Order, user_id: str) -> tuple[str, int | None]:
    """("" or why this user cannot pay, the user's available balance in the order's currency)."""
    try:
        _payable_by(uow, order, user_id)
    except PaymuxError as exc:
        return exc.message, None
    try:
        account = ledger.get_account(uow, users.wallet_account_id(user_id, order.currency))
    except PaymuxError:
        return "", 0
    return "", account.available


def _pay(uow: UnitOfWork, order_no: str, user_id: str) -> Order:
    order = orders.get_by_no(uow, order_no)
    _payable_by(uow, order, user_id)
    wallet = users.ensure_wallet(uow, user_id, order.currency)
    return orders.pay_order(uow, order_no, payer_account_id=wallet, payer=user_id)


async def _pay_page(
    request: Request, user: oauth.WalletUser, params: dict[str, str], error: str = ""
) -> Response[Any]:
    ctx = _ctx(request)
    try:
        merchant, order, redirect_url = await _checked_order(ctx, params)
    except PaymuxError as exc:
        return _problem(exc)
    refusal, available = await ctx.store.read(_pay_view, order, user.user_id)
    status = order_status(order, ctx.env.clock.now())
    return render(
        "wallet_pay.html",
        409 if error else 200,
        user=user,
        partner=merchant,
        order=order,
        shown_status=status,
        amount=format_decimal(order.amount, order.currency),
        available=None if available is None else format_decimal(available, order.currency),
        refusal=refusal,
        error=error,
        params={name: params.get(name, "") for name in PAY_FIELDS},
        done_url=_with_query(redirect_url, orderNo=order.order_no, status=status)
        if redirect_url
        else "",
    )


@get("/pay")
async def pay_page(request: Request) -> Response[Any]:
    user = await _signed_in(request)
    if user is None:
        return _to_login(request)
    return await _pay_page(request, user, dict(request.query_params))


@post("/pay")
async def pay(request: Request) -> Response[Any]:
    user = await _signed_in(request)
    if user is None:
        return _to_login(request)
    ctx = _ctx(request)
    try:
        form = await _form(request, user)
        _, order, redirect_url = await _checked_order(ctx, form)
    except PaymuxError as exc:
        return _problem(exc)
    try:
        paid = await ctx.store.write(_pay, order.order_no, user.user_id)
    except PaymuxError as exc:
        return await _pay_page(request, user, form, _explain(exc))
    if not redirect_url:
        return render(
            "wallet_message.html", title="支付成功 Paid", message=f"Order {paid.order_no} is paid."
        )
    target = _with_query(redirect_url, orderNo=paid.order_no, status="SUCCESS")
    return Redirect(target, status_code=303)


# -- authorized partners --------------------------------------------------------------------------


@get("/authorizations")
async def authorizations_page(request: Request) -> Response[Any]:
    user = await _signed_in(request)
    if user is None:
        return _to_login(request)
    ctx = _ctx(request)
    grants = await ctx.store.read(oauth.list_authorizations, user.user_id)
    return render(
        "wallet_authorizations.html",
        user=user,
        grants=grants,
        when=lambda moment: local_time(moment, ctx.settings.tz),
    )


@post("/authorizations/revoke")
async def revoke(request: Request) -> Response[Any]:
    user = await _signed_in(request)
    if user is None:
        return _to_login(request)
    try:
        form = await _form(request, user)
        await _ctx(request).store.write(
            oauth.revoke_authorization, user.user_id, form.get("merchant_id", "")
        )
    except PaymuxError as exc:
        return _problem(exc)
    return Redirect("/wallet/authorizations", status_code=303)


# -- how a partner's H5 reaches these pages -------------------------------------------------------


@get("/links")
async def links(request: Request) -> Response[str]:
    user = await _signed_in(request)
    return render("wallet_links.html", user=user, base=_ctx(request).settings.public_base_url)


def make_router() -> Router:
    return Router(
        path="/wallet",
        route_handlers=[
            login_page,
            login,
            logout,
            home,
            authorize_page,
            authorize,
            pay_page,
            pay,
            authorizations_page,
            revoke,
            links,
        ],
    )
