"""The error shape of paymux's own APIs (sandbox, admin): `{"error": {"code", "message"}}`."""

from __future__ import annotations

import msgspec
from litestar import Request, Response

from paymux.core.errors import ErrorCode, PaymuxError

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.SANDBOX_ONLY: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.MERCHANT_NOT_FOUND: 404,
    ErrorCode.ORDER_NOT_FOUND: 404,
    ErrorCode.REFUND_NOT_FOUND: 404,
    ErrorCode.ACCOUNT_NOT_FOUND: 404,
    ErrorCode.WITHDRAWAL_NOT_FOUND: 404,
    ErrorCode.USER_NOT_FOUND: 404,
    ErrorCode.ORDER_INVALID_STATUS: 409,
    ErrorCode.ORDER_STATE_CONFLICT: 409,
    ErrorCode.WITHDRAWAL_INVALID_STATUS: 409,
    ErrorCode.INSUFFICIENT_BALANCE: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAVAILABLE: 503,
}


def render_error(_request: Request, error: PaymuxError) -> Response[bytes]:
    body = msgspec.json.encode({"error": {"code": error.code.value, "message": error.message}})
    return Response(
        body, status_code=HTTP_STATUS.get(error.code, 400), media_type="application/json"
    )


def ok(data: object, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json")
