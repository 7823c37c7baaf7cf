"""Positions, P&L and balances per account and instrument, built from execution reports:
average cost, realized and unrealized P&L at last-trade or mid marks, fees, balances per
currency, margin used and available — and the same numbers after rebuilding the state
from the command journal or from a snapshot."""

from __future__ import annotations

from decimal import Decimal

from risk_fixtures import NS, SYM, SYM2, Desk, accepted

from engine.commands import command_from_record
from risk.controls import RiskControls


def test_average_cost_realized_and_unrealized_pnl_through_a_flip():
    d = Desk({"mark_interval_ms": 0})
    d.new("C", "sell", "1", 50000)
    d.new("A", "buy", "1", 50000)            # A long 1 @ 50000
    d.new("C", "sell", "1", 51000)
    d.new("A", "buy", "1", 51000)            # long 2 @ 50500
    p = d.risk.position("A", SYM)
    assert (p["quantity"], p["avg_price"], p["side"]) == (Decimal("2"), Decimal("50500"), "long")
    assert p["unrealized_pnl"] == Decimal("1000")          # marked at the last trade 51000
    d.new("B", "buy", "3", 52000)
    d.new("A", "sell", "3", 52000)           # sells 2 (realizes 3000) and goes short 1 @ 52000
    p = d.risk.position("A", SYM)
    assert (p["quantity"], p["avg_price"], p["side"]) == (Decimal("-1"), Decimal("52000"), "short")
    assert p["realized_pnl"] == Decimal("3000")
    assert p["unrealized_pnl"] == Decimal("0")
    d.trade(51500)                           # the market falls: the short gains 500
    assert d.risk.position("A", SYM)["unrealized_pnl"] == Decimal("500")
    # A took liquidity every time: 2 bps of 50000, 51000 and 156000
    assert d.risk.position("A", SYM)["fees"] == Decimal("10") + Decimal("10.2") + Decimal("31.2")
    # C was the maker (1 bps) of 50000, 51000 and of the 0.01 @ 51500 print
    assert d.risk.position("C", SYM)["fees"] == Decimal("5") + Decimal("5.1") + Decimal("0.0515")


def test_balances_move_with_fills_and_fees_per_currency():
    d = Desk()
    d.new("C", "sell", "0.5", 50000)
    d.new("A", "buy", "0.5", 50000)          # A pays 25000 + 5 taker fee, receives 0.5 BTC
    assert d.risk.balances("A") == {"BTC": Decimal("10.5"), "USD": Decimal("974995")}
    assert d.risk.balances("C") == {"BTC": Decimal("9.5"), "USD": Decimal("1024997.5")}
    d.new("B", "buy", "2", 3000, symbol=SYM2)
    d.new("A", "sell", "2", 3000, symbol=SYM2)   # short ETH from zero: ETH balance goes negative
    assert d.risk.balances("A")["ETH"] == Decimal("-2")
    assert d.risk.balances("A")["USD"] == Decimal("974995") + Decimal("6000") - Decimal("1.2")


def test_mid_marks_and_the_mark_schedule_follow_venue_time():
    d = Desk({"mark_price": "mid", "mark_interval_ms": 1000})
    d.new("C", "sell", "1", 50000)
    d.new("A", "buy", "1", 50000)            # first print: marked at once
    assert d.risk.position("A", SYM)["mark_price"] == Decimal("50000")
    d.new("B", "buy", "1", 50900)
    d.new("C", "sell", "1", 51100)           # mid 51000, no trade yet
    assert d.risk.position("A", SYM)["unrealized_pnl"] == Decimal("0")   # marks wait for the schedule
    d.tick(NS)                               # a second of venue time later
    p = d.risk.position("A", SYM)
    assert p["mark_price"] == Decimal("51000") and p["unrealized_pnl"] == Decimal("1000")


def test_summary_reports_equity_exposure_and_margin():
    d = Desk({"defaults": {"initial_margin_pct": "10", "maintenance_margin_pct": "5", "max_leverage": "5",
                           "credit_limit": "2000000", "daily_loss_limit": "5000"}, "mark_interval_ms": 0})
    d.new("C", "sell", "2", 50000)
    d.new("A", "buy", "2", 50000)            # long 2 @ 50000, taker fee 20
    d.new("A", "buy", "1", 48000)            # working 1, valued at the mark
    d.trade(49000)                           # mark 49000
    s = d.risk.summary("A")
    assert s["equity"] == Decimal("1000000") - Decimal("2000") - Decimal("20")
    assert s["position_exposure"] == Decimal("98000")
    assert s["working_order_exposure"] == Decimal("49000")
    assert s["gross_exposure"] == Decimal("147000")
    assert s["margin_used"] == Decimal("29400")             # 1/5 leverage is stricter than 10%: 20%
    assert s["maintenance_margin"] == Decimal("4900")
    assert s["margin_available"] == s["equity"] - s["margin_used"]
    assert s["daily_pnl"] == Decimal("-2020")
    assert s["open_orders"] == 1 and s["trading_state"] == "ACTIVE"
    assert s["balances"]["BTC"] == Decimal("12")
    assert [p["symbol"] for p in s["positions"]] == [SYM]


def _views(risk: RiskControls) -> dict:
    return {a: (risk.positions(a), risk.balances(a), {k: v for k, v in risk.summary(a).items()})
            for a in ("A", "B", "C", "MM")}


def _session(d: Desk) -> None:
    d.new("C", "sell", "2", 50000)
    d.new("A", "buy", "1.5", 50000)
    oid = accepted(d.new("B", "buy", "1", 49500)).order_id
    d.replace("B", oid, price=49800)
    d.new("MM", "sell", "0.7", 49800)
    d.process(d.risk.kill_command("account", "C", "ops", "alice", ts=d.step()))
    d.new("A", "sell", "1", 51000, symbol=SYM)
    d.new("MM", "buy", "1", 51000, tif=3)
    d.tick(2 * NS)


def test_journal_replay_rebuilds_positions_pnl_and_kill_switch_state():
    risk = {"mark_interval_ms": 500, "defaults": {"max_order_qty": "100"}}
    live = Desk(risk)
    _session(live)
    replayed = Desk(risk)
    for cmd in live.commands:
        replayed.process(command_from_record(cmd.to_record()))
    assert _views(replayed.risk) == _views(live.risk)
    assert replayed.risk.kill_switch_status() == live.risk.kill_switch_status()
    assert [e.encode() for e in replayed.events] == [e.encode() for e in live.events]


def test_snapshot_round_trip_keeps_the_risk_state():
    from engine.snapshot import capture, restore

    risk = {"defaults": {"order_rate": {"count": 50, "per_seconds": 1}}}
    live = Desk(risk)
    _session(live)
    snap = capture(live.oms, len(live.commands), {"risk": live.risk})
    import json

    snap = json.loads(json.dumps(snap))            # what the file holds: plain JSON
    fresh = Desk(risk)
    warnings = restore(fresh.oms, snap, {"risk": fresh.risk})
    assert warnings == []
    assert _views(fresh.risk) == _views(live.risk)
    assert fresh.risk.kill_switch_status() == live.risk.kill_switch_status()
    # and both go on identically
    for d in (live, fresh):
        d.ts = live.ts
        d.n = live.n
        d.new("MM", "sell", "0.3", 49000)
        d.new("A", "buy", "0.3", 49000)
    assert _views(fresh.risk) == _views(live.risk)
