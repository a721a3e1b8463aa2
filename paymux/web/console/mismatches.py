"""Channel mismatches: money a channel moved against an order's state, for an operator to settle.

The list and the resolve action are the payments service's own; resolving
only records the operator's note (the automatic refund runs by itself).
"""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from paymux.services import audit, payments
from paymux.services import console_queries as q
from paymux.web.console.auth import action, back_to, signed_in
from paymux.web.console.common import page, text


@get("/mismatches")
async def mismatch_list(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    show_all = request.query_params.get("all") == "1"
    rows = await ctx.store.read(payments.list_mismatches, not show_all, 200)
    return page(
        ctx,
        session,
        "mismatches.html",
        section="orders",
        done=request.query_params.get("done", ""),
        rows=rows,
        show_all=show_all,
    )


@post("/mismatches/{mismatch_id:int}/resolve")
async def mismatch_resolve(request: Request, mismatch_id: FromPath[int]) -> Redirect:
    act = await action(request)
    note = text(act.form, "resolution", max_len=256, required=True)
    await act.ctx.store.write(
        audit.audited,
        act.actor,
        "mismatch.resolve",
        "mismatch",
        str(mismatch_id),
        q.mismatch_snapshot,
        payments.resolve_mismatch,
        mismatch_id,
        note,
    )
    return back_to(act.form, "/console/mismatches", "resolved")
