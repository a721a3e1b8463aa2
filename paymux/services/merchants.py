"""Merchants and their per-dialect credentials (secrets sealed at rest, rotation with grace)."""

from __future__ import annotations

import ipaddress
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Credential, Merchant
from paymux.store import tables as t
from paymux.store.sql import Prepared
from paymux.store.uow import UnitOfWork

_ALNUM = string.ascii_lowercase + string.digits


def _token(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _digits(n: int) -> str:
    return _token(string.digits, n)


# How each dialect names its key id and what its secret looks like.
KEY_FACTORIES: dict[str, tuple[str, str]] = {
    # dialect: (name of key id, name of secret) as each spec calls them
    "vpay": ("app_id", "secret_key"),
    "partner": ("apiKey", "appSecret"),
    "gateway": ("appid", "secret"),
    "paymodule": ("apiKey", "callbackSignSecret"),
}


def _new_key_id(dialect: str, merchant_id: str) -> str:
    if dialect == "vpay":
        return merchant_id  # the spec: app_id is the merchant_id
    if dialect == "partner":
        return "NEXA" + _digits(19)
    if dialect == "gateway":
        return "gpu" + _digits(8)
    return "pk_" + _token(_ALNUM, 24)


def _new_secret() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class NewMerchant:
    merchant: Merchant
    credentials: dict[str, dict[str, str]]  # dialect → {key name: key id, secret name: secret}


def create_merchant(uow: UnitOfWork, name: str, *, notify_url: str = "") -> NewMerchant:
    name = name.strip()
    if not name or len(name) > 128:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            "merchant_name must be 1..128 characters",
            field="merchant_name",
        )
    now = uow.env.clock.now()
    merchant_id = "M" + _token(_ALNUM, 18)
    uow.conn.execute(
        insert(t.merchants).values(
            id=merchant_id,
            name=name,
            status="active",
            fee_rate_bp=0,
            ip_allowlist="",
            rate_limit_per_s=0,
            timestamp_window_s=300,
            notify_url=notify_url,
            created_at=now,
        )
    )
    creds: dict[str, dict[str, str]] = {}
    for dialect, (key_name, secret_name) in KEY_FACTORIES.items():
        key_id, secret = _new_key_id(dialect, merchant_id), _new_secret()
        add_credential(uow, merchant_id, dialect, key_id, secret)
        creds[dialect] = {key_name: key_id, secret_name: secret}
    from paymux.services.ledger import ensure_settlement_account

    for currency in ("CNY", "USDT"):
        ensure_settlement_account(uow, merchant_id, currency)
    return NewMerchant(get_merchant(uow, merchant_id), creds)


def add_credential(
    uow: UnitOfWork, merchant_id: str, dialect: str, key_id: str, secret: str
) -> None:
    uow.conn.execute(
        insert(t.credentials).values(
            merchant_id=merchant_id,
            dialect=dialect,
            key_id=key_id,
            secret_enc=uow.env.box.seal(secret),
            valid_until=None,
            created_at=uow.env.clock.now(),
        )
    )


_GET_MERCHANT = Prepared(select(t.merchants).where(t.merchants.c.id == bindparam("merchant_id")))


def get_merchant(uow: UnitOfWork, merchant_id: str) -> Merchant:
    row = _GET_MERCHANT.first(uow.conn, {"merchant_id": merchant_id})
    if row is None:
        raise PaymuxError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} not found")
    return Merchant.from_mapping(row)


def find_by_key(uow: UnitOfWork, dialect: str, key_id: str) -> tuple[Merchant, list[str]]:
    """The merchant behind a dialect key id and every secret currently valid for it.

    During a rotation's grace period the old secret is still listed, so merchants
    can switch without downtime.
    """
    now = uow.env.clock.now()
    c = t.credentials.c
    rows = uow.conn.execute(
        select(c.merchant_id, c.secret_enc)
        .where(
            c.dialect == dialect,
            c.key_id == key_id,
            or_(c.valid_until.is_(None), c.valid_until > now),
        )
        .order_by(c.id.desc())
    ).all()
    if not rows:
        raise PaymuxError(ErrorCode.MERCHANT_NOT_FOUND, f"unknown {dialect} key {key_id}")
    merchant = get_merchant(uow, rows[0].merchant_id)
    return merchant, [uow.env.box.open(r.secret_enc) for r in rows]


def expired_secrets(uow: UnitOfWork, dialect: str, key_id: str, limit: int = 3) -> list[str]:
    """The most recently expired secrets of a key: a signature that fails with every valid
    secret but matches one of these comes from a merchant still configured with a secret
    that was rotated out, which deserves a better answer than "bad signature"."""
    c = t.credentials.c
    rows = uow.conn.execute(
        select(c.secret_enc)
        .where(c.dialect == dialect, c.key_id == key_id, c.valid_until <= uow.env.clock.now())
        .order_by(c.valid_until.desc())
        .limit(limit)
    ).all()
    return [uow.env.box.open(r.secret_enc) for r in rows]


_CURRENT_CREDENTIAL = Prepared(
    select(t.credentials.c.key_id, t.credentials.c.secret_enc)
    .where(
        t.credentials.c.merchant_id == bindparam("m"),
        t.credentials.c.dialect == bindparam("d"),
        t.credentials.c.valid_until.is_(None),
    )
    .order_by(t.credentials.c.id.desc())
    .limit(1)
)


def current_credential(uow: UnitOfWork, merchant_id: str, dialect: str) -> Credential | None:
    row = _CURRENT_CREDENTIAL.first(uow.conn, {"m": merchant_id, "d": dialect})
    return None if row is None else Credential(row["key_id"], uow.env.box.open(row["secret_enc"]))


def rotate_secret(uow: UnitOfWork, merchant_id: str, dialect: str) -> str:
    """Issue a new secret; the old one stays valid for the configured grace period."""
    current = current_credential(uow, merchant_id, dialect)
    if current is None:
        raise PaymuxError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant has no {dialect} credential")
    grace = timedelta(seconds=uow.env.settings.secret_grace_period_s)
    c = t.credentials.c
    uow.conn.execute(
        update(t.credentials)
        .where(c.merchant_id == merchant_id, c.dialect == dialect, c.valid_until.is_(None))
        .values(valid_until=uow.env.clock.now() + grace)
    )
    secret = _new_secret()
    add_credential(uow, merchant_id, dialect, current.key_id, secret)
    return secret


def update_merchant(uow: UnitOfWork, merchant_id: str, **changes: object) -> Merchant:
    allowed = {
        "name",
        "status",
        "fee_rate_bp",
        "ip_allowlist",
        "rate_limit_per_s",
        "timestamp_window_s",
        "notify_url",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"cannot change {sorted(unknown)}")
    if "name" in changes:
        name = str(changes["name"]).strip()
        if not name or len(name) > 128:
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS,
                "merchant_name must be 1..128 characters",
                field="merchant_name",
            )
        changes["name"] = name
    if "status" in changes and changes["status"] not in ("active", "disabled"):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "status must be active or disabled")
    for key, (low, high) in _INT_LIMITS.items():
        value = changes.get(key, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS,
                f"{key} must be an integer from {low} to {high}",
                field=key,
            )
    if "ip_allowlist" in changes:
        changes["ip_allowlist"] = _check_allowlist(changes["ip_allowlist"])
    if "notify_url" in changes and not isinstance(changes["notify_url"], str):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "notify_url must be a string")
    get_merchant(uow, merchant_id)
    if changes:
        uow.conn.execute(
            update(t.merchants).where(t.merchants.c.id == merchant_id).values(**changes)
        )
    return get_merchant(uow, merchant_id)


_INT_LIMITS = {
    "fee_rate_bp": (0, 10_000),
    "rate_limit_per_s": (0, 1_000_000),
    "timestamp_window_s": (1, 86_400),
}


def _check_allowlist(value: object) -> str:
    if not isinstance(value, str):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "ip_allowlist must be a comma-separated string")
    items = [item.strip() for item in value.split(",") if item.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS, f"{item!r} is not an IP address or network"
            ) from None
    return ",".join(items)


def search_merchants(
    uow: UnitOfWork, name: str, page: int, page_size: int
) -> tuple[int, list[Merchant]]:
    m = t.merchants.c
    cond = m.name.contains(name, autoescape=True) if name else and_(True)
    total = uow.conn.execute(select(func.count()).select_from(t.merchants).where(cond)).scalar_one()
    rows = uow.conn.execute(
        select(t.merchants)
        .where(cond)
        .order_by(m.created_at.desc(), m.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return int(total), [Merchant.from_row(r) for r in rows]


def list_merchants(uow: UnitOfWork) -> list[Merchant]:
    rows = uow.conn.execute(select(t.merchants).order_by(t.merchants.c.created_at)).all()
    return [Merchant.from_row(r) for r in rows]
