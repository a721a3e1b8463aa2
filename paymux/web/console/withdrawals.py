"""The withdrawal review queue: approve, or reject with a reason (the partner sees it).

Both go through the withdrawals service's compare-and-set transitions, so an
operator racing another operator (or the payout job) gets a clear conflict.
"""

from __future__ import annotations

from functools import partial

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.states import WithdrawalStatus
from paymux.services import audit, withdrawals
from paymux.services import console_queries as q
from paymux.web.console.auth import action, signed_in
from paymux.web.console.common import page, text

PAGE_SIZE = 50


@get("/withdrawals")
async def withdrawal_list(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    params = dict(request.query_params)
    status = params.get("status", WithdrawalStatus.PENDING.value)
    if status and status not in WithdrawalStatus.__members__:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"unknown status {status}", field="status")
    number = text(params, "page", max_len=6)
    page_no = int(number) if number.isdigit() and int(number) > 0 else 1
    # Store.read passes positional arguments only; the service takes keywords.
    total, rows = await ctx.store.read(
        partial(
            withdrawals.list_withdrawals, status=status or None, page=page_no, page_size=PAGE_SIZE
        )
    )
    names = await ctx.store.read(q.merchant_names, {w.merchant_id for w in rows})
    return page(
        ctx,
        session,
        "withdrawals.html",
        section="withdrawals",
        done=params.get("done", ""),
        rows=rows,
        names=names,
        total=total,
        current=status,
        statuses=list(WithdrawalStatus),
        page_no=page_no,
        more=page_no * PAGE_SIZE < total,
    )


@post("/withdrawals/{withdrawal_no:str}/approve")
async def withdrawal_approve(request: Request, withdrawal_no: FromPath[str]) -> Redirect:
    act = await action(request)
    await act.ctx.store.write(
        audit.audited,
        act.actor,
        "withdrawal.approve",
        "withdrawal",
        withdrawal_no,
        q.withdrawal_snapshot,
        withdrawals.approve_withdrawal,
        withdrawal_no,
    )
    return Redirect("/console/withdrawals?done=approved", status_code=303)


@post("/withdrawals/{withdrawal_no:str}/reject")
async def withdrawal_reject(request: Request, withdrawal_no: FromPath[str]) -> Redirect:
    act = await action(request)
    reason = text(act.form, "reason", max_len=256, required=True)
    await act.ctx.store.write(
        audit.audited,
        act.actor,
        "withdrawal.reject",
        "withdrawal",
        withdrawal_no,
        q.withdrawal_snapshot,
        withdrawals.reject_withdrawal,
        withdrawal_no,
        reason,
    )
    return Redirect("/console/withdrawals?done=rejected", status_code=303)
