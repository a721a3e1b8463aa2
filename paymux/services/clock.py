"""The platform clock: real time plus a sandbox offset that tests can advance."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

# Naive UTC from a Unix time by adding to the epoch: half the cost of
# `fromtimestamp(t, UTC).replace(tzinfo=None)`, and it is called several times a request.
_EPOCH = datetime(1970, 1, 1)


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
        return _EPOCH + timedelta(seconds=self.time())

    def now_ms(self) -> int:
        return int(self.time() * 1000)
