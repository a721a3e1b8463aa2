"""Checks on merchant-supplied URLs (notify/return): scheme, shape, and the SSRF guard."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from paymux.core.errors import ErrorCode, PaymuxError


def is_private_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def check_url(url: str, *, field: str, allow_private: bool, max_len: int = 512) -> str:
    """An http(s) URL with a host; private and loopback hosts only where the deployment allows."""
    if len(url) > max_len or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"{field} is not a valid URL", field=field)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"{field} must be an http(s) URL", field=field)
    if parts.username or parts.password:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"{field} must not carry credentials", field=field
        )
    if not allow_private and is_private_host(parts.hostname):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"{field} points at a private or loopback address",
            field=field,
        )
    return url
