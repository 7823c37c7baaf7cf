"""Icebergs, hidden orders, post-only orders, and the displayed book they make
(depth and the conflated BookUpdate market data)."""

from __future__ import annotations

from engine.types import BUY, SELL
from engine_fixtures import (
    IOC,
    MARKET,
    STOP_LIMIT,
    SYM,
    SYM2,
    S,
    X,
    execs,
    oid,
    trades,
    venue,  # noqa: F401  (fixture)
)


# --- icebergs ---------------------------------------------------------------------------------------

def test_iceberg_shows_only_its_display_quantity(venue):
    venue.sell("A", 10, 100, display_qty=3)
    assert venue.depth() == ([], [(100, 3, 1)])


def test_iceberg_trades_its_whole_quantity_in_one_sweep(venue):
    ice = oid(venue.sell("A", 10, 100, display_qty=3))
    evs = venue.buy("B", 10, 100)
    assert [t.qty for t in trades(evs)] == [3, 3, 3, 1]
    assert all(t.maker_order_id == ice for t in trades(evs))
    assert venue.order(ice).status == S.FILLED


def test_iceberg_refill_goes_to_the_back_of_its_level(venue):
    ice = oid(venue.sell("A", 10, 100, display_qty=3))
    other = oid(venue.sell("C", 2, 100))
    evs = venue.buy("B", 4, 100)
    assert [(t.maker_order_id, t.qty) for t in trades(evs)] == [(ice, 3), (other, 1)]
    evs = venue.buy("B", 2, 100)
    assert [(t.maker_order_id, t.qty) for t in trades(evs)] == [(other, 1), (ice, 1)]
    assert venue.depth() == ([], [(100, 2, 1)])


def test_iceberg_partially_hit_slice_keeps_its_place(venue):
    ice = oid(venue.sell("A", 10, 100, display_qty=3))
    other = oid(venue.sell("C", 2, 100))
    venue.buy("B", 1, 100)
    assert venue.depth() == ([], [(100, 4, 2)])
    evs = venue.buy("B", 2, 100)
    assert [(t.maker_order_id, t.qty) for t in trades(evs)] == [(ice, 2)]
    evs = venue.buy("B", 1, 100)
    assert [(t.maker_order_id, t.qty) for t in trades(evs)] == [(other, 1)]


def test_iceberg_last_slice_is_the_remainder(venue):
    ice = oid(venue.sell("A", 7, 100, display_qty=3))
    venue.buy("B", 6, 100)
    assert venue.depth() == ([], [(100, 1, 1)])
    assert venue.order(ice).leaves == 1


def test_aggressive_iceberg_rests_a_slice(venue):
    venue.sell("A", 2, 100)
    venue.buy("B", 10, 100, display_qty=3)
    assert venue.depth() == ([(100, 3, 1)], [])


def test_iceberg_shape_is_validated(venue):
    assert execs(venue.sell("A", 3, 100, display_qty=3))[0].reason == "INVALID_QUANTITY"
    assert execs(venue.sell("A", 3, 100, display_qty=-1))[0].reason == "INVALID_QUANTITY"
    assert execs(venue.sell("A", 3, 100, display_qty=1, hidden=True))[0].reason == "INVALID_ORDER"
    assert execs(venue.sell("A", 3, display_qty=1, ord_type=MARKET, tif=IOC))[0].reason == "INVALID_ORDER"
    assert execs(venue.sell("A", 3, 100, display_qty=1, ord_type=STOP_LIMIT, stop_px=99))[0].exec_type == X.NEW


# --- hidden ---------------------------------------------------------------------------------------------

def test_hidden_order_is_not_displayed_but_trades(venue):
    h = oid(venue.sell("A", 5, 100, hidden=True))
    assert venue.depth() == ([], [])
    evs = venue.buy("B", 2, 100)
    assert [(t.maker_order_id, t.price, t.qty) for t in trades(evs)] == [(h, 100, 2)]


def test_displayed_orders_trade_before_hidden_at_the_same_price(venue):
    h = oid(venue.sell("A", 5, 100, hidden=True))
    d = oid(venue.sell("C", 5, 100))
    evs = venue.buy("B", 7, 100)
    assert [(t.maker_order_id, t.qty) for t in trades(evs)] == [(d, 5), (h, 2)]


def test_hidden_orders_keep_arrival_order_among_themselves(venue):
    h1 = oid(venue.sell("A", 1, 100, hidden=True))
    h2 = oid(venue.sell("C", 1, 100, hidden=True))
    evs = venue.buy("B", 2, 100)
    assert [t.maker_order_id for t in trades(evs)] == [h1, h2]


def test_better_priced_hidden_order_trades_before_worse_displayed(venue):
    d = oid(venue.sell("C", 5, 101))
    h = oid(venue.sell("A", 5, 100, hidden=True))
    evs = venue.buy("B", 6, 101)
    assert [(t.maker_order_id, t.price) for t in trades(evs)] == [(h, 100), (d, 101)]


def test_hidden_order_must_be_a_limit_order(venue):
    assert execs(venue.sell("A", 3, hidden=True, ord_type=MARKET, tif=IOC))[0].reason == "INVALID_ORDER"


# --- post-only -------------------------------------------------------------------------------------------

def test_post_only_rests_when_it_does_not_cross(venue):
    venue.sell("A", 1, 101)
    evs = venue.buy("B", 1, 100, post_only=True)
    assert execs(evs)[0].exec_type == X.NEW
    assert venue.depth() == ([(100, 1, 1)], [(101, 1, 1)])


def test_post_only_that_would_take_is_rejected_without_trading(venue):
    venue.sell("A", 1, 100)
    evs = venue.buy("B", 1, 100, post_only=True)
    [rej] = execs(evs)
    assert rej.exec_type == X.REJECTED and rej.reason == "POST_ONLY_WOULD_TAKE" and rej.status == S.REJECTED
    assert not trades(evs)
    assert venue.depth() == ([], [(100, 1, 1)])


def test_post_only_rejected_at_entry_reports_no_leaves(venue):
    venue.sell("A", 1, 100)
    [rej] = execs(venue.buy("B", 4, 100, post_only=True))
    assert rej.status == S.REJECTED
    assert rej.leaves == 0


def test_post_only_also_refuses_to_take_hidden_liquidity(venue):
    venue.sell("A", 1, 100, hidden=True)
    assert execs(venue.buy("B", 1, 100, post_only=True))[0].reason == "POST_ONLY_WOULD_TAKE"


def test_post_only_must_be_a_resting_limit_order(venue):
    assert execs(venue.buy("B", 1, 100, post_only=True, tif=IOC))[0].reason == "INVALID_ORDER"
    assert execs(venue.buy("B", 1, post_only=True, ord_type=MARKET, tif=IOC))[0].reason == "INVALID_ORDER"


def test_post_only_replace_that_would_cross_is_refused(venue):
    venue.sell("A", 1, 101)
    o = oid(venue.buy("B", 1, 100, post_only=True))
    evs = venue.replace("B", o, price=101)
    [cr] = [e for e in evs if e.kind == "cancel_reject"]
    assert cr.reason == "POST_ONLY_WOULD_TAKE" and cr.is_replace
    assert venue.depth() == ([(100, 1, 1)], [(101, 1, 1)])


# --- market data ------------------------------------------------------------------------------------------

def test_book_updates_list_changed_levels_bids_best_first_then_asks(venue):
    venue.buy("A", 1, 98)
    venue.buy("A", 2, 99)
    venue.sell("C", 3, 102)
    venue.sell("C", 4, 101)
    [bu] = venue.oms.collect_book_updates()
    assert bu.symbol == SYM
    assert bu.levels == ((BUY, 99, 2, 1), (BUY, 98, 1, 1), (SELL, 101, 4, 1), (SELL, 102, 3, 1))
    assert venue.oms.collect_book_updates() == []


def test_book_updates_are_conflated_and_report_removed_levels_as_zero(venue):
    venue.sell("A", 3, 100)
    venue.sell("C", 2, 100)
    assert [bu.levels for bu in venue.oms.collect_book_updates()] == [((SELL, 100, 5, 2),)]
    venue.buy("B", 4, 100)
    added = oid(venue.sell("A", 1, 101))
    venue.cancel("A", added)
    [bu] = venue.oms.collect_book_updates()
    assert bu.levels == ((SELL, 100, 1, 1), (SELL, 101, 0, 0))


def test_book_updates_carry_a_per_instrument_sequence_and_the_latest_time(venue):
    venue.sell("A", 1, 100)
    venue.sell("A", 1, 100, symbol=SYM2)
    first = venue.oms.collect_book_updates()
    venue.sell("A", 1, 101, symbol=SYM2)
    second = venue.oms.collect_book_updates()
    assert [(b.symbol, b.seq) for b in first] == [(SYM, 1), (SYM2, 1)]
    assert [(b.symbol, b.seq, b.ts) for b in second] == [(SYM2, 2, venue.ts)]


def test_hidden_orders_never_show_in_market_data(venue):
    venue.sell("A", 5, 100, hidden=True)
    venue.buy("B", 2, 100)
    assert venue.oms.collect_book_updates() == []


def test_displayed_count_excludes_hidden_orders_at_the_same_price(venue):
    venue.sell("A", 5, 100, hidden=True)
    venue.sell("C", 2, 100)
    [bu] = venue.oms.collect_book_updates()
    assert bu.levels == ((SELL, 100, 2, 1),)
    assert venue.depth() == ([], [(100, 2, 1)])
