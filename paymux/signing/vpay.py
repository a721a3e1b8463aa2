"""vpay: HMAC-SHA256 with the merchant secret over sorted `k=v&…` (all but `sign`), upper hex."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from paymux.signing.canonical import sorted_pairs


def string_to_sign(params: Mapping[str, Any]) -> str:
    return sorted_pairs(params, exclude=("sign",), drop_empty=False)


def _mac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()


def sign(params: Mapping[str, Any], secret: str) -> str:
    return _mac(secret, string_to_sign(params))


def verify(params: Mapping[str, Any], secret: str, signature: str) -> bool:
    return hmac.compare_digest(sign(params, secret).encode(), signature.upper().encode())


def verify_any(params: Mapping[str, Any], secrets: Iterable[str], signature: str) -> bool:
    """Whether any of `secrets` (current, or old within its grace period) signed `params`.

    The string to sign is built once, however many secrets are tried.
    """
    text = string_to_sign(params)
    expected = signature.upper().encode()
    return any(hmac.compare_digest(_mac(secret, text).encode(), expected) for secret in secrets)
