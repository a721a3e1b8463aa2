"""gateway: MD5 over sorted `k=v&…` with `secret=<secret>` sorted in, lower hex.

Requests drop empty values; callbacks keep them (the spec's two examples).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from paymux.signing.canonical import sorted_pairs


def string_to_sign(params: Mapping[str, Any], secret: str, *, keep_empty: bool) -> str:
    return sorted_pairs({**params, "secret": secret}, exclude=("sign",), drop_empty=not keep_empty)


def sign_request(params: Mapping[str, Any], secret: str) -> str:
    text = string_to_sign(params, secret, keep_empty=False)
    return hashlib.md5(text.encode()).hexdigest()  # nosec B324 # MD5 is what the spec signs with


def verify_request(params: Mapping[str, Any], secret: str, signature: str) -> bool:
    return hmac.compare_digest(sign_request(params, secret).encode(), signature.lower().encode())


def sign_callback(params: Mapping[str, Any], secret: str) -> str:
    text = string_to_sign(params, secret, keep_empty=True)
    return hashlib.md5(text.encode()).hexdigest()  # nosec B324 # MD5 is what the spec signs with


def verify_callback(params: Mapping[str, Any], secret: str, signature: str) -> bool:
    return hmac.compare_digest(sign_callback(params, secret).encode(), signature.lower().encode())
