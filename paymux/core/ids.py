"""Snowflake-style 64-bit ids: time-ordered, unique across processes by node id.

Pure: the caller passes the current time in milliseconds, so tests and the
sandbox clock control it completely.
"""

from __future__ import annotations

import threading

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NODE_BITS = 10
SEQ_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQ = (1 << SEQ_BITS) - 1


class Snowflake:
    """Generates strictly increasing ids for one node; thread-safe.

    When the clock stands still or goes back (sandbox clock, NTP step), the
    generator keeps counting from the last timestamp it used instead of
    reusing ids.
    """

    def __init__(self, node: int) -> None:
        if not 0 <= node <= MAX_NODE:
            raise ValueError(f"node must be within 0..{MAX_NODE}")
        self._node = node
        self._last_ms = 0
        self._seq = 0
        self._lock = threading.Lock()

    def next_id(self, now_ms: int) -> int:
        with self._lock:
            ms = max(now_ms - EPOCH_MS, self._last_ms)
            if ms == self._last_ms:
                self._seq = (self._seq + 1) & MAX_SEQ
                if self._seq == 0:
                    ms += 1
            else:
                self._seq = 0
            self._last_ms = ms
            return (ms << (NODE_BITS + SEQ_BITS)) | (self._node << SEQ_BITS) | self._seq
