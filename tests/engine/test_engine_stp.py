"""Self-trade prevention: what happens when an order would trade with a resting
order of the same account. The aggressor's mode decides (its own override,
else its account's)."""

from __future__ import annotations

from engine.types import StpMode
from engine_fixtures import (
    SYM2,
    S,
    X,
    execs,
    kinds,
    oid,
    trades,
    venue,  # noqa: F401  (fixture)
)


def test_cancel_newest_cancels_the_incoming_order(venue):
    resting = oid(venue.sell("A", 2, 100))
    evs = venue.buy("A", 3, 100)
    o = oid(evs)
    assert not trades(evs)
    assert [(e.exec_type, e.reason) for e in execs(evs)] == [(X.NEW, ""), (X.CANCELED, "SELF_TRADE")]
    assert venue.order(resting).leaves == 2 and venue.order(o).status == S.CANCELED


def test_cancel_newest_keeps_fills_made_before_the_own_order(venue):
    other = oid(venue.sell("B", 1, 100))
    venue.sell("A", 2, 100)
    evs = venue.buy("A", 3, 100)
    assert [t.maker_order_id for t in trades(evs)] == [other]
    end = execs(evs)[-1]
    assert (end.exec_type, end.reason, end.cum, end.leaves) == (X.CANCELED, "SELF_TRADE", 1, 0)


def test_cancel_oldest_cancels_the_resting_order_and_goes_on(venue):
    own = oid(venue.sell("OLD", 2, 100))
    other = oid(venue.sell("B", 2, 100))
    evs = venue.buy("OLD", 3, 100)
    o = oid(evs)
    assert kinds(evs) == [("exec", o, X.NEW), ("exec", own, X.CANCELED),
                          ("exec", other, X.TRADE), ("exec", o, X.TRADE), ("trade", other, o)]
    assert execs(evs, own)[0].reason == "SELF_TRADE"
    assert venue.depth() == ([(100, 1, 1)], [])


def test_cancel_both_cancels_both_orders(venue):
    own = oid(venue.sell("BOTH", 2, 100))
    evs = venue.buy("BOTH", 3, 100)
    o = oid(evs)
    assert not trades(evs)
    assert [(e.order_id, e.exec_type, e.reason) for e in execs(evs)][1:] == [
        (own, X.CANCELED, "SELF_TRADE"), (o, X.CANCELED, "SELF_TRADE")]
    assert venue.depth() == ([], [])


def test_decrement_shrinks_the_bigger_resting_order_and_cancels_the_incoming(venue):
    own = oid(venue.sell("DEC", 5, 100))
    evs = venue.buy("DEC", 3, 100)
    o = oid(evs)
    assert not trades(evs)
    rest = execs(evs, own)[0]
    assert (rest.exec_type, rest.leaves, rest.reason) == (X.RESTATED, 2, "SELF_TRADE")
    end = execs(evs, o)[-1]
    assert (end.exec_type, end.leaves, end.status) == (X.CANCELED, 0, S.CANCELED)
    assert venue.depth() == ([], [(100, 2, 1)])


def test_decrement_cancels_the_smaller_resting_order_and_rests_the_rest(venue):
    own = oid(venue.sell("DEC", 2, 100))
    evs = venue.buy("DEC", 5, 100)
    o = oid(evs)
    assert not trades(evs)
    assert [(e.order_id, e.exec_type) for e in execs(evs)][1:] == [(own, X.CANCELED), (o, X.RESTATED)]
    assert execs(evs, o)[-1].leaves == 3
    assert venue.depth() == ([(100, 3, 1)], [])


def test_decrement_lowers_the_quantity_of_orders_it_leaves_open(venue):
    """After a decrement an open order still satisfies qty == cum + leaves (FIX: LeavesQty =
    OrderQty - CumQty); the restatement reports the lowered OrderQty."""
    big = oid(venue.sell("DEC", 5, 100))
    evs = venue.buy("DEC", 3, 100)
    rest = execs(evs, big)[0]
    assert (rest.qty, rest.cum, rest.leaves) == (2, 0, 2)
    small = oid(venue.sell("DEC", 1, 101, symbol=SYM2))
    evs = venue.buy("DEC", 4, 101, symbol=SYM2)
    o = oid(evs)
    assert execs(evs, small)[0].exec_type == X.CANCELED
    restated = execs(evs, o)[-1]
    assert restated.exec_type == X.RESTATED and (restated.qty, restated.leaves) == (3, 3)
    for order_id in (big, o):
        order = venue.order(order_id)
        assert order.qty == order.cum + order.leaves


def test_decrement_then_trade_fills_the_order_completely(venue):
    venue.sell("DEC", 2, 100)
    venue.sell("B", 5, 100)
    evs = venue.buy("DEC", 5, 100)
    o = oid(evs)
    assert [t.qty for t in trades(evs)] == [3]
    end = execs(evs, o)[-1]
    assert end.status == S.FILLED and end.leaves == 0 and end.cum == end.qty


def test_stp_none_lets_an_account_trade_with_itself(venue):
    venue.sell("NONE", 2, 100)
    evs = venue.buy("NONE", 2, 100)
    [t] = trades(evs)
    assert t.maker_account == t.taker_account == "NONE"


def test_order_override_beats_the_account_mode(venue):
    venue.sell("A", 2, 100)
    evs = venue.buy("A", 2, 100, stp=int(StpMode.NONE))
    assert len(trades(evs)) == 1
    venue.sell("OLD", 2, 100)
    evs = venue.buy("OLD", 2, 100, stp=int(StpMode.CANCEL_NEWEST))
    assert not trades(evs) and execs(evs)[-1].reason == "SELF_TRADE"
    assert venue.depth() == ([], [(100, 2, 1)])


def test_the_aggressor_mode_decides_not_the_resting_one(venue):
    venue.sell("OLD", 2, 100, stp=int(StpMode.CANCEL_NEWEST))
    evs = venue.buy("OLD", 2, 100)                # OLD's own mode: cancel the resting order
    assert execs(evs)[1].exec_type == X.CANCELED and execs(evs)[1].order_id == 1
    assert venue.depth() == ([(100, 2, 1)], [])


def test_stp_only_applies_within_one_account(venue):
    venue.sell("A", 2, 100)
    assert len(trades(venue.buy("B", 2, 100))) == 1


def test_stp_applies_to_own_hidden_orders(venue):
    venue.sell("A", 2, 100, hidden=True)
    evs = venue.buy("A", 2, 100)
    assert not trades(evs) and execs(evs)[-1].reason == "SELF_TRADE"


def test_stp_mode_must_be_known(venue):
    assert execs(venue.buy("A", 2, 100, stp=9))[0].reason == "INVALID_ORDER"
