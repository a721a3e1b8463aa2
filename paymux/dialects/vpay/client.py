"""The merchant-side vpay SDK: signs requests, calls paymux, verifies notifications.

client = VpayClient("http://127.0.0.1:8000", app_id, secret_key)
order = client.create_order("M2024001", 10000, "QR_CODE", notify_url=...)
client.verify_notification(request_body)  # raises VpayError when forged
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import msgspec

from paymux.signing import vpay as signing


class VpayError(Exception):
    def __init__(
        self, code: str, message: str, status: int = 0, body: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.body = body or {}


class VpayClient:
    SUCCESS_CODES = frozenset(
        {"PAYMENT.SUCCESS", "ORDER.CREATE_SUCCESS", "MERCHANT.CREATE_SUCCESS"}
    )

    def __init__(  # nosec B107 # an empty default, no secret
        self,
        base_url: str,
        app_id: str = "",
        secret_key: str = "",
        *,
        tz_offset_hours: int = 8,
        admin_token: str = "",
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock` gives the epoch seconds the `timestamp` is made from: a merchant whose
        host clock drifts can pass a corrected one, and sandbox tests pass the
        platform's clock after advancing it."""
        self.base = base_url.rstrip("/") + "/api/v1"
        self.app_id = app_id
        self.secret_key = secret_key
        self.admin_token = admin_token
        self.tz = timezone(timedelta(hours=tz_offset_hours))
        self.http = http or httpx.Client(timeout=timeout)
        self.clock = clock

    # -- signing ----------------------------------------------------------------------------------

    def timestamp(self) -> str:
        return (
            datetime.fromtimestamp(self.clock(), UTC).astimezone(self.tz).strftime("%Y%m%d%H%M%S")
        )

    def sign_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Add the common parameters and the signature to `params` (None values dropped)."""
        signed = {k: v for k, v in params.items() if v is not None}
        signed.setdefault("app_id", self.app_id)
        signed.setdefault("timestamp", self.timestamp())
        signed.setdefault("nonce_str", secrets.token_hex(8))
        signed["sign"] = signing.sign(signed, self.secret_key)
        return signed

    def verify_notification(self, body: bytes | dict[str, Any]) -> dict[str, Any]:
        """The notification's fields if its signature is ours; VpayError otherwise."""
        fields = msgspec.json.decode(body) if isinstance(body, bytes) else dict(body)
        signature = fields.get("sign")
        if not isinstance(signature, str) or not signing.verify(fields, self.secret_key, signature):
            raise VpayError("PAYMENT.INVALID_SIGN", "notification signature does not verify")
        return fields

    # -- transport --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        signed: bool = True,
        admin: bool = False,
    ) -> dict[str, Any]:
        """Call an endpoint; returns `data` on success and raises VpayError otherwise."""
        params = dict(params or {})
        if signed:
            params = self.sign_params(params)
        else:
            params = {k: v for k, v in params.items() if v is not None}
        headers = (
            {"Authorization": f"Bearer {self.admin_token}"} if admin and self.admin_token else {}
        )
        url = self.base + path
        if method == "GET":
            response = self.http.get(url, params=params, headers=headers)
        else:
            response = self.http.post(url, json=params, headers=headers)
        return self.unwrap(response)

    def unwrap(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise VpayError(
                "SYSTEM.ERROR", f"non-JSON reply ({response.status_code})", response.status_code
            ) from None
        code = body.get("code", "")
        if code not in self.SUCCESS_CODES:
            raise VpayError(
                code,
                body.get("detail") or body.get("localized_msg", {}).get("en_US", ""),
                response.status_code,
                body,
            )
        return body.get("data") or {}

    # -- merchants --------------------------------------------------------------------------------

    def create_merchant(self, merchant_name: str) -> dict[str, Any]:
        """Sandbox only. The reply carries `secret_key` once; the client adopts it."""
        data = self.request("POST", "/merchants", {"merchant_name": merchant_name}, signed=False)
        self.app_id, self.secret_key = data["merchant_id"], data["secret_key"]
        return data

    def merchant_info(self) -> dict[str, Any]:
        return self.request("POST", "/merchants/info")

    def update_merchant(self, merchant_name: str) -> dict[str, Any]:
        return self.request("POST", "/merchants/update", {"merchant_name": merchant_name})

    def regenerate_keys(self) -> dict[str, Any]:
        """Rotate the HMAC secret; the client switches to the new one."""
        data = self.request("POST", "/merchants/regenerate-keys")
        self.secret_key = data["secret_key"]
        return data

    def search_merchants(
        self,
        merchant_name: str | None = None,
        page: int | None = None,
        page_size: int | None = None,
    ) -> dict[str, Any]:
        return self.request(
            "GET",
            "/merchants/search",
            {
                "merchant_name": merchant_name,
                "page": page,
                "page_size": page_size,
            },
            signed=False,
            admin=True,
        )

    # -- orders -----------------------------------------------------------------------------------

    def create_order(
        self,
        merchant_order_id: str,
        amount: int,
        channel: str = "QR_CODE",
        *,
        currency: str | None = None,
        notify_url: str | None = None,
        product_desc: str | None = None,
    ) -> dict[str, Any]:
        return self.request(
            "POST",
            "/orders/create",
            {
                "merchant_order_id": merchant_order_id,
                "amount": amount,
                "channel": channel,
                "currency": currency,
                "notify_url": notify_url,
                "product_desc": product_desc,
            },
        )

    def query_order(
        self, order_id: str | None = None, merchant_order_id: str | None = None
    ) -> dict[str, Any]:
        return self.request(
            "POST", "/orders/query", {"order_id": order_id, "merchant_order_id": merchant_order_id}
        )

    def close_order(
        self, order_id: str | None = None, merchant_order_id: str | None = None
    ) -> dict[str, Any]:
        return self.request(
            "POST", "/orders/close", {"order_id": order_id, "merchant_order_id": merchant_order_id}
        )

    def pay_order(self, order_id: str, from_account: str, to_account: str) -> dict[str, Any]:
        """Sandbox only: pay an order from one virtual account into another."""
        return self.request(
            "POST",
            "/orders/pay",
            {"order_id": order_id, "from_account": from_account, "to_account": to_account},
            signed=False,
        )

    def list_orders(
        self,
        *,
        status: int | None = None,
        start_time: str | None = None,
        end_time: str | None = None,
        page: int | None = None,
        page_size: int | None = None,
    ) -> dict[str, Any]:
        return self.request(
            "GET",
            "/orders/list",
            {
                k: (str(v) if v is not None else None)
                for k, v in {
                    "status": status,
                    "start_time": start_time,
                    "end_time": end_time,
                    "page": page,
                    "page_size": page_size,
                }.items()
            },
        )

    def refund(
        self,
        merchant_refund_id: str,
        amount: int,
        *,
        order_id: str | None = None,
        merchant_order_id: str | None = None,
        reason: str | None = None,
        notify_url: str | None = None,
    ) -> dict[str, Any]:
        return self.request(
            "POST",
            "/orders/refund",
            {
                "order_id": order_id,
                "merchant_order_id": merchant_order_id,
                "merchant_refund_id": merchant_refund_id,
                "amount": amount,
                "reason": reason,
                "notify_url": notify_url,
            },
        )

    # -- accounts (unsigned in sandbox mode unless `signed=True`) ---------------------------------

    def create_account(
        self, *, signed: bool = False, currency: str | None = None
    ) -> dict[str, Any]:
        return self.request("POST", "/accounts", {"currency": currency}, signed=signed)

    def account_info(self, account_id: str, *, signed: bool = False) -> dict[str, Any]:
        return self.request("GET", f"/accounts/{account_id}", signed=signed)

    def recharge(self, account_id: str, amount: int, *, signed: bool = False) -> dict[str, Any]:
        return self.request(
            "POST",
            "/accounts/recharge",
            {"account_id": account_id, "amount": amount},
            signed=signed,
        )

    def withdraw(self, account_id: str, amount: int, *, signed: bool = False) -> dict[str, Any]:
        return self.request(
            "POST",
            "/accounts/withdraw",
            {"account_id": account_id, "amount": amount},
            signed=signed,
        )

    def transfer(
        self, from_account: str, to_account: str, amount: int, *, signed: bool = False
    ) -> dict[str, Any]:
        return self.request(
            "POST",
            "/accounts/transfer",
            {
                "from_account": from_account,
                "to_account": to_account,
                "amount": amount,
            },
            signed=signed,
        )

    def transactions(
        self,
        account_id: str,
        *,
        type: int | None = None,
        start_time: str | None = None,
        end_time: str | None = None,
        page: int | None = None,
        page_size: int | None = None,
        signed: bool = False,
    ) -> dict[str, Any]:
        return self.request(
            "GET",
            f"/accounts/{account_id}/transactions",
            {
                k: (str(v) if v is not None else None)
                for k, v in {
                    "type": type,
                    "start_time": start_time,
                    "end_time": end_time,
                    "page": page,
                    "page_size": page_size,
                }.items()
            },
            signed=signed,
        )
