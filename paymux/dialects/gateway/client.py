"""The merchant-side gateway SDK: signs and posts orders, queries them, verifies callbacks.

client = GatewayClient("http://127.0.0.1:8000", appid, secret)
order = client.unified_order("SHOP-1", 10000, "901", "onlinepay",
                             notify_url=..., return_url=...)
browser → order["redirect_url"]
fields = client.verify_callback(request_body)   # raises GatewayError when forged
reply with GatewayClient.ACK
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx

from paymux.signing import gateway as signing


class GatewayError(Exception):
    """A reply with `status` "0" (or no JSON at all), or a callback that does not verify."""

    def __init__(self, message: str, http_status: int = 0, body: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.body = body or {}


@dataclass(frozen=True, slots=True)
class Reply:
    http_status: int
    body: dict[str, Any]
    raw: bytes

    @property
    def ok(self) -> bool:
        return self.body.get("status") == "1"


class GatewayClient:
    ACK = "SUCCESS"

    def __init__(
        self,
        base_url: str,
        appid: str,
        secret: str,
        *,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base = base_url.rstrip("/") + "/api/order"
        self.appid = appid
        self.secret = secret
        self.http = http or httpx.Client(timeout=timeout)

    # -- signing ----------------------------------------------------------------------------------

    def sign_params(self, params: Mapping[str, Any]) -> dict[str, str]:
        """`params` (None dropped) with `appid` and the request-rule `sign` added."""
        signed = {k: str(v) for k, v in params.items() if v is not None}
        signed.setdefault("appid", self.appid)
        signed["sign"] = signing.sign_request(signed, self.secret)
        return signed

    def _verified(self, fields: Mapping[str, str], what: str) -> dict[str, str]:
        signature = fields.get("sign", "")
        if not signature or not signing.verify_callback(fields, self.secret, signature):
            raise GatewayError(f"{what} signature does not verify")
        return dict(fields)

    def verify_callback(self, body: bytes | Mapping[str, str]) -> dict[str, str]:
        """The async notification's fields (form body or parsed) if paymux signed them."""
        fields = _form(body)
        if fields.get("appid") != self.appid:
            raise GatewayError("callback is for another appid")
        return self._verified(fields, "callback")

    def verify_return(self, body: bytes | Mapping[str, str]) -> dict[str, str]:
        """The sync return's `order_no`, `pay_status`, `sign` if paymux signed them."""
        return self._verified(_form(body), "sync return")

    # -- transport --------------------------------------------------------------------------------

    def call(
        self, method: str, path: str, params: Mapping[str, Any], *, as_json: bool = False
    ) -> Reply:
        """Send already-signed `params` and return the reply whatever its `status`."""
        url = self.base + path
        if method == "GET":
            response = self.http.get(url, params=dict(params))
        elif as_json:
            response = self.http.post(url, json=dict(params))
        else:
            response = self.http.post(url, data=dict(params))
        try:
            body = response.json()
        except ValueError:
            raise GatewayError(
                f"non-JSON reply ({response.status_code})", response.status_code
            ) from None
        if not isinstance(body, dict):
            raise GatewayError("reply is not a JSON object", response.status_code)
        return Reply(response.status_code, body, response.content)

    def _data(self, reply: Reply) -> dict[str, Any]:
        if not reply.ok:
            raise GatewayError(str(reply.body.get("message", "")), reply.http_status, reply.body)
        return reply.body.get("data") or {}

    # -- endpoints --------------------------------------------------------------------------------

    def unified_order(
        self,
        order_no: str,
        amount: int,
        bank_code: str,
        product_name: str,
        *,
        notify_url: str,
        return_url: str,
        attach: str | None = None,
        openid: str | None = None,
        as_json: bool = False,
    ) -> dict[str, Any]:
        """5.1: `data` with `platform_order_no`, `pay_status`, `redirect_url`, `content`."""
        params = self.sign_params(
            {
                "order_no": order_no,
                "amount": amount,
                "bank_code": bank_code,
                "product_name": product_name,
                "notify_url": notify_url,
                "return_url": return_url,
                "attach": attach,
                "openid": openid,
            }
        )
        return self._data(self.call("POST", "/unified", params, as_json=as_json))

    def check_order(self, order_no: str) -> dict[str, Any]:
        """5.4: the order by the merchant's `order_no`."""
        params = self.sign_params({"order_no": order_no})
        return self._data(self.call("GET", "/check_order", params))


def _form(body: bytes | Mapping[str, str]) -> dict[str, str]:
    if isinstance(body, bytes):
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return dict(body)
