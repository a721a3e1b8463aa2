"""Per-merchant live channel credentials: validated by the connector, sealed at rest.

A merchant with credentials for a channel has that channel's payment method
served live; without them, by the sandbox (sandbox mode only). Private keys
and the APIv3 key never leave this module in clear except to a connector.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from paymux.channels import LIVE_CHANNELS, connector
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.services.merchants import get_merchant
from paymux.store import tables as t
from paymux.store.sql import insert_ignore
from paymux.store.uow import UnitOfWork

CC = t.channel_credentials.c


@dataclass(frozen=True, slots=True)
class ChannelAccount:
    """What may be shown about a merchant's channel configuration: no secret values."""

    channel: str
    account: str
    enabled: bool
    fields: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


def _live(channel: str) -> str:
    if channel not in LIVE_CHANNELS:
        raise PaymuxError(
            ErrorCode.NOT_FOUND,
            f"no live channel {channel!r}; channels: {', '.join(LIVE_CHANNELS)}",
        )
    return channel


def set_credentials(
    uow: UnitOfWork, merchant_id: str, channel: str, config: Mapping[str, Any], enabled: bool
) -> ChannelAccount:
    """Store (or replace) a merchant's configuration for `channel` once the connector parsed it."""
    get_merchant(uow, merchant_id)
    conn = connector(_live(channel), uow.env.settings.public_base_url)
    try:
        account = conn.account(conn.credentials(config))
    except ValueError as exc:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, str(exc)) from None
    now = uow.env.clock.now()
    sealed = uow.env.box.seal(json.dumps(dict(config)))
    values = {"account": account, "config_enc": sealed, "enabled": enabled, "updated_at": now}
    if not insert_ignore(
        uow.conn,
        t.channel_credentials,
        {"merchant_id": merchant_id, "channel": channel, "created_at": now, **values},
    ):
        uow.conn.execute(
            update(t.channel_credentials)
            .where(CC.merchant_id == merchant_id, CC.channel == channel)
            .values(**values)
        )
    return _account(_row(uow, merchant_id, channel), uow)


def remove_credentials(uow: UnitOfWork, merchant_id: str, channel: str) -> None:
    """Forget a channel's credentials: new orders go to the sandbox (in sandbox mode) again."""
    removed = uow.conn.execute(
        delete(t.channel_credentials).where(
            CC.merchant_id == merchant_id, CC.channel == _live(channel)
        )
    ).rowcount
    if not removed:
        raise PaymuxError(ErrorCode.NOT_FOUND, f"merchant has no {channel} credentials")


def load_config(uow: UnitOfWork, merchant_id: str, channel: str) -> dict[str, Any] | None:
    """The merchant's enabled configuration for `channel`, decrypted; None when there is none."""
    row = _row(uow, merchant_id, channel)
    if row is None or not row.enabled:
        return None
    return json.loads(uow.env.box.open(row.config_enc))


def list_accounts(uow: UnitOfWork, merchant_id: str) -> list[ChannelAccount]:
    get_merchant(uow, merchant_id)
    rows = uow.conn.execute(
        select(t.channel_credentials).where(CC.merchant_id == merchant_id).order_by(CC.channel)
    ).all()
    return [_account(row, uow) for row in rows]


def _row(uow: UnitOfWork, merchant_id: str, channel: str) -> Any:
    return uow.conn.execute(
        select(t.channel_credentials).where(CC.merchant_id == merchant_id, CC.channel == channel)
    ).first()


def _account(row: Any, uow: UnitOfWork) -> ChannelAccount:
    config = json.loads(uow.env.box.open(row.config_enc))
    return ChannelAccount(
        channel=row.channel,
        account=row.account,
        enabled=bool(row.enabled),
        fields=tuple(sorted(config)),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
