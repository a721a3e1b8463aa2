"""The admin API (`/admin/v1`, admin token): merchants and the ledger check.

Later capabilities (withdrawal review, notification redelivery) add their routes here.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from paymux.api.auth import require_admin
from paymux.api.errors import ok
from paymux.dialects import fields
from paymux.dialects.requests import json_object
from paymux.services import ledger, merchants

if TYPE_CHECKING:
    from paymux.context import Context


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    require_admin(request, ctx)
    return ctx


def credentials_json(created: merchants.NewMerchant) -> dict[str, object]:
    """The stable shape of `paymux merchant create --json` (docs/operations.md)."""
    return {
        "merchant_id": created.merchant.id,
        "name": created.merchant.name,
        **created.credentials,
    }


@post("/merchants")
async def create_merchant(request: Request) -> Response[bytes]:
    ctx = _ctx(request)
    params = await json_object(request)
    fields.no_unknown(params, {"name"})
    created = await ctx.store.write(
        merchants.create_merchant, fields.text(params, "name", max_len=128)
    )
    return ok(credentials_json(created), 201)


@post("/merchants/{merchant_id:str}")
async def update_merchant(request: Request, merchant_id: FromPath[str]) -> Response[bytes]:
    """Change status, fee rate, IP allowlist, rate limit, timestamp window or notify URL."""
    ctx = _ctx(request)
    params = await json_object(request)
    # Store.write passes positional arguments only; the changes go in by keyword.
    merchant = await ctx.store.write(partial(merchants.update_merchant, **params), merchant_id)
    ctx.keys.invalidate()
    return ok(
        {
            "merchant_id": merchant.id,
            "name": merchant.name,
            "status": merchant.status,
            "fee_rate_bp": merchant.fee_rate_bp,
            "ip_allowlist": merchant.ip_allowlist,
            "rate_limit_per_s": merchant.rate_limit_per_s,
            "timestamp_window_s": merchant.timestamp_window_s,
        }
    )


@get("/ledger/check")
async def ledger_check(request: Request) -> Response[bytes]:
    ctx = _ctx(request)
    problems = await ctx.store.read(ledger.check_ledger)
    return ok(
        {
            "clean": not problems,
            "problems": [{"what": p.what, "detail": p.detail} for p in problems],
        }
    )


def make_router() -> Router:
    return Router(path="/admin/v1", route_handlers=[create_merchant, update_merchant, ledger_check])
