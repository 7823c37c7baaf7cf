"""Prometheus counters of the risk layer, on the default registry (served at /metrics).

Counters are touched only off the hot path: when a check refuses an order, and
when a kill switch, halt or circuit breaker acts. Label children are resolved
once per label value and cached, so a reject storm does not pay for label
lookups.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter


def _counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
    # tolerate a re-import in the same process (e.g. importlib.reload in a test)
    existing = REGISTRY._names_to_collectors.get(name + "_total") or REGISTRY._names_to_collectors.get(name)
    if existing is not None:
        return existing  # type: ignore[return-value]
    return Counter(name, doc, labels)


REJECTS = _counter("fixvenue_risk_rejects", "Orders and replaces refused by a pre-trade check", ("check", "reason"))
KILL_SWITCH = _counter("fixvenue_risk_kill_switch_actions", "Kill-switch activations and releases",
                       ("scope", "state", "trigger"))
HALTS = _counter("fixvenue_risk_trading_state_changes",
                 "Instrument halts and resumes seen by risk (manual, scheduler and circuit breaker)",
                 ("symbol", "state", "cause"))
CIRCUIT_BREAKER = _counter("fixvenue_risk_circuit_breaker_trips", "Circuit breaker halts", ("symbol",))

_reject_children: dict[tuple[str, str], object] = {}


def count_reject(check: str, reason: str) -> None:
    child = _reject_children.get((check, reason))
    if child is None:
        child = _reject_children[(check, reason)] = REJECTS.labels(check=check, reason=reason)
    child.inc()  # type: ignore[attr-defined]


def reject_count(check: str, reason: str) -> float:
    """Current value of one reject counter (tests, admin summaries)."""
    return REGISTRY.get_sample_value("fixvenue_risk_rejects_total", {"check": check, "reason": reason}) or 0.0


# ---------------------------------------------------------------- gateway metrics
# Shared by the FIX and REST gateways (risk/ is the lowest layer both may import).
# Orders, trades and rejects are counted ONCE, venue-wide, from the durable event
# stream by api.metrics.EventMetrics (labelled by the gateway that entered the
# order, from the command origin "FIX:..."/"REST:..."): gateways must not count
# them again. Each gateway observes its own ACK_LATENCY (time from receiving an
# order to sending its acknowledgement); the FIX gateway sets FIX_SESSIONS.

from prometheus_client import Gauge, Histogram  # noqa: E402


def _shared(cls, name: str, doc: str, labels: tuple[str, ...] = (), **kw):
    existing = REGISTRY._names_to_collectors.get(name) or REGISTRY._names_to_collectors.get(name + "_total")
    if existing is not None:
        return existing
    return cls(name, doc, labels, **kw)


ORDERS = _shared(Counter, "fixvenue_orders", "New orders by entry gateway, symbol, order type and result "
                 "(accepted / rejected)", ("gateway", "symbol", "type", "result"))
TRADES = _shared(Counter, "fixvenue_trades", "Fills by entry gateway of the order, symbol and liquidity "
                 "(maker / taker)", ("gateway", "symbol", "liquidity"))
ORDER_REJECTS = _shared(Counter, "fixvenue_rejects", "Rejected orders and cancel/replace requests by gateway "
                        "and reason (engine Reason names)", ("gateway", "reason"))
ACK_LATENCY = _shared(Histogram, "fixvenue_ack_latency_seconds", "Order acknowledgement latency per gateway: "
                      "request received to answer sent, journal commit included", ("gateway",),
                      buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                               0.5, 1.0, 2.5))
FIX_SESSIONS = _shared(Gauge, "fixvenue_fix_sessions_connected", "FIX sessions currently logged on")
WS_CLIENTS = _shared(Gauge, "fixvenue_ws_clients", "WebSocket clients currently connected")
KILL_SWITCH_ENGAGED = _shared(Gauge, "fixvenue_kill_switch_engaged", "1 while the kill switch of a scope is "
                              "engaged (HALTED or REDUCING), 0 once released", ("scope", "target"))
