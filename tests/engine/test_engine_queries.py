"""Queries: orders by id, by client order id, by account (all / open only / per
instrument), the open orders, recent trades and displayed depth."""

from __future__ import annotations

from engine_fixtures import (
    STOP,
    SYM,
    SYM2,
    S,
    oid,
    venue,  # noqa: F401  (fixture)
)


def test_order_by_id(venue):
    o = oid(venue.sell("A", 5, 100))
    venue.buy("B", 2, 100)
    order = venue.oms.get(o)
    assert (order.order_id, order.account, order.status, order.qty, order.cum, order.leaves) == (
        o, "A", S.PARTIALLY_FILLED, 5, 2, 3)
    assert venue.oms.get(999) is None


def test_order_by_client_order_id_follows_replaces(venue):
    o = oid(venue.sell("A", 5, 100, clid="v1"))
    venue.replace("A", o, qty=4, clid="v2")
    assert venue.oms.get_by_clid("A", "v2").order_id == o
    assert venue.oms.get_by_clid("A", "v1").order_id == o
    assert venue.oms.get_by_clid("B", "v2") is None
    assert venue.oms.get_by_clid("ZZ", "v2") is None
    assert venue.oms.find("A", 0, "v2").order_id == o
    assert venue.oms.find("A", o).order_id == o
    assert venue.oms.find("B", o) is None


def test_rejected_order_is_found_by_id_but_does_not_own_its_client_id(venue):
    o = oid(venue.sell("A", 0, 100, clid="bad"))
    assert venue.oms.get(o).status == S.REJECTED
    assert venue.oms.get_by_clid("A", "bad") is None


def test_orders_of_an_account(venue):
    a1 = oid(venue.sell("A", 1, 100))
    a2 = oid(venue.sell("A", 1, 101, symbol=SYM2))
    a3 = oid(venue.buy("A", 1, ord_type=STOP, stop_px=120))
    a4 = oid(venue.sell("A", 0, 100))                    # rejected
    venue.cancel("A", a1)
    oid(venue.sell("C", 1, 105))
    assert [o.order_id for o in venue.oms.orders_for("A")] == [a1, a2, a3, a4]
    assert [o.order_id for o in venue.oms.orders_for("A", open_only=True)] == [a2, a3]
    assert [o.order_id for o in venue.oms.orders_for("A", open_only=True, symbol=SYM)] == [a3]
    assert [o.order_id for o in venue.oms.orders_for("A", symbol=SYM2)] == [a2]
    assert venue.oms.orders_for("ZZ") == []


def test_open_orders_across_accounts_in_id_order(venue):
    c = oid(venue.sell("C", 1, 105))
    a = oid(venue.sell("A", 1, 104))
    venue.buy("B", 1, 99)
    assert [o.order_id for o in venue.oms.open_orders()] == [c, a, 3]


def test_filled_aggressor_is_not_an_open_order(venue):
    maker = oid(venue.sell("A", 2, 100))
    taker = oid(venue.buy("B", 2, 100))
    assert venue.oms.get(taker).status == S.FILLED
    assert [o.order_id for o in venue.oms.open_orders()] == []
    assert venue.oms.orders_for("B", open_only=True) == []
    assert maker


def test_filled_triggered_stop_is_not_an_open_order(venue):
    venue.sell("A", 5, 102)
    stop = oid(venue.buy("B", 1, ord_type=STOP, stop_px=100))
    venue.sell("A", 1, 100)
    venue.buy("C", 1, 100)
    assert venue.oms.get(stop).status == S.FILLED
    assert venue.oms.orders_for("B", open_only=True) == []


def test_recent_trades_newest_last(venue):
    for px in (100, 101, 102):
        venue.sell("A", 1, px)
        venue.buy("B", 1, px)
    assert [t.price for t in venue.oms.recent_trades(SYM)] == [100, 101, 102]
    assert [t.price for t in venue.oms.recent_trades(SYM, limit=2)] == [101, 102]
    assert venue.oms.recent_trades(SYM2) == []


def test_depth_best_first_with_a_level_limit(venue):
    for px in (101, 103, 102):
        venue.sell("A", 1, px)
    venue.sell("C", 2, 101)
    venue.buy("A", 1, 99)
    venue.buy("A", 1, 100, hidden=True)
    assert venue.depth() == ([(99, 1, 1)], [(101, 3, 2), (102, 1, 1), (103, 1, 1)])
    assert venue.oms.depth(SYM, 2) == ([(99, 1, 1)], [(101, 3, 2), (102, 1, 1)])
