"""How fast one token may report URLs: a token bucket per token name, so that a leaked or buggy
client cannot queue thousands of captures (1,500 in 30 s were accepted before there was one).

Each token may report ``per_minute`` URLs in a burst, then one more each ``60 / per_minute``
seconds; past that the answer is 429 with ``Retry-After``. Kept in the service's process: a
restart forgets the buckets, which only ever lets a client start again with a full one.
"""

from __future__ import annotations

import threading
import time


class RateLimit:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens left, at)
        self._lock = threading.Lock()

    def wait(self, name: str) -> float:
        """Take one report from ``name``'s bucket: 0, or the seconds until one is allowed."""
        now = time.monotonic()
        rate = self.per_minute / 60.0
        with self._lock:
            left, at = self._buckets.get(name, (float(self.per_minute), now))
            left = min(float(self.per_minute), left + (now - at) * rate)
            if left < 1.0:
                self._buckets[name] = (left, now)
                return (1.0 - left) / rate
            self._buckets[name] = (left - 1.0, now)
            return 0.0
