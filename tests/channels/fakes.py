"""Local fakes of WeChat Pay API v3 and the Alipay open gateway, written from their public docs.

Each fake is a real HTTP server on loopback with RSA keys generated for the
test. It checks every request's signature the way the channel does (with its
own code, not paymux.signing), answers signed replies, keeps trades and
refunds, and posts signed (WeChat: AES-256-GCM encrypted) notices to paymux.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

BEIJING = timezone(timedelta(hours=8))


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class Seen:
    method: str
    path: str
    body: bytes
    signature_ok: bool


class _Server:
    """A ThreadingHTTPServer whose requests go to `self.handle(method, path, headers, body)`."""

    def __init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, reply = fake.handle(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = _any

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- WeChat Pay v3 -----------------------------------------------------------------------------


@dataclass
class WxTrade:
    body: dict[str, Any]
    state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: str = ""


class FakeWechatPay(_Server):
    """WeChat Pay v3: Native order, query, close, refund, refund query; notices."""

    def __init__(self) -> None:
        super().__init__()
        self.mchid = "1900000109"
        self.appid = "wxd678efh567hg6787"
        self.apiv3_key = secrets.token_hex(16)
        self.merchant_key = new_key()  # the merchant's API key: paymux signs requests with it
        self.merchant_serial = "3775B6A45ACD588826D15E583A95F5DD********"
        self.platform_key = new_key()  # WeChat Pay's key: it signs replies and notices
        self.platform_serial = "PUB_KEY_ID_0119000001092024112100000000000000"
        self.trades: dict[str, WxTrade] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.fail_next: tuple[int, dict[str, Any]] | None = None
        self.bad_reply_signature = False
        self.refund_status = "PROCESSING"  # what a new refund starts as (SUCCESS: at once)
        self.refund_delay_s = 0.0  # how long a refund request takes before WeChat Pay answers

    def config(self) -> dict[str, Any]:
        """The configuration a merchant gives paymux for this account."""
        return {
            "mchid": self.mchid,
            "appid": self.appid,
            "serial_no": self.merchant_serial,
            "private_key": private_pem(self.merchant_key),
            "apiv3_key": self.apiv3_key,
            "platform_keys": {self.platform_serial: public_pem(self.platform_key)},
            "base_url": self.base_url,
        }

    def _check_authorization(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> bool:
        """WECHATPAY2-SHA256-RSA2048 per the v3 signing guide."""
        auth = headers.get("authorization", "")
        scheme, _, rest = auth.partition(" ")
        if scheme != "WECHATPAY2-SHA256-RSA2048":
            return False
        parts = dict(item.split("=", 1) for item in rest.split(","))
        parts = {k.strip(): v.strip().strip('"') for k, v in parts.items()}
        if parts.get("mchid") != self.mchid or parts.get("serial_no") != self.merchant_serial:
            return False
        if abs(time.time() - int(parts.get("timestamp", "0"))) > 300:
            return False
        message = (
            f"{method}\n{path}\n{parts['timestamp']}\n{parts['nonce_str']}\n".encode()
            + body
            + b"\n"
        )
        return rsa_verify(self.merchant_key.public_key(), message, parts.get("signature", ""))

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        signature = rsa_sign(self.platform_key, message)
        if self.bad_reply_signature:
            signature = rsa_sign(new_key(), message)
        return {
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature": signature,
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Request-ID": secrets.token_hex(8),
        }

    def _reply(self, status: int, data: dict[str, Any] | None) -> tuple[int, dict[str, str], bytes]:
        body = b"" if data is None else json.dumps(data, ensure_ascii=False).encode()
        headers = self._signed_headers(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return status, headers, body

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        ok = self._check_authorization(method, path, headers, body)
        with self.lock:
            self.seen.append(Seen(method, path, body, ok))
            if not ok:
                return self._reply(401, {"code": "SIGN_ERROR", "message": "签名错误"})
            if self.fail_next is not None:
                status, data = self.fail_next
                self.fail_next = None
                return self._reply(status, data)
            reply = self._route(method, urlsplit(path), json.loads(body) if body else {})
        if path == "/v3/refund/domestic/refunds":
            time.sleep(self.refund_delay_s)  # the refund is made; the answer comes late
        return reply

    def _route(
        self, method: str, url: Any, data: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        parts = url.path.split("/")
        if method == "POST" and url.path == "/v3/pay/transactions/native":
            required = {"appid", "mchid", "description", "out_trade_no", "notify_url", "amount"}
            if not required <= set(data) or data["mchid"] != self.mchid:
                return self._reply(400, {"code": "PARAM_ERROR", "message": "参数错误"})
            datetime.fromisoformat(data["time_expire"])
            existing = self.trades.get(data["out_trade_no"])
            if existing is not None and existing.body != data:
                return self._reply(400, {"code": "INVALID_REQUEST", "message": "订单号重复"})
            self.trades.setdefault(data["out_trade_no"], WxTrade(data))
            return self._reply(
                200, {"code_url": f"weixin://wxpay/bizpayurl?pr={data['out_trade_no']}"}
            )
        if url.path.startswith("/v3/pay/transactions/out-trade-no/"):
            trade = self.trades.get(parts[5])
            if trade is None:
                return self._reply(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
            if method == "POST" and parts[-1] == "close":
                if trade.state == "SUCCESS":
                    return self._reply(400, {"code": "ORDERPAID", "message": "订单已支付"})
                trade.state = "CLOSED"
                return self._reply(204, None)
            if dict(parse_qsl(url.query)).get("mchid") != self.mchid:
                return self._reply(400, {"code": "PARAM_ERROR", "message": "mchid"})
            return self._reply(200, self._transaction(trade))
        if method == "POST" and url.path == "/v3/refund/domestic/refunds":
            trade = self.trades.get(data.get("out_trade_no", ""))
            if trade is None or trade.state not in ("SUCCESS", "REFUND"):
                return self._reply(400, {"code": "INVALID_REQUEST", "message": "订单未支付"})
            refund = self.refunds.setdefault(
                data["out_refund_no"],
                {
                    "refund_id": "50300" + secrets.token_hex(8),
                    "out_refund_no": data["out_refund_no"],
                    "out_trade_no": data["out_trade_no"],
                    "transaction_id": trade.transaction_id,
                    "status": self.refund_status,
                    "amount": {**data["amount"], "payer_total": trade.body["amount"]["total"]},
                    "notify_url": data.get("notify_url", ""),
                },
            )
            trade.state = "REFUND"
            return self._reply(200, {k: v for k, v in refund.items() if k != "notify_url"})
        if method == "GET" and url.path.startswith("/v3/refund/domestic/refunds/"):
            refund = self.refunds.get(parts[-1])
            if refund is None:
                return self._reply(404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
            return self._reply(200, {k: v for k, v in refund.items() if k != "notify_url"})
        return self._reply(404, {"code": "NOT_FOUND", "message": url.path})

    def _transaction(self, trade: WxTrade) -> dict[str, Any]:
        data = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": trade.body["out_trade_no"],
            "trade_type": "NATIVE",
            "trade_state": trade.state,
            "trade_state_desc": trade.state,
            "amount": {"total": trade.body["amount"]["total"], "currency": "CNY"},
        }
        if trade.transaction_id:
            data.update(transaction_id=trade.transaction_id, success_time=trade.success_time)
        return data

    # -- what the payer and WeChat Pay do --------------------------------------------------

    def pay(self, out_trade_no: str, *, amount: int | None = None) -> WxTrade:
        """The payer scans and pays (no notice yet)."""
        with self.lock:
            trade = self.trades[out_trade_no]
            trade.state = "SUCCESS"
            trade.transaction_id = "42000" + secrets.token_hex(10)
            trade.success_time = datetime.now(BEIJING).isoformat(timespec="seconds")
            if amount is not None:
                trade.body["amount"]["total"] = amount
            return trade

    def notice(
        self,
        url: str,
        event_type: str,
        resource: dict[str, Any],
        *,
        key: str | None = None,
        signer: rsa.RSAPrivateKey | None = None,
        timestamp: int | None = None,
    ) -> httpx.Response:
        """POST a notice as WeChat Pay does: resource encrypted with the APIv3 key, body signed."""
        nonce, aad = secrets.token_hex(6), "transaction"
        ciphertext = AESGCM((key or self.apiv3_key).encode()).encrypt(
            nonce.encode(), json.dumps(resource).encode(), aad.encode()
        )
        body = json.dumps(
            {
                "id": secrets.token_hex(16),
                "create_time": datetime.now(BEIJING).isoformat(timespec="seconds"),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": aad,
                    "nonce": nonce,
                },
            }
        ).encode()
        ts, sig_nonce = str(timestamp or int(time.time())), secrets.token_hex(16)
        signature = rsa_sign(
            signer or self.platform_key, f"{ts}\n{sig_nonce}\n".encode() + body + b"\n"
        )
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature": signature,
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": sig_nonce,
        }
        return httpx.post(url, content=body, headers=headers, timeout=30)

    def pay_and_notify(self, out_trade_no: str, **kwargs: Any) -> httpx.Response:
        trade = self.pay(out_trade_no)
        return self.notice(
            trade.body["notify_url"], "TRANSACTION.SUCCESS", self._transaction(trade), **kwargs
        )

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS") -> httpx.Response:
        """The refund ends (SUCCESS, ABNORMAL, CLOSED) and WeChat Pay posts its notice."""
        with self.lock:
            refund = self.refunds[out_refund_no]
            refund["status"] = status
        resource = {
            "mchid": self.mchid,
            "out_trade_no": refund["out_trade_no"],
            "transaction_id": refund["transaction_id"],
            "out_refund_no": out_refund_no,
            "refund_id": refund["refund_id"],
            "refund_status": status,
            "success_time": datetime.now(BEIJING).isoformat(timespec="seconds"),
            "amount": refund["amount"],
        }
        return self.notice(refund["notify_url"], f"REFUND.{status}", resource)


# -- Alipay ------------------------------------------------------------------------------------


@dataclass
class AliTrade:
    biz: dict[str, Any]
    notify_url: str
    scanned: bool = False
    status: str = "WAIT_BUYER_PAY"
    trade_no: str = ""
    refunds: dict[str, str] = field(default_factory=dict)


class FakeAlipay(_Server):
    """The Alipay open gateway: precreate, query, close, refund, refund query; notices."""

    def __init__(self) -> None:
        super().__init__()
        self.app_id = "2021000000000001"
        self.app_key = new_key()  # the app's private key: paymux signs requests with it
        self.alipay_key = new_key()  # Alipay's key: it signs replies and notices
        self.trades: dict[str, AliTrade] = {}
        self.fail_next: dict[str, Any] | None = None

    def config(self) -> dict[str, Any]:
        body = "".join(
            line for line in public_pem(self.alipay_key).splitlines() if "-----" not in line
        )
        return {
            "app_id": self.app_id,
            "private_key": private_pem(self.app_key),
            "alipay_public_key": body,  # Alipay's console shows it as bare base64
            "base_url": self.base_url + "/gateway.do",
        }

    @staticmethod
    def _content(params: dict[str, str], exclude: tuple[str, ...]) -> bytes:
        pairs = sorted((k, v) for k, v in params.items() if k not in exclude and v != "")
        return "&".join(f"{k}={v}" for k, v in pairs).encode()

    def _reply(self, method: str, node: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        name = method.replace(".", "_") + "_response"
        raw = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        text = f'{{"{name}":{raw},"sign":"{rsa_sign(self.alipay_key, raw.encode())}"}}'
        return 200, {"Content-Type": "application/json;charset=utf-8"}, text.encode()

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        params = dict(parse_qsl(body.decode()))
        ok = params.get("app_id") == self.app_id and rsa_verify(
            self.app_key.public_key(), self._content(params, ("sign",)), params.get("sign", "")
        )
        api = params.get("method", "")
        with self.lock:
            self.seen.append(Seen(method, path, body, ok))
            if not ok:
                return self._reply(
                    api,
                    {
                        "code": "40002",
                        "msg": "Invalid Arguments",
                        "sub_code": "isv.invalid-signature",
                        "sub_msg": "验签出错",
                    },
                )
            if self.fail_next is not None:
                node, self.fail_next = self.fail_next, None
                return self._reply(api, node)
            biz = json.loads(params["biz_content"])
            return self._reply(api, self._route(api, biz, params.get("notify_url", "")))

    def _route(self, api: str, biz: dict[str, Any], notify_url: str) -> dict[str, Any]:
        missing = {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "ACQ.TRADE_NOT_EXIST",
            "sub_msg": "交易不存在",
        }
        if api == "alipay.trade.precreate":
            datetime.strptime(biz["time_expire"], "%Y-%m-%d %H:%M:%S")
            trade = self.trades.setdefault(biz["out_trade_no"], AliTrade(biz, notify_url))
            return {
                "code": "10000",
                "msg": "Success",
                "out_trade_no": biz["out_trade_no"],
                "qr_code": f"https://qr.alipay.com/bax{biz['out_trade_no']}",
            }
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None or not trade.scanned:
            return missing  # a precreated trade exists only once scanned
        if api == "alipay.trade.query":
            return {
                "code": "10000",
                "msg": "Success",
                "out_trade_no": biz["out_trade_no"],
                "trade_no": trade.trade_no,
                "trade_status": trade.status,
                "total_amount": trade.biz["total_amount"],
            }
        if api == "alipay.trade.close":
            if trade.status != "WAIT_BUYER_PAY":
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_STATUS_ERROR",
                    "sub_msg": "交易状态不合法",
                }
            trade.status = "TRADE_CLOSED"
            return {"code": "10000", "msg": "Success", "trade_no": trade.trade_no}
        if api == "alipay.trade.refund":
            if trade.status != "TRADE_SUCCESS":
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_STATUS_ERROR",
                    "sub_msg": "交易状态不合法",
                }
            trade.refunds[biz["out_request_no"]] = biz["refund_amount"]
            return {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade.trade_no,
                "out_trade_no": biz["out_trade_no"],
                "refund_fee": biz["refund_amount"],
                "fund_change": "Y",
            }
        if api == "alipay.trade.fastpay.refund.query":
            amount = trade.refunds.get(biz["out_request_no"])
            node = {"code": "10000", "msg": "Success"}
            if amount:
                node.update(
                    refund_amount=amount, refund_status="REFUND_SUCCESS", trade_no=trade.trade_no
                )
            return node
        return {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method"}

    # -- what the payer and Alipay do --------------------------------------------------------

    def pay(self, out_trade_no: str) -> AliTrade:
        with self.lock:
            trade = self.trades[out_trade_no]
            trade.scanned, trade.status = True, "TRADE_SUCCESS"
            trade.trade_no = datetime.now(UTC).strftime("%Y%m%d") + "2200" + secrets.token_hex(6)
            return trade

    def notice(
        self,
        trade: AliTrade,
        *,
        signer: rsa.RSAPrivateKey | None = None,
        tamper: dict[str, str] | None = None,
        **changes: str,
    ) -> httpx.Response:
        """POST a notice as Alipay does; `tamper` changes parameters after signing."""
        now = datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        params = {
            "notify_time": now,
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.biz["out_trade_no"],
            "trade_status": trade.status,
            "total_amount": trade.biz["total_amount"],
            "receipt_amount": trade.biz["total_amount"],
            "gmt_payment": now,
            "subject": trade.biz["subject"],
            **changes,
        }
        params["sign"] = rsa_sign(
            signer or self.alipay_key, self._content(params, ("sign", "sign_type"))
        )
        params["sign_type"] = "RSA2"
        params.update(tamper or {})
        return httpx.post(
            trade.notify_url,
            content=urlencode(params).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            timeout=30,
        )

    def pay_and_notify(self, out_trade_no: str, **kwargs: Any) -> httpx.Response:
        return self.notice(self.pay(out_trade_no), **kwargs)
