"""The interface every payment channel connector implements, and the values it trades in.

A connector is the only code that speaks a channel's protocol. It knows
nothing of paymux's tables: services hand it parsed credentials and plain
requests, and get back plain results. It raises `ChannelError` when the
channel could not be asked or refused, and `NoticeRejected` for an
asynchronous notice that does not verify.

Amounts are integer minor units; times are aware datetimes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

# A channel call waits at most this long; the caller then sees a ChannelError
# and the reconcile job finds out later what happened.
TIMEOUT_S = 10.0


class TradeState(StrEnum):
    """A channel trade as paymux needs to know it."""

    NOTPAY = "NOTPAY"  # created, not (yet) paid, still payable
    SUCCESS = "SUCCESS"  # paid (possibly refunded since)
    CLOSED = "CLOSED"  # closed unpaid: can no longer be paid
    FAILED = "FAILED"  # the payment failed at the channel


class RefundState(StrEnum):
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    out_trade_no: str
    amount: int
    currency: str
    subject: str
    description: str
    expire_at: datetime
    notify_url: str


@dataclass(frozen=True, slots=True)
class Trade:
    out_trade_no: str
    state: TradeState
    channel_trade_no: str = ""
    amount: int | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    amount: int
    total: int
    currency: str
    reason: str
    notify_url: str


@dataclass(frozen=True, slots=True)
class RefundResult:
    out_refund_no: str
    state: RefundState
    channel_refund_no: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """A verified asynchronous notice: news of a trade, or of a refund."""

    trade: Trade | None = None
    refund: RefundResult | None = None


@dataclass(frozen=True, slots=True)
class NoticeReply:
    """The channel's own acknowledgement format (a failure makes the channel resend)."""

    status: int
    body: bytes
    media_type: str


def config_text(
    config: Mapping[str, Any],
    name: str,
    max_len: int = 128,
    *,
    pattern: re.Pattern[str] | None = None,
    required: bool = True,
    default: str = "",
) -> str:
    """One string field of a channel configuration; ValueError naming it when wrong."""
    value = config.get(name)
    if value is None or value == "":
        if required:
            raise ValueError(f"{name} is required")
        return default
    if not isinstance(value, str) or len(value) > max_len:
        raise ValueError(f"{name} must be a string of at most {max_len} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise ValueError(f"{name} has an invalid format")
    return value


class ChannelError(Exception):
    """The channel could not be reached, refused the call, or answered something unverifiable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ChannelRefused(ChannelError):
    """The channel understood the call and said no for good (WeChat Pay's 4xx business codes,
    such as NOT_ENOUGH or USER_ACCOUNT_ABNORMAL on a refund): asking again will not help,
    unlike a timeout, an outage or a rate limit."""


class NoticeRejected(Exception):
    """An asynchronous notice that is forged, stale, undecryptable or malformed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Channel(Protocol):
    """One payment channel. `Creds` is whatever `credentials()` parses a config into."""

    name: str
    # False for the sandbox, whose payments land on the order directly: there is
    # no outside state for the reconcile job to query.
    remote: bool

    def credentials(self, config: Mapping[str, Any]) -> Any:
        """Validate a merchant's stored configuration; ValueError naming the bad field."""
        ...

    def account(self, creds: Any) -> str:
        """The merchant's account at the channel (mchid, app_id), safe to display."""
        ...

    async def create(self, creds: Any, request: PaymentRequest) -> str:
        """Open a QR payment; returns the code URL to encode."""
        ...

    async def query(self, creds: Any, out_trade_no: str) -> Trade: ...

    async def close(self, creds: Any, out_trade_no: str) -> None: ...

    async def refund(self, creds: Any, request: RefundRequest) -> RefundResult: ...

    async def query_refund(
        self, creds: Any, out_trade_no: str, out_refund_no: str
    ) -> RefundResult: ...

    def parse_notice(self, creds: Any, headers: Mapping[str, str], body: bytes) -> Notice:
        """Verify and decode an asynchronous notice; NoticeRejected when it does not verify."""
        ...

    def notice_reply(self, accepted: bool, message: str = "") -> NoticeReply: ...


async def http_request(
    method: str, url: str, *, content: bytes = b"", headers: Mapping[str, str]
) -> httpx.Response:
    """One HTTPS exchange with a channel; any transport failure is a ChannelError."""
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
            return await client.request(method, url, content=content, headers=dict(headers))
    except httpx.HTTPError as exc:
        host = urlsplit(url).netloc
        raise ChannelError(f"cannot reach {host}: {type(exc).__name__}") from None
