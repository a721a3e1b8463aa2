"""WeChat Pay API v3, Native payments (scan a `weixin://wxpay/bizpayurl?…` QR code).

Implemented from WeChat Pay's public v3 documentation rather than through an
SDK: the Python SDKs are synchronous and fetch platform certificates from a
fixed host at start-up, while paymux needs async calls, a configurable base
URL (tests run against a local fake) and no network at start-up.

Every request is signed `WECHATPAY2-SHA256-RSA2048` with the merchant's API
key; every 2xx response and every notice must carry a valid `Wechatpay-Signature`
by a platform key the merchant configured (platform certificate or WeChat Pay
public key, chosen by `Wechatpay-Serial`) within 5 minutes of our clock; notice
resources are AES-256-GCM decrypted with the APIv3 key.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from paymux.channels.base import (
    ChannelError,
    ChannelRefused,
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
from paymux.signing import rsa_sha256, wechatpay_v3

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
# 4xx codes that say "not now" rather than "no": every other 4xx code is a refusal.
RETRYABLE_CODES = frozenset({"FREQUENCY_LIMITED", "SYSTEM_ERROR"})
BEIJING = timezone(timedelta(hours=8))
MCHID_RE = re.compile(r"[0-9]{1,32}")

TRADE_STATES = {
    "SUCCESS": TradeState.SUCCESS,
    "REFUND": TradeState.SUCCESS,  # paid, then (partly) refunded
    "NOTPAY": TradeState.NOTPAY,
    "USERPAYING": TradeState.NOTPAY,
    "CLOSED": TradeState.CLOSED,
    "REVOKED": TradeState.CLOSED,
    "PAYERROR": TradeState.FAILED,
}
REFUND_STATES = {
    "SUCCESS": RefundState.SUCCEEDED,
    "PROCESSING": RefundState.PROCESSING,
    "CLOSED": RefundState.FAILED,
    "ABNORMAL": RefundState.FAILED,
}


@dataclass(frozen=True, slots=True)
class WechatPayCredentials:
    mchid: str
    appid: str
    serial_no: str
    private_key: rsa.RSAPrivateKey
    apiv3_key: str
    platform_keys: dict[str, rsa.RSAPublicKey]
    base_url: str


def _load_platform_keys(value: object) -> dict[str, rsa.RSAPublicKey]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            "platform_keys must map each platform certificate serial or WeChat Pay "
            "public key id to its PEM"
        )
    keys: dict[str, rsa.RSAPublicKey] = {}
    for serial, pem in value.items():
        if not isinstance(serial, str) or not serial or not isinstance(pem, str):
            raise ValueError("platform_keys must map serials to PEM strings")
        try:
            keys[serial] = rsa_sha256.load_public_key(pem)
        except ValueError:
            raise ValueError(
                f"platform_keys[{serial}] is not a certificate or public key"
            ) from None
    return keys


def _ts(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


class WechatPayChannel:
    name = "wechatpay"
    remote = True

    def credentials(self, config: Mapping[str, Any]) -> WechatPayCredentials:
        apiv3_key = config_text(config, "apiv3_key", max_len=32)
        if len(apiv3_key.encode()) != 32:
            raise ValueError("apiv3_key must be the 32-character APIv3 key")
        try:
            private_key = rsa_sha256.load_private_key(config_text(config, "private_key", 8192))
        except ValueError:
            raise ValueError("private_key is not an RSA private key") from None
        return WechatPayCredentials(
            mchid=config_text(config, "mchid", pattern=MCHID_RE),
            appid=config_text(config, "appid"),
            serial_no=config_text(config, "serial_no"),
            private_key=private_key,
            apiv3_key=apiv3_key,
            platform_keys=_load_platform_keys(config.get("platform_keys")),
            base_url=config_text(config, "base_url", required=False, default=DEFAULT_BASE_URL),
        )

    def account(self, creds: WechatPayCredentials) -> str:
        return creds.mchid

    # -- transport --------------------------------------------------------------------------

    def _verified(
        self, creds: WechatPayCredentials, headers: Mapping[str, str], body: bytes
    ) -> str:
        """Why the platform signature over `body` fails, or "" when it holds."""
        serial = headers.get("wechatpay-serial", "")
        signature = headers.get("wechatpay-signature", "")
        timestamp = headers.get("wechatpay-timestamp", "")
        nonce = headers.get("wechatpay-nonce", "")
        if not (serial and signature and timestamp.isdigit() and nonce):
            return "missing Wechatpay-* signature headers"
        key = creds.platform_keys.get(serial)
        if key is None:
            return f"unknown platform key {serial}"
        if abs(time.time() - int(timestamp)) > wechatpay_v3.WINDOW_S:
            return "stale Wechatpay-Timestamp"
        if not wechatpay_v3.verify_response(timestamp, nonce, body, signature, key):
            return "Wechatpay-Signature does not verify"
        return ""

    async def _call(
        self, creds: WechatPayCredentials, method: str, path: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        content = b""
        headers = {"Accept": "application/json", "User-Agent": "paymux"}
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        headers["Authorization"] = wechatpay_v3.authorization(
            mchid=creds.mchid,
            serial_no=creds.serial_no,
            method=method,
            path=path,
            timestamp=str(int(time.time())),
            nonce=secrets.token_hex(16),
            body=content,
            key=creds.private_key,
        )
        response = await http_request(
            method, creds.base_url.rstrip("/") + path, content=content, headers=headers
        )
        return self._decode(creds, response)

    def _decode(self, creds: WechatPayCredentials, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = None
        if not 200 <= response.status_code < 300:
            if isinstance(data, dict) and "code" in data:
                code = data.get("code")
                if code in ("ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"):
                    return {"code": code}
                message = f"WeChat Pay {code}: {data.get('message', '')}"
                if 400 <= response.status_code < 500 and code not in RETRYABLE_CODES:
                    raise ChannelRefused(message)
                raise ChannelError(message)
            raise ChannelError(f"WeChat Pay answered HTTP {response.status_code}")
        problem = self._verified(creds, response.headers, response.content)
        if problem:
            raise ChannelError(f"WeChat Pay response rejected: {problem}")
        if not isinstance(data, dict):
            raise ChannelError("WeChat Pay answered something other than a JSON object")
        return data

    # -- operations -------------------------------------------------------------------------

    async def create(self, creds: WechatPayCredentials, request: PaymentRequest) -> str:
        data = await self._call(
            creds,
            "POST",
            "/v3/pay/transactions/native",
            {
                "appid": creds.appid,
                "mchid": creds.mchid,
                "description": request.subject,
                "out_trade_no": request.out_trade_no,
                "time_expire": request.expire_at.astimezone(BEIJING).isoformat(timespec="seconds"),
                "notify_url": request.notify_url,
                "amount": {"total": request.amount, "currency": request.currency},
            },
        )
        code_url = data.get("code_url")
        if not isinstance(code_url, str) or not code_url:
            raise ChannelError("WeChat Pay answered without code_url")
        return code_url

    async def query(self, creds: WechatPayCredentials, out_trade_no: str) -> Trade:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no)}?mchid={creds.mchid}"
        data = await self._call(creds, "GET", path, None)
        if data.get("code") == "ORDER_NOT_EXIST":
            return Trade(out_trade_no, TradeState.NOTPAY)
        return _trade(data, out_trade_no)

    async def close(self, creds: WechatPayCredentials, out_trade_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no)}/close"
        await self._call(creds, "POST", path, {"mchid": creds.mchid})

    async def refund(self, creds: WechatPayCredentials, request: RefundRequest) -> RefundResult:
        data = await self._call(
            creds,
            "POST",
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": request.out_trade_no,
                "out_refund_no": request.out_refund_no,
                "reason": request.reason,
                "notify_url": request.notify_url,
                "amount": {
                    "refund": request.amount,
                    "total": request.total,
                    "currency": request.currency,
                },
            },
        )
        return _refund(data, request.out_refund_no)

    async def query_refund(
        self, creds: WechatPayCredentials, out_trade_no: str, out_refund_no: str
    ) -> RefundResult:
        path = f"/v3/refund/domestic/refunds/{quote(out_refund_no)}"
        data = await self._call(creds, "GET", path, None)
        if data.get("code") == "RESOURCE_NOT_EXISTS":
            return RefundResult(out_refund_no, RefundState.FAILED, message="no such refund")
        return _refund(data, out_refund_no)

    # -- notices ----------------------------------------------------------------------------

    def parse_notice(
        self, creds: WechatPayCredentials, headers: Mapping[str, str], body: bytes
    ) -> Notice:
        problem = self._verified(creds, headers, body)
        if problem:
            raise NoticeRejected(problem)
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            plain = wechatpay_v3.decrypt_resource(
                creds.apiv3_key,
                resource["nonce"],
                resource.get("associated_data", ""),
                resource["ciphertext"],
            )
            data = json.loads(plain)
            event = str(envelope.get("event_type", ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise NoticeRejected(f"malformed notice: {exc}") from None
        if not isinstance(data, dict) or data.get("mchid", creds.mchid) != creds.mchid:
            raise NoticeRejected("the notice is for another merchant account")
        try:
            if event.startswith("TRANSACTION."):
                return Notice(trade=_trade(data, ""))
            if event.startswith("REFUND."):
                return Notice(refund=_refund(data, ""))
        except (ChannelError, ValueError) as exc:
            raise NoticeRejected(f"malformed notice: {exc}") from None
        return Notice()

    def notice_reply(self, accepted: bool, message: str = "") -> NoticeReply:
        if accepted:
            return NoticeReply(204, b"", "application/json")
        body = json.dumps({"code": "FAIL", "message": message or "失败"}, ensure_ascii=False)
        return NoticeReply(400, body.encode(), "application/json")


def _trade(data: Mapping[str, Any], out_trade_no: str) -> Trade:
    state = TRADE_STATES.get(str(data.get("trade_state", "")))
    amount = data.get("amount", {}).get("total") if isinstance(data.get("amount"), dict) else None
    if state is None or not isinstance(data.get("out_trade_no", out_trade_no), str):
        raise ChannelError(f"WeChat Pay reported an unknown trade state {data.get('trade_state')}")
    return Trade(
        out_trade_no=str(data.get("out_trade_no") or out_trade_no),
        state=state,
        channel_trade_no=str(data.get("transaction_id") or ""),
        amount=amount if isinstance(amount, int) else None,
        paid_at=_ts(data.get("success_time")),
    )


def _refund(data: Mapping[str, Any], out_refund_no: str) -> RefundResult:
    raw = str(data.get("status") or data.get("refund_status") or "")
    state = REFUND_STATES.get(raw)
    if state is None:
        raise ChannelError(f"WeChat Pay reported an unknown refund status {raw!r}")
    return RefundResult(
        out_refund_no=str(data.get("out_refund_no") or out_refund_no),
        state=state,
        channel_refund_no=str(data.get("refund_id") or ""),
        message=raw,
    )
