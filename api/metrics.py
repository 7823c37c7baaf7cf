"""Venue-wide order, trade and reject counters fed from the durable event stream.

One sequencer subscriber counts for every gateway (the gateway is read from the
event's origin: "REST:key" -> rest, "FIX:session" -> fix, anything else ->
internal), so FIX and REST numbers come from the same place and nothing is
counted twice. The metric objects themselves are the shared ones in
risk/metrics.py. Label children are cached: after warm-up a batch costs a dict
lookup and an add per event.
"""

from __future__ import annotations

from engine.translate import ORDER_TYPE_NAMES
from engine.types import ExecType
from risk.metrics import KILL_SWITCH_ENGAGED, ORDER_REJECTS, ORDERS, TRADES

_NEW = int(ExecType.NEW)
_REJECTED = int(ExecType.REJECTED)
_TRADE = int(ExecType.TRADE)
_LIQ = {"M": "maker", "T": "taker"}


def gateway_of(origin: str) -> str:
    head = origin.split(":", 1)[0].lower() if origin else ""
    return head if head in ("rest", "fix") else (head or "internal")


class EventMetrics:
    def __init__(self) -> None:
        self._orders: dict[tuple, object] = {}
        self._trades: dict[tuple, object] = {}
        self._rejects: dict[tuple, object] = {}
        self._gw: dict[str, str] = {}

    def _gateway(self, origin: str) -> str:
        g = self._gw.get(origin)
        if g is None:
            if len(self._gw) > 10_000:
                self._gw.clear()
            g = self._gw[origin] = gateway_of(origin)
        return g

    def __call__(self, events: list) -> None:
        for ev in events:
            kind = ev.kind
            if kind == "exec":
                x = ev.exec_type
                if x == _TRADE:
                    key = (ev.origin, ev.symbol, ev.liquidity)
                    c = self._trades.get(key)
                    if c is None:
                        c = self._trades[key] = TRADES.labels(self._gateway(ev.origin), ev.symbol,
                                                              _LIQ.get(ev.liquidity, "unknown"))
                    c.inc()
                elif x == _NEW or x == _REJECTED:
                    result = "accepted" if x == _NEW else "rejected"
                    key = (ev.origin, ev.symbol, ev.ord_type, result)
                    c = self._orders.get(key)
                    if c is None:
                        c = self._orders[key] = ORDERS.labels(self._gateway(ev.origin), ev.symbol,
                                                              ORDER_TYPE_NAMES.get(ev.ord_type, "unknown"), result)
                    c.inc()
                    if x == _REJECTED:
                        self._reject(ev.origin, ev.reason)
            elif kind == "cancel_reject":
                self._reject(ev.origin, ev.reason)
            elif kind == "risk_state":
                KILL_SWITCH_ENGAGED.labels(ev.scope, ev.target or "*").set(0 if ev.state == "ACTIVE" else 1)

    def _reject(self, origin: str, reason: str) -> None:
        key = (origin, reason)
        c = self._rejects.get(key)
        if c is None:
            c = self._rejects[key] = ORDER_REJECTS.labels(self._gateway(origin), reason or "UNKNOWN")
        c.inc()
