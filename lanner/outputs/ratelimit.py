"""Falco's token bucket (outputs-and-endpoints.md 3.1), used by the legacy ``outputs.rate`` limiter."""

from __future__ import annotations

import time

_U64 = 1 << 64


class TokenBucket:
    """Starts full; refills ``rate`` tokens/s up to ``max_tokens``. Clock: wall clock in ns."""

    def __init__(self, rate: float, max_tokens: float, now_ns: int | None = None) -> None:
        self.rate = float(rate)
        self.max_tokens = float(max_tokens)
        self.tokens = float(max_tokens)
        self.last_seen = time.time_ns() if now_ns is None else now_ns

    def claim(self, n: float = 1, now_ns: int | None = None) -> bool:
        now = time.time_ns() if now_ns is None else now_ns
        # unsigned 64-bit difference: a clock going backwards refills the bucket
        delta = (now - self.last_seen) % _U64
        self.tokens = min(self.tokens + self.rate * delta / 1e9, self.max_tokens)
        self.last_seen = now
        if self.tokens < n:
            return False
        self.tokens -= n
        return True
