"""The audit log page: every console action, filterable by who, what, which record and when."""

from __future__ import annotations

from litestar import Request, Response, get

from paymux.services import audit
from paymux.web.console.auth import signed_in
from paymux.web.console.common import local_time, page, text

PAGE_SIZE = 50
FILTER_FIELDS = ("actor", "action", "target_type", "target_id", "since", "until")


@get("/audit")
async def audit_page(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    params = dict(request.query_params)
    tz = ctx.settings.tz
    flt = audit.AuditFilter(
        actor=text(params, "actor", max_len=64),
        action=text(params, "action", max_len=64),
        target_type=text(params, "target_type", max_len=32),
        target_id=text(params, "target_id", max_len=64),
        since=local_time(params, "since", tz),
        until=local_time(params, "until", tz),
    )
    before = text(params, "before", max_len=20)
    rows = await ctx.store.read(
        audit.list_entries, flt, PAGE_SIZE, int(before) if before.isdigit() else None
    )
    return page(
        ctx,
        session,
        "audit.html",
        section="audit",
        rows=rows,
        params=params,
        actions=await ctx.store.read(audit.actions),
        query={k: params[k] for k in FILTER_FIELDS if params.get(k)},
        next_before=rows[-1].id if len(rows) == PAGE_SIZE else None,
    )
