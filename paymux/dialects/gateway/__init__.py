"""gateway: the aggregated payment gateway dialect (specs/003), MD5-signed forms, /api/order."""

from __future__ import annotations

from litestar import Request, Response

from paymux.core.errors import PaymuxError
from paymux.dialects import DialectSpec
from paymux.dialects.gateway import routes, wire
from paymux.dialects.gateway.codes import error_message, http_status
from paymux.dialects.gateway.notify import GatewayNotifier


def render_error(_request: Request, error: PaymuxError) -> Response[bytes]:
    """`{"status":"0","message":"…","data":{}}`: the spec's shape, with no data on failure."""
    body = wire.envelope(False, error_message(error.code, error.message), {})
    return Response(body, status_code=http_status(error.code), media_type="application/json")


DIALECT = DialectSpec(
    name="gateway",
    prefixes=("/api/order/",),
    make_router=routes.make_router,
    make_notifier=lambda ctx: GatewayNotifier(ctx.settings.tz),
    render_error=render_error,
)
