"""Risk controls for `fixvenue bench engine --risk`: every pre-trade check enabled.

The limits are set the way a venue would set them for legitimate flow — wide
enough that the benchmark's orders pass — so the run measures what the checks
cost when they are all evaluated, not the (cheaper) path of refusing orders.
Position tracking, working-order exposure, marks, circuit breakers and every
automatic kill-switch trigger run as well (the listener is installed on the OMS).
"""

from __future__ import annotations

from decimal import Decimal

from risk.controls import RiskControls
from risk.settings import CHECKS, load_risk_section

# per account: the bench sends each account ~1,000 messages per 0.1 s of command time
RATE = {"count": 2_000, "per_seconds": "0.1"}

SETTINGS = {
    "enabled": True,
    "checks": {c: True for c in CHECKS},
    "margin_currency": "USD",
    "mark_price": "last",
    "mark_interval_ms": 1000,
    "defaults": {
        "max_order_qty": "0.5",
        "max_order_notional": "1000",
        "price_collar_pct": "5",
        "collar_reference": "last",
        "max_position_long": "1000",
        "max_position_short": "1000",
        "reduce_only": False,
        "restricted": False,
        "duplicate_window_ms": 50,
        "max_open_orders": 100_000,
        "order_rate": RATE,
        "message_rate": RATE,
        # no session limits: the benchmark's commands come from no gateway session (origin ""),
        # so a "session" throttle would be one venue-wide throttle; the session lookup still runs
        "credit_limit": "1000000000",
        "initial_margin_pct": "10",
        "maintenance_margin_pct": "5",
        "max_leverage": "20",
        "daily_loss_limit": "100000000",
    },
    "circuit_breakers": {"enabled": True, "default": {"move_pct": "50", "window_s": "60", "cooldown_s": "300"}},
    "auto_kill": {
        "daily_loss": {"enabled": True, "state": "HALTED"},
        "margin_call": {"enabled": True, "state": "REDUCING"},
        "reject_storm": {"enabled": True, "max_rejects": 1000, "window_s": "1", "scope": "account"},
        "venue_loss": {"enabled": True, "venues": {"sim": {"scope": "global"}}},
    },
}


def build(oms) -> RiskControls:
    balances = {acct: {"USD": Decimal("1000000000")} for acct in oms.accounts}
    refs = {sym: inst.ticks_to_price(100_000) for sym, inst in oms.instruments.items()}
    rc = RiskControls(oms, load_risk_section(SETTINGS), balances=balances, reference_prices=refs)
    return rc.install(pre_trade=False)


def checks_factory(oms_hint=None) -> list:
    """The pre-trade checks for the engine benchmark, with the risk listener installed on `oms_hint`."""
    if oms_hint is None:
        raise ValueError("the risk checks need the OMS they guard (bench.engine passes it as oms_hint)")
    return [build(oms_hint).check]
