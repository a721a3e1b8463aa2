"""gateway reply messages and HTTP statuses for each catalogue error.

The spec has no error codes: a failure is `status` "0" with a `message`. paymux
puts a short Chinese phrase first (what a shop shows its operators) and the
precise English reason after it, so a merchant can tell every failure apart.
"""

from __future__ import annotations

from paymux.core.errors import ErrorCode

UNIFIED_OK = "下单成功"
QUERY_OK = "查询成功"

PHRASES: dict[ErrorCode, str] = {
    ErrorCode.MISSING_PARAM: "缺少参数",
    ErrorCode.INVALID_PARAMS: "参数错误",
    ErrorCode.INVALID_AMOUNT: "金额错误",
    ErrorCode.INVALID_SIGNATURE: "签名错误",
    ErrorCode.RATE_LIMITED: "请求过于频繁",
    ErrorCode.IP_NOT_ALLOWED: "IP不在白名单内",
    ErrorCode.NOT_FOUND: "接口不存在",
    ErrorCode.MALFORMED_BODY: "请求格式错误",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "不支持的Content-Type",
    ErrorCode.PAYLOAD_TOO_LARGE: "请求体过大",
    ErrorCode.MERCHANT_NOT_FOUND: "商户不存在",
    ErrorCode.MERCHANT_DISABLED: "商户已禁用",
    ErrorCode.ORDER_NOT_FOUND: "订单不存在",
    ErrorCode.ORDER_EXISTS: "订单号已存在",
    ErrorCode.ORDER_ACCESS_DENIED: "无权访问该订单",
    ErrorCode.ORDER_INVALID_STATUS: "订单状态不允许该操作",
    ErrorCode.UNAVAILABLE: "服务暂不可用",
    ErrorCode.INTERNAL: "系统错误",
}

# PHP shops commonly read replies with file_get_contents(), which returns false
# on a 4xx/5xx; so every answered request is HTTP 200 and the outcome is in
# `status`. Only what no request could fix leaves with a real error status.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAVAILABLE: 503,
}


def error_message(code: ErrorCode, detail: str) -> str:
    return f"{PHRASES.get(code, '请求失败')}: {detail}"


def http_status(code: ErrorCode) -> int:
    return HTTP_STATUS.get(code, 200)
