"""Circuit breakers: an instrument halts when its trade price moves more than X% within
T seconds (event timestamps), stays halted through the cool-down, reopens on the first
later command (the venue's Tick) — deterministically, so a replay halts and reopens at
the same sequence numbers; manual halts and resumes interplay and are audited."""

from __future__ import annotations

from risk_fixtures import NS, SYM, SYM2, Desk, rejected, states

from engine.commands import command_from_record
from engine.types import TradingState

BREAKER = {"circuit_breakers": {"default": {"move_pct": "10", "window_s": "60", "cooldown_s": "30"},
                                "instruments": {SYM2: None}}}


def test_move_beyond_limit_inside_window_halts_until_cooldown_then_reopens():
    d = Desk(BREAKER)
    d.trade(50000)
    d.tick(10 * NS)
    d.trade(54000)                                     # +8%: fine
    ev = d.trade(55001)                                # +10.002% from the window low 50000
    st = states(ev)
    assert [(s.symbol, s.state, s.origin) for s in st] == [(SYM, int(TradingState.HALTED), "risk:circuit-breaker")]
    assert "moved 10.00% (limit 10%) within 60s" in st[0].reason
    assert rejected(d.new("A", "buy", "1", 55000)).reason == "MARKET_HALTED"
    assert states(d.tick(29 * NS)) == []               # cool-down not over
    ev = d.tick(2 * NS)
    assert [(s.state, s.reason) for s in states(ev)] == [(int(TradingState.OPEN), "circuit breaker cool-down over")]
    assert d.oms.books[SYM].state == int(TradingState.OPEN)
    # the window starts afresh after the reopen: the old low does not count
    d.trade(56000)
    assert d.oms.books[SYM].state == int(TradingState.OPEN)
    log = [(r["action"], r["trigger"]) for r in d.risk.audit_log()]
    assert log == [("circuit_breaker.halt", "circuit_breaker"), ("circuit_breaker.reopen", "circuit_breaker")]


def test_downward_move_and_instruments_without_breaker():
    d = Desk(BREAKER)
    d.trade(50000)
    ev = d.trade(44999)
    assert [s.state for s in states(ev)] == [int(TradingState.HALTED)]
    d.trade(3000, symbol=SYM2)
    ev = d.trade(1000, symbol=SYM2)                    # -66%, but ETH-USD has no breaker
    assert states(ev) == []


def test_slow_moves_spread_beyond_the_window_do_not_trip():
    d = Desk(BREAKER)
    price = 50000
    for _ in range(10):
        d.trade(price)
        d.tick(40 * NS)
        price = int(price * 1.06)                      # +6% every 40 s: never 10% within 60 s
        d.trade(price)
        d.tick(40 * NS)
    assert d.oms.books[SYM].state == int(TradingState.OPEN)
    assert d.risk.audit_log() == []


def test_manual_resume_ends_a_breaker_halt_and_manual_halt_is_not_reopened():
    d = Desk(BREAKER)
    d.trade(50000)
    d.trade(60000)
    assert d.oms.books[SYM].state == int(TradingState.HALTED)
    d.halt(SYM, int(TradingState.OPEN), origin="admin:carol")      # operator resumes early
    d.trade(60000)
    d.tick(40 * NS)
    assert states(d.tick(NS)) == []                    # nothing left to reopen
    d.halt(SYM, int(TradingState.HALTED), origin="admin:carol")    # a manual halt stays until resumed
    d.tick(600 * NS)
    assert d.oms.books[SYM].state == int(TradingState.HALTED)
    assert [r["action"] for r in d.risk.audit_log()] == ["circuit_breaker.halt", "resume", "halt"]


def test_breaker_decisions_replay_identically():
    d = Desk(BREAKER)
    for px, wait in ((50000, 1), (52000, 5), (56000, 1), (50000, 40), (61000, 1), (50000, 100)):
        d.trade(px)
        d.tick(wait * NS)
    r = Desk(BREAKER)
    for c in d.commands:
        r.process(command_from_record(c.to_record()))
    assert [e.encode() for e in r.events] == [e.encode() for e in d.events]
    assert sum(1 for e in d.events if e.kind == "trading_state") >= 2
