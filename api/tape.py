"""The gateway's memory of what traded: candles per instrument, fills per account.

Installed as an OMS listener (`oms.listeners`), so it sees every command's
events synchronously and deterministically: a journal replay at start-up
rebuilds candles and fill history exactly as a live run built them. It keeps
engine objects (ticks, lots, ExecReport snapshots) and renders nothing — the
routers convert to outside units on the way out.

It is also a snapshot extension (`snapshot_state` / `restore_state`): a restart
from a snapshot does not replay the commands before it, so the tape saves its
candles, net positions and the most recent fills of each account with the
snapshot (older fills are in the SQL store).
"""

from __future__ import annotations

from collections import deque

from api.candles import INTERVALS, Candle, CandleSeries, RollingDay
from engine.events import ExecReport
from engine.types import ExecType

_TRADE = int(ExecType.TRADE)


class Tape:
    def __init__(self, symbols, accounts, *, fills_per_account: int = 10_000, candles_kept: int = 1500) -> None:
        self.candles: dict[str, dict[str, CandleSeries]] = {
            s: {name: CandleSeries(width, candles_kept) for name, width in INTERVALS.items()} for s in symbols
        }
        # tight loop target: one list of series per symbol
        self._series = {s: tuple(d.values()) for s, d in self.candles.items()}
        self.day = {s: RollingDay(d["1m"]) for s, d in self.candles.items()}
        self.fills: dict[str, deque] = {a: deque(maxlen=fills_per_account) for a in accounts}
        self._fills_max = fills_per_account
        self.trade_count = 0
        # signed net quantity in lots per (account, symbol): the positions fallback while
        # risk/ (the real ledger, with prices and P&L) is not wired in
        self.net: dict[tuple[str, str], int] = {}

    def __call__(self, events: list) -> None:
        """The OMS listener."""
        for ev in events:
            kind = ev.kind
            if kind == "trade":
                series = self._series.get(ev.symbol)
                if series is not None:
                    ts, px, qty = ev.ts, ev.price, ev.qty
                    for s in series:
                        s.add(ts, px, qty)
                self.trade_count += 1
            elif kind == "exec" and ev.exec_type == _TRADE:
                d = self.fills.get(ev.account)
                if d is None:
                    d = self.fills[ev.account] = deque(maxlen=self._fills_max)
                d.append(ev)
                k = (ev.account, ev.symbol)
                self.net[k] = self.net.get(k, 0) + (ev.last_qty if ev.side == 1 else -ev.last_qty)

    def fills_for(self, account: str, *, symbol: str | None = None, since: int | None = None,
                  until: int | None = None, limit: int = 100) -> list:
        d = self.fills.get(account)
        if not d:
            return []
        out = [e for e in d if (symbol is None or e.symbol == symbol) and (since is None or e.ts >= since)
               and (until is None or e.ts < until)]
        return out[-limit:]

    # ------------------------------------------------------------------ snapshot extension

    SNAPSHOT_FILLS = 1000      # most recent fills per account carried in a snapshot

    def snapshot_state(self) -> dict:
        return {
            "candles": {sym: {name: [[c.start, c.open, c.high, c.low, c.close, c.volume, c.notional, c.trades]
                                     for c in series.candles] for name, series in per.items()}
                        for sym, per in self.candles.items()},
            "fills": {acct: [[getattr(ev, n) for n in ExecReport.__slots__] for ev in list(d)[-self.SNAPSHOT_FILLS:]]
                      for acct, d in self.fills.items() if d},
            "net": [[a, s, lots] for (a, s), lots in self.net.items()],
            "trade_count": self.trade_count,
        }

    def restore_state(self, state: dict) -> None:
        for sym, per in state.get("candles", {}).items():
            for name, rows in per.items():
                series = self.candles.get(sym, {}).get(name)
                if series is None:
                    continue
                series.candles.clear()
                for start, o, h, lo, c, vol, notional, n in rows:
                    k = Candle(start, o, 0)
                    k.high, k.low, k.close, k.volume, k.notional, k.trades = h, lo, c, vol, notional, n
                    series.candles.append(k)
        for d in self.fills.values():
            d.clear()
        for acct, rows in state.get("fills", {}).items():
            d = self.fills.setdefault(acct, deque(maxlen=self._fills_max))
            for row in rows:
                ev = ExecReport.__new__(ExecReport)
                for n, v in zip(ExecReport.__slots__, row):
                    setattr(ev, n, v)
                d.append(ev)
        self.net = {(a, s): lots for a, s, lots in state.get("net", [])}
        self.trade_count = state.get("trade_count", 0)
