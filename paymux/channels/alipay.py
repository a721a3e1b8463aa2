"""Alipay face-to-face payment (当面付): `alipay.trade.precreate` gives the `qr_code` to scan.

Implemented from Alipay's public open-platform documentation rather than
through an SDK: the SDKs are synchronous, and paymux needs async calls against
a configurable gateway URL (tests run against a local fake). Public-key mode
only: requests are signed RSA2 with the app's private key; every reply must
carry a valid RSA2 signature by the configured Alipay public key over its raw
`*_response` node, and every notice over its parameters.

Amounts cross as yuan strings with two decimals; times are Beijing time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.hazmat.primitives.asymmetric import rsa

from paymux.channels.base import (
    ChannelError,
    Notice,
    NoticeRejected,
    NoticeReply,
    PaymentRequest,
    RefundRequest,
    RefundResult,
    RefundState,
    Trade,
    TradeState,
    config_text,
    http_request,
)
from paymux.core.errors import PaymuxError
from paymux.core.money import format_decimal, parse_decimal
from paymux.signing import alipay_rsa2, rsa_sha256

DEFAULT_BASE_URL = "https://openapi.alipay.com/gateway.do"
BEIJING = timezone(timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
APP_ID_RE = re.compile(r"[0-9]{1,32}")
SUCCESS = "10000"
# Business answers that mean "try again later", not "no".
RETRYABLE = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "ACQ.TRADE_HAS_CLOSE_PROCESSING"}

TRADE_STATES = {
    "WAIT_BUYER_PAY": TradeState.NOTPAY,
    "TRADE_SUCCESS": TradeState.SUCCESS,
    "TRADE_FINISHED": TradeState.SUCCESS,
    "TRADE_CLOSED": TradeState.CLOSED,
}


@dataclass(frozen=True, slots=True)
class AlipayCredentials:
    app_id: str
    private_key: rsa.RSAPrivateKey
    alipay_public_key: rsa.RSAPublicKey
    base_url: str


def _yuan(text: object) -> int | None:
    try:
        return parse_decimal(text, "CNY") if isinstance(text, str) else None
    except PaymuxError:
        return None


def _beijing(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        return None


class AlipayChannel:
    name = "alipay"
    remote = True

    def credentials(self, config: Mapping[str, Any]) -> AlipayCredentials:
        try:
            private_key = rsa_sha256.load_private_key(config_text(config, "private_key", 8192))
        except ValueError:
            raise ValueError("private_key is not an RSA private key") from None
        try:
            public_key = rsa_sha256.load_public_key(config_text(config, "alipay_public_key", 4096))
        except ValueError:
            raise ValueError("alipay_public_key is not an RSA public key") from None
        return AlipayCredentials(
            app_id=config_text(config, "app_id", pattern=APP_ID_RE),
            private_key=private_key,
            alipay_public_key=public_key,
            base_url=config_text(config, "base_url", required=False, default=DEFAULT_BASE_URL),
        )

    def account(self, creds: AlipayCredentials) -> str:
        return creds.app_id

    # -- transport --------------------------------------------------------------------------

    async def _call(
        self, creds: AlipayCredentials, method: str, biz: dict[str, Any], notify_url: str = ""
    ) -> dict[str, Any]:
        """The verified `*_response` node; ChannelError when unreachable or unverifiable."""
        params = {
            "app_id": creds.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": alipay_rsa2.SIGN_TYPE,
            "timestamp": datetime.now(UTC).astimezone(BEIJING).strftime(TIME_FORMAT),
            "version": "1.0",
            "notify_url": notify_url,
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        params = {k: v for k, v in params.items() if v}
        params["sign"] = alipay_rsa2.sign_request(params, creds.private_key)
        response = await http_request(
            "POST",
            creds.base_url,
            content=urlencode(params).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        if response.status_code != 200:
            raise ChannelError(f"Alipay answered HTTP {response.status_code}")
        try:
            raw, node, signature = alipay_rsa2.split_response(response.text, method)
        except ValueError as exc:
            raise ChannelError(f"Alipay answered a malformed reply: {exc}") from None
        if not alipay_rsa2.verify_response(raw, signature, creds.alipay_public_key):
            raise ChannelError("Alipay response rejected: the signature does not verify")
        return node

    @staticmethod
    def _fail(method: str, node: Mapping[str, Any]) -> ChannelError:
        detail = node.get("sub_msg") or node.get("msg") or ""
        return ChannelError(f"Alipay {method} {node.get('sub_code') or node.get('code')}: {detail}")

    # -- operations -------------------------------------------------------------------------

    async def create(self, creds: AlipayCredentials, request: PaymentRequest) -> str:
        biz = {
            "out_trade_no": request.out_trade_no,
            "total_amount": format_decimal(request.amount, request.currency),
            "subject": request.subject,
            "time_expire": request.expire_at.astimezone(BEIJING).strftime(TIME_FORMAT),
        }
        if request.description:
            biz["body"] = request.description
        node = await self._call(creds, "alipay.trade.precreate", biz, request.notify_url)
        qr_code = node.get("qr_code")
        if node.get("code") != SUCCESS or not isinstance(qr_code, str) or not qr_code:
            raise self._fail("precreate", node)
        return qr_code

    async def query(self, creds: AlipayCredentials, out_trade_no: str) -> Trade:
        node = await self._call(creds, "alipay.trade.query", {"out_trade_no": out_trade_no})
        if node.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            # A precreated trade exists at Alipay only once someone scanned it.
            return Trade(out_trade_no, TradeState.NOTPAY)
        state = TRADE_STATES.get(str(node.get("trade_status", "")))
        if node.get("code") != SUCCESS or state is None:
            raise self._fail("query", node)
        return Trade(
            out_trade_no=out_trade_no,
            state=state,
            channel_trade_no=str(node.get("trade_no") or ""),
            amount=_yuan(node.get("total_amount")),
            paid_at=_beijing(node.get("send_pay_date")),
        )

    async def close(self, creds: AlipayCredentials, out_trade_no: str) -> None:
        node = await self._call(creds, "alipay.trade.close", {"out_trade_no": out_trade_no})
        if node.get("code") != SUCCESS and node.get("sub_code") != "ACQ.TRADE_NOT_EXIST":
            raise self._fail("close", node)

    async def refund(self, creds: AlipayCredentials, request: RefundRequest) -> RefundResult:
        node = await self._call(
            creds,
            "alipay.trade.refund",
            {
                "out_trade_no": request.out_trade_no,
                "out_request_no": request.out_refund_no,
                "refund_amount": format_decimal(request.amount, request.currency),
                "refund_reason": request.reason,
            },
        )
        if node.get("code") == SUCCESS:
            # Alipay refunds synchronously: a success reply means the money went back.
            return RefundResult(
                request.out_refund_no, RefundState.SUCCEEDED, str(node.get("trade_no") or "")
            )
        if node.get("sub_code") in RETRYABLE or node.get("code") == "20000":
            raise self._fail("refund", node)
        return RefundResult(
            request.out_refund_no,
            RefundState.FAILED,
            message=str(node.get("sub_msg") or node.get("msg") or ""),
        )

    async def query_refund(
        self, creds: AlipayCredentials, out_trade_no: str, out_refund_no: str
    ) -> RefundResult:
        node = await self._call(
            creds,
            "alipay.trade.fastpay.refund.query",
            {"out_trade_no": out_trade_no, "out_request_no": out_refund_no},
        )
        if node.get("code") != SUCCESS:
            raise self._fail("refund query", node)
        # Per the docs: a success reply without refund_amount means there is no such refund.
        done = node.get("refund_status", "REFUND_SUCCESS") == "REFUND_SUCCESS"
        if node.get("refund_amount") and done:
            return RefundResult(out_refund_no, RefundState.SUCCEEDED, str(node.get("trade_no", "")))
        return RefundResult(out_refund_no, RefundState.FAILED, message="no such refund")

    # -- notices ----------------------------------------------------------------------------

    def parse_notice(
        self, creds: AlipayCredentials, headers: Mapping[str, str], body: bytes
    ) -> Notice:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise NoticeRejected("malformed notice body") from None
        params = dict(pairs)
        if len(params) != len(pairs):
            raise NoticeRejected("a notice parameter is given twice")
        if not alipay_rsa2.verify_notice(params, creds.alipay_public_key):
            raise NoticeRejected("the notice signature does not verify")
        if params.get("app_id") != creds.app_id:
            raise NoticeRejected("the notice is for another app_id")
        state = TRADE_STATES.get(params.get("trade_status", ""))
        out_trade_no = params.get("out_trade_no", "")
        if state is None or not out_trade_no:
            raise NoticeRejected("the notice names no trade or an unknown trade_status")
        return Notice(
            trade=Trade(
                out_trade_no=out_trade_no,
                state=state,
                channel_trade_no=params.get("trade_no", ""),
                amount=_yuan(params.get("total_amount")),
                paid_at=_beijing(params.get("gmt_payment")),
            )
        )

    def notice_reply(self, accepted: bool, message: str = "") -> NoticeReply:
        # Alipay reads the body only: anything but `success` makes it resend.
        if accepted:
            return NoticeReply(200, b"success", "text/plain")
        return NoticeReply(400, b"fail", "text/plain")
