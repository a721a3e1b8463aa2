"""paymodule: WeChat Native / Alipay precreate QR payments (specs/004), JSON under /api/pay."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Request, Response

from paymux.core.errors import PaymuxError
from paymux.dialects import DialectSpec
from paymux.dialects.paymodule import routes, wire
from paymux.dialects.paymodule.codes import wire_error
from paymux.dialects.paymodule.notify import PaymoduleNotifier

if TYPE_CHECKING:
    from paymux.context import Context


def render_error(request: Request, error: PaymuxError) -> Response[bytes]:
    code, msg = wire_error(error.code, request.url.path, error.message)
    return Response(wire.envelope(code, msg, None), status_code=code, media_type="application/json")


def make_notifier(ctx: Context) -> PaymoduleNotifier:
    return PaymoduleNotifier(ctx.settings.tz)


DIALECT = DialectSpec(
    name="paymodule",
    prefixes=("/api/pay/", "/api/health"),
    make_router=routes.make_router,
    make_notifier=make_notifier,
    render_error=render_error,
)
