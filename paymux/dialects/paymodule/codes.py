"""paymodule wire codes: the body `code` is also the HTTP status, with a Chinese message.

The spec lists 200, 400, 404 and 500; 401, 403, 413, 415, 429 and 503 are
paymux additions for what the spec has no caller for (docs/dialects/paymodule.md).
"""

from __future__ import annotations

from paymux.core.errors import ErrorCode

SUCCESS = (200, "操作成功")
INTERNAL = (500, "服务器内部错误")

BY_ERROR: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.MISSING_PARAM: (400, "请求参数错误"),
    ErrorCode.INVALID_PARAMS: (400, "请求参数错误"),
    ErrorCode.INVALID_AMOUNT: (400, "请求参数错误"),
    ErrorCode.MALFORMED_BODY: (400, "请求参数错误"),
    ErrorCode.ORDER_EXISTS: (400, "业务订单号已存在"),
    ErrorCode.ORDER_INVALID_STATUS: (400, "订单状态不允许操作"),
    ErrorCode.ORDER_STATE_CONFLICT: (400, "订单状态已变更"),
    ErrorCode.UNAUTHORIZED: (401, "调用方身份无效"),
    ErrorCode.MERCHANT_NOT_FOUND: (401, "调用方身份无效"),
    ErrorCode.MERCHANT_DISABLED: (403, "商户已禁用"),
    ErrorCode.IP_NOT_ALLOWED: (403, "IP不在白名单内"),
    ErrorCode.FORBIDDEN: (403, "无权访问"),
    ErrorCode.SANDBOX_ONLY: (403, "仅沙箱环境可用"),
    ErrorCode.NOT_FOUND: (404, "资源不存在"),
    ErrorCode.ORDER_NOT_FOUND: (404, "订单不存在"),
    ErrorCode.ORDER_ACCESS_DENIED: (404, "订单不存在"),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "请求体过大"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415, "不支持的内容类型"),
    ErrorCode.RATE_LIMITED: (429, "请求频率超出限制"),
    ErrorCode.CHANNEL_ERROR: (500, "支付创建失败"),
    ErrorCode.UNAVAILABLE: (503, "服务暂时不可用"),
    ErrorCode.INTERNAL: INTERNAL,
}

# The spec's example message names the channel that refused: "支付创建失败: 微信下单失败".
CHANNEL_LABELS = {"/api/pay/wechat/": "微信下单失败", "/api/pay/alipay/": "支付宝下单失败"}


def wire_error(error: ErrorCode, path: str, detail: str) -> tuple[int, str]:
    code, message = BY_ERROR.get(error, INTERNAL)
    if error is ErrorCode.CHANNEL_ERROR:
        label = next((v for k, v in CHANNEL_LABELS.items() if path.startswith(k)), "渠道错误")
        return code, f"{message}: {label}: {detail}"
    if error is ErrorCode.INTERNAL:
        return code, message
    return code, f"{message}: {detail}"
