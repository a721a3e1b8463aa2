"""Writing notifications into the outbox, in the transaction of the change they report.

Dialects register a `Notifier` that turns an event into the exact bytes to send;
the service stores those bytes, so every retry sends the same payload and
signature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sqlalchemy import insert

from paymux.core.models import Credential, Order, Refund, Withdrawal
from paymux.services.merchants import current_credential
from paymux.store import tables as t
from paymux.store.sql import Prepared
from paymux.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Outbound:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryReply:
    """What the merchant answered to one delivery attempt."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    merchant_id: str


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How a dialect's merchants acknowledge, and when to try again.

    `delays_s[i]` is the wait before attempt i+1 (the first is normally 0), so
    `len(delays_s)` is the number of attempts. `is_ack` may be async when it
    needs to look something up (skillpay verifies the reply's signature).
    `attempt_headers`, when set, gives the headers of each attempt from the
    stored body and headers: the body never changes, but a signature that
    expires (skillpay's TSK-RSA2 is valid for 3 minutes) must be made anew for
    a retry hours later.
    """

    delays_s: tuple[float, ...]
    is_ack: Callable[[DeliveryReply], bool | Awaitable[bool]]
    attempt_headers: Callable[[bytes, Mapping[str, str]], dict[str, str]] | None = None


class Notifier(Protocol):
    policy: DeliveryPolicy

    def order_event(
        self, event: str, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None: ...

    def refund_event(
        self, event: str, refund: Refund, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None: ...


@runtime_checkable
class WithdrawalNotifier(Protocol):
    """What a notifier adds when its dialect has withdrawals (partner); the others lack it."""

    def withdrawal_event(
        self, event: str, withdrawal: Withdrawal, cred: Credential | None, now_ms: int
    ) -> Outbound | None: ...


def enqueue(
    uow: UnitOfWork,
    *,
    merchant_id: str,
    dialect: str,
    event: str,
    ref: str,
    message: Outbound,
) -> int:
    now = uow.env.clock.now()
    notification_id = _INSERT.insert(
        uow.conn,
        {
            "merchant_id": merchant_id,
            "dialect": dialect,
            "event": event,
            "ref": ref,
            "url": message.url,
            "headers": dict(message.headers),
            "body": message.body,
            "status": "PENDING",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    uow.after_commit(uow.env.wake_dispatcher)
    return int(notification_id)


_INSERT = Prepared(insert(t.notifications))


def _write(
    uow: UnitOfWork,
    dialect: str,
    merchant_id: str,
    event: str,
    ref: str,
    make: Callable[[Credential | None, int], Outbound | None],
) -> None:
    """Let the dialect's notifier build the message (signed with the current credential)."""
    cred = current_credential(uow, merchant_id, dialect)
    message = make(cred, uow.env.clock.now_ms())
    if message is not None:
        enqueue(
            uow, merchant_id=merchant_id, dialect=dialect, event=event, ref=ref, message=message
        )


def notify_order(uow: UnitOfWork, event: str, order: Order) -> None:
    """Write the order's notification if its dialect sends one and the order has a URL
    (without one no dialect sends anything: the credential is not even read)."""
    notifier = uow.env.notifiers.get(order.dialect)
    if notifier is not None and order.notify_url:
        _write(
            uow,
            order.dialect,
            order.merchant_id,
            event,
            order.order_no,
            lambda cred, now_ms: notifier.order_event(event, order, cred, now_ms),
        )


def notify_refund(uow: UnitOfWork, event: str, refund: Refund, order: Order) -> None:
    notifier = uow.env.notifiers.get(order.dialect)
    if notifier is not None and refund.notify_url:
        _write(
            uow,
            order.dialect,
            order.merchant_id,
            event,
            refund.refund_no,
            lambda cred, now_ms: notifier.refund_event(event, refund, order, cred, now_ms),
        )


def notify_withdrawal(uow: UnitOfWork, event: str, withdrawal: Withdrawal) -> None:
    """Write the withdrawal's notification if its dialect reports withdrawals."""
    notifier = uow.env.notifiers.get(withdrawal.dialect)
    if isinstance(notifier, WithdrawalNotifier):
        _write(
            uow,
            withdrawal.dialect,
            withdrawal.merchant_id,
            event,
            withdrawal.withdrawal_no,
            lambda cred, now_ms: notifier.withdrawal_event(event, withdrawal, cred, now_ms),
        )
