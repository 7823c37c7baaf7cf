"""OHLCV candles built from trade prints, in ticks and lots.

Fed by `api.tape.Tape` (an OMS listener), so candles come from the same event
stream as everything else and a journal replay rebuilds them. Buckets are
aligned to the epoch in UTC (a 1h candle starts on the hour); a bucket with no
trades has no candle (clients fill gaps if they want flat candles).
"""

from __future__ import annotations

from collections import deque

NS = 1_000_000_000
INTERVALS: dict[str, int] = {
    "1m": 60 * NS,
    "5m": 300 * NS,
    "15m": 900 * NS,
    "1h": 3600 * NS,
    "4h": 4 * 3600 * NS,
    "1d": 86_400 * NS,
}
DAY_NS = 86_400 * NS


class Candle:
    __slots__ = ("start", "open", "high", "low", "close", "volume", "notional", "trades")

    def __init__(self, start: int, price: int, qty: int) -> None:
        self.start = start
        self.open = self.high = self.low = self.close = price
        self.volume = qty
        self.notional = price * qty
        self.trades = 1


class CandleSeries:
    """Candles of one instrument at one interval, oldest first, bounded."""

    __slots__ = ("width", "candles")

    def __init__(self, width_ns: int, keep: int = 1500) -> None:
        self.width = width_ns
        self.candles: deque[Candle] = deque(maxlen=keep)

    def add(self, ts: int, price: int, qty: int) -> None:
        start = ts - ts % self.width
        candles = self.candles
        if candles:
            c = candles[-1]
            if c.start == start:
                if price > c.high:
                    c.high = price
                elif price < c.low:
                    c.low = price
                c.close = price
                c.volume += qty
                c.notional += price * qty
                c.trades += 1
                return
            if start < c.start:        # out-of-order print (clock step back): fold into the latest
                c.close = price
                c.high = max(c.high, price)
                c.low = min(c.low, price)
                c.volume += qty
                c.notional += price * qty
                c.trades += 1
                return
        candles.append(Candle(start, price, qty))

    def select(self, since: int | None = None, until: int | None = None, limit: int = 500) -> list[Candle]:
        out = [c for c in self.candles if (since is None or c.start >= since) and (until is None or c.start < until)]
        return out[-limit:]


class RollingDay:
    """24-hour statistics (open, high, low, volume, trade count) from 1-minute candles,
    cached per minute so the ticker is cheap to publish after every batch."""

    def __init__(self, minutes: CandleSeries) -> None:
        self.minutes = minutes
        self._key: tuple | None = None
        self._closed: tuple = (0, 0, 0, 0, 0, 0)

    def stats(self, now: int) -> dict | None:
        """{open, high, low, close, volume, notional, trades} over (now - 24h, now], ticks/lots; None if no trades."""
        candles = self.minutes.candles
        if not candles:
            return None
        horizon = now - DAY_NS
        cur_start = now - now % self.minutes.width
        last = candles[-1]
        key = (cur_start, len(candles), candles[0].start, last.start if last.start < cur_start else None)
        if key != self._key:
            # recompute the closed minutes (all but the current one) once per minute / new candle
            opn = hi = lo = vol = notional = n = 0
            for c in candles:
                if c.start + self.minutes.width <= horizon or c.start >= cur_start:
                    continue
                if not n:
                    opn, hi, lo = c.open, c.high, c.low
                else:
                    hi = hi if hi >= c.high else c.high
                    lo = lo if lo <= c.low else c.low
                vol += c.volume
                notional += c.notional
                n += c.trades
            self._closed = (opn, hi, lo, vol, notional, n)
            self._key = key
        opn, hi, lo, vol, notional, n = self._closed
        if last.start >= cur_start:          # the minute in progress
            c = last
            if not n:
                opn, hi, lo = c.open, c.high, c.low
            else:
                hi = max(hi, c.high)
                lo = min(lo, c.low)
            vol += c.volume
            notional += c.notional
            n += c.trades
        if not n:
            return None
        close = last.close if last.start + self.minutes.width > horizon else opn
        return {"open": opn, "high": hi, "low": lo, "close": close, "volume": vol, "notional": notional, "trades": n}
