"""Typed views of the core records, handed from services to dialects.

They are plain frozen dataclasses so dialect `wire.py` modules can map them
without knowing anything about the store.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self


class _FromRow:
    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls.from_mapping(row._mapping)

    @classmethod
    def from_mapping(cls, mapping: Any) -> Self:
        return cls(**{name: mapping[name] for name in _field_names(cls)})  # type: ignore[arg-type]


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """Asked once per class: `dataclasses.fields()` on every row read was a tenth of the
    writer thread's time in a create-order (docs/performance.md)."""
    return tuple(f.name for f in fields(cls))


@dataclass(frozen=True, slots=True)
class Merchant(_FromRow):
    id: str
    name: str
    status: str
    fee_rate_bp: int
    ip_allowlist: str
    rate_limit_per_s: int
    timestamp_window_s: int
    notify_url: str
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Order(_FromRow):
    id: int
    order_no: str
    merchant_id: str
    merchant_order_no: str
    dialect: str
    channel: str
    amount: int
    currency: str
    subject: str
    description: str
    status: str
    refunded_amount: int
    notify_url: str
    return_url: str
    attach: str
    payer: str
    payer_account_id: str | None
    payee_account_id: str | None
    extra: dict[str, Any]
    created_at: datetime
    expire_at: datetime | None
    paid_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Refund(_FromRow):
    id: int
    refund_no: str
    merchant_id: str
    order_id: int
    order_no: str
    merchant_refund_no: str
    amount: int
    currency: str
    status: str
    reason: str
    notify_url: str
    extra: dict[str, Any]
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Account(_FromRow):
    id: str
    owner_type: str
    owner_id: str
    kind: str
    currency: str
    balance: int
    frozen: int
    created_at: datetime

    @property
    def available(self) -> int:
        return self.balance - self.frozen


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One posting of a journal entry as seen from one account (a transaction-history line)."""

    entry_id: int
    entry_type: str
    order_no: str | None
    amount: int
    currency: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credential:
    """A dialect key id with its plaintext secret, as a notifier needs it to sign."""

    key_id: str
    secret: str


@dataclass(frozen=True, slots=True)
class Withdrawal(_FromRow):
    """A payout from a merchant's settlement account to a user's wallet, frozen until it ends."""

    id: int
    withdrawal_no: str
    merchant_id: str
    dialect: str
    from_account_id: str
    to_account_id: str
    hold_id: int
    amount: int
    currency: str
    status: str
    user_ref: str
    remark: str
    reason: str
    notify_url: str
    extra: dict[str, Any]
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class PaymentAttempt(_FromRow):
    """One channel attempt of an order (a QR code shown); `id` is a snowflake."""

    id: int
    order_id: int
    order_no: str
    merchant_id: str
    channel: str
    pay_method: str
    client_type: str
    status: str
    code_url: str
    channel_trade_no: str
    error: str
    checks: int
    next_check_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelMismatch(_FromRow):
    """Money a channel moved against the order's state, kept for an operator."""

    id: int
    merchant_id: str
    channel: str
    kind: str
    order_no: str
    order_status: str
    channel_trade_no: str
    amount: int
    currency: str
    detail: str
    refund_no: str
    refund_status: str
    channel_refund_no: str
    refund_error: str
    refund_attempts: int
    next_refund_at: datetime | None
    resolved_at: datetime | None
    resolution: str
    created_at: datetime
    updated_at: datetime
