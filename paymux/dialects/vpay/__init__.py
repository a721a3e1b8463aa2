"""vpay: the virtual payment system dialect (specs/002), HMAC-SHA256 signed JSON under /api/v1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Request, Response

from paymux.core.errors import PaymuxError
from paymux.dialects import DialectSpec
from paymux.dialects.requests import request_id
from paymux.dialects.vpay import routes, wire
from paymux.dialects.vpay.codes import MESSAGES, wire_code
from paymux.dialects.vpay.notify import VpayNotifier

if TYPE_CHECKING:
    from paymux.context import Context


def render_error(request: Request, error: PaymuxError) -> Response[bytes]:
    ctx: Context = request.app.state.ctx
    code = wire_code(error.code, request.url.path)
    body = wire.envelope(
        code, None, request_id(request), ctx.env.clock.now(), ctx.settings.tz, detail=error.message
    )
    return Response(body, status_code=MESSAGES[code][2], media_type="application/json")


DIALECT = DialectSpec(
    name="vpay",
    prefixes=("/api/v1",),
    make_router=routes.make_router,
    make_notifier=lambda ctx: VpayNotifier(ctx.settings.tz),
    render_error=render_error,
)
