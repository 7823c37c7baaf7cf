"""Circuit breakers: halt an instrument whose trade price moves more than X% within
T seconds, and reopen it after a cool-down.

Driven only by event timestamps (trade prints) and command timestamps (the
reopen happens on the first command — typically the venue's one-second Tick —
at or after the cool-down's end), so a journal replay halts and reopens at the
same points. The halt and the reopen are the engine's own SetTradingState
commands, deferred by the risk listener (`oms.defer`): re-derived on replay,
never journaled.

The window is kept as BUCKETS buckets of T/BUCKETS each, holding the lowest
and highest price traded in them. A print is compared with the lowest and
highest price of the buckets that overlap the last T seconds, so the window
the breaker looks at spans between T and T + T/BUCKETS: never shorter than
configured (a move inside T always trips it), at most one bucket longer. The
common print — inside the range its bucket has already seen — costs a few
integer comparisons.
"""

from __future__ import annotations

from risk.scaling import PPM

BUCKETS = 16


class Breaker:
    __slots__ = ("symbol", "move_ppm", "window", "cooldown", "width", "cur", "cur_lo", "cur_hi",
                 "past", "tripped", "reopen_at", "last_trip")

    def __init__(self, symbol: str, move_ppm: int, window_ns: int, cooldown_ns: int) -> None:
        self.symbol = symbol
        self.move_ppm = move_ppm
        self.window = window_ns
        self.cooldown = cooldown_ns
        self.width = max(1, window_ns // BUCKETS)
        self.cur = -1                   # index (ts // width) of the current bucket
        self.cur_lo = 0
        self.cur_hi = 0
        self.past: list[tuple[int, int, int]] = []   # (bucket index, lo, hi) of earlier buckets in the window
        self.tripped = False            # halted by this breaker, waiting for reopen_at
        self.reopen_at = 0
        self.last_trip: dict | None = None

    def on_trade(self, ts: int, px: int) -> str | None:
        """Feed one trade print; returns the halt reason when the move is too large."""
        if self.tripped:
            return None
        b = ts // self.width
        if b == self.cur and self.cur_lo <= px <= self.cur_hi:
            return None     # inside what this bucket has already seen: nothing can change
        return self._slow(ts, px, b)

    def _slow(self, ts: int, px: int, b: int) -> str | None:
        if b != self.cur:
            if self.cur >= 0:
                self.past.append((self.cur, self.cur_lo, self.cur_hi))
            oldest = (ts - self.window) // self.width
            self.past = [e for e in self.past if e[0] >= oldest]
            self.cur = b
            self.cur_lo = self.cur_hi = px
        lo, hi = self._range()
        if lo and ((px - lo) * PPM > lo * self.move_ppm or (hi - px) * PPM > hi * self.move_ppm):
            ref = lo if (px - lo) * hi >= (hi - px) * lo else hi
            move_ppm = abs(px - ref) * PPM // ref
            self.tripped = True
            self.reopen_at = ts + self.cooldown
            self.past.clear()
            self.cur = -1
            self.last_trip = {"ts": ts, "from_ticks": ref, "to_ticks": px, "move_ppm": move_ppm}
            return (f"circuit breaker: {self.symbol} moved {move_ppm / 10_000:.2f}% "
                    f"(limit {self.move_ppm / 10_000:g}%) within {self.window / 1e9:g}s")
        if px < self.cur_lo:
            self.cur_lo = px
        elif px > self.cur_hi:
            self.cur_hi = px
        return None

    def _range(self) -> tuple[int, int]:
        lo = self.cur_lo
        hi = self.cur_hi
        for _, l, h in self.past:
            if l < lo:
                lo = l
            if h > hi:
                hi = h
        return lo, hi

    def reset(self) -> None:
        """The instrument's halt ended (cool-down over or a manual resume): start a fresh window."""
        self.tripped = False
        self.reopen_at = 0
        self.past.clear()
        self.cur = -1

    def view(self) -> dict:
        return {"symbol": self.symbol, "move_pct": self.move_ppm / 10_000, "window_s": self.window / 1e9,
                "cooldown_s": self.cooldown / 1e9, "tripped": self.tripped, "reopen_at_ts": self.reopen_at or None,
                "last_trip": self.last_trip}
