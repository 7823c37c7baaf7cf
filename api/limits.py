"""Per-key (and per-address, for public endpoints) token-bucket rate limits.

A refused request gets 429 RATE_LIMITED with `Retry-After` (whole seconds,
rounded up) saying when one token will be back, so a well-behaved client
never has to guess.
"""

from __future__ import annotations

import math
import time


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        tokens = self.tokens + (now - self.stamp) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.stamp = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return 0.0
        self.tokens = tokens
        return (1.0 - tokens) / self.rate


class RateLimiter:
    """Buckets by name ("key:<id>", "ip:<address>"), created on first use.

    Address buckets are dropped when idle (full again), so a crowd of one-off
    clients does not grow memory without bound."""

    def __init__(self, clock=time.monotonic, max_idle_buckets: int = 10_000) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._max_idle = max_idle_buckets

    def check(self, name: str, rate: float, burst: int) -> float:
        now = self._clock()
        b = self._buckets.get(name)
        if b is None:
            if len(self._buckets) >= self._max_idle:
                self._prune(now)
            b = self._buckets[name] = TokenBucket(rate, burst, now)
        elif b.rate != rate or b.burst != burst:
            b.rate, b.burst = rate, burst
        return b.take(now)

    def _prune(self, now: float) -> None:
        full = [n for n, b in self._buckets.items() if b.tokens + (now - b.stamp) * b.rate >= b.burst]
        for n in full:
            del self._buckets[n]

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
