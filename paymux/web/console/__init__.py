"""The operator console under /console: server-rendered pages behind their own sign-in.

Each module translates HTTP into service calls and back; none runs SQL. The
router's exception handlers turn a missing session into the sign-in page and
a refused action (`PaymuxError`) into an HTML page with the right status, so
no console error ever leaves as the APIs' JSON shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.exceptions import HTTPException
from litestar.static_files import create_static_files_router

from paymux.core.errors import PaymuxError
from paymux.logs import log
from paymux.web.console import (
    auditlog,
    auth,
    dashboard,
    ledger,
    merchants,
    mismatches,
    notifications,
    orders,
    simulator,
    withdrawals,
)
from paymux.web.console.common import bare, http_status

STATIC = Path(__file__).parent.parent / "static"

HANDLERS = [
    auth.login_page,
    auth.login,
    auth.logout,
    dashboard.dashboard,
    orders.order_list,
    orders.order_export,
    orders.order_detail,
    orders.order_close,
    orders.order_refund,
    mismatches.mismatch_list,
    mismatches.mismatch_resolve,
    withdrawals.withdrawal_list,
    withdrawals.withdrawal_approve,
    withdrawals.withdrawal_reject,
    notifications.notification_list,
    notifications.notification_detail,
    notifications.notification_redeliver,
    merchants.merchant_list,
    merchants.merchant_create,
    merchants.merchant_detail,
    merchants.merchant_update,
    merchants.merchant_status,
    merchants.merchant_rotate,
    merchants.merchant_skill,
    ledger.account_list,
    ledger.account_detail,
    ledger.ledger_page,
    ledger.ledger_check,
    ledger.statement_page,
    ledger.statement_export,
    auditlog.audit_page,
    simulator.simulator,
    simulator.simulator_skillpay,
    simulator.simulator_pay,
    simulator.simulator_payer,
    simulator.simulator_topup,
]


def _sign_in(request: Request, _exc: Exception) -> Response[Any]:
    return auth.to_sign_in(request)


def _refused(request: Request, exc: PaymuxError) -> Response[str]:
    """A refused action or a bad filter: the message, and a way back."""
    referer = request.headers.get("referer", "")
    back = auth.local_next(referer.split(request.headers.get("host", "") or "\0", 1)[-1])
    return bare("error.html", http_status(exc), message=exc.message, back=back)


def _crashed(request: Request, exc: Exception) -> Response[str]:
    if isinstance(exc, HTTPException) and exc.status_code < 500:  # bad path parameter, 405, ...
        return bare("error.html", exc.status_code, message=str(exc.detail), back="/console")
    log.error(
        "console_error",
        path=request.url.path,
        request_id=request.scope.get("state", {}).get("request_id"),
        exc_info=exc,
    )
    return bare("error.html", 500, message="Something went wrong; it was logged.", back="/console")


async def _nosniff(response: Response[Any]) -> Response[Any]:
    """Static files too are only ever what their Content-Type says (no MIME sniffing)."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def make_router() -> Router:
    return Router(
        path="/console",
        route_handlers=[
            *HANDLERS,
            create_static_files_router(
                path="/static", directories=[STATIC], name="console_static", after_request=_nosniff
            ),
        ],
        exception_handlers={
            auth.SignInRequired: _sign_in,
            PaymuxError: _refused,
            Exception: _crashed,
        },
    )
