"""vpay wire codes: the spec's error table, paymux's additions, and the HTTP status of each."""

from __future__ import annotations

from paymux.core.errors import ErrorCode

# code → (zh_CN, en_US, HTTP status). The first block is the spec's table;
# the rest are paymux additions documented in docs/dialects/vpay.md.
MESSAGES: dict[str, tuple[str, str, int]] = {
    "PAYMENT.SUCCESS": ("操作成功", "Operation succeeded", 200),
    "MERCHANT.CREATE_SUCCESS": ("商户创建成功", "Merchant created successfully", 200),
    "ORDER.CREATE_SUCCESS": ("订单创建成功", "Order created successfully", 200),
    "SYSTEM.ERROR": ("系统内部错误", "Internal server error", 500),
    "SYSTEM.NOT_FOUND": ("请求的资源不存在", "Requested resource not found", 404),
    "PAYMENT.MISSING_PARAM": ("缺少必要参数", "Missing required parameters", 400),
    "PAYMENT.INVALID_SIGN": ("签名验证失败", "Invalid signature", 401),
    "PAYMENT.EXPIRED_TIMESTAMP": ("请求已过期", "Request expired", 401),
    "PAYMENT.DUPLICATE_REQUEST": ("重复请求", "Duplicate request", 409),
    "PAYMENT.RATE_LIMIT_EXCEEDED": ("请求频率超出限制", "Rate limit exceeded", 429),
    "MERCHANT.INVALID_PARAMS": ("商户参数无效", "Invalid merchant parameters", 400),
    "MERCHANT.NOT_FOUND": ("商户不存在", "Merchant not found", 404),
    "ORDER.INVALID_PARAMS": ("订单参数无效", "Invalid order parameters", 400),
    "ORDER.INVALID_AMOUNT": ("无效的订单金额", "Invalid order amount", 400),
    "ORDER.NOT_FOUND": ("订单不存在", "Order not found", 404),
    "ORDER.ACCESS_DENIED": ("无权访问订单", "Access denied", 403),
    "ORDER.INVALID_STATUS": ("订单状态不允许操作", "Invalid order status", 409),
    "ORDER.CLOSE_CONFLICT": ("订单状态已变更", "Order status changed", 409),
    "ACCOUNT.NOT_FOUND": ("账户不存在", "Account not found", 404),
    "ACCOUNT.INSUFFICIENT_BALANCE": ("账户余额不足", "Insufficient balance", 409),
    # paymux additions
    "MERCHANT.DISABLED": ("商户已禁用", "Merchant is disabled", 403),
    "PAYMENT.IP_NOT_ALLOWED": ("IP不在白名单内", "IP address not allowed", 403),
    "PAYMENT.UNAUTHORIZED": ("缺少或无效的管理令牌", "Missing or invalid admin token", 401),
    "PAYMENT.SANDBOX_ONLY": ("仅沙箱环境可用", "Available in sandbox mode only", 403),
    "PAYMENT.UNSUPPORTED_MEDIA_TYPE": ("不支持的内容类型", "Unsupported content type", 415),
    "PAYMENT.PAYLOAD_TOO_LARGE": ("请求体过大", "Request body too large", 413),
    "REFUND.EXCEEDS_AMOUNT": ("退款金额超过可退金额", "Refund exceeds the refundable amount", 409),
    "REFUND.NOT_FOUND": ("退款单不存在", "Refund not found", 404),
    "ACCOUNT.INVALID_PARAMS": ("账户参数无效", "Invalid account parameters", 400),
    "ACCOUNT.ACCESS_DENIED": ("无权访问账户", "Account access denied", 403),
    "ACCOUNT.SAME_ACCOUNT": ("不能向同一账户转账", "Cannot transfer to the same account", 400),
    "ACCOUNT.CURRENCY_MISMATCH": ("账户币种不一致", "Currency mismatch", 400),
    "SYSTEM.UNAVAILABLE": ("服务暂时不可用", "Service temporarily unavailable", 503),
}

# Catalogue code → vpay code. INVALID_PARAMS depends on the endpoint group.
BY_ERROR: dict[ErrorCode, str] = {
    ErrorCode.MISSING_PARAM: "PAYMENT.MISSING_PARAM",
    ErrorCode.INVALID_AMOUNT: "ORDER.INVALID_AMOUNT",
    ErrorCode.INVALID_SIGNATURE: "PAYMENT.INVALID_SIGN",
    ErrorCode.STALE_TIMESTAMP: "PAYMENT.EXPIRED_TIMESTAMP",
    ErrorCode.REPLAYED_NONCE: "PAYMENT.DUPLICATE_REQUEST",
    ErrorCode.RATE_LIMITED: "PAYMENT.RATE_LIMIT_EXCEEDED",
    ErrorCode.IP_NOT_ALLOWED: "PAYMENT.IP_NOT_ALLOWED",
    ErrorCode.UNAUTHORIZED: "PAYMENT.UNAUTHORIZED",
    ErrorCode.FORBIDDEN: "PAYMENT.UNAUTHORIZED",
    ErrorCode.SANDBOX_ONLY: "PAYMENT.SANDBOX_ONLY",
    ErrorCode.NOT_FOUND: "SYSTEM.NOT_FOUND",
    ErrorCode.MALFORMED_BODY: "PAYMENT.MISSING_PARAM",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "PAYMENT.UNSUPPORTED_MEDIA_TYPE",
    ErrorCode.PAYLOAD_TOO_LARGE: "PAYMENT.PAYLOAD_TOO_LARGE",
    ErrorCode.MERCHANT_NOT_FOUND: "MERCHANT.NOT_FOUND",
    ErrorCode.MERCHANT_DISABLED: "MERCHANT.DISABLED",
    ErrorCode.ORDER_NOT_FOUND: "ORDER.NOT_FOUND",
    # The ruling: a reused merchant order no is ORDER.INVALID_PARAMS with a clear
    # `detail`; a reused merchant refund no follows the same rule.
    ErrorCode.ORDER_EXISTS: "ORDER.INVALID_PARAMS",
    ErrorCode.ORDER_ACCESS_DENIED: "ORDER.ACCESS_DENIED",
    ErrorCode.ORDER_INVALID_STATUS: "ORDER.INVALID_STATUS",
    ErrorCode.ORDER_STATE_CONFLICT: "ORDER.CLOSE_CONFLICT",
    ErrorCode.REFUND_NOT_FOUND: "REFUND.NOT_FOUND",
    ErrorCode.REFUND_EXISTS: "ORDER.INVALID_PARAMS",
    ErrorCode.REFUND_EXCEEDS_PAID: "REFUND.EXCEEDS_AMOUNT",
    ErrorCode.ACCOUNT_NOT_FOUND: "ACCOUNT.NOT_FOUND",
    ErrorCode.ACCOUNT_ACCESS_DENIED: "ACCOUNT.ACCESS_DENIED",
    ErrorCode.INSUFFICIENT_BALANCE: "ACCOUNT.INSUFFICIENT_BALANCE",
    ErrorCode.SAME_ACCOUNT: "ACCOUNT.SAME_ACCOUNT",
    ErrorCode.CURRENCY_MISMATCH: "ACCOUNT.CURRENCY_MISMATCH",
    ErrorCode.UNAVAILABLE: "SYSTEM.UNAVAILABLE",
    ErrorCode.INTERNAL: "SYSTEM.ERROR",
}

PARAMS_BY_GROUP = {
    "merchants": "MERCHANT.INVALID_PARAMS",
    "orders": "ORDER.INVALID_PARAMS",
    "accounts": "ACCOUNT.INVALID_PARAMS",
}


def wire_code(error: ErrorCode, path: str) -> str:
    if error is ErrorCode.INVALID_PARAMS:
        for group, code in PARAMS_BY_GROUP.items():
            if f"/api/v1/{group}" in path:
                return code
        return "ORDER.INVALID_PARAMS"
    return BY_ERROR.get(error, "SYSTEM.ERROR")
