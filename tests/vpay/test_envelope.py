"""The unified response shape: codes, localized messages, debug_id, timestamp, HTTP status."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import httpx

from paymux.core.errors import ErrorCode
from paymux.dialects.vpay.codes import BY_ERROR, MESSAGES, wire_code
from tests.vpay.conftest import expect, send

# The spec's error table (错误码对照表), copied verbatim: code → (zh_CN, en_US).
SPEC_TABLE = {
    "SYSTEM.ERROR": ("系统内部错误", "Internal server error"),
    "SYSTEM.NOT_FOUND": ("请求的资源不存在", "Requested resource not found"),
    "PAYMENT.MISSING_PARAM": ("缺少必要参数", "Missing required parameters"),
    "PAYMENT.INVALID_SIGN": ("签名验证失败", "Invalid signature"),
    "PAYMENT.EXPIRED_TIMESTAMP": ("请求已过期", "Request expired"),
    "PAYMENT.DUPLICATE_REQUEST": ("重复请求", "Duplicate request"),
    "PAYMENT.RATE_LIMIT_EXCEEDED": ("请求频率超出限制", "Rate limit exceeded"),
    "MERCHANT.INVALID_PARAMS": ("商户参数无效", "Invalid merchant parameters"),
    "MERCHANT.NOT_FOUND": ("商户不存在", "Merchant not found"),
    "ORDER.INVALID_PARAMS": ("订单参数无效", "Invalid order parameters"),
    "ORDER.INVALID_AMOUNT": ("无效的订单金额", "Invalid order amount"),
    "ORDER.NOT_FOUND": ("订单不存在", "Order not found"),
    "ORDER.ACCESS_DENIED": ("无权访问订单", "Access denied"),
    "ORDER.INVALID_STATUS": ("订单状态不允许操作", "Invalid order status"),
    "ORDER.CLOSE_CONFLICT": ("订单状态已变更", "Order status changed"),
    "ACCOUNT.NOT_FOUND": ("账户不存在", "Account not found"),
    "ACCOUNT.INSUFFICIENT_BALANCE": ("账户余额不足", "Insufficient balance"),
}
# The success codes of the spec's examples.
SPEC_SUCCESS = {
    "PAYMENT.SUCCESS": ("操作成功", "Operation succeeded"),
    "MERCHANT.CREATE_SUCCESS": ("商户创建成功", "Merchant created successfully"),
    "ORDER.CREATE_SUCCESS": ("订单创建成功", "Order created successfully"),
}
ENVELOPE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00")


def test_every_spec_code_has_its_spec_messages():
    for code, (zh, en) in {**SPEC_TABLE, **SPEC_SUCCESS}.items():
        assert code in MESSAGES, code
        assert MESSAGES[code][:2] == (zh, en), code


def test_every_code_has_both_languages_and_an_http_status():
    for code, (zh, en, status) in MESSAGES.items():
        assert re.fullmatch(r"[A-Z]+\.[A-Z_]+", code), code
        assert zh and en, code
        # Successes are 200, every error a 4xx/5xx, so HTTP-level tooling sees failures.
        assert (status == 200) == code.endswith("SUCCESS"), code
        assert status == 200 or 400 <= status < 600, code


def test_every_mapped_error_has_a_message():
    assert set(BY_ERROR.values()) <= set(MESSAGES)
    for group, code in (
        ("merchants", "MERCHANT.INVALID_PARAMS"),
        ("orders", "ORDER.INVALID_PARAMS"),
        ("accounts", "ACCOUNT.INVALID_PARAMS"),
    ):
        assert wire_code(ErrorCode.INVALID_PARAMS, f"/api/v1/{group}/x") == code
    # The ruling: a reused merchant order no with other parameters is ORDER.INVALID_PARAMS.
    assert wire_code(ErrorCode.ORDER_EXISTS, "/api/v1/orders/create") == "ORDER.INVALID_PARAMS"


def test_success_envelope(server, vpay):
    response = vpay.http.post(vpay.base + "/merchants/info", json=vpay.sign_params({}))
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"code", "localized_msg", "data", "debug_id", "timestamp"}
    assert body["code"] == "PAYMENT.SUCCESS"
    assert body["localized_msg"] == {"zh_CN": "操作成功", "en_US": "Operation succeeded"}
    assert body["debug_id"] == response.headers["x-request-id"] and len(body["debug_id"]) >= 12
    assert ENVELOPE_TIME.fullmatch(body["timestamp"]), body["timestamp"]
    sent = datetime.fromisoformat(body["timestamp"])
    now = datetime.fromtimestamp(server.ctx.env.clock.time(), sent.tzinfo)
    assert abs(now - sent) < timedelta(seconds=5)


def test_debug_id_is_unique_per_request(vpay):
    ids = {
        vpay.http.post(vpay.base + "/merchants/info", json=vpay.sign_params({})).headers[
            "x-request-id"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_error_envelope_carries_detail(vpay):
    params = vpay.sign_params({})
    params["sign"] = "0" * 64
    body = expect(send(vpay, "/merchants/info", params), "PAYMENT.INVALID_SIGN")
    assert ENVELOPE_TIME.fullmatch(body["timestamp"])
    assert "signature" in body["detail"]


def test_unknown_endpoint_and_method(server):
    response = httpx.get(server.base_url + "/api/v1/no-such-thing")
    expect(response, "SYSTEM.NOT_FOUND")
    response = httpx.get(server.base_url + "/api/v1/orders/create")
    expect(response, "SYSTEM.NOT_FOUND")


def test_debug_id_is_in_the_server_log_line(vpay, capfd):
    response = vpay.http.post(vpay.base + "/merchants/info", json=vpay.sign_params({}))
    debug_id = response.json()["debug_id"]
    # The line is written once the response has been sent: give it a moment.
    output, deadline = "", time.monotonic() + 5
    while debug_id not in output and time.monotonic() < deadline:
        captured = capfd.readouterr()
        output += captured.out + captured.err
        time.sleep(0.01)
    logged = [line for line in output.splitlines() if debug_id in line]
    assert logged and all("/api/v1/merchants/info" in line for line in logged), output[-2000:]
