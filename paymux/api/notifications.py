"""The notification admin API (`/admin/v1/notifications`, admin token) and `/metrics`.

    GET  /admin/v1/notifications?merchant_id=&dialect=&status=&since=&until=&limit=&before_id=
    GET  /admin/v1/notifications/{id}            the row, its stored bytes and every attempt
    POST /admin/v1/notifications/{id}/retry      one new attempt of the same payload
    POST /admin/v1/notifications/retry           {"ids": [...]} or a filter (status defaults
                                                 to EXHAUSTED when no ids are given)

Redeliveries are written to the audit log in the transaction that makes them.

`paymux notify list|show|retry` prints the same JSON shapes (`--json`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from prometheus_client import CONTENT_TYPE_LATEST

from paymux.api.auth import admin_actor, require_admin
from paymux.api.errors import ok
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.dialects import fields
from paymux.dialects.requests import json_object
from paymux.notify import outbox

if TYPE_CHECKING:
    from paymux.context import Context
    from paymux.notify.dispatcher import Dispatcher

FILTER_FIELDS = {"merchant_id", "dialect", "status", "since", "until"}
MAX_IDS = 10_000


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    require_admin(request, ctx)
    return ctx


def parse_filter(
    params: Mapping[str, Any], tz: timezone, *, ids: tuple[int, ...] = (), status: str = ""
) -> outbox.NotificationFilter:
    """The filter fields of a query string, a JSON body or CLI options; `status` is the default."""
    flt = outbox.NotificationFilter(
        ids=ids,
        merchant_id=fields.text(params, "merchant_id", required=False, max_len=32) or None,
        dialect=fields.text(params, "dialect", required=False, max_len=16) or None,
        status=fields.text(params, "status", required=False, max_len=16, default=status) or None,
        since=fields.moment(params, "since", tz),
        until=fields.moment(params, "until", tz),
    )
    flt.conditions()  # validates the status now, with the field named
    return flt


def _time(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def notification_json(view: outbox.NotificationView) -> dict[str, Any]:
    return {
        "id": view.id,
        "merchant_id": view.merchant_id,
        "dialect": view.dialect,
        "event": view.event,
        "ref": view.ref,
        "url": view.url,
        "status": view.status,
        "attempts": view.attempts,
        "next_attempt_at": _time(view.next_attempt_at),
        "created_at": _time(view.created_at),
        "delivered_at": _time(view.delivered_at),
        "last_error": view.last_error,
    }


def detail_json(detail: outbox.NotificationDetail) -> dict[str, Any]:
    """The row with the exact bytes it sends: text when UTF-8, base64 otherwise."""
    try:
        body: dict[str, str] = {"body": detail.body.decode("utf-8")}
    except UnicodeDecodeError:
        body = {"body_base64": base64.b64encode(detail.body).decode()}
    return {
        **notification_json(detail.notification),
        "headers": detail.headers,
        **body,
        "attempt_log": [
            {
                "attempt_no": a.attempt_no,
                "started_at": _time(a.started_at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "response_excerpt": a.response_excerpt,
                "error": a.error,
                "success": a.success,
            }
            for a in detail.attempts
        ],
    }


@get("/notifications")
async def list_notifications(request: Request) -> Response[bytes]:
    ctx = _ctx(request)
    params = dict(request.query_params)
    fields.no_unknown(params, FILTER_FIELDS | {"limit", "before_id"})
    flt = parse_filter(params, ctx.settings.tz)
    limit = fields.integer(params, "limit", default=50, minimum=1, maximum=1000)
    before_id = fields.integer(params, "before_id", default=0, minimum=0, maximum=2**63 - 1)
    rows = await ctx.store.read(outbox.list_notifications, flt, limit, before_id or None)
    return ok(
        {
            "notifications": [notification_json(r) for r in rows],
            "next_before_id": rows[-1].id if len(rows) == limit else None,
        }
    )


@get("/notifications/{notification_id:int}")
async def show_notification(request: Request, notification_id: FromPath[int]) -> Response[bytes]:
    ctx = _ctx(request)
    detail = await ctx.store.read(outbox.get_notification, notification_id)
    return ok(detail_json(detail))


@post("/notifications/{notification_id:int}/retry")
async def retry_notification(request: Request, notification_id: FromPath[int]) -> Response[bytes]:
    ctx = _ctx(request)
    count = await ctx.store.write(
        outbox.redeliver_audited,
        admin_actor(request),
        outbox.NotificationFilter(ids=(notification_id,)),
    )
    return ok({"redelivered": count})


@post("/notifications/retry")
async def retry_notifications(request: Request) -> Response[bytes]:
    ctx = _ctx(request)
    params = await json_object(request)
    fields.no_unknown(params, FILTER_FIELDS | {"ids"})
    ids = params.get("ids") or []
    if (
        not isinstance(ids, list)
        or len(ids) > MAX_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"ids must be a list of at most {MAX_IDS} integers"
        )
    flt = parse_filter(params, ctx.settings.tz, ids=tuple(ids), status="" if ids else "EXHAUSTED")
    count = await ctx.store.write(outbox.redeliver_audited, admin_actor(request), flt)
    return ok({"redelivered": count})


@get("/metrics")
async def metrics(request: Request) -> Response[bytes]:
    """Prometheus exposition of the outbox (deliveries, latency, due queue)."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    return Response(await dispatcher.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def make_router() -> Router:
    return Router(
        path="/admin/v1",
        route_handlers=[
            list_notifications,
            show_notification,
            retry_notification,
            retry_notifications,
        ],
    )
