"""partner: the partner open API (specs/000) — user OAuth, yuan/USDT payments, refunds,
withdrawals — as SHA-256-signed JSON under /partner/api."""

from __future__ import annotations

from litestar import Request, Response

from paymux.core.errors import PaymuxError
from paymux.dialects import DialectSpec
from paymux.dialects.partner import routes, wire
from paymux.dialects.partner.codes import HTTP_STATUS, message, wire_code
from paymux.dialects.partner.notify import PartnerNotifier

APP_SIDE_PREFIX = "/partner/api/partner/"


def render_error(request: Request, error: PaymuxError) -> Response[bytes]:
    code = wire_code(error.code, app_side=request.url.path.startswith(APP_SIDE_PREFIX))
    return Response(
        wire.envelope(code, message(code, error.message), None),
        status_code=HTTP_STATUS.get(error.code, 200),
        media_type="application/json",
    )


DIALECT = DialectSpec(
    name="partner",
    prefixes=("/partner/api",),
    make_router=routes.make_router,
    make_notifier=lambda ctx: PartnerNotifier(ctx.settings.tz),
    render_error=render_error,
)
