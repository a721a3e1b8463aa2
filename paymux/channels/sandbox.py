"""The sandbox channel: the default, and the only one that needs no credentials.

Its "QR code" is the hosted cashier page of the order, where a sandbox payer
pays or fails it; the cashier applies that to the order directly. So the
sandbox keeps no trades of its own: a query learns nothing new, closing is
the order's own business, refunds succeed at once, and it sends no notices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paymux.channels.base import (
    Notice,
    NoticeRejected,
    NoticeReply,
    PaymentRequest,
    RefundRequest,
    RefundResult,
    RefundState,
    Trade,
    TradeState,
)


class SandboxChannel:
    name = "sandbox"
    remote = False

    def __init__(self, public_base_url: str) -> None:
        self._base = public_base_url.rstrip("/")

    def credentials(self, config: Mapping[str, Any]) -> None:
        if config:
            raise ValueError("the sandbox channel takes no credentials")

    def account(self, creds: None) -> str:
        return "sandbox"

    async def create(self, creds: None, request: PaymentRequest) -> str:
        return f"{self._base}/cashier/{request.out_trade_no}"

    async def query(self, creds: None, out_trade_no: str) -> Trade:
        return Trade(out_trade_no, TradeState.NOTPAY)

    async def close(self, creds: None, out_trade_no: str) -> None:
        return None

    async def refund(self, creds: None, request: RefundRequest) -> RefundResult:
        return RefundResult(request.out_refund_no, RefundState.SUCCEEDED)

    async def query_refund(
        self, creds: None, out_trade_no: str, out_refund_no: str
    ) -> RefundResult:
        return RefundResult(out_refund_no, RefundState.SUCCEEDED)

    def parse_notice(self, creds: None, headers: Mapping[str, str], body: bytes) -> Notice:
        raise NoticeRejected("the sandbox channel sends no notices; pay on the hosted cashier")

    def notice_reply(self, accepted: bool, message: str = "") -> NoticeReply:
        return NoticeReply(200 if accepted else 400, message.encode(), "text/plain")
