"""Notifications: failing and exhausted lists, one notification's bytes and attempt log, redelivery.

A redelivery is the outbox's own `redeliver` (a new attempt of the same
bytes, never two at once), for one notification or the ones ticked on a page.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.notify import outbox
from paymux.services import audit
from paymux.services import console_queries as q
from paymux.web.console.auth import action, back_to, signed_in
from paymux.web.console.common import DIALECTS, page, text

PAGE_SIZE = 50
VIEWS = ("failing", "exhausted", "pending", "delivered", "all")
MAX_SELECTED = 500


@get("/notifications")
async def notification_list(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    params = dict(request.query_params)
    view = params.get("view") or "failing"
    if view not in VIEWS:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"unknown view {view}", field="view")
    before = text(params, "before", max_len=20)
    before_id = int(before) if before.isdigit() else None
    status = "" if view in ("failing", "all") else view.upper()
    flt = outbox.NotificationFilter(
        merchant_id=text(params, "merchant_id", max_len=32) or None,
        dialect=text(params, "dialect", max_len=16) or None,
        status=status or None,
    )
    if view == "failing":
        rows = await ctx.store.read(q.failing_notifications, flt, PAGE_SIZE, before_id)
    else:
        rows = await ctx.store.read(outbox.list_notifications, flt, PAGE_SIZE, before_id)
    board_query = {k: params[k] for k in ("merchant_id", "dialect") if params.get(k)}
    return page(
        ctx,
        session,
        "notifications.html",
        section="notifications",
        done=params.get("done", ""),
        rows=rows,
        view=view,
        views=VIEWS,
        params=params,
        query={"view": view, **board_query},
        next_before=rows[-1].id if len(rows) == PAGE_SIZE else None,
        dialects=DIALECTS,
    )


@get("/notifications/{notification_id:int}")
async def notification_detail(request: Request, notification_id: FromPath[int]) -> Response[str]:
    ctx, session = await signed_in(request)
    detail = await ctx.store.read(outbox.get_notification, notification_id)
    return page(
        ctx,
        session,
        "notification.html",
        section="notifications",
        done=request.query_params.get("done", ""),
        detail=detail,
        n=detail.notification,
        body=detail.body.decode("utf-8", "replace"),
    )


def _selected(form: Any) -> tuple[int, ...]:
    values = form.getall("ids", [])
    ids = tuple(int(v) for v in values if isinstance(v, str) and v.isdigit())
    if not ids:
        raise PaymuxError(ErrorCode.MISSING_PARAM, "tick at least one notification")
    if len(ids) > MAX_SELECTED:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"at most {MAX_SELECTED} at once")
    return ids


@post("/notifications/redeliver")
async def notification_redeliver(request: Request) -> Redirect:
    """Redeliver the ticked notifications (one, or many from a list page)."""
    act = await action(request)
    ids = _selected(act.form)
    target = ",".join(str(i) for i in ids)
    await act.ctx.store.write(
        audit.audited,
        act.actor,
        "notification.redeliver",
        "notification",
        target,
        q.notification_snapshot,
        outbox.redeliver,
        outbox.NotificationFilter(ids=ids),
    )
    return back_to(act.form, "/console/notifications", "redelivered")
