"""The dispatcher's knobs: the attempt timeout comes from Settings, the rest from PAYMUX_NOTIFY_*.

They are documented in docs/notifications.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from paymux.config import Settings


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    timeout_s: float = 10.0
    # Deliveries in flight per process; also the size of the HTTP connection pool.
    concurrency: int = 64
    # Deliveries in flight per merchant and process; 0: a quarter of `concurrency`.
    merchant_slots: int = 0
    # How long a claim holds a row (real time, not the sandbox clock). It must outlast
    # one attempt plus recording it, or a second worker could start the same attempt.
    lease_s: float = 35.0
    # The fallback poll: rows written by other processes, the clock offset, timed jobs.
    poll_s: float = 1.0
    retention_s: float = 30 * 86400.0
    # Reply bytes read per attempt; a merchant answering 10 MB costs us this much.
    max_reply_bytes: int = 64 * 1024
    # Private/loopback targets (also after DNS) are refused at delivery unless allowed.
    allow_private: bool = True
    # Whether `paymux serve` runs a dispatcher itself (off when only workers deliver).
    embedded: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> NotifyConfig:
        env = os.environ
        timeout = settings.notify_timeout_s
        return cls(
            timeout_s=timeout,
            concurrency=int(env.get("PAYMUX_NOTIFY_CONCURRENCY", "64")),
            merchant_slots=int(env.get("PAYMUX_NOTIFY_MERCHANT_SLOTS", "0")),
            # Never shorter than an attempt: the lease is what keeps attempts exclusive.
            lease_s=max(
                float(env.get("PAYMUX_NOTIFY_LEASE_S", "0")) or 3 * timeout + 5, timeout + 1
            ),
            poll_s=float(env.get("PAYMUX_NOTIFY_POLL_S", "1")),
            retention_s=float(env.get("PAYMUX_NOTIFY_RETENTION_DAYS", "30")) * 86400,
            allow_private=settings.private_notify_urls_allowed,
            embedded=env.get("PAYMUX_NOTIFY_EMBEDDED", "1") not in ("0", "false", "no"),
        )

    @property
    def slots_per_merchant(self) -> int:
        """A merchant's fair share of the slots: what its hanging endpoint can hold at most.

        A quarter by default, so even three merchants hanging at once leave a
        quarter of the slots to everyone else; never more than all of them.
        """
        share = self.merchant_slots or self.concurrency // 4
        return min(max(1, share), self.concurrency)

    def with_overrides(self, **kwargs: object) -> NotifyConfig:
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})
