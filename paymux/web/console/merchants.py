"""Merchants: create, settings (status, fee rate, IP allowlist, rate limit, notify URL),
credential rotation, and a merchant's skill (skillpay keys and URLs).

A new merchant's secrets and a rotated secret are shown once, on the page that
answers the POST (never cached, never in a URL, never in the audit log), the
way `paymux merchant create` prints them once. After any change the in-process
key cache is cleared, so the change applies to the next signed request.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.services import audit, merchants, skills
from paymux.services import console_queries as q
from paymux.services.urls import check_url
from paymux.store.uow import UnitOfWork
from paymux.web.console.auth import Act, action, signed_in
from paymux.web.console.common import integer, page, text

PAGE_SIZE = 50


@get("/merchants")
async def merchant_list(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    params = dict(request.query_params)
    name = text(params, "name", max_len=128)
    number = text(params, "page", max_len=6)
    page_no = int(number) if number.isdigit() and int(number) > 0 else 1
    total, rows = await ctx.store.read(merchants.search_merchants, name, page_no, PAGE_SIZE)
    return page(
        ctx,
        session,
        "merchants.html",
        section="merchants",
        rows=rows,
        total=total,
        search=name,
        page_no=page_no,
        more=page_no * PAGE_SIZE < total,
    )


def _notify_url(act: Act) -> str:
    url = text(act.form, "notify_url", max_len=512)
    if url:
        check_url(
            url, field="notify_url", allow_private=act.ctx.settings.private_notify_urls_allowed
        )
    return url


def _create(
    uow: UnitOfWork, actor: audit.Actor, name: str, notify_url: str
) -> merchants.NewMerchant:
    created = merchants.create_merchant(uow, name, notify_url=notify_url)
    merchant_id = created.merchant.id
    audit.record(
        uow,
        actor,
        "merchant.create",
        target_type="merchant",
        target_id=merchant_id,
        after=q.merchant_snapshot(uow, merchant_id),
    )
    return created


@post("/merchants")
async def merchant_create(request: Request) -> Response[str]:
    """Create a merchant and show its credentials this once."""
    act = await action(request)
    name = text(act.form, "name", max_len=128, required=True)
    created = await act.ctx.store.write(_create, act.actor, name, _notify_url(act))
    return page(
        act.ctx,
        act.session,
        "secrets.html",
        section="merchants",
        title=f"Merchant {created.merchant.name} created",
        merchant_id=created.merchant.id,
        credentials=created.credentials,
    )


@get("/merchants/{merchant_id:str}")
async def merchant_detail(request: Request, merchant_id: FromPath[str]) -> Response[str]:
    ctx, session = await signed_in(request)
    merchant = await ctx.store.read(merchants.get_merchant, merchant_id)
    keys = await ctx.store.read(q.merchant_keys, merchant_id)
    accounts = await ctx.store.read(q.merchant_accounts, merchant_id)
    skill = await ctx.store.read(_skill_or_none, merchant_id)
    return page(
        ctx,
        session,
        "merchant.html",
        section="merchants",
        done=request.query_params.get("done", ""),
        merchant=merchant,
        keys=keys,
        accounts=accounts,
        skill=skill,
        rotatable=list(merchants.KEY_FACTORIES),
        platform_key=ctx.platform_public_pem,
        refund_results=skills.SANDBOX_REFUND_RESULTS,
    )


def _skill_or_none(uow: UnitOfWork, merchant_id: str) -> skills.Skill | None:
    try:
        return skills.skill_of_merchant(uow, merchant_id)
    except PaymuxError as exc:
        if exc.code is ErrorCode.MERCHANT_NOT_FOUND:
            return None
        raise


async def _update(act: Act, merchant_id: str, action_name: str, changes: dict[str, Any]) -> None:
    await act.ctx.store.write(
        audit.audited,
        act.actor,
        action_name,
        "merchant",
        merchant_id,
        q.merchant_snapshot,
        partial(merchants.update_merchant, **changes),
        merchant_id,
    )
    act.ctx.keys.invalidate()


@post("/merchants/{merchant_id:str}")
async def merchant_update(request: Request, merchant_id: FromPath[str]) -> Redirect:
    """The settings form: name, fee rate, IP allowlist, rate limit, window, notify URL."""
    act = await action(request)
    changes: dict[str, Any] = {
        "name": text(act.form, "name", max_len=128, required=True),
        "fee_rate_bp": integer(act.form, "fee_rate_bp", minimum=0, maximum=10_000),
        "ip_allowlist": text(act.form, "ip_allowlist", max_len=4096),
        "rate_limit_per_s": integer(act.form, "rate_limit_per_s", minimum=0, maximum=1_000_000),
        "timestamp_window_s": integer(act.form, "timestamp_window_s", minimum=1, maximum=86_400),
        "notify_url": _notify_url(act),
    }
    await _update(act, merchant_id, "merchant.update", changes)
    return Redirect(f"/console/merchants/{merchant_id}?done=saved", status_code=303)


@post("/merchants/{merchant_id:str}/status")
async def merchant_status(request: Request, merchant_id: FromPath[str]) -> Redirect:
    """Disable (every dialect refuses its requests) or enable again."""
    act = await action(request)
    status = text(act.form, "status", max_len=16, required=True)
    verb = {"active": "merchant.enable", "disabled": "merchant.disable"}.get(status)
    if verb is None:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "status must be active or disabled")
    await _update(act, merchant_id, verb, {"status": status})
    return Redirect(f"/console/merchants/{merchant_id}?done=saved", status_code=303)


@post("/merchants/{merchant_id:str}/rotate")
async def merchant_rotate(request: Request, merchant_id: FromPath[str]) -> Response[str]:
    """A new secret for one dialect, shown once; the old one works for the grace period."""
    act = await action(request)
    dialect = text(act.form, "dialect", max_len=16, required=True)
    if dialect not in merchants.KEY_FACTORIES:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"no {dialect} credentials to rotate")
    secret = await act.ctx.store.write(
        partial(audit.audited, detail=f"dialect={dialect}"),
        act.actor,
        "merchant.rotate_secret",
        "merchant",
        merchant_id,
        q.merchant_snapshot,
        merchants.rotate_secret,
        merchant_id,
        dialect,
    )
    act.ctx.keys.invalidate()
    keys = await act.ctx.store.read(q.merchant_keys, merchant_id)
    key_name, secret_name = merchants.KEY_FACTORIES[dialect]
    key_id = next(k.key_id for k in keys if k.dialect == dialect and k.valid_until is None)
    return page(
        act.ctx,
        act.session,
        "secrets.html",
        section="merchants",
        title=f"New {dialect} secret",
        merchant_id=merchant_id,
        credentials={dialect: {key_name: key_id, secret_name: secret}},
        grace_s=act.ctx.settings.secret_grace_period_s,
    )


def _register_skill(uow: UnitOfWork, merchant_id: str, changes: dict[str, str]) -> skills.Skill:
    return skills.register_skill(
        uow,
        merchant_id,
        public_key=changes.get("public_key", ""),
        create_order_url=changes["create_order_url"],
        ship_url=changes["ship_url"],
        refund_notify_url=changes["refund_notify_url"],
    )


def _save_skill(uow: UnitOfWork, merchant_id: str, changes: dict[str, str]) -> skills.Skill:
    current = _skill_or_none(uow, merchant_id)
    if current is None:
        return _register_skill(uow, merchant_id, changes)
    return skills.update_skill(uow, current.skill_id, changes)


@post("/merchants/{merchant_id:str}/skill")
async def merchant_skill(request: Request, merchant_id: FromPath[str]) -> Redirect:
    """Register the merchant's skill, or change its key, URLs, status or sandbox refunds."""
    act = await action(request)
    changes = {name: text(act.form, name, max_len=512) for name in skills.URL_FIELDS}
    public_key = text(act.form, "public_key", max_len=8192)
    if public_key:  # empty on an update: keep the current key
        changes["public_key"] = public_key
    for name in ("status", "sandbox_refund"):
        value = text(act.form, name, max_len=16)
        if value:
            changes[name] = value
    await act.ctx.store.write(
        audit.audited,
        act.actor,
        "merchant.skill",
        "merchant",
        merchant_id,
        _skill_snapshot,
        _save_skill,
        merchant_id,
        changes,
    )
    return Redirect(f"/console/merchants/{merchant_id}?done=saved", status_code=303)


def _skill_snapshot(uow: UnitOfWork, merchant_id: str) -> dict[str, Any] | None:
    skill = _skill_or_none(uow, merchant_id)
    return None if skill is None else q.skill_snapshot(uow, skill.skill_id)
