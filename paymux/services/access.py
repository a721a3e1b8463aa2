"""Per-merchant access rules applied by every dialect: IP allowlist and rate limit."""

from __future__ import annotations

import ipaddress
import threading
import time

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant


def check_ip(merchant: Merchant, ip: str) -> None:
    """Refuse a caller outside the merchant's allowlist (comma-separated IPs/CIDRs; empty = any)."""
    if not merchant.ip_allowlist.strip():
        return
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise PaymuxError(ErrorCode.IP_NOT_ALLOWED, f"IP {ip!r} is not allowed") from None
    for item in merchant.ip_allowlist.split(","):
        item = item.strip()
        if item and address in ipaddress.ip_network(item, strict=False):
            return
    raise PaymuxError(ErrorCode.IP_NOT_ALLOWED, f"IP {ip} is not in the merchant's allowlist")


class RateLimiter:
    """A token bucket per merchant (requests per second, burst of one second's worth).

    In-process; scale mode swaps in a shared implementation with the same method.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, merchant: Merchant) -> None:
        rate = merchant.rate_limit_per_s
        if rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(merchant.id, (float(rate), now))
            tokens = min(float(rate), tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[merchant.id] = (tokens, now)
                raise PaymuxError(
                    ErrorCode.RATE_LIMITED, f"rate limit of {rate} requests/s exceeded"
                )
            self._buckets[merchant.id] = (tokens - 1, now)
