"""partner wire codes: the spec's section 9 table, which catalogue error gets which, and why.

The table has two codes for an unknown partner (2001, 10000001) and two for a
bad signature (1002, 10000002). paymux answers the 10000xxx variant where the
caller is the user's side — endpoint 3.1 under `/partner/api/partner/` and the
wallet app's deep-link pages — and the short codes on every server-to-server
`/partner/api/openapi/` endpoint. docs/dialects/partner.md lists every case.
"""

from __future__ import annotations

from paymux.core.errors import ErrorCode

SUCCESS = "0"

# code → the spec's description. "9999" is paymux's addition for its own failures.
MESSAGES: dict[str, str] = {
    SUCCESS: "success",
    "1001": "参数错误",
    "1002": "签名验证失败",
    "2001": "合作伙伴不存在",
    "2002": "合作伙伴已禁用",
    "2003": "订单不可支付",
    "3001": "权限不足",
    "3002": "访问频率超限",
    "4000": "参数错误",
    "4001": "未登录或登录已过期",
    "4010": "请求已超时",
    "5001": "订单已存在",
    "5002": "订单不存在",
    "10000001": "合作伙伴不存在",
    "10000002": "签名错误",
    "10000003": "合作伙伴配置已过期",
    "10000004": "用户不存在",
    "9999": "系统繁忙",
}

BY_ERROR: dict[ErrorCode, str] = {
    ErrorCode.MISSING_PARAM: "4000",
    ErrorCode.INVALID_PARAMS: "1001",
    ErrorCode.INVALID_AMOUNT: "1001",
    ErrorCode.MALFORMED_BODY: "1001",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "1001",
    ErrorCode.PAYLOAD_TOO_LARGE: "1001",
    ErrorCode.NOT_FOUND: "1001",
    ErrorCode.SAME_ACCOUNT: "1001",
    ErrorCode.CURRENCY_MISMATCH: "1001",
    ErrorCode.ACCOUNT_NOT_FOUND: "1001",
    ErrorCode.INVALID_SIGNATURE: "1002",
    # The ruling: a reused nonce is a signature-verification failure whose message names the replay.
    ErrorCode.REPLAYED_NONCE: "1002",
    ErrorCode.MERCHANT_NOT_FOUND: "2001",
    ErrorCode.MERCHANT_DISABLED: "2002",
    ErrorCode.ORDER_INVALID_STATUS: "2003",
    ErrorCode.ORDER_STATE_CONFLICT: "2003",
    ErrorCode.INSUFFICIENT_BALANCE: "2003",
    ErrorCode.REFUND_EXCEEDS_PAID: "2003",
    ErrorCode.WITHDRAWAL_INVALID_STATUS: "2003",
    ErrorCode.IP_NOT_ALLOWED: "3001",
    ErrorCode.FORBIDDEN: "3001",
    ErrorCode.SANDBOX_ONLY: "3001",
    ErrorCode.ORDER_ACCESS_DENIED: "3001",
    ErrorCode.ACCOUNT_ACCESS_DENIED: "3001",
    ErrorCode.RATE_LIMITED: "3002",
    ErrorCode.UNAUTHORIZED: "4001",
    ErrorCode.SESSION_INVALID: "4001",
    ErrorCode.STALE_TIMESTAMP: "4010",
    ErrorCode.ORDER_EXISTS: "5001",
    ErrorCode.REFUND_EXISTS: "5001",
    ErrorCode.ORDER_NOT_FOUND: "5002",
    ErrorCode.REFUND_NOT_FOUND: "5002",
    ErrorCode.WITHDRAWAL_NOT_FOUND: "5002",
    ErrorCode.CREDENTIAL_EXPIRED: "10000003",
    ErrorCode.USER_NOT_FOUND: "10000004",
    ErrorCode.UNAVAILABLE: "9999",
    ErrorCode.INTERNAL: "9999",
}

# The user-side variants (endpoint 3.1 and the wallet's deep-link pages).
APP_SIDE: dict[ErrorCode, str] = {
    ErrorCode.MERCHANT_NOT_FOUND: "10000001",
    ErrorCode.INVALID_SIGNATURE: "10000002",
}

# Every answered request is HTTP 200 with the outcome in `code`, as the spec's
# samples expect; only failures below the API (no such endpoint, body too
# large, paymux itself failing) carry another status.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAVAILABLE: 503,
}


def wire_code(error: ErrorCode, *, app_side: bool = False) -> str:
    if app_side and error in APP_SIDE:
        return APP_SIDE[error]
    return BY_ERROR.get(error, "9999")


def message(code: str, detail: str) -> str:
    """The reply's `message`: the spec's wording, then what exactly was wrong."""
    return f"{MESSAGES[code]}: {detail}" if detail else MESSAGES[code]
