"""The skill registry (skillpay): one voice skill per merchant, its RSA key and its three URLs.

The voice platform calls the skill (create order, ship, refund notice) and the
skill calls the platform (query, refund), each side signing with its own RSA
key, so a skill is a merchant plus the skill's public key and URLs. The
sandbox channel also settles a skill's refunds here, the way the skill's
`sandbox_refund` setting says.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant, Refund
from paymux.core.states import RefundStatus
from paymux.services import refunds
from paymux.services.merchants import get_merchant
from paymux.services.urls import check_url
from paymux.signing import tsk_rsa2
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork

SK, REF, ORD = t.skills.c, t.refunds.c, t.orders.c
URL_FIELDS = ("create_order_url", "ship_url", "refund_notify_url")
STATUSES = ("active", "disabled")
# How the sandbox channel settles a refund: at once either way, or HOLD it in
# PROCESSING until `settle_refund` is called with an explicit result.
SANDBOX_REFUND_RESULTS = ("SUCCESS", "FAIL", "HOLD")
STALE_REFUND_S = 60  # a PROCESSING refund this old missed its settle-after-commit step


@dataclass(frozen=True, slots=True)
class Skill:
    skill_id: str
    merchant_id: str
    public_key: str
    create_order_url: str
    ship_url: str
    refund_notify_url: str
    status: str
    sandbox_refund: str
    created_at: datetime
    updated_at: datetime
    previous_public_key: str
    previous_valid_until: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "active"

    def public_keys(self, now: datetime) -> list[str]:
        """The keys the skill may sign with now: the current one, and during the grace period
        after a rotation the one it replaced, so the skill can switch without downtime."""
        keys = [self.public_key]
        if self.previous_valid_until is not None and self.previous_valid_until > now:
            keys.append(self.previous_public_key)
        return keys


def _from_row(row: Any) -> Skill:
    return Skill(**dict(row._mapping))


def check_public_key(text: str) -> str:
    """The key as given (PEM or bare base64), once it loads as an RSA key of 2048 bits or more."""
    text = text.strip() if isinstance(text, str) else ""
    try:
        key = tsk_rsa2.load_public_key(text)
    except ValueError:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            "public_key must be an RSA public key, PEM or bare base64",
            field="public_key",
        ) from None
    if key.key_size < 2048:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "public_key must be RSA-2048 or longer", field="public_key"
        )
    return text


def _check_urls(uow: UnitOfWork, urls: dict[str, Any]) -> None:
    allow_private = uow.env.settings.private_notify_urls_allowed
    for name in URL_FIELDS:
        if name in urls:
            value = urls[name]
            if not isinstance(value, str) or not value:
                raise PaymuxError(ErrorCode.INVALID_PARAMS, f"{name} is required", field=name)
            check_url(value, field=name, allow_private=allow_private)


def register_skill(
    uow: UnitOfWork,
    merchant_id: str,
    *,
    public_key: str,
    create_order_url: str,
    ship_url: str,
    refund_notify_url: str,
) -> Skill:
    """Give a merchant its skill: a new skillId, the skill's key, its three URLs.

    A merchant has at most one skill; changing its key or URLs is `update_skill`.
    """
    get_merchant(uow, merchant_id)
    urls = {
        "create_order_url": create_order_url,
        "ship_url": ship_url,
        "refund_notify_url": refund_notify_url,
    }
    _check_urls(uow, urls)
    key = check_public_key(public_key)
    existing = uow.conn.execute(select(SK.skill_id).where(SK.merchant_id == merchant_id)).first()
    if existing is not None:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"merchant {merchant_id} already has skill {existing.skill_id}; update it instead",
        )
    now = uow.env.clock.now()
    skill_id = "sk" + secrets.token_hex(12)
    try:
        with uow.conn.begin_nested():
            uow.conn.execute(
                insert(t.skills).values(
                    skill_id=skill_id,
                    merchant_id=merchant_id,
                    public_key=key,
                    status="active",
                    sandbox_refund="SUCCESS",
                    created_at=now,
                    updated_at=now,
                    **urls,
                )
            )
    except IntegrityError:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"merchant {merchant_id} is registering a skill concurrently"
        ) from None
    return get_skill(uow, skill_id)


def update_skill(uow: UnitOfWork, skill_id: str, changes: dict[str, Any]) -> Skill:
    """Rotate the key, move a URL, disable/enable the skill, or set its sandbox refund result.

    A new key applies at once; the replaced one stays valid for the deployment's
    secret grace period (PAYMUX_SECRET_GRACE_S), as rotated secrets do.
    """
    changes = dict(changes)
    allowed = {"public_key", "status", "sandbox_refund", *URL_FIELDS}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"cannot change {unknown[0]}", field=unknown[0])
    current = get_skill(uow, skill_id)
    _check_urls(uow, changes)
    now = uow.env.clock.now()
    if "public_key" in changes:
        changes["public_key"] = check_public_key(changes["public_key"])
        if changes["public_key"] != current.public_key:
            grace = timedelta(seconds=uow.env.settings.secret_grace_period_s)
            changes.update(previous_public_key=current.public_key, previous_valid_until=now + grace)
    if "status" in changes and changes["status"] not in STATUSES:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "status must be active or disabled", field="status"
        )
    if "sandbox_refund" in changes and changes["sandbox_refund"] not in SANDBOX_REFUND_RESULTS:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            "sandbox_refund must be SUCCESS, FAIL or HOLD",
            field="sandbox_refund",
        )
    if changes:
        uow.conn.execute(
            update(t.skills).where(SK.skill_id == skill_id).values(updated_at=now, **changes)
        )
    return get_skill(uow, skill_id)


def get_skill(uow: UnitOfWork, skill_id: str) -> Skill:
    row = uow.conn.execute(select(t.skills).where(SK.skill_id == skill_id)).first()
    if row is None:
        raise PaymuxError(ErrorCode.MERCHANT_NOT_FOUND, f"unknown skillId {skill_id}")
    return _from_row(row)


def find_skill(uow: UnitOfWork, skill_id: str) -> tuple[Skill, Merchant]:
    """A skill with its merchant, which carries the status, IP allowlist and rate limit."""
    skill = get_skill(uow, skill_id)
    return skill, get_merchant(uow, skill.merchant_id)


def skill_of_merchant(uow: UnitOfWork, merchant_id: str) -> Skill:
    row = uow.conn.execute(select(t.skills).where(SK.merchant_id == merchant_id)).first()
    if row is None:
        raise PaymuxError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} has no skill")
    return _from_row(row)


def list_skills(uow: UnitOfWork) -> list[Skill]:
    rows = uow.conn.execute(select(t.skills).order_by(SK.created_at, SK.skill_id)).all()
    return [_from_row(r) for r in rows]


def settle_refund(uow: UnitOfWork, skill_id: str, refund_no: str, result: str = "") -> Refund:
    """Settle a PROCESSING refund of the skill's on the sandbox channel.

    With no `result` the skill's `sandbox_refund` setting decides (HOLD leaves
    the refund PROCESSING); an explicit SUCCESS or FAIL settles a held refund.
    A refund that is no longer PROCESSING is returned as it is, so settling
    twice (an idempotent refund retry, two racing requests) is harmless.
    """
    skill = get_skill(uow, skill_id)
    refund = refunds.get_refund(uow, skill.merchant_id, refund_no=refund_no)
    if not result:
        result = skill.sandbox_refund
    elif result not in ("SUCCESS", "FAIL"):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "result must be SUCCESS or FAIL", field="result"
        )
    if refund.status != RefundStatus.PROCESSING.value or result == "HOLD":
        return refund
    if result == "SUCCESS":
        return refunds.complete_refund(uow, refund_no)
    return refunds.fail_refund(uow, refund_no)


def settle_stale_refunds(uow: UnitOfWork, limit: int = 100) -> int:
    """The timed job behind the settle-after-commit step of a skillpay refund.

    The refund endpoint commits the PROCESSING refund, then settles it in a
    second transaction; a crash in between would leave it PROCESSING (and its
    money held) for good. This finds such refunds once they are a minute old
    and settles them the way their skill's `sandbox_refund` says (HOLD ones
    wait for an explicit settle). Each refund is settled in its own savepoint,
    so one that another process settled first is simply skipped.
    """
    cutoff = uow.env.clock.now() - timedelta(seconds=STALE_REFUND_S)
    rows = uow.conn.execute(
        select(REF.refund_no, SK.skill_id)
        .select_from(
            t.refunds.join(t.orders, ORD.id == REF.order_id).join(
                t.skills, SK.merchant_id == REF.merchant_id
            )
        )
        .where(
            REF.status == RefundStatus.PROCESSING.value,
            ORD.dialect == "skillpay",
            REF.created_at <= cutoff,
            SK.sandbox_refund != "HOLD",
        )
        .order_by(REF.id)
        .limit(limit)
    ).all()
    settled = 0
    for row in rows:
        try:
            with uow.conn.begin_nested():
                settle_refund(uow, row.skill_id, row.refund_no)
        except PaymuxError:
            continue
        settled += 1
    return settled
