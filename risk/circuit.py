"""Circuit breakers: halt an instrument whose trade price moves more than X% within
T seconds, and reopen it after a cool-down.

Driven only by event timestamps (trade prints) and command timestamps (the
reopen happens on the first command — typically the venue's one-second Tick —
at or after the cool-down's end), so a journal replay halts and reopens at the
same points. The window's lowest and highest prices are kept in two monotonic
deques: O(1) amortised per trade.

The halt and the reopen are the engine's own SetTradingState commands, deferred
by the risk listener (`oms.defer`), so they are re-derived on replay rather
than journaled.
"""

from __future__ import annotations

from collections import deque

from risk.scaling import PPM


class Breaker:
    __slots__ = ("symbol", "move_ppm", "window", "cooldown", "lows", "highs", "tripped", "reopen_at", "last_trip")

    def __init__(self, symbol: str, move_ppm: int, window_ns: int, cooldown_ns: int) -> None:
        self.symbol = symbol
        self.move_ppm = move_ppm
        self.window = window_ns
        self.cooldown = cooldown_ns
        self.lows: deque = deque()      # (ts, px) with increasing px: lows[0] is the window's minimum
        self.highs: deque = deque()     # (ts, px) with decreasing px: highs[0] is the window's maximum
        self.tripped = False            # halted by this breaker, waiting for reopen_at
        self.reopen_at = 0
        self.last_trip: dict | None = None

    def on_trade(self, ts: int, px: int) -> str | None:
        """Feed one trade print; returns the halt reason when the move is too large."""
        if self.tripped:
            return None
        horizon = ts - self.window
        lows = self.lows
        highs = self.highs
        while lows and lows[0][0] <= horizon:
            lows.popleft()
        while highs and highs[0][0] <= horizon:
            highs.popleft()
        if lows:
            lo = lows[0][1]
            hi = highs[0][1]
            if (px - lo) * PPM > lo * self.move_ppm or (hi - px) * PPM > hi * self.move_ppm:
                ref = lo if (px - lo) * hi >= (hi - px) * lo else hi
                move_ppm = abs(px - ref) * PPM // ref
                self.tripped = True
                self.reopen_at = ts + self.cooldown
                lows.clear()
                highs.clear()
                self.last_trip = {"ts": ts, "from_ticks": ref, "to_ticks": px, "move_ppm": move_ppm}
                return (f"circuit breaker: {self.symbol} moved {move_ppm / 10_000:.2f}% "
                        f"(limit {self.move_ppm / 10_000:g}%) within {self.window / 1e9:g}s")
        while lows and lows[-1][1] >= px:
            lows.pop()
        lows.append((ts, px))
        while highs and highs[-1][1] <= px:
            highs.pop()
        highs.append((ts, px))
        return None

    def reset(self) -> None:
        """The instrument's halt ended (cool-down over or a manual resume): start a fresh window."""
        self.tripped = False
        self.reopen_at = 0
        self.lows.clear()
        self.highs.clear()

    def view(self) -> dict:
        return {"symbol": self.symbol, "move_pct": self.move_ppm / 10_000, "window_s": self.window / 1e9,
                "cooldown_s": self.cooldown / 1e9, "tripped": self.tripped, "reopen_at_ts": self.reopen_at or None,
                "last_trip": self.last_trip}
