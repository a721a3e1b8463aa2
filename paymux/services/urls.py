"""Checks on merchant-supplied URLs (notify/return): scheme, shape, and the SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

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


@dataclass(frozen=True, slots=True)
class PinnedURL:
    """A URL whose host was resolved once to a public address, and how to call it there."""

    url: str  # the same URL with the checked address in place of the host name
    host: str  # the Host header to send
    server_name: str  # the TLS name to ask for and verify (httpx's `sni_hostname`)


async def pin_public(url: str, *, field: str) -> PinnedURL:
    """The SSRF guard for a call paymux makes itself: every DNS answer must be public.

    The caller connects to the checked address, so the name cannot be re-resolved
    (rebound) to a private one between the check and the connection.
    """
    check_url(url, field=field, allow_private=False)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        message = f"{field} host does not resolve: {exc}"
        raise PaymuxError(ErrorCode.INVALID_PARAMS, message, field=field) from None
    addresses = [str(answer[4][0]) for answer in answers]
    if not addresses or any(is_private_host(address) for address in addresses):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"{field} resolves to a private or loopback address",
            field=field,
        )
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{port}" if parts.port else literal
    return PinnedURL(urlunsplit(parts._replace(netloc=netloc)), parts.netloc, host)
