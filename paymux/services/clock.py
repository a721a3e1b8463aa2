"""The platform clock: real time plus a sandbox offset that tests can advance."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Naive-UTC `now()` everywhere inside paymux; the offset is only ever moved forward."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self._offset = offset_s
        self._lock = threading.Lock()

    @property
    def offset_s(self) -> float:
        return self._offset

    def set_offset(self, offset_s: float) -> None:
        with self._lock:
            self._offset = max(self._offset, offset_s)

    def time(self) -> float:
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC).replace(tzinfo=None)

    def now_ms(self) -> int:
        return int(self.time() * 1000)
