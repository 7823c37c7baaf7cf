"""Trading states: OPEN matches; HALTED and CLOSED take no new orders and no
replaces and never match, but owners may still cancel; expiry still runs."""

from __future__ import annotations

from engine.types import TradingState
from engine_fixtures import (
    DAY,
    MIDNIGHT,
    STOP,
    SYM,
    SYM2,
    S,
    X,
    cancel_rejects,
    execs,
    oid,
    state_changes,
    trades,
    venue,  # noqa: F401  (fixture)
)

HALTED = TradingState.HALTED
CLOSED = TradingState.CLOSED
OPEN = TradingState.OPEN


def test_state_change_is_announced(venue):
    [ev] = venue.set_state(HALTED, reason="volatility")
    assert (ev.kind, ev.symbol, ev.state, ev.reason) == ("trading_state", SYM, HALTED, "volatility")


def test_setting_the_same_state_again_says_nothing(venue):
    assert venue.set_state(OPEN) == []
    venue.set_state(HALTED)
    assert venue.set_state(HALTED) == []


def test_halted_market_refuses_new_orders_and_replaces_but_allows_cancels(venue):
    resting = oid(venue.sell("A", 2, 100))
    other = oid(venue.sell("A", 2, 101))
    venue.set_state(HALTED)
    evs = venue.buy("B", 2, 100)
    assert [(e.exec_type, e.reason) for e in execs(evs)] == [(X.REJECTED, "MARKET_HALTED")]
    assert not trades(evs)
    assert cancel_rejects(venue.replace("A", resting, qty=1))[0].reason == "MARKET_HALTED"
    assert execs(venue.cancel("A", other))[0].status == S.CANCELED
    assert venue.depth() == ([], [(100, 2, 1)])


def test_closed_market_refuses_new_orders_and_replaces_but_allows_cancels(venue):
    resting = oid(venue.sell("A", 2, 100))
    venue.set_state(CLOSED)
    assert execs(venue.buy("B", 2, 100))[0].reason == "MARKET_CLOSED"
    assert cancel_rejects(venue.replace("A", resting, price=101))[0].reason == "MARKET_CLOSED"
    assert execs(venue.cancel("A", resting))[0].exec_type == X.CANCELED


def test_book_survives_a_halt_and_trades_again_after_reopening(venue):
    resting = oid(venue.sell("A", 2, 100))
    venue.set_state(HALTED)
    venue.set_state(OPEN)
    evs = venue.buy("B", 2, 100)
    assert [t.maker_order_id for t in trades(evs)] == [resting]


def test_states_are_per_instrument(venue):
    venue.set_state(HALTED, symbol=SYM2)
    assert execs(venue.buy("B", 1, 100))[0].exec_type == X.NEW
    assert execs(venue.buy("B", 1, 100, symbol=SYM2))[0].reason == "MARKET_HALTED"


def test_orders_expire_while_the_market_is_closed(venue):
    o = oid(venue.sell("A", 2, 100, tif=DAY))
    venue.set_state(CLOSED)
    assert [e.order_id for e in execs(venue.tick(MIDNIGHT))] == [o]


def test_waiting_stop_survives_a_halt(venue):
    venue.sell("A", 5, 102)
    stop = oid(venue.buy("B", 1, ord_type=STOP, stop_px=100))
    venue.set_state(HALTED)
    venue.set_state(OPEN)
    venue.sell("A", 1, 100)
    evs = venue.buy("C", 1, 100)
    assert [e.order_id for e in execs(evs, exec_type=X.TRIGGERED)] == [stop]


def test_unknown_symbol_state_change_is_ignored(venue):
    assert venue.set_state(HALTED, symbol="NOPE") == []


def test_unknown_trading_state_is_ignored_not_raised(venue):
    """Bad input must never crash the core: an unknown state leaves the market as it was."""
    assert venue.set_state(99) == []
    assert execs(venue.buy("B", 1, 100))[0].exec_type == X.NEW
    assert state_changes(venue.set_state(HALTED))
