"""The admin token and sandbox-mode gates shared by the admin, sandbox and dialect routes."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from litestar import Request

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.dialects.requests import client_ip, header
from paymux.services import audit

if TYPE_CHECKING:
    from paymux.context import Context


def require_admin(request: Request, ctx: Context) -> None:
    authorization = header(request, b"authorization")
    token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
    if not token or not hmac.compare_digest(token.encode(), ctx.admin_token.encode()):
        raise PaymuxError(ErrorCode.UNAUTHORIZED, "a valid admin token is required")


def admin_actor(request: Request) -> audit.Actor:
    """Who acts through the admin API, for the audit log: the token's holder, by IP."""
    return audit.Actor("admin_api", "admin-token", client_ip(request))


def require_sandbox(ctx: Context) -> None:
    if not ctx.sandbox:
        raise PaymuxError(ErrorCode.SANDBOX_ONLY, "this endpoint exists in sandbox mode only")
