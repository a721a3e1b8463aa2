"""Platform-wide state kept in the database: clock offset, node ids, the platform RSA key."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update

from paymux.store import tables as t
from paymux.store.sql import insert_ignore
from paymux.store.uow import UnitOfWork

KV = t.settings_kv.c


def get_setting(uow: UnitOfWork, key: str) -> str | None:
    return uow.conn.execute(select(KV.value).where(KV.key == key)).scalar_one_or_none()


def put_setting(uow: UnitOfWork, key: str, value: str) -> None:
    if not insert_ignore(uow.conn, t.settings_kv, {"key": key, "value": value}):
        uow.conn.execute(update(t.settings_kv).where(KV.key == key).values(value=value))


def allocate_node_id(uow: UnitOfWork) -> int:
    """A node id for this process's snowflake generator (distinct for 1024 starts in a row)."""
    current = int(get_setting(uow, "node_seq") or "0") + 1
    put_setting(uow, "node_seq", str(current))
    return current % 1024


def platform_private_key_pem(uow: UnitOfWork) -> str:
    """The platform RSA-2048 key (skillpay signing, vpay's public_key); made on first start."""
    sealed = get_setting(uow, "platform_rsa_key")
    if sealed is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        if insert_ignore(
            uow.conn, t.settings_kv, {"key": "platform_rsa_key", "value": uow.env.box.seal(pem)}
        ):
            return pem
        sealed = get_setting(uow, "platform_rsa_key")
        assert sealed is not None
    return uow.env.box.open(sealed)


def advance_clock(uow: UnitOfWork, seconds: float) -> float:
    """Move the sandbox clock forward; returns the new offset. Shared by all processes."""
    offset = float(get_setting(uow, "clock_offset_s") or "0") + seconds
    put_setting(uow, "clock_offset_s", repr(offset))
    return offset


def clock_offset(uow: UnitOfWork) -> float:
    return float(get_setting(uow, "clock_offset_s") or "0")
