"""Console sign-in, sessions, CSRF and roles.

- The session cookie is HttpOnly, SameSite=Strict, path /console, and Secure
  when the console is served over https; it holds a random token whose hash
  is the session row.
- Every state-changing request is a POST through `action()`, which checks, in
  this order: a live session, a same-origin `Origin` (when the browser sends
  one), the session's CSRF token in the form, and the role. A viewer can read
  everything and run the ledger check; every other action needs an admin.
- The sign-in form itself has no session yet, so it uses a double-submit
  token: a random value both in an HttpOnly cookie and in the form.
- Repeated wrong passwords lock the account (`services.operators`).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.logs import log
from paymux.services import audit, operators
from paymux.services.operators import Session
from paymux.web.console.common import bare

if TYPE_CHECKING:
    from paymux.context import Context

COOKIE = "paymux_console"
LOGIN_COOKIE = "paymux_console_login"
PATH = "/console"


class SignInRequired(Exception):
    """Raised by a page that needs a signed-in operator; the router redirects to sign-in."""


@dataclass(frozen=True, slots=True)
class Act:
    """A checked console action: who, with which form, and the audit actor to record."""

    ctx: Context
    session: Session
    form: Any  # litestar FormMultiDict: .get(name) and .getall(name)
    actor: audit.Actor


def context(request: Request) -> Context:
    return request.app.state.ctx


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _secure(request: Request, ctx: Context) -> bool:
    return request.url.scheme == "https" or ctx.settings.public_base_url.startswith("https://")


def _cookie(request: Request, ctx: Context, key: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request, ctx),
        max_age=max_age,
    )


async def signed_in(request: Request) -> tuple[Context, Session]:
    """The request's operator session, or SignInRequired."""
    ctx = context(request)
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise SignInRequired
    session, stale = await ctx.store.read(operators.session_for, token)
    if session is None:
        raise SignInRequired
    if stale:
        await ctx.store.write(operators.touch_session, token)
    return ctx, session


def _same_origin(request: Request) -> bool:
    """Defence in depth next to the CSRF token: a browser's Origin must be this site."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def action(request: Request, *, admin: bool = True) -> Act:
    """Check a console POST: session, origin, CSRF token, role. The only way into an action."""
    ctx, session = await signed_in(request)
    form = await request.form()
    token = form.get("csrf")
    if (
        not _same_origin(request)
        or not isinstance(token, str)
        or not hmac.compare_digest(token.encode(), session.csrf_token.encode())
    ):
        raise PaymuxError(ErrorCode.FORBIDDEN, "the form expired or came from another site")
    if admin and not session.operator.is_admin:
        raise PaymuxError(ErrorCode.FORBIDDEN, "this action needs the admin role")
    actor = audit.Actor("console", session.operator.username, client_ip(request))
    return Act(ctx, session, form, actor)


def reader_actor(request: Request, session: Session) -> audit.Actor:
    """The audit actor of a read that is still worth recording (exports, the ledger check)."""
    return audit.Actor("console", session.operator.username, client_ip(request))


def local_next(value: str) -> str:
    """Only a console path may follow sign-in: never an open redirect."""
    if value.startswith(PATH) and not value.startswith("//") and "\\" not in value:
        return value
    return PATH


def back_to(form: Any, default: str, done: str) -> Redirect:
    """After an action started from several pages: back where it came from, with its message."""
    back = local_next(str(form.get("back") or default)[:512])
    separator = "&" if "?" in back else "?"
    return Redirect(f"{back}{separator}done={done}", status_code=303)


def to_sign_in(request: Request) -> Redirect:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{PATH}/login?" + urlencode({"next": here}), status_code=303)


# -- sign-in and sign-out -------------------------------------------------------------------------


def _login_page(request: Request, status: int = 200, error: str = "") -> Response[str]:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = bare(
        "login.html",
        status,
        csrf=token,
        next=local_next(request.query_params.get("next", "")),
        error=error,
    )
    response.cookies.append(_cookie(request, context(request), LOGIN_COOKIE, token, 3600))
    return response


@get("/login")
async def login_page(request: Request) -> Response[str]:
    return _login_page(request)


async def _check_password(ctx: Context, username: str, password: str, ip: str) -> Session:
    """Verify outside any transaction, then open a session or count the failure."""
    now = ctx.env.clock.now()
    candidate = await ctx.store.read(operators.sign_in_candidate, username)
    if candidate.operator_id is not None and operators.is_locked(candidate, now):
        raise PaymuxError(
            ErrorCode.UNAUTHORIZED,
            "too many failed sign-ins: the account is locked for a while, try again later",
        )
    good = await anyio.to_thread.run_sync(
        operators.verify_password, candidate.password_hash, password
    )
    if candidate.operator_id is None or not good or not candidate.active:
        if candidate.operator_id is not None and candidate.active:
            actor = audit.Actor("console", username, ip)
            locked = await ctx.store.write(_failed, candidate.operator_id, actor)
            if locked:
                log.warning("console_operator_locked", username=username, ip=ip)
        raise PaymuxError(ErrorCode.UNAUTHORIZED, "wrong username or password")
    new_hash = None
    if operators.needs_rehash(candidate.password_hash):
        new_hash = await anyio.to_thread.run_sync(operators.hash_password, password)
    return await ctx.store.write(_sign_in, candidate.operator_id, ip, new_hash, username)


def _failed(uow: Any, operator_id: int, actor: audit.Actor) -> bool:
    locked = operators.record_failure(uow, operator_id)
    audit.record(
        uow,
        actor,
        "operator.sign_in_failed",
        target_type="operator",
        target_id=actor.name,
        detail="account locked" if locked else "",
    )
    return locked


def _sign_in(uow: Any, operator_id: int, ip: str, new_hash: str | None, username: str) -> Session:
    session = operators.open_session(uow, operator_id, ip, new_hash)
    audit.record(uow, audit.Actor("console", username, ip), "operator.sign_in")
    return session


@post("/login")
async def login(request: Request) -> Response[Any]:
    ctx = context(request)
    form = await request.form()
    expected = request.cookies.get(LOGIN_COOKIE, "")
    given = form.get("csrf")
    if (
        not expected
        or not isinstance(given, str)
        or not hmac.compare_digest(given.encode(), expected.encode())
        or not _same_origin(request)
    ):
        return _login_page(request, 403, "The form expired. Please sign in again.")
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:1024]
    try:
        session = await _check_password(ctx, username, password, client_ip(request))
    except PaymuxError as exc:
        return _login_page(request, 401, exc.message)
    response = Redirect(local_next(str(form.get("next") or "")), status_code=303)
    response.cookies.append(
        _cookie(request, ctx, COOKIE, session.token, operators.SESSION_S),
    )
    response.delete_cookie(LOGIN_COOKIE, path=PATH)
    return response


@post("/logout")
async def logout(request: Request) -> Response[Any]:
    act = await action(request, admin=False)
    token = request.cookies.get(COOKIE, "")
    await act.ctx.store.write(_sign_out, token, act.actor)
    response = Redirect(f"{PATH}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PATH)
    return response


def _sign_out(uow: Any, token: str, actor: audit.Actor) -> None:
    operators.end_session(uow, token)
    audit.record(uow, actor, "operator.sign_out")
