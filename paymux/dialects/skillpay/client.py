"""The skill-side skillpay SDK: receive the platform's calls, and call the platform.

A skill has two halves. The platform calls it (create order, ship, refund
notice): mount `SkillApp`, an ASGI app that verifies the platform's TSK-RSA2
signature and signs your replies, and write three plain handlers. The skill
calls the platform (order query, refund, refund query): `SkillpayClient` signs
the requests and verifies the platform's signed replies.

    app = SkillApp(skill_id, private_key_pem, platform_public_key,
                   create_order=make_order, ship=ship_goods, refund_notice=note_refund)
    # served at https://skill.example.com/pay → register .../pay/create-order,
    # .../pay/ship and .../pay/refund-notify as the skill's three URLs.

    client = SkillpayClient("https://paymux.example.com", skill_id, private_key_pem,
                            platform_public_key)
    client.refund("R1001", total_amt=300, refund_details=[...], trade_no="T1001")

A handler receives the verified request fields and returns the reply fields
(`{"retCode": "SUCCESS", "tradeNo": ...}` for create order, `{"retCode":
"SUCCESS"}` for the notices); raising `SkillpayError` answers `retCode` FAIL
with its message. Ship and refund notices may arrive more than once (the
platform retries until it gets a signed SUCCESS), so handlers must be
idempotent; that is also why `nonceStr` is not checked for replay here.
"""

from __future__ import annotations

import inspect
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from paymux.signing import tsk_rsa2

Handler = Callable[[dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def encode(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


class SkillpayError(Exception):
    """A FAIL: from the platform (`err_code` names it), or raised by a handler to refuse."""

    def __init__(
        self,
        ret_msg: str,
        err_code: str = "",
        status: int = 0,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{err_code}: {ret_msg}" if err_code else ret_msg)
        self.ret_msg = ret_msg
        self.err_code = err_code
        self.status = status
        self.body = body or {}


class _Signer:
    """The skill's half of TSK-RSA2: its private key signs, the platform's public key verifies."""

    def __init__(
        self, private_key_pem: str | bytes, platform_public_key: str, clock: Clock
    ) -> None:
        self.private_key = tsk_rsa2.load_private_key(private_key_pem)
        self.platform_key = tsk_rsa2.load_public_key(platform_public_key)
        self.clock = clock

    def authorization(self, body: bytes, moment: datetime | None = None) -> str:
        when = tsk_rsa2.format_datetime(moment or self.clock())
        return tsk_rsa2.authorization_header(body, when, self.private_key)

    def verify(self, authorization: str | None, body: bytes) -> None:
        """Raises tsk_rsa2.Rejected unless the platform signed `body` within the window."""
        tsk_rsa2.check_authorization(authorization, body, self.platform_key, self.clock())


class SkillApp:
    """ASGI app for the platform's calls: `POST …/create-order`, `…/ship`, `…/refund-notify`.

    Requests without a valid, fresh platform signature are answered 401 with
    `retCode` FAIL and never reach a handler; a create-order request whose
    `totalAmt` is not the sum of its `details` amounts, or that names another
    skill, is refused as well. Every reply is signed with the skill's key.
    """

    def __init__(
        self,
        skill_id: str,
        private_key_pem: str | bytes,
        platform_public_key: str,
        *,
        create_order: Handler,
        ship: Handler,
        refund_notice: Handler,
        clock: Clock = utc_now,
    ) -> None:
        self.skill_id = skill_id
        self.signer = _Signer(private_key_pem, platform_public_key, clock)
        self.handlers: dict[str, Handler] = {
            "/create-order": create_order,
            "/ship": ship,
            "/refund-notify": refund_notice,
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"][len(scope.get("root_path", "")) :] or "/"
        handler = next((h for suffix, h in self.handlers.items() if path.endswith(suffix)), None)
        if handler is None or scope["method"] != "POST":
            status, reply = 404, _fail("no such endpoint")
        else:
            status, reply = await self.handle(handler, path, headers.get("authorization"), body)
        out = encode(reply)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"authorization", self.signer.authorization(out).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})

    async def handle(
        self, handler: Handler, path: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        try:
            self.signer.verify(authorization, body)
        except tsk_rsa2.Rejected as exc:
            return 401, _fail(str(exc))
        try:
            fields = json.loads(body)
        except ValueError:
            return 400, _fail("body is not JSON")
        if not isinstance(fields, dict) or fields.get("skillId") != self.skill_id:
            return 400, _fail("not a request for this skill")
        if path.endswith("/create-order") and not _total_matches(fields):
            return 400, _fail("totalAmt is not the sum of details")
        try:
            result = handler(fields)
            if inspect.isawaitable(result):
                result = await result
        except SkillpayError as exc:
            return 200, _fail(exc.ret_msg)
        return 200, result


def _fail(message: str) -> dict[str, Any]:
    return {"retCode": "FAIL", "retMsg": message[:32]}


def _total_matches(fields: dict[str, Any]) -> bool:
    lines = fields.get("details")
    if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
        return False
    return sum(int(x.get("amount", 0)) for x in lines) == fields.get("totalAmt")


class SkillpayClient:
    """Signs the skill's calls to the platform (`/paycgi/...`) and verifies the signed replies.

    A reply that fails verification raises SkillpayError with err_code
    BAD_REPLY_SIGNATURE; a verified `retCode` FAIL raises SkillpayError with
    the platform's `errCode`; success returns the reply's fields.
    """

    def __init__(
        self,
        base_url: str,
        skill_id: str,
        private_key_pem: str | bytes,
        platform_public_key: str,
        *,
        clock: Clock = utc_now,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base = base_url.rstrip("/") + "/paycgi"
        self.skill_id = skill_id
        self.signer = _Signer(private_key_pem, platform_public_key, clock)
        self.http = http or httpx.Client(timeout=timeout)

    def authorization(self, body: bytes, moment: datetime | None = None) -> str:
        return self.signer.authorization(body, moment)

    def send(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST exactly these bytes and headers (no signing): for tests and custom signing."""
        return self.http.post(self.base + path, content=body, headers=headers)

    def call(self, path: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Sign and POST `fields` (None values dropped) with skillId and a fresh nonceStr."""
        signed = {"skillId": self.skill_id, **{k: v for k, v in fields.items() if v is not None}}
        signed.setdefault("nonceStr", secrets.token_hex(16))
        body = encode(signed)
        headers = {"Content-Type": "application/json", "Authorization": self.authorization(body)}
        return self.unwrap(self.send(path, body, headers))

    def unwrap(self, response: httpx.Response) -> dict[str, Any]:
        try:
            self.signer.verify(response.headers.get("authorization"), response.content)
        except tsk_rsa2.Rejected as exc:
            raise SkillpayError(
                f"reply not signed by the platform: {exc}",
                "BAD_REPLY_SIGNATURE",
                response.status_code,
            ) from None
        reply = json.loads(response.content)
        if reply.get("retCode") != "SUCCESS":
            raise SkillpayError(
                reply.get("errDetail") or reply.get("retMsg", ""),
                reply.get("errCode", "FAIL"),
                response.status_code,
                reply,
            )
        return reply

    def order_query(
        self, *, transaction_id: str | None = None, trade_no: str | None = None
    ) -> dict[str, Any]:
        return self.call("/orderquery", {"transactionId": transaction_id, "tradeNo": trade_no})

    def refund(
        self,
        refund_trade_no: str,
        *,
        total_amt: int,
        refund_details: list[dict[str, Any]],
        refund_amt: int | None = None,
        transaction_id: str | None = None,
        trade_no: str | None = None,
        refund_desc: str | None = None,
    ) -> dict[str, Any]:
        """Ask for a refund; `refund_amt` defaults to the sum of the refund lines."""
        if refund_amt is None:
            refund_amt = sum(int(line["amount"]) for line in refund_details)
        return self.call(
            "/refund",
            {
                "transactionId": transaction_id,
                "tradeNo": trade_no,
                "refundTradeNo": refund_trade_no,
                "totalAmt": total_amt,
                "refundAmt": refund_amt,
                "refundDesc": refund_desc,
                "refundDetails": refund_details,
            },
        )

    def refund_query(
        self, *, refund_transaction_id: str | None = None, refund_trade_no: str | None = None
    ) -> dict[str, Any]:
        return self.call(
            "/refundquery",
            {"refundTransactionId": refund_transaction_id, "refundTradeNo": refund_trade_no},
        )
