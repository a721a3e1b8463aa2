"""The admin API (`/admin/v1`, admin token): merchants and the ledger check.

Later capabilities (withdrawal review, notification redelivery) add their routes here.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from paymux.api.auth import admin_actor, require_admin
from paymux.api.errors import ok
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Credential
from paymux.dialects import fields
from paymux.dialects.requests import json_object
from paymux.services import audit, ledger, merchants
from paymux.services.console_queries import merchant_snapshot
from paymux.store.uow import UnitOfWork

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
        _create_audited, admin_actor(request), fields.text(params, "name", max_len=128)
    )
    return ok(credentials_json(created), 201)


def _create_audited(uow: UnitOfWork, actor: audit.Actor, name: str) -> merchants.NewMerchant:
    created = merchants.create_merchant(uow, name)
    audit.record(
        uow,
        actor,
        "merchant.create",
        target_type="merchant",
        target_id=created.merchant.id,
        after=merchant_snapshot(uow, created.merchant.id),
    )
    return created


@post("/merchants/{merchant_id:str}")
async def update_merchant(request: Request, merchant_id: FromPath[str]) -> Response[bytes]:
    """Change status, fee rate, IP allowlist, rate limit, timestamp window or notify URL."""
    ctx = _ctx(request)
    params = await json_object(request)
    # Store.write passes positional arguments only; the changes go in by keyword.
    merchant = await ctx.store.write(
        audit.audited,
        admin_actor(request),
        "merchant.update",
        "merchant",
        merchant_id,
        merchant_snapshot,
        partial(merchants.update_merchant, **params),
        merchant_id,
    )
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


@post("/merchants/{merchant_id:str}/rotate")
async def rotate_secret(request: Request, merchant_id: FromPath[str]) -> Response[bytes]:
    """A new secret for one dialect, answered once; the old one works for the grace period.

    The console's rotate button for operators who automate: same service, same audit.
    """
    ctx = _ctx(request)
    params = await json_object(request)
    fields.no_unknown(params, {"dialect"})
    dialect = fields.text(params, "dialect", max_len=16)
    if dialect not in merchants.KEY_FACTORIES:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"dialect must be one of {sorted(merchants.KEY_FACTORIES)}",
            field="dialect",
        )
    rotated = await ctx.store.write(_rotate_audited, admin_actor(request), merchant_id, dialect)
    ctx.keys.invalidate()
    key_name, secret_name = merchants.KEY_FACTORIES[dialect]
    return ok(
        {
            "merchant_id": merchant_id,
            dialect: {key_name: rotated.key_id, secret_name: rotated.secret},
            "old_secret_valid_s": ctx.settings.secret_grace_period_s,
        }
    )


def _rotate_audited(
    uow: UnitOfWork, actor: audit.Actor, merchant_id: str, dialect: str
) -> Credential:
    current = merchants.current_credential(uow, merchant_id, dialect)
    if current is None:
        raise PaymuxError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} not found")
    secret = audit.audited(
        uow,
        actor,
        "merchant.rotate_secret",
        "merchant",
        merchant_id,
        merchant_snapshot,
        merchants.rotate_secret,
        merchant_id,
        dialect,
        detail=f"dialect={dialect}",
    )
    return Credential(current.key_id, secret)


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
    return Router(
        path="/admin/v1",
        route_handlers=[create_merchant, update_merchant, rotate_secret, ledger_check],
    )
