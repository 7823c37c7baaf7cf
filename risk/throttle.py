"""Deterministic message-rate limits: a token bucket in its GCRA form, on command timestamps.

A limit of `count` messages per `per_seconds` with bursts up to `burst` becomes an
emission interval T = per_seconds / count and a tolerance tau = (burst - 1) * T.
A message at `ts` conforms when tat - ts <= tau, where tat (the "theoretical
arrival time") is never below ts; a conforming message moves tat on by T.

The guarantee, which the property tests check: any run of k accepted messages
from t_first to t_last satisfies k <= burst + (t_last - t_first) / T. So a
burst of `burst` messages at once, then on average `count` per `per_seconds`.

It reads only the commands' `ts`, never a clock, so a journal replay makes the
same decisions; one int of state per limited key; no allocation per message.
The pre-trade check inlines `allow` on its hot path (same arithmetic).
"""

from __future__ import annotations


class TokenBucket:
    __slots__ = ("T", "tau", "tat", "count", "per_ns", "burst")

    def __init__(self, count: int, per_ns: int, burst: int | None = None) -> None:
        if count < 1 or per_ns < 1:
            raise ValueError("a rate limit needs count >= 1 and a positive window")
        burst = count if burst is None else burst
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.count = count
        self.per_ns = per_ns
        self.burst = burst
        self.T = -(-per_ns // count)       # rounded up: never looser than configured
        self.tau = (burst - 1) * self.T
        self.tat = 0

    def allow(self, ts: int) -> bool:
        """Record and allow a message at `ts`, or refuse it (nothing recorded)."""
        tat = self.tat
        if tat < ts:
            tat = ts
        elif tat - ts > self.tau:
            return False
        self.tat = tat + self.T
        return True

    def limit_text(self) -> str:
        per = self.per_ns / 1e9
        return f"{self.count}/{per:g}s (burst {self.burst})"
