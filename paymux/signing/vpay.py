"""vpay: HMAC-SHA256 with the merchant secret over sorted `k=v&…` (all but `sign`), upper hex."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from paymux.signing.canonical import sorted_pairs


def string_to_sign(params: Mapping[str, Any]) -> str:
    return sorted_pairs(params, exclude=("sign",), drop_empty=False)


def sign(params: Mapping[str, Any], secret: str) -> str:
    return (
        hmac.new(secret.encode(), string_to_sign(params).encode(), hashlib.sha256)
        .hexdigest()
        .upper()
    )


def verify(params: Mapping[str, Any], secret: str, signature: str) -> bool:
    return hmac.compare_digest(sign(params, secret).encode(), signature.upper().encode())
