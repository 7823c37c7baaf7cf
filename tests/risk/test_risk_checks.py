"""Pre-trade checks at the OMS level, with real commands: each check refuses what breaches
its limit (naming the check, the limit and the attempted value), lets the boundary
through, applies to replaces where a replace can breach it, resolves its limit from
the most specific configuration level, and can be switched off."""

from __future__ import annotations

from decimal import Decimal

import pytest
from risk_fixtures import (
    BUY,
    LIMIT,
    NS,
    SYM,
    SYM2,
    Desk,
    accepted,
    cancel_rejects,
    rejected,
)

from engine.commands import NewOrder
from engine.reject import Reason
from risk.metrics import reject_count


def refused(events, reason: Reason, check: str):
    r = rejected(events)
    assert r is not None, f"expected a reject, got {[e.kind for e in events]}"
    assert r.reason == reason.value, (r.reason, r.text)
    assert r.text.startswith(check + ":") or check in r.text, r.text
    return r


def replace_refused(events, reason: Reason):
    cr = cancel_rejects(events)
    assert cr and cr[0].reason == reason.value, [(e.kind, getattr(e, "reason", "")) for e in events]
    return cr[0]


def last_error(desk: Desk, fn, *args, **kw):
    """Run a check directly to read the RejectError's details (the engine keeps only reason/text)."""
    return fn(*args, **kw)


# ---------------------------------------------------------------- max order quantity / notional


def test_max_order_qty_refuses_above_limit_and_names_limit_and_value():
    d = Desk({"defaults": {"max_order_qty": "5"}})
    before = reject_count("max_order_qty", "RISK_LIMIT")
    r = refused(d.new("A", "buy", "6", 50000), Reason.RISK_LIMIT, "max_order_qty")
    assert r.text == "max_order_qty: 6 > limit 5"
    assert accepted(d.new("A", "buy", "5", 50000))
    assert reject_count("max_order_qty", "RISK_LIMIT") == before + 1
    # the details carry check / limit / value for the gateways
    cmd = NewOrder(d.step(), "A", "x1", SYM, BUY, LIMIT, 1, d.lots("7"), d.px(50000))
    err = d.risk.check.check_new(cmd, d.oms)
    assert err.details["check"] == "max_order_qty" and err.details["limit"] == "5" and err.details["value"] == "7"


def test_max_order_qty_applies_to_replace_quantity_increase_only():
    d = Desk({"defaults": {"max_order_qty": "5"}})
    oid = accepted(d.new("A", "buy", "5", 50000)).order_id
    replace_refused(d.replace("A", oid, qty="6"), Reason.RISK_LIMIT)
    ev = d.replace("A", oid, qty="4")
    assert not cancel_rejects(ev)


def test_max_order_notional_values_limit_and_market_orders():
    d = Desk({"defaults": {"max_order_notional": "100000"}, "accounts": {"C": {"max_order_notional": "1000000"}}})
    r = refused(d.new("A", "buy", "2.001", 50000), Reason.RISK_LIMIT, "max_order_notional")
    assert r.text == "max_order_notional: 100050 > limit 100000"
    assert accepted(d.new("A", "buy", "2", 50000))
    # a market order is valued at the opposite best price
    d.new("C", "sell", "10", 60000)
    refused(d.new("B", "buy", "2"), Reason.RISK_LIMIT, "max_order_notional")
    # a replace that raises the price past the notional limit is refused
    oid = accepted(d.new("B", "buy", "1", 50000)).order_id
    replace_refused(d.replace("B", oid, price=100001), Reason.RISK_LIMIT)


# ---------------------------------------------------------------- price collar


def test_price_collar_against_last_trade_refuses_fat_finger_and_replace():
    d = Desk({"defaults": {"price_collar_pct": "5", "collar_reference": "last"}})
    d.trade(50000)
    r = refused(d.new("A", "buy", "1", 52600), Reason.PRICE_COLLAR, "price_collar")
    assert "5.20% from the last reference 50000 > limit 5%" in r.text
    assert accepted(d.new("A", "buy", "1", 52500))          # exactly 5%: allowed
    assert accepted(d.new("A", "sell", "1", 47500))
    refused(d.new("A", "sell", "1", 47499.99), Reason.PRICE_COLLAR, "price_collar")
    oid = accepted(d.new("A", "buy", "1", 49000)).order_id
    replace_refused(d.replace("A", oid, price=40000), Reason.PRICE_COLLAR)
    # the band follows the market
    d.trade(52000)
    assert accepted(d.new("A", "buy", "1", 54600))


def test_price_collar_references_mid_and_configured_reference():
    d = Desk({"instruments": {SYM: {"price_collar_pct": "2", "collar_reference": "mid"}}})
    d.new("B", "buy", "1", 49000)
    d.new("C", "sell", "1", 51000)            # mid 50000
    refused(d.new("A", "buy", "1", 51001), Reason.PRICE_COLLAR, "price_collar")
    assert accepted(d.new("A", "buy", "1", 50999))
    # no trade and an empty book: the configured reference price (50000) is the reference
    d2 = Desk({"defaults": {"price_collar_pct": "10"}})
    refused(d2.new("A", "buy", "1", 55001), Reason.PRICE_COLLAR, "price_collar")
    # no reference at all (ETH-USD has none configured, no book, no trade): nothing to measure against
    assert accepted(d2.new("A", "buy", "1", 1, symbol=SYM2))
    d3 = Desk({"defaults": {"price_collar_pct": "1", "collar_reference": "reference"}})
    d3.trade(40000)                           # trades elsewhere do not move a reference collar
    refused(d3.new("A", "buy", "1", 40000), Reason.PRICE_COLLAR, "price_collar")


# ---------------------------------------------------------------- open orders, positions


def test_max_open_orders_per_account():
    d = Desk({"accounts": {"A": {"max_open_orders": 2}}})
    assert accepted(d.new("A", "buy", "1", 49000))
    oid = accepted(d.new("A", "buy", "1", 48000)).order_id
    r = refused(d.new("A", "buy", "1", 47000), Reason.RISK_LIMIT, "max_open_orders")
    assert r.text == "max_open_orders: 3 > limit 2"
    assert accepted(d.new("B", "buy", "1", 47000))       # other accounts are not limited
    d.cancel("A", oid)
    assert accepted(d.new("A", "buy", "1", 47000))


def test_position_limits_count_working_orders_long_and_short():
    d = Desk({"instruments": {SYM: {"max_position_long": "3", "max_position_short": "2"}},
              "accounts": {"C": {"max_position_short": "100"}}})
    assert accepted(d.new("A", "buy", "2", 49000))
    r = refused(d.new("A", "buy", "1.5", 49000), Reason.RISK_LIMIT, "position_limit")
    assert r.text.startswith("position_limit: long 3.5 > limit 3")
    oid = accepted(d.new("A", "buy", "1", 49000)).order_id
    replace_refused(d.replace("A", oid, qty="1.001"), Reason.RISK_LIMIT)
    # fills turn working quantity into position: still 3 in total
    d.new("C", "sell", "3", 49000)
    assert d.risk.position("A", SYM)["quantity"] == Decimal("3")
    refused(d.new("A", "buy", "0.001", 48000), Reason.RISK_LIMIT, "position_limit")
    # short side: selling 5 from long 3 ends short 2 (allowed), 5.001 would end short 2.001
    refused(d.new("A", "sell", "5.001", 60000), Reason.RISK_LIMIT, "position_limit")
    assert accepted(d.new("A", "sell", "5", 60000))


# ---------------------------------------------------------------- credit, margin, daily loss


def test_credit_limit_on_gross_exposure_with_reducing_orders_exempt():
    d = Desk({"defaults": {"credit_limit": "150000"}})
    d.trade(50000)                                       # a mark for valuation
    assert accepted(d.new("A", "buy", "2", 50000))       # 100000 working
    r = refused(d.new("A", "buy", "1.001", 49000), Reason.RISK_LIMIT, "credit_limit")
    assert "gross exposure 150050 > limit 150000" in r.text
    d.new("C", "sell", "2", 50000)                       # A is now long 2 (100000 at mark)
    refused(d.new("A", "buy", "1.001", 49000), Reason.RISK_LIMIT, "credit_limit")
    assert accepted(d.new("A", "sell", "2", 51000))      # reduces the position: allowed


def test_initial_margin_and_max_leverage_against_equity():
    bal = {a: {"USD": Decimal("10000")} for a in ("A", "B", "C", "MM")}
    d = Desk({"defaults": {"initial_margin_pct": "10"}}, balances=bal)
    d.trade(50000)
    assert accepted(d.new("A", "buy", "2", 49000))       # 100000 x 10% = 10000 = equity
    r = refused(d.new("A", "buy", "0.001", 49000), Reason.INSUFFICIENT_BALANCE, "initial_margin")
    assert r.text.startswith("initial_margin: required 10005 > equity 10000")
    d2 = Desk({"defaults": {"initial_margin_pct": "1", "max_leverage": "5"}}, balances=bal)
    d2.trade(50000)
    assert accepted(d2.new("A", "buy", "1", 49000))      # 50000 = 5x 10000
    r = refused(d2.new("A", "sell", "0.001", 51000, symbol=SYM), Reason.INSUFFICIENT_BALANCE, "max_leverage")
    assert "max_leverage: leverage 5.00 > limit 5" in r.text


def test_daily_loss_limit_blocks_risk_increasing_orders():
    d = Desk({"defaults": {"daily_loss_limit": "1000"}, "mark_interval_ms": 0})
    d.new("C", "sell", "1", 50000)
    d.new("A", "buy", "1", 50000)                        # A long 1 @ 50000
    d.trade(48900)                                       # marked down: loss 1100 (+ fees)
    r = refused(d.new("A", "buy", "0.001", 48000), Reason.RISK_LIMIT, "daily_loss")
    assert r.text.startswith("daily_loss: loss 11")
    assert accepted(d.new("A", "sell", "1", 60000))      # closing is allowed
    # the next trading day starts afresh
    d.ts = d.ts + 86_400 * NS
    d.tick()
    assert accepted(d.new("A", "buy", "0.001", 48000))


# ---------------------------------------------------------------- throttles


def test_order_and_message_rates_per_account_use_command_timestamps():
    d = Desk({"accounts": {"A": {"order_rate": {"count": 3, "per_seconds": 1},
                                 "message_rate": {"count": 5, "per_seconds": 1}}}})
    t = d.step()
    ids = [accepted(d.new("A", "buy", "1", 40000 + i, ts=t + i)).order_id for i in range(3)]
    r = refused(d.new("A", "buy", "1", 41000, ts=t + 3), Reason.RATE_LIMITED, "order_rate")
    assert "account 'A'" in r.text
    assert accepted(d.new("B", "buy", "1", 41000, ts=t + 4))          # other accounts are not throttled
    # replaces count as messages: 3 orders + 2 replaces = 5, the 3rd replace is throttled
    assert not cancel_rejects(d.replace("A", ids[0], price=40100, ts=t + 5))
    assert not cancel_rejects(d.replace("A", ids[1], price=40101, ts=t + 6))
    replace_refused(d.replace("A", ids[2], price=40102, ts=t + 7), Reason.RATE_LIMITED)
    # cancels are never throttled
    ev = d.cancel("A", ids[2])
    assert not cancel_rejects(ev)
    # a second later (command time, not wall time) the bucket has refilled
    d.ts = t + NS
    assert accepted(d.new("A", "buy", "1", 41000))


def test_session_rates_follow_the_command_origin():
    d = Desk({"defaults": {"session_order_rate": {"count": 2, "per_seconds": 1}},
              "sessions": {"FIX:FAST": {"order_rate": {"count": 4, "per_seconds": 1}}}})
    t = d.step()
    for i in range(2):
        assert accepted(d.new("A", "buy", "1", 40000 + i, origin="FIX:SLOW", ts=t + i))
    refused(d.new("B", "buy", "1", 40000, origin="FIX:SLOW", ts=t + 2), Reason.RATE_LIMITED, "order_rate")
    for i in range(4):
        assert accepted(d.new("A", "buy", "1", 40000 + i, origin="FIX:FAST", ts=t + 3 + i))
    refused(d.new("A", "buy", "1", 40000, origin="FIX:FAST", ts=t + 8), Reason.RATE_LIMITED, "order_rate")


def test_rate_decisions_are_a_function_of_the_commands_only():
    def run():
        d = Desk({"defaults": {"order_rate": {"count": 3, "per_seconds": "0.5", "burst": 2}}})
        out = []
        for i in range(20):
            ev = d.new("A", "buy", "0.001", 40000 + i, ts=T0_ + i * 100_000_000)
            out.append(rejected(ev) is None)
        return out

    T0_ = Desk().ts + NS
    a, b = run(), run()
    assert a == b and not all(a) and any(a)


# ---------------------------------------------------------------- restricted, duplicates, reduce-only


def test_restricted_instruments_per_account():
    d = Desk({"accounts": {"A": {"restricted_instruments": [SYM2]}}})
    r = refused(d.new("A", "buy", "1", 3000, symbol=SYM2), Reason.RESTRICTED, "restricted")
    assert r.text == f"restricted: {SYM2} is restricted for account A"
    assert accepted(d.new("A", "buy", "1", 49000))
    assert accepted(d.new("B", "buy", "1", 3000, symbol=SYM2))


def test_duplicate_identical_order_inside_window():
    d = Desk({"defaults": {"duplicate_window_ms": 500}})
    t = d.step()
    assert accepted(d.new("A", "buy", "1", 49000, ts=t))
    r = refused(d.new("A", "buy", "1", 49000, ts=t + 100_000_000), Reason.DUPLICATE_ORDER, "duplicate_order")
    assert "100ms after the previous one (window 500ms)" in r.text
    assert accepted(d.new("A", "buy", "1", 49000.01, ts=t + 200_000_000))   # different price
    assert accepted(d.new("A", "sell", "1", 51000, ts=t + 200_000_001))     # different side
    assert accepted(d.new("B", "buy", "1", 49000, ts=t + 200_000_002))      # different account
    assert accepted(d.new("A", "buy", "1", 49000, ts=t + 600_000_000))      # window over


def test_reduce_only_flag_and_reduce_only_state():
    d = Desk({"accounts": {"B": {"instruments": {SYM: {"reduce_only": True}}}}})
    r = refused(d.new("A", "sell", "1", 51000, reduce_only=True), Reason.REDUCE_ONLY, "reduce_only")
    assert "the order is reduce-only" in r.text
    d.new("C", "sell", "2", 50000)
    d.new("A", "buy", "2", 50000)                         # A long 2
    assert accepted(d.new("A", "sell", "1.5", 51000, reduce_only=True))
    refused(d.new("A", "sell", "0.501", 51000, reduce_only=True), Reason.REDUCE_ONLY, "reduce_only")
    # an account configured reduce-only may not open a position at all
    r = refused(d.new("B", "buy", "1", 49000), Reason.REDUCE_ONLY, "reduce_only")
    assert "account B is reduce-only in BTC-USD" in r.text
    assert accepted(d.new("B", "buy", "1", 3000, symbol=SYM2))   # only in that instrument


# ---------------------------------------------------------------- configuration levels and switches


def test_most_specific_limit_wins():
    d = Desk({"defaults": {"max_order_qty": "10"},
              "instruments": {SYM: {"max_order_qty": "8"}},
              "accounts": {"A": {"max_order_qty": "6", "instruments": {SYM: {"max_order_qty": "4"}}},
                           "B": {"max_order_qty": "7"}}})
    assert refused(d.new("A", "buy", "4.001", 49000), Reason.RISK_LIMIT, "max_order_qty").text.endswith("limit 4")
    assert refused(d.new("A", "buy", "6.01", 3000, symbol=SYM2), Reason.RISK_LIMIT,
                   "max_order_qty").text.endswith("limit 6")
    assert refused(d.new("B", "buy", "7.001", 49000), Reason.RISK_LIMIT, "max_order_qty").text.endswith("limit 7")
    assert refused(d.new("C", "buy", "8.001", 49000), Reason.RISK_LIMIT, "max_order_qty").text.endswith("limit 8")
    assert refused(d.new("C", "buy", "10.01", 3000, symbol=SYM2), Reason.RISK_LIMIT,
                   "max_order_qty").text.endswith("limit 10")
    assert d.risk.limits("A", SYM)["instrument"][SYM]["max_order_qty"] == Decimal("4")


@pytest.mark.parametrize("check, limits, order", [
    ("max_order_qty", {"max_order_qty": "1"}, ("buy", "2", 49000)),
    ("max_order_notional", {"max_order_notional": "1000"}, ("buy", "1", 49000)),
    ("price_collar", {"price_collar_pct": "1"}, ("buy", "1", 40000)),
    ("max_open_orders", {"max_open_orders": 0}, ("buy", "1", 49000)),
    ("position_limit", {"max_position_long": "0.5"}, ("buy", "1", 49000)),
    ("credit_limit", {"credit_limit": "10"}, ("buy", "1", 49000)),
    ("margin", {"initial_margin_pct": "100"}, ("buy", "100", 49000)),
    ("reduce_only", {"reduce_only": True}, ("buy", "1", 49000)),
    ("restricted", {"restricted": True}, ("buy", "1", 49000)),
])
def test_each_check_can_be_switched_off(check, limits, order):
    on = Desk({"defaults": limits})
    assert rejected(on.new("A", *order)) is not None
    off = Desk({"defaults": limits, "checks": {check: False}})
    assert accepted(off.new("A", *order)), check
    none = Desk({"defaults": limits, "enabled": False})
    assert accepted(none.new("A", *order))


def test_every_refusal_counts_in_the_metric_by_check():
    d = Desk({"defaults": {"max_order_notional": "1000", "price_collar_pct": "1"}})
    before = reject_count("price_collar", "PRICE_COLLAR"), reject_count("max_order_notional", "RISK_LIMIT")
    d.new("A", "buy", "0.001", 45000)
    d.new("A", "buy", "1", 50000)
    assert reject_count("price_collar", "PRICE_COLLAR") == before[0] + 1
    assert reject_count("max_order_notional", "RISK_LIMIT") == before[1] + 1
