"""Channel endpoints: the channels' asynchronous notices, and the admin API of channels.

- `POST /channels/<name>/notify/<merchant_id>`: where WeChat Pay and Alipay post
  a merchant's notices (the URL paymux gave them with each payment). The path
  names the merchant whose configured keys must verify the notice; the reply
  is in the channel's own acknowledgement format.
- `/admin/v1/merchants/<id>/channels[/<name>]` (admin token): a merchant's live
  channel credentials, write-only for secrets.
- `/admin/v1/channel-mismatches` (admin token): money a channel moved against
  an order's state, for an operator to follow up and resolve.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, Router, delete, get, post, put
from litestar.params import FromPath

from paymux.api.auth import require_admin
from paymux.api.errors import ok
from paymux.channels import LIVE_CHANNELS, SANDBOX
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import ChannelMismatch
from paymux.dialects.requests import json_object, query_params
from paymux.services import channel_credentials, payments

if TYPE_CHECKING:
    from paymux.context import Context

MERCHANT_RE = re.compile(r"[0-9A-Za-z]{1,32}")


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def _admin(request: Request) -> Context:
    ctx = _ctx(request)
    require_admin(request, ctx)
    return ctx


@post("/channels/{channel:str}/notify/{merchant_id:str}")
async def channel_notice(
    request: Request, channel: FromPath[str], merchant_id: FromPath[str]
) -> Response[bytes]:
    if channel not in (SANDBOX, *LIVE_CHANNELS) or not MERCHANT_RE.fullmatch(merchant_id):
        raise PaymuxError(ErrorCode.NOT_FOUND, "no such channel notice endpoint")
    ctx = _ctx(request)
    headers = {key.lower(): value for key, value in request.headers.items()}
    reply = await payments.receive_notice(
        ctx.store, channel, merchant_id, headers, await request.body()
    )
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type)


def _account_view(account: channel_credentials.ChannelAccount) -> dict[str, Any]:
    return {
        "channel": account.channel,
        "account": account.account,
        "enabled": account.enabled,
        "fields": list(account.fields),
        "created_at": account.created_at.isoformat() + "Z",
        "updated_at": account.updated_at.isoformat() + "Z",
    }


@put("/merchants/{merchant_id:str}/channels/{channel:str}")
async def set_channel(
    request: Request, merchant_id: FromPath[str], channel: FromPath[str]
) -> Response[bytes]:
    """Body: the channel's configuration (docs/channels.md), plus optional `enabled`."""
    ctx = _admin(request)
    config = await json_object(request)
    enabled = config.pop("enabled", True)
    if not isinstance(enabled, bool):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "enabled must be a boolean", field="enabled")
    account = await ctx.store.write(
        channel_credentials.set_credentials, merchant_id, channel, config, enabled
    )
    return ok(_account_view(account))


@get("/merchants/{merchant_id:str}/channels")
async def list_channels(request: Request, merchant_id: FromPath[str]) -> Response[bytes]:
    ctx = _admin(request)
    accounts = await ctx.store.read(channel_credentials.list_accounts, merchant_id)
    return ok({"channels": [_account_view(a) for a in accounts]})


@delete("/merchants/{merchant_id:str}/channels/{channel:str}", status_code=200)
async def remove_channel(
    request: Request, merchant_id: FromPath[str], channel: FromPath[str]
) -> Response[bytes]:
    ctx = _admin(request)
    await ctx.store.write(channel_credentials.remove_credentials, merchant_id, channel)
    return ok({"removed": channel})


def _mismatch_view(m: ChannelMismatch) -> dict[str, Any]:
    def when(moment: Any) -> str | None:
        return None if moment is None else moment.isoformat() + "Z"

    return {
        "id": m.id,
        "merchant_id": m.merchant_id,
        "channel": m.channel,
        "kind": m.kind,
        "order_no": m.order_no,
        "order_status": m.order_status,
        "channel_trade_no": m.channel_trade_no,
        "amount": m.amount,
        "currency": m.currency,
        "detail": m.detail,
        "refund": {
            "refund_no": m.refund_no,
            "status": m.refund_status,
            "channel_refund_no": m.channel_refund_no,
            "error": m.refund_error,
            "attempts": m.refund_attempts,
            "next_at": when(m.next_refund_at),
        },
        "resolved_at": when(m.resolved_at),
        "resolution": m.resolution,
        "created_at": when(m.created_at),
    }


@get("/channel-mismatches")
async def list_mismatches(request: Request) -> Response[bytes]:
    """Open mismatches, newest first; `?all=1` includes resolved ones."""
    ctx = _admin(request)
    everything = query_params(request).get("all") in ("1", "true")
    rows = await ctx.store.read(payments.list_mismatches, not everything)
    return ok({"mismatches": [_mismatch_view(m) for m in rows]})


@post("/channel-mismatches/{mismatch_id:int}/resolve", status_code=200)
async def resolve_mismatch(request: Request, mismatch_id: FromPath[int]) -> Response[bytes]:
    ctx = _admin(request)
    params = await json_object(request)
    resolution = params.get("resolution")
    if not isinstance(resolution, str) or not resolution.strip():
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "resolution (what was done) is required", field="resolution"
        )
    mismatch = await ctx.store.write(payments.resolve_mismatch, mismatch_id, resolution.strip())
    return ok(_mismatch_view(mismatch))


def make_router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            channel_notice,
            Router(
                path="/admin/v1",
                route_handlers=[
                    set_channel,
                    list_channels,
                    remove_channel,
                    list_mismatches,
                    resolve_mismatch,
                ],
            ),
        ],
    )
