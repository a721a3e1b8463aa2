"""skillpay: voice-skill payments (specs/001), TSK-RSA2 signed JSON both ways under /paycgi."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from litestar import Request, Response

from paymux.core.errors import PaymuxError
from paymux.dialects import DialectSpec
from paymux.dialects.skillpay import routes
from paymux.dialects.skillpay.codes import failure
from paymux.dialects.skillpay.notify import SkillpayNotifier

if TYPE_CHECKING:
    from paymux.context import Context


def render_error(request: Request, error: PaymuxError) -> Response[bytes]:
    """`retCode` FAIL in the dialect's shape, signed like every other reply."""
    ctx: Context = request.app.state.ctx
    status, body = failure(error)
    return routes.reply(ctx, msgspec.json.encode(body), status)


DIALECT = DialectSpec(
    name="skillpay",
    prefixes=("/paycgi",),
    make_router=routes.make_router,
    make_notifier=SkillpayNotifier,
    render_error=render_error,
)
