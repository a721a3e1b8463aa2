"""Withdrawal review for operators (`/admin/v1/withdrawals`) and the sandbox payout failure switch.

Approving only marks a withdrawal; the payout job then completes it, so
approval stays fast and a crash between approval and payout loses nothing.
Each review is written to the audit log in the transaction that makes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from paymux.api.auth import admin_actor, require_admin, require_sandbox
from paymux.api.errors import ok
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Withdrawal
from paymux.core.money import format_decimal
from paymux.core.states import WithdrawalStatus
from paymux.dialects import fields
from paymux.dialects.requests import json_object, query_params
from paymux.services import audit, withdrawals
from paymux.services.console_queries import withdrawal_snapshot

if TYPE_CHECKING:
    from paymux.context import Context


def _admin(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    require_admin(request, ctx)
    return ctx


def withdrawal_view(withdrawal: Withdrawal) -> dict[str, Any]:
    return {
        "withdrawal_no": withdrawal.withdrawal_no,
        "merchant_id": withdrawal.merchant_id,
        "dialect": withdrawal.dialect,
        "status": withdrawal.status,
        "amount": withdrawal.amount,
        "amount_display": format_decimal(withdrawal.amount, withdrawal.currency),
        "currency": withdrawal.currency,
        "from_account_id": withdrawal.from_account_id,
        "to_account_id": withdrawal.to_account_id,
        "user_ref": withdrawal.user_ref,
        "remark": withdrawal.remark,
        "reason": withdrawal.reason,
        "created_at": withdrawal.created_at.isoformat() + "Z",
        "completed_at": withdrawal.completed_at.isoformat() + "Z"
        if withdrawal.completed_at
        else None,
    }


async def _reason(request: Request, *, required: bool) -> str:
    if not required and not (await request.body()).strip():
        return ""
    params = await json_object(request)
    fields.no_unknown(params, {"reason"})
    return fields.text(params, "reason", required=required, max_len=256)


@get("/admin/v1/withdrawals")
async def list_withdrawals(request: Request) -> Response[bytes]:
    """The review queue: `?status=PENDING&page=1&page_size=20`."""
    ctx = _admin(request)
    params = query_params(request)
    fields.no_unknown(params, {"status", "page", "page_size"})
    status = fields.text(params, "status", required=False, max_len=16)
    if status and status not in WithdrawalStatus.__members__:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"unknown status {status}", field="status")
    page = fields.integer(params, "page", default=1, minimum=1, maximum=10**6)
    size = fields.integer(params, "page_size", default=20, minimum=1, maximum=100)
    total, rows = await ctx.store.read(withdrawals.list_withdrawals, status or None, page, size)
    return ok({"total": total, "items": [withdrawal_view(w) for w in rows]})


@get("/admin/v1/withdrawals/{withdrawal_no:str}")
async def show_withdrawal(request: Request, withdrawal_no: FromPath[str]) -> Response[bytes]:
    ctx = _admin(request)
    return ok(withdrawal_view(await ctx.store.read(withdrawals.get_by_no, withdrawal_no)))


@post("/admin/v1/withdrawals/{withdrawal_no:str}/approve")
async def approve(request: Request, withdrawal_no: FromPath[str]) -> Response[bytes]:
    ctx = _admin(request)
    await _reason(request, required=False)  # an empty body or {} is fine; nothing else is
    withdrawal = await ctx.store.write(
        audit.audited,
        admin_actor(request),
        "withdrawal.approve",
        "withdrawal",
        withdrawal_no,
        withdrawal_snapshot,
        withdrawals.approve_withdrawal,
        withdrawal_no,
    )
    return ok(withdrawal_view(withdrawal))


@post("/admin/v1/withdrawals/{withdrawal_no:str}/reject")
async def reject(request: Request, withdrawal_no: FromPath[str]) -> Response[bytes]:
    """Refuse with `{"reason"}` (required; the partner sees it); the frozen amount is released."""
    ctx = _admin(request)
    reason = await _reason(request, required=True)
    withdrawal = await ctx.store.write(
        audit.audited,
        admin_actor(request),
        "withdrawal.reject",
        "withdrawal",
        withdrawal_no,
        withdrawal_snapshot,
        withdrawals.reject_withdrawal,
        withdrawal_no,
        reason,
    )
    return ok(withdrawal_view(withdrawal))


@post("/sandbox/v1/withdrawals/{withdrawal_no:str}/fail")
async def sandbox_fail(request: Request, withdrawal_no: FromPath[str]) -> Response[bytes]:
    """Sandbox: the payout channel will refuse this (pending or approved) withdrawal.

    `{"reason"}` is optional. Processing then ends it FAILED and releases the
    frozen amount, which is how tests and integrators exercise that path.
    """
    ctx: Context = request.app.state.ctx
    require_sandbox(ctx)
    require_admin(request, ctx)
    reason = await _reason(request, required=False)
    withdrawal = await ctx.store.write(
        audit.audited,
        admin_actor(request),
        "withdrawal.sandbox_fail",
        "withdrawal",
        withdrawal_no,
        withdrawal_snapshot,
        withdrawals.mark_sandbox_failure,
        withdrawal_no,
        reason,
    )
    return ok(withdrawal_view(withdrawal))


def make_router() -> Router:
    return Router(
        path="/",
        route_handlers=[list_withdrawals, show_withdrawal, approve, reject, sandbox_fail],
    )
