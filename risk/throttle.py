"""Deterministic message-rate limits: an exact sliding window over command timestamps.

A `SlidingWindow(count, window_ns)` keeps the timestamps of the last `count`
accepted messages in a ring. A message at `ts` is allowed when the oldest of
them is at least `window_ns` old, so no window of that length ever holds more
than `count` accepted messages — exactly, not approximately like a token
bucket. It reads only the commands' `ts`, never a clock, so a journal replay
makes the same decisions. O(1) per message, no allocation.
"""

from __future__ import annotations

_NEVER = -(1 << 62)


class SlidingWindow:
    __slots__ = ("count", "window", "ring", "idx")

    def __init__(self, count: int, window_ns: int) -> None:
        if count < 1 or window_ns < 1:
            raise ValueError("a rate limit needs count >= 1 and a positive window")
        self.count = count
        self.window = window_ns
        self.ring = [_NEVER] * count
        self.idx = 0

    def allow(self, ts: int) -> bool:
        """Record and allow a message at `ts`, or refuse it (nothing recorded)."""
        i = self.idx
        ring = self.ring
        if ts - ring[i] < self.window:
            return False
        ring[i] = ts
        i += 1
        self.idx = 0 if i == self.count else i
        return True

    def in_window(self, ts: int) -> int:
        """Accepted messages in (ts - window, ts] (for status views)."""
        w = self.window
        return sum(1 for t in self.ring if ts - t < w and t <= ts)
