"""paymodule callbacks: `X-Signature` = lower-hex HMAC-SHA256 of body bytes + nonce + timestamp."""

from __future__ import annotations

import hashlib
import hmac


def sign(payload: bytes, nonce: str, timestamp_ms: str, secret: str) -> str:
    message = payload + nonce.encode() + timestamp_ms.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(payload: bytes, nonce: str, timestamp_ms: str, secret: str, signature: str) -> bool:
    expected = sign(payload, nonce, timestamp_ms, secret)
    return hmac.compare_digest(expected.encode(), signature.lower().encode())
