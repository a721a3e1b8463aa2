"""The merchant-side paymodule SDK: calls paymux, verifies business callbacks.

client = PaymoduleClient("http://127.0.0.1:8000", api_key, callback_sign_secret)
pay = client.wechat_native("ORDER20251123001", 10000, "商品订单支付", callback_url=...)
client.get_order(pay["orderId"])["status"]
fields = client.verify_callback(body, headers)  # raises PaymoduleError when forged
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from paymux.signing import paymodule as signing


class PaymoduleError(Exception):
    """A non-200 `code` from paymux, or a callback that does not verify."""

    def __init__(self, code: int, msg: str, status: int = 0, body: Any = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.body = body


class PaymoduleClient:
    def __init__(  # nosec B107 # an empty default, no secret
        self,
        base_url: str,
        api_key: str | None = None,
        callback_sign_secret: str = "",
        *,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.api_key = api_key
        self.callback_sign_secret = callback_sign_secret
        self.http = http or httpx.Client(timeout=timeout)

    # -- transport --------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call an endpoint; returns `data` when `code` is 200, raises PaymoduleError otherwise."""
        headers = {"X-Api-Key": self.api_key} if self.api_key else {}
        if body is None:
            response = self.http.request(method, self.base + path, headers=headers)
        else:
            response = self.http.request(
                method,
                self.base + path,
                json={k: v for k, v in body.items() if v is not None},
                headers=headers,
            )
        return self.unwrap(response)

    def unwrap(self, response: httpx.Response) -> Any:
        try:
            envelope = response.json()
        except ValueError:
            raise PaymoduleError(
                response.status_code, f"non-JSON reply: {response.text[:200]}", response.status_code
            ) from None
        if not isinstance(envelope, dict) or envelope.get("code") != 200:
            code = envelope.get("code", response.status_code) if isinstance(envelope, dict) else 0
            msg = envelope.get("msg", "") if isinstance(envelope, dict) else ""
            raise PaymoduleError(code, msg, response.status_code, envelope)
        return envelope.get("data")

    # -- payments ---------------------------------------------------------------------------

    def wechat_native(
        self,
        biz_order_id: str,
        amount: int,
        subject: str,
        *,
        callback_url: str,
        description: str | None = None,
    ) -> dict[str, Any]:
        """A WeChat Native QR payment: orderId, transactionId, status, qrBase64, expireAt."""
        return self._create(
            "/api/pay/wechat/native", biz_order_id, amount, subject, callback_url, description
        )

    def alipay_precreate(
        self,
        biz_order_id: str,
        amount: int,
        subject: str,
        *,
        callback_url: str,
        description: str | None = None,
    ) -> dict[str, Any]:
        """An Alipay face-to-face QR payment; the same reply as `wechat_native`."""
        return self._create(
            "/api/pay/alipay/precreate", biz_order_id, amount, subject, callback_url, description
        )

    def _create(
        self,
        path: str,
        biz_order_id: str,
        amount: int,
        subject: str,
        callback_url: str,
        description: str | None,
    ) -> dict[str, Any]:
        return self.request(
            "POST",
            path,
            {
                "bizOrderId": biz_order_id,
                "amount": amount,
                "subject": subject,
                "description": description,
                "callbackUrl": callback_url,
            },
        )

    def get_order(self, order_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/pay/orders/{order_id}")

    def latest_transaction(self, order_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/pay/orders/{order_id}/transactions/latest")

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/api/health")

    # -- callbacks --------------------------------------------------------------------------

    def verify_callback(
        self, body: bytes, headers: Mapping[str, str], *, max_age_s: float | None = None
    ) -> dict[str, Any]:
        """The callback's fields if `X-Signature` is paymux's over these exact bytes.

        Retries resend the original headers, so `X-Timestamp` is the time of the
        payment's first attempt: a `max_age_s` must allow for the whole retry
        schedule (a day) if it is used at all. Deduplicate on `tradeId`.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        signature = lowered.get("x-signature", "")
        nonce = lowered.get("x-nonce", "")
        timestamp = lowered.get("x-timestamp", "")
        if not (signature and nonce and timestamp.isdigit()):
            raise PaymoduleError(401, "missing X-Signature, X-Nonce or X-Timestamp")
        if not signing.verify(body, nonce, timestamp, self.callback_sign_secret, signature):
            raise PaymoduleError(401, "X-Signature does not verify")
        if max_age_s is not None and time.time() - int(timestamp) / 1000 > max_age_s:
            raise PaymoduleError(401, "X-Timestamp is too old")
        fields = msgspec.json.decode(body)
        if not isinstance(fields, dict):
            raise PaymoduleError(400, "the callback body is not a JSON object")
        return fields
