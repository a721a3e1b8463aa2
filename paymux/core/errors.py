"""One error catalogue for the whole platform.

Services raise `PaymuxError` with a catalogue code; each dialect maps the code to
its own wire code and shape. Keeping one catalogue means a new dialect only adds
a mapping table, and a service never needs to know who is calling it.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    MISSING_PARAM = "missing_param"
    INVALID_PARAMS = "invalid_params"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_SIGNATURE = "invalid_signature"
    # Signed with a rotated secret whose grace period has ended (partner's 10000003).
    CREDENTIAL_EXPIRED = "credential_expired"
    STALE_TIMESTAMP = "stale_timestamp"
    REPLAYED_NONCE = "replayed_nonce"
    RATE_LIMITED = "rate_limited"
    IP_NOT_ALLOWED = "ip_not_allowed"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    MALFORMED_BODY = "malformed_body"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    MERCHANT_NOT_FOUND = "merchant_not_found"
    MERCHANT_DISABLED = "merchant_disabled"
    ORDER_NOT_FOUND = "order_not_found"
    ORDER_EXISTS = "order_exists"
    ORDER_ACCESS_DENIED = "order_access_denied"
    ORDER_INVALID_STATUS = "order_invalid_status"
    ORDER_STATE_CONFLICT = "order_state_conflict"
    REFUND_NOT_FOUND = "refund_not_found"
    REFUND_EXISTS = "refund_exists"
    REFUND_EXCEEDS_PAID = "refund_exceeds_paid"
    ACCOUNT_NOT_FOUND = "account_not_found"
    ACCOUNT_ACCESS_DENIED = "account_access_denied"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    SAME_ACCOUNT = "same_account"
    CURRENCY_MISMATCH = "currency_mismatch"
    WITHDRAWAL_NOT_FOUND = "withdrawal_not_found"
    WITHDRAWAL_INVALID_STATUS = "withdrawal_invalid_status"
    USER_NOT_FOUND = "user_not_found"
    SESSION_INVALID = "session_invalid"
    SANDBOX_ONLY = "sandbox_only"
    UNAVAILABLE = "unavailable"
    CHANNEL_ERROR = "channel_error"
    INTERNAL = "internal"


class PaymuxError(Exception):
    """A business or request error with a catalogue code and a human message.

    `field` names the offending parameter when there is one, so dialects can
    put it into their own message format.
    """

    def __init__(self, code: ErrorCode, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message or code.value)
        self.code = code
        self.message = message or code.value
        self.field = field

    def __repr__(self) -> str:
        return f"PaymuxError({self.code.value!r}, {self.message!r})"
