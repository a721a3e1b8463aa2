"""Assembles the ASGI app: every dialect, the sandbox and admin APIs, and the web pages.

Adding a dialect is one line in `DIALECTS`.
"""

from __future__ import annotations

import gc
import secrets
import time
from typing import Any

from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.types import ASGIApp, Receive, Scope, Send

from paymux import openapi
from paymux.api import admin, channels, notifications, sandbox, withdrawals
from paymux.api.errors import render_error as render_api_error
from paymux.config import Settings
from paymux.context import Context, build_context
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.dialects import DialectSpec, gateway, partner, paymodule, skillpay, vpay
from paymux.dialects.direct import DirectRoutes
from paymux.dialects.requests import client_ip
from paymux.logs import configure, log, request_lines
from paymux.notify.dispatcher import Dispatcher
from paymux.services.access import ip_key
from paymux.web import cashier, console, wallet

DIALECTS: list[DialectSpec] = [
    vpay.DIALECT,
    gateway.DIALECT,
    skillpay.DIALECT,
    partner.DIALECT,
    paymodule.DIALECT,
]

API_PREFIXES = ("/sandbox/", "/admin/")


def _as_paymux_error(exc: Exception) -> PaymuxError:
    if isinstance(exc, PaymuxError):
        return exc
    if isinstance(exc, NotFoundException):
        return PaymuxError(ErrorCode.NOT_FOUND, "no such endpoint")
    if isinstance(exc, ValidationException):
        return PaymuxError(ErrorCode.INVALID_PARAMS, "invalid request")
    if isinstance(exc, HTTPException):
        if exc.status_code == 413:
            return PaymuxError(ErrorCode.PAYLOAD_TOO_LARGE, "request body too large")
        if exc.status_code == 405:
            return PaymuxError(ErrorCode.NOT_FOUND, "method not allowed on this endpoint")
        if exc.status_code < 500:
            return PaymuxError(ErrorCode.INVALID_PARAMS, str(exc.detail))
    return PaymuxError(ErrorCode.INTERNAL, "internal error")


def _handler_for(path: str) -> Any:
    for spec in DIALECTS:
        if path.startswith(spec.prefixes):
            return spec.render_error
    return render_api_error


def handle_exception(request: Request, exc: Exception) -> Response[Any]:
    """Every error leaves in the shape of the dialect (or API) it was addressed to."""
    error = _as_paymux_error(exc)
    if error.code is ErrorCode.INTERNAL:
        log.error(
            "unhandled_error",
            path=request.url.path,
            request_id=request.scope.get("state", {}).get("request_id"),
            exc_info=exc,
        )
    return _handler_for(request.url.path)(request, error)


class RequestLog:
    """Gives each request an id (vpay's debug_id, the `X-Request-Id` header) and writes one
    log line when it ends.

    This wraps every request, so it does no more than that: when INFO lines are
    off (`PAYMUX_LOG_LEVEL=WARNING`) nothing of the line is built or timed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        status = 0

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(header)
            await send(message)

        if not request_lines():
            await self.app(scope, receive, send_wrapper)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                request_id=request_id,
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )


async def limit_per_ip(request: Request) -> None:
    """The per-IP rate limit, before any routing or authentication: unsigned floods count too.

    Raising here goes through `handle_exception`, so the refusal is in the
    shape of the dialect (or API, or page) the request was addressed to.
    `create_app` installs it only when a limit is set (settings are fixed for
    the life of the app), so without one no request pays for the hook.
    """
    ctx: Context = request.app.state.ctx
    await ctx.limiter.hit(ip_key(client_ip(request)), ctx.settings.ip_rate_limit_per_s)


def register_notifiers(ctx: Context) -> None:
    """Each dialect's notifier (payload format, DeliveryPolicy): for the app and `paymux worker`."""
    for spec in DIALECTS:
        if spec.make_notifier is not None:
            ctx.env.notifiers[spec.name] = spec.make_notifier(ctx)


def settle_heap() -> None:
    """Put everything built at start-up beyond the cyclic garbage collector's reach.

    The framework, SQLAlchemy, the app and its caches are some hundred thousand
    long-lived objects that every full collection walked again, every few hundred
    requests: that pause was the p99 tail (≈ 120 ms → 25 ms for vpay create-order
    at 64 clients) and 12 % of the CPU per request (docs/performance.md).
    """
    gc.collect()
    gc.freeze()


def create_app(ctx: Context) -> Litestar:
    register_notifiers(ctx)
    dispatcher = Dispatcher(ctx)
    per_ip = limit_per_ip if ctx.settings.ip_rate_limit_per_s > 0 else None
    app = Litestar(
        route_handlers=[spec.make_router(ctx) for spec in DIALECTS]
        + [sandbox.make_router(), admin.make_router(), cashier.make_router()]
        + [notifications.make_router(), notifications.metrics]
        + [withdrawals.make_router(), wallet.make_router(), console.make_router()]
        + [channels.make_router(), openapi.make_router()],
        exception_handlers={Exception: handle_exception},
        before_request=per_ip,
        request_max_body_size=ctx.settings.max_body_bytes,
        # The embedded dispatcher: started with the app, stopped before the store closes.
        on_startup=[settle_heap, *([dispatcher.start] if dispatcher.config.embedded else [])],
        on_shutdown=[dispatcher.stop, ctx.close],
        debug=False,
    )
    app.state.ctx = ctx
    app.state.dispatcher = dispatcher
    app.asgi_handler = RequestLog(
        DirectRoutes(
            app,
            app.asgi_handler,
            on_error=handle_exception,
            before=per_ip,
            max_body=ctx.settings.max_body_bytes,
        )
    )
    return app


def create_app_from_env() -> Litestar:
    """uvicorn factory used by `paymux serve --workers N`: each worker builds its own context."""
    configure()
    return create_app(build_context(Settings.from_env(), migrate=False, single_process=False))
