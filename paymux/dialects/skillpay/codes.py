"""skillpay error replies: `retCode` FAIL with a short Chinese `retMsg`, plus paymux's details.

The spec gives only `retCode`/`retMsg` (≤ 32 characters) and says fields may
be added ("接口参数有可能扩展"), so a failed reply also carries `errCode`, a
stable machine code, and `errDetail`, the full English explanation. The HTTP
status tells the class of failure as well, for proxies and monitoring.
"""

from __future__ import annotations

from typing import Any

from paymux.core.errors import ErrorCode, PaymuxError

# errCode → (retMsg, HTTP status)
MESSAGES: dict[str, tuple[str, int]] = {
    "PARAM_ERROR": ("参数错误", 400),
    "SIGN_ERROR": ("签名验证失败", 401),
    "REQUEST_EXPIRED": ("请求已过期", 401),
    "REPEATED_REQUEST": ("重复请求", 409),
    "SKILL_NOT_EXIST": ("技能不存在", 404),
    "SKILL_DISABLED": ("技能已停用", 403),
    "IP_NOT_ALLOWED": ("IP不在白名单内", 403),
    "FREQUENCY_LIMITED": ("请求频率超出限制", 429),
    "ORDER_NOT_EXIST": ("订单不存在", 404),
    "ORDER_STATUS_ERROR": ("订单状态不允许该操作", 409),
    "REFUND_NOT_EXIST": ("退款单不存在", 404),
    "REFUND_NO_USED": ("退款单号已被使用且参数不同", 409),
    "REFUND_AMOUNT_EXCEEDED": ("退款金额超过可退金额", 409),
    "NOT_ENOUGH_BALANCE": ("商户可用余额不足", 409),
    "NOT_FOUND": ("接口不存在", 404),
    "SYSTEM_ERROR": ("系统繁忙，请稍后重试", 500),
    "SYSTEM_UNAVAILABLE": ("服务暂时不可用", 503),
}

BY_ERROR: dict[ErrorCode, str] = {
    ErrorCode.MISSING_PARAM: "PARAM_ERROR",
    ErrorCode.INVALID_PARAMS: "PARAM_ERROR",
    ErrorCode.INVALID_AMOUNT: "PARAM_ERROR",
    ErrorCode.MALFORMED_BODY: "PARAM_ERROR",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "PARAM_ERROR",
    ErrorCode.PAYLOAD_TOO_LARGE: "PARAM_ERROR",
    ErrorCode.INVALID_SIGNATURE: "SIGN_ERROR",
    ErrorCode.STALE_TIMESTAMP: "REQUEST_EXPIRED",
    ErrorCode.REPLAYED_NONCE: "REPEATED_REQUEST",
    ErrorCode.MERCHANT_NOT_FOUND: "SKILL_NOT_EXIST",
    ErrorCode.MERCHANT_DISABLED: "SKILL_DISABLED",
    ErrorCode.IP_NOT_ALLOWED: "IP_NOT_ALLOWED",
    ErrorCode.RATE_LIMITED: "FREQUENCY_LIMITED",
    ErrorCode.ORDER_NOT_FOUND: "ORDER_NOT_EXIST",
    ErrorCode.ORDER_ACCESS_DENIED: "ORDER_NOT_EXIST",
    ErrorCode.ORDER_INVALID_STATUS: "ORDER_STATUS_ERROR",
    ErrorCode.ORDER_STATE_CONFLICT: "ORDER_STATUS_ERROR",
    ErrorCode.REFUND_NOT_FOUND: "REFUND_NOT_EXIST",
    ErrorCode.REFUND_EXISTS: "REFUND_NO_USED",
    ErrorCode.REFUND_EXCEEDS_PAID: "REFUND_AMOUNT_EXCEEDED",
    ErrorCode.INSUFFICIENT_BALANCE: "NOT_ENOUGH_BALANCE",
    ErrorCode.NOT_FOUND: "NOT_FOUND",
    ErrorCode.UNAVAILABLE: "SYSTEM_UNAVAILABLE",
}


def failure(error: PaymuxError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the `retCode` FAIL body of an error."""
    code = BY_ERROR.get(error.code, "SYSTEM_ERROR")
    message, status = MESSAGES[code]
    return status, {
        "retCode": "FAIL",
        "retMsg": message,
        "errCode": code,
        "errDetail": error.message,
    }
