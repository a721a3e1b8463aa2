"""The partner-side SDK: signs requests, calls paymux, verifies notifications and paySign.

client = PartnerClient("http://127.0.0.1:8000", api_key, app_secret)
code = client.auth_code(wallet_token)            # 3.1, as the user's app (scripts, tests)
session = client.access_token(code)              # 3.2 → {"session_key", "expires_in"}
pay = client.create_payment("P001", "12.34", openid=..., notify_url=...)
link = client.pay_link(pay, "https://h5.example.com/done")   # nexaauth://order?…
client.verify_notification(request_body)         # raises PartnerError when forged

`rule="java"` signs the way the spec's Java sample does (empty strings kept);
the default is the PHP sample's rule (empty values dropped). paymux accepts both.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec

from paymux.signing import partner as signing

# nexaauth:// link kind → the sandbox wallet page that stands in for the app.
WALLET_PAGES = {"oauth/authorize": "/wallet/oauth/authorize", "order": "/wallet/pay"}
_LINK = re.compile(r"^nexaauth://(oauth/authorize|order)\?(.*)$")


class PartnerError(Exception):
    def __init__(self, code: str, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.body = body or {}


def wallet_url(link: str, base_url: str) -> str:
    """The sandbox wallet page for a `nexaauth://` link (what a partner H5 opens instead)."""
    match = _LINK.match(link)
    if match is None:
        raise ValueError(f"not a nexaauth:// link: {link!r}")
    return f"{base_url.rstrip('/')}{WALLET_PAGES[match.group(1)]}?{match.group(2)}"


class PartnerClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        app_secret: str,
        *,
        rule: str = "php",
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        if rule not in ("php", "java"):
            raise ValueError("rule must be php or java")
        self.base = base_url.rstrip("/") + "/partner/api"
        self.api_key = api_key
        self.app_secret = app_secret
        self.keep_empty = rule == "java"
        self.http = http or httpx.Client(timeout=timeout)

    # -- signing ----------------------------------------------------------------------------------

    def sign_params(
        self, params: dict[str, Any], *, signature_field: str = "signature"
    ) -> dict[str, Any]:
        """Add apiKey, nonce, millisecond timestamp and the signature (None values dropped)."""
        signed = {k: v for k, v in params.items() if v is not None}
        signed.setdefault("apiKey", self.api_key)
        signed.setdefault("nonce", secrets.token_hex(8))
        signed.setdefault("timestamp", str(int(time.time() * 1000)))
        signed[signature_field] = signing.sign(signed, self.app_secret, keep_empty=self.keep_empty)
        return signed

    def verify_notification(self, body: bytes | dict[str, Any]) -> dict[str, Any]:
        """The notification's fields if paymux signed them with our secret; PartnerError if not."""
        fields = msgspec.json.decode(body) if isinstance(body, bytes) else dict(body)
        signature = fields.get("signature")
        if not isinstance(signature, str) or not signing.verify(fields, self.app_secret, signature):
            raise PartnerError("1002", "notification signature does not verify")
        if fields.get("apiKey") != self.api_key:
            raise PartnerError("2001", "notification is for another apiKey")
        return fields

    def verify_pay_params(self, data: dict[str, Any]) -> bool:
        """Whether 3.5's reply carries a paySign made with our secret."""
        return signing.verify_pay_sign(
            data["apiKey"],
            data["nonce"],
            data["orderNo"],
            data["timestamp"],
            self.app_secret,
            data["paySign"],
        )

    # -- transport --------------------------------------------------------------------------------

    def post(
        self,
        path: str,
        params: dict[str, Any],
        *,
        signature_field: str = "signature",
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Sign and POST `params`; returns `data` when `code` is "0", raises PartnerError if not."""
        body = self.sign_params(params, signature_field=signature_field)
        return self.unwrap(self.http.post(self.base + path, json=body, headers=headers or {}))

    def unwrap(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            raise PartnerError("9999", f"non-JSON reply (HTTP {response.status_code})") from None
        if body.get("code") != "0":
            raise PartnerError(str(body.get("code")), str(body.get("message")), body)
        return body.get("data")

    # -- 3.1–3.4 ----------------------------------------------------------------------------------

    def auth_code(self, wallet_token: str) -> str:
        """3.1 as the user's app calls it: the wallet user's token proves the login."""
        return self.post(
            "/partner/user/auth/code",
            {},
            signature_field="sign",
            headers={"Authorization": f"Bearer {wallet_token}"},
        )

    def authorize_link(self, redirect_uri: str) -> str:
        return "nexaauth://oauth/authorize?" + urlencode(
            {"apikey": self.api_key, "redirect_uri": redirect_uri}
        )

    def access_token(self, code: str) -> dict[str, Any]:
        return self.post("/openapi/access_token/auth", {"code": code})

    def refresh(self, session_key: str) -> dict[str, Any]:
        return self.post("/openapi/access_token/refresh", {"sessionKey": session_key})

    def user_info(self, session_key: str) -> dict[str, Any]:
        return self.post("/openapi/user/info", {"sessionKey": session_key})

    # -- 3.5–3.6 and refunds ----------------------------------------------------------------------

    def create_payment(
        self,
        order_no: str,
        amount: str,
        *,
        openid: str | None = None,
        currency: str | None = None,
        notify_url: str | None = None,
        return_url: str | None = None,
        callback_url: str | None = None,
        subject: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        return self.post(
            "/openapi/payment/create",
            {
                "orderNo": order_no,
                "amount": amount,
                "openid": openid,
                "currency": currency,
                "notifyUrl": notify_url,
                "returnUrl": return_url,
                "callbackUrl": callback_url,
                "subject": subject,
                "description": description,
            },
        )

    def pay_link(self, pay: dict[str, Any], redirect_url: str) -> str:
        """The `nexaauth://order?…` deep link for 3.5's reply."""
        fields = ("orderNo", "paySign", "signType", "apiKey", "nonce", "timestamp")
        query = {name: pay[name] for name in fields}
        return "nexaauth://order?" + urlencode({**query, "redirectUrl": redirect_url})

    def query_payment(self, order_no: str) -> dict[str, Any]:
        """`order_no` may be ours or paymux's."""
        return self.post("/openapi/payment/query", {"orderNo": order_no})

    def refund(
        self,
        order_no: str,
        refund_no: str,
        amount: str,
        *,
        reason: str | None = None,
        notify_url: str | None = None,
    ) -> dict[str, Any]:
        return self.post(
            "/openapi/payment/refund",
            {
                "orderNo": order_no,
                "refundNo": refund_no,
                "amount": amount,
                "reason": reason,
                "notifyUrl": notify_url,
            },
        )

    def query_refund(self, refund_no: str) -> dict[str, Any]:
        return self.post("/openapi/payment/refund/query", {"refundNo": refund_no})

    # -- 3.7–3.8 ----------------------------------------------------------------------------------

    def withdraw(
        self,
        user_id: str,
        amount: str,
        *,
        currency: str | None = None,
        notify_url: str | None = None,
        remark: str | None = None,
    ) -> dict[str, Any]:
        """Pay `amount` from our settlement balance into the wallet of openid `user_id`."""
        return self.post(
            "/openapi/account/withdraw",
            {
                "userId": user_id,
                "amount": amount,
                "currency": currency,
                "notifyUrl": notify_url,
                "remark": remark,
            },
        )

    def query_withdrawal(self, withdrawal_no: str) -> dict[str, Any]:
        return self.post("/openapi/account/withdrawal/query", {"withdrawalNo": withdrawal_no})
