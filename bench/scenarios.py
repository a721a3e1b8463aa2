"""What is measured: one class per scenario, each building the requests a merchant would send.

A scenario is prepared once per server (merchant, skill, accounts) and builds
fresh requests before every run (`requests(n)`): signed with the dialect's SDK
and distinct, so each one is real work. Data a request consumes — an order to
pay, a paid order to refund — is written before the run through the services
(`Paymux.context`), outside the timed window.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.load import Request
from bench.servers import Paymux
from paymux.dialects.gateway.client import GatewayClient
from paymux.dialects.partner.client import PartnerClient
from paymux.dialects.skillpay.client import SkillpayClient, encode
from paymux.dialects.vpay.client import VpayClient
from paymux.services import ledger, orders
from paymux.signing import tsk_rsa2
from paymux.store.uow import UnitOfWork

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CHUNK = 2000  # setup rows per transaction


def create_orders(
    uow: UnitOfWork,
    merchant_id: str,
    dialect: str,
    prefix: str,
    count: int,
    pay: bool,
    extra: dict[str, Any],
) -> list[str]:
    """`count` orders of one merchant (paid through the sandbox channel when `pay`)."""
    numbers = []
    for i in range(count):
        cmd = orders.CreateOrder(
            merchant_id=merchant_id,
            merchant_order_no=f"{prefix}{i}",
            dialect=dialect,
            channel="sandbox",
            amount=100 + i % 900,
            extra=extra,
        )
        order, _ = orders.create_order(uow, cmd)
        if pay:
            orders.pay_order(uow, order.order_no)
        numbers.append(order.order_no)
    return numbers


def open_funded_accounts(uow: UnitOfWork, merchant_id: str, count: int) -> list[str]:
    accounts = []
    for _ in range(count):
        account = ledger.open_account(uow, "merchant", merchant_id)
        ledger.recharge(uow, account.id, 10**12)
        accounts.append(account.id)
    return accounts


class Scenario:
    """One row of the table. Subclasses say what a request is and what success looks like."""

    key: ClassVar[str]
    title: ClassVar[str]
    # Where it runs (bench/servers.py CONFIGS); one PostgreSQL worker only for the main
    # scenarios, to keep a full run near a quarter of an hour.
    configs: ClassVar[tuple[str, ...]] = ("sqlite", "pg2")
    # Requests built per run: at most this rate times the run's length (plus a margin).
    max_rate: ClassVar[int] = 9000
    # Whether the ledger is checked after the runs (money moved).
    moves_money: ClassVar[bool] = False
    # How long after signing the server still accepts a request (None: no limit that the
    # time to build a run's requests could reach).
    valid_s: ClassVar[float | None] = None

    def __init__(self, server: Paymux) -> None:
        self.server = server
        self.run = secrets.token_hex(3)

    def prepare(self) -> None:
        """Once per server, before the first run."""

    def requests(self, count: int) -> Iterator[Request]:
        raise NotImplementedError

    def succeeded(self, response: httpx.Response) -> bool:
        """Whether one reply is a success (checked on a few requests before each run)."""
        return response.status_code == 200

    def orders(
        self,
        merchant_id: str,
        dialect: str,
        count: int,
        *,
        pay: bool,
        extra: dict[str, Any] | None = None,
    ) -> list[str]:
        prefix = f"{self.key[:2]}{secrets.token_hex(3)}-"
        numbers: list[str] = []
        with self.server.context() as ctx:
            while len(numbers) < count:
                chunk = min(CHUNK, count - len(numbers))
                numbers += ctx.store.write_sync(
                    create_orders,
                    merchant_id,
                    dialect,
                    f"{prefix}{len(numbers)}-",
                    chunk,
                    pay,
                    extra or {},
                )
        return numbers


class Vpay(Scenario):
    """Shared by the vpay scenarios: a merchant and its SDK client."""

    def prepare(self) -> None:
        merchant = self.server.new_merchant(self.key)
        self.merchant_id = merchant["merchant_id"]
        creds = merchant["vpay"]
        self.client = VpayClient(self.server.base_url, creds["app_id"], creds["secret_key"])

    def signed(self, method: str, path: str, params: dict[str, Any]) -> Request:
        body = self.client.sign_params(params)
        if method == "GET":
            return Request("GET", f"/api/v1{path}?{urlencode(body)}")
        return Request(method, "/api/v1" + path, json.dumps(body), JSON)

    def succeeded(self, response: httpx.Response) -> bool:
        return response.json().get("code") in VpayClient.SUCCESS_CODES


class VpayCreate(Vpay):
    key = "vpay-create"
    title = "vpay signed create-order"
    configs = ("sqlite", "pg1", "pg2")

    def requests(self, count: int) -> Iterator[Request]:
        tag = secrets.token_hex(4)
        for i in range(count):
            yield self.signed(
                "POST",
                "/orders/create",
                {
                    "merchant_order_id": f"V{tag}{i}",
                    "amount": 100 + i % 900,
                    "channel": "QR_CODE",
                    "product_desc": "bench order",
                },
            )


class PartnerCreate(Scenario):
    key = "partner-create"
    title = "partner signed payment create"

    def prepare(self) -> None:
        creds = self.server.new_merchant(self.key)["partner"]
        self.client = PartnerClient(self.server.base_url, creds["apiKey"], creds["appSecret"])

    def requests(self, count: int) -> Iterator[Request]:
        tag = secrets.token_hex(4)
        for i in range(count):
            body = self.client.sign_params(
                {"orderNo": f"P{tag}{i}", "amount": f"{1 + i % 90}.00", "subject": "bench"}
            )
            yield Request("POST", "/partner/api/openapi/payment/create", json.dumps(body), JSON)

    def succeeded(self, response: httpx.Response) -> bool:
        return response.json().get("code") == "0"


class GatewayCreate(Scenario):
    key = "gateway-create"
    title = "gateway signed unified order (form)"

    def prepare(self) -> None:
        creds = self.server.new_merchant(self.key)["gateway"]
        self.client = GatewayClient(self.server.base_url, creds["appid"], creds["secret"])

    def requests(self, count: int) -> Iterator[Request]:
        tag = secrets.token_hex(4)
        for i in range(count):
            params = self.client.sign_params(
                {
                    "order_no": f"G{tag}{i}",
                    "amount": 100 + i % 900,
                    "bank_code": "912",
                    "product_name": "bench",
                    "notify_url": "http://127.0.0.1:9/notify",
                    "return_url": "http://127.0.0.1:9/return",
                }
            )
            yield Request("POST", "/api/order/unified", urlencode(params), FORM)

    def succeeded(self, response: httpx.Response) -> bool:
        return response.json().get("status") == "1"


class PaymoduleCreate(Scenario):
    key = "paymodule-create"
    title = "paymodule WeChat Native create (sandbox channel)"

    def prepare(self) -> None:
        creds = self.server.new_merchant(self.key)["paymodule"]
        self.api_key = creds["apiKey"]

    def requests(self, count: int) -> Iterator[Request]:
        tag = secrets.token_hex(4)
        headers = {**JSON, "X-Api-Key": self.api_key}
        for i in range(count):
            body = {
                "bizOrderId": f"M{tag}{i}",
                "amount": 100 + i % 900,
                "subject": "bench",
                "callbackUrl": "http://127.0.0.1:9/callback",
            }
            yield Request("POST", "/api/pay/wechat/native", json.dumps(body), headers)

    def succeeded(self, response: httpx.Response) -> bool:
        return response.json().get("code") == 200


class SkillpayQuery(Scenario):
    """skillpay's orders are platform-initiated; what a skill calls is order query (TSK-RSA2)."""

    key = "skillpay-query"
    title = "skillpay signed order query (TSK-RSA2)"
    # Every request costs the client an RSA signature to build and the server one to answer.
    max_rate = 2500
    # TSK-RSA2 requests are dated when signed and refused outside ±3 minutes; on a busy
    # machine signing a run's requests takes a good part of that.
    valid_s = tsk_rsa2.WINDOW_S

    def prepare(self) -> None:
        merchant = self.server.new_merchant(self.key)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        skill = self.server.admin(
            "POST",
            "/admin/v1/skills",
            {
                "merchant_id": merchant["merchant_id"],
                "public_key": public,
                "create_order_url": "http://127.0.0.1:9/create-order",
                "ship_url": "http://127.0.0.1:9/ship",
                "refund_notify_url": "http://127.0.0.1:9/refund-notify",
            },
        )
        self.skill_id = skill["skillId"]
        platform_key = httpx.get(self.server.base_url + "/paycgi/platform-key").text
        self.client = SkillpayClient(self.server.base_url, self.skill_id, private, platform_key)
        self.order_nos = self.orders(
            merchant["merchant_id"], "skillpay", 1000, pay=False, extra={"skillId": self.skill_id}
        )

    def requests(self, count: int) -> Iterator[Request]:
        for i in range(count):
            body = encode(
                {
                    "skillId": self.skill_id,
                    "nonceStr": secrets.token_hex(16),
                    "transactionId": self.order_nos[i % len(self.order_nos)],
                }
            )
            headers = {**JSON, "Authorization": self.client.authorization(body)}
            yield Request("POST", "/paycgi/orderquery", body.decode(), headers)

    def succeeded(self, response: httpx.Response) -> bool:
        return response.json().get("retCode") == "SUCCESS"


class VpayQuery(Vpay):
    key = "vpay-query"
    title = "vpay signed order query"
    configs = ("sqlite", "pg1", "pg2")

    def prepare(self) -> None:
        super().prepare()
        self.order_nos = self.orders(self.merchant_id, "vpay", 10_000, pay=False)

    def requests(self, count: int) -> Iterator[Request]:
        for _ in range(count):
            order_no = random.choice(self.order_nos)
            yield self.signed("POST", "/orders/query", {"order_id": order_no})


class VpayList(Vpay):
    """The first page of the merchant's order list (`total` included), optionally by status."""

    key = "vpay-list"
    title = "vpay signed order list, first page"
    configs = ()  # measured by bench/growth.py, as the orders pile up
    status: int | None = None

    def requests(self, count: int) -> Iterator[Request]:
        params: dict[str, Any] = {"page": 1, "page_size": 10}
        if self.status is not None:
            params["status"] = self.status
        for _ in range(count):
            yield self.signed("GET", "/orders/list", params)


class SandboxPay(Scenario):
    """Payments through the sandbox channel, all into one merchant's settlement account."""

    key = "pay"
    title = "sandbox pay into one hot merchant account"
    configs = ("sqlite", "pg1", "pg2")
    max_rate = 6000
    moves_money = True

    def prepare(self) -> None:
        self.merchant_id = self.server.new_merchant(self.key)["merchant_id"]
        self.auth = {"Authorization": f"Bearer {self.server.token}"}

    def requests(self, count: int) -> Iterator[Request]:
        for order_no in self.orders(self.merchant_id, "vpay", count, pay=False):
            yield Request("POST", f"/sandbox/v1/orders/{order_no}/pay", "", self.auth)


class VpayRefund(Vpay):
    """Refunds of paid orders: each a checked debit of the one settlement account."""

    key = "refund"
    title = "vpay signed refund (one hot merchant account)"
    max_rate = 5000
    moves_money = True

    def requests(self, count: int) -> Iterator[Request]:
        tag = secrets.token_hex(4)
        paid = self.orders(self.merchant_id, "vpay", count, pay=True)
        for i, order_no in enumerate(paid):
            yield self.signed(
                "POST",
                "/orders/refund",
                {"order_id": order_no, "merchant_refund_id": f"R{tag}{i}", "amount": 100},
            )


class VpayTransfer(Vpay):
    """Transfers between 200 funded accounts of one merchant, random pairs."""

    key = "transfer"
    title = "vpay signed account transfer"
    moves_money = True

    def prepare(self) -> None:
        super().prepare()
        with self.server.context() as ctx:
            self.accounts = ctx.store.write_sync(open_funded_accounts, self.merchant_id, 200)

    def requests(self, count: int) -> Iterator[Request]:
        for _ in range(count):
            source, target = random.sample(self.accounts, 2)
            yield self.signed(
                "POST",
                "/accounts/transfer",
                {"from_account": source, "to_account": target, "amount": 1},
            )


SCENARIOS: list[type[Scenario]] = [
    VpayCreate,
    PartnerCreate,
    GatewayCreate,
    PaymoduleCreate,
    SkillpayQuery,
    VpayQuery,
    SandboxPay,
    VpayRefund,
    VpayTransfer,
]
