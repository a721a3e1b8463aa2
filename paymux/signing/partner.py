"""partner: SHA-256 over sorted `k=v&…&key=<appSecret>`, upper hex; and the MD5 `paySign`.

The spec's PHP sample drops empty values, its Java sample keeps empty strings;
the ruling makes the PHP rule canonical and accepts both on verification.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from paymux.signing.canonical import sorted_pairs

SIGNATURE_FIELDS = ("signature", "sign")


def string_to_sign(params: Mapping[str, Any], secret: str, *, keep_empty: bool = False) -> str:
    body = sorted_pairs(params, exclude=SIGNATURE_FIELDS, drop_empty=not keep_empty)
    return f"{body}&key={secret}" if body else f"key={secret}"


def sign(params: Mapping[str, Any], secret: str, *, keep_empty: bool = False) -> str:
    text = string_to_sign(params, secret, keep_empty=keep_empty)
    return hashlib.sha256(text.encode()).hexdigest().upper()


def verify(params: Mapping[str, Any], secret: str, signature: str) -> bool:
    """Accept the PHP rule (empty dropped) or the Java rule (empty strings kept)."""
    given = signature.upper().encode()
    java = sign({k: v for k, v in params.items() if v is not None}, secret, keep_empty=True)
    return hmac.compare_digest(sign(params, secret).encode(), given) or hmac.compare_digest(
        java.encode(), given
    )


def pay_sign(api_key: str, nonce: str, order_no: str, timestamp_s: int | str, secret: str) -> str:
    """The deep link's `paySign`: lower-case MD5 with the timestamp in seconds."""
    text = (
        f"apiKey={api_key}&nonce={nonce}&orderNo={order_no}&signType=MD5"
        f"&timestamp={timestamp_s}&key={secret}"
    )
    return hashlib.md5(text.encode()).hexdigest()  # nosec B324 # MD5 is what the spec signs with


def verify_pay_sign(
    api_key: str, nonce: str, order_no: str, timestamp_s: str, secret: str, signature: str
) -> bool:
    expected = pay_sign(api_key, nonce, order_no, timestamp_s, secret)
    return hmac.compare_digest(expected.encode(), signature.lower().encode())
