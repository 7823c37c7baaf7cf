"""Limit and market orders: acknowledgement, price-time priority, trade price,
event order, fees, the market order's price protection band."""

from __future__ import annotations

from engine.types import BUY, SELL
from engine_fixtures import (
    IOC,
    MARKET,
    SYM,
    SYM2,
    S,
    X,
    execs,
    kinds,
    oid,
    trades,
    venue,  # noqa: F401  (fixture)
)


def test_limit_order_is_acknowledged_and_rests(venue):
    evs = venue.buy("A", 5, 100)
    [ack] = execs(evs)
    assert ack.exec_type == X.NEW and ack.status == S.NEW
    assert (ack.qty, ack.leaves, ack.cum, ack.price, ack.side) == (5, 5, 0, 100, BUY)
    assert venue.depth() == ([(100, 5, 1)], [])


def test_crossing_limit_trades_at_the_resting_price(venue):
    sell = oid(venue.sell("A", 5, 100))
    evs = venue.buy("B", 5, 103)
    buy = oid(evs)
    [t] = trades(evs)
    assert t.price == 100 and t.qty == 5 and t.aggressor_side == BUY
    assert (t.maker_order_id, t.taker_order_id, t.maker_account, t.taker_account) == (sell, buy, "A", "B")
    maker, taker = execs(evs, exec_type=X.TRADE)
    assert maker.order_id == sell and maker.liquidity == "M" and maker.last_px == 100 and maker.status == S.FILLED
    assert taker.order_id == buy and taker.liquidity == "T" and taker.last_px == 100 and taker.status == S.FILLED
    assert taker.trade_id == maker.trade_id == t.trade_id
    assert venue.depth() == ([], [])


def test_ack_comes_first_then_maker_taker_print_per_fill(venue):
    a = oid(venue.sell("A", 2, 100))
    b = oid(venue.sell("C", 3, 101))
    evs = venue.buy("B", 4, 101)
    c = oid(evs)
    assert kinds(evs) == [
        ("exec", c, X.NEW),
        ("exec", a, X.TRADE), ("exec", c, X.TRADE), ("trade", a, c),
        ("exec", b, X.TRADE), ("exec", c, X.TRADE), ("trade", b, c),
    ]
    fills = execs(evs, c, X.TRADE)
    assert [(f.last_px, f.last_qty, f.leaves, f.cum, f.status) for f in fills] == [
        (100, 2, 2, 2, S.PARTIALLY_FILLED), (101, 2, 0, 4, S.FILLED)]
    assert fills[-1].cum_notional == 100 * 2 + 101 * 2
    assert venue.depth() == ([], [(101, 1, 1)])


def test_partial_fill_rests_the_remainder_partially_filled(venue):
    venue.sell("A", 2, 100)
    evs = venue.buy("B", 5, 100)
    last = execs(evs)[-1]
    assert last.status == S.PARTIALLY_FILLED and last.leaves == 3 and last.cum == 2
    assert venue.depth() == ([(100, 3, 1)], [])


def test_better_price_trades_first(venue):
    worse = oid(venue.sell("A", 1, 102))
    better = oid(venue.sell("C", 1, 101))
    evs = venue.buy("B", 1, 102)
    assert trades(evs)[0].maker_order_id == better
    assert venue.order(worse).leaves == 1


def test_same_price_trades_in_arrival_order(venue):
    first = oid(venue.sell("A", 1, 100))
    second = oid(venue.sell("C", 1, 100))
    evs = venue.buy("B", 1, 100)
    assert [t.maker_order_id for t in trades(evs)] == [first]
    evs = venue.buy("B", 1, 100)
    assert [t.maker_order_id for t in trades(evs)] == [second]


def test_sell_aggressor_trades_best_bid_first_at_bid_prices(venue):
    venue.buy("A", 1, 99)
    venue.buy("C", 1, 101)
    venue.buy("A", 1, 100)
    evs = venue.sell("B", 3, 98)
    assert [t.price for t in trades(evs)] == [101, 100, 99]
    assert all(t.aggressor_side == SELL for t in trades(evs))


def test_no_trade_when_prices_do_not_cross(venue):
    venue.sell("A", 1, 101)
    evs = venue.buy("B", 1, 100)
    assert not trades(evs)
    assert venue.depth() == ([(100, 1, 1)], [(101, 1, 1)])


def test_maker_and_taker_fees_round_toward_zero(venue):
    # fee_e8 = ticks * lots * rate_ppm * (0.01 * 0.001 * 1e8 / 1e6) = ticks * lots * ppm / 1000
    venue.sell("A", 3, 101)                       # A: maker -50 ppm (rebate)
    evs = venue.buy("B", 3, 101)                  # B: taker 300 ppm
    maker, taker = execs(evs, exec_type=X.TRADE)
    assert maker.fee_e8 == -15                    # -15.15 -> -15 (toward zero)
    assert taker.fee_e8 == 90                     # 90.9 -> 90
    venue.sell("B", 3, 101)                       # B: maker 100 ppm
    evs = venue.buy("A", 3, 101)                  # A: taker 200 ppm
    maker, taker = execs(evs, exec_type=X.TRADE)
    assert (maker.fee_e8, taker.fee_e8) == (30, 60)   # 30.3 -> 30, 60.6 -> 60


def test_account_without_fees_pays_nothing(venue):
    venue.sell("C", 5, 100)
    evs = venue.buy("C", 5, 100, stp=0)
    assert [e.fee_e8 for e in execs(evs, exec_type=X.TRADE)] == [0, 0]


def test_sequence_numbers_are_gap_free_across_commands(venue):
    seqs = []
    for evs in (venue.sell("A", 2, 100), venue.buy("B", 1, 100), venue.cancel("A", 1), venue.cancel("A", 1)):
        seqs += [e.seq for e in evs]
    assert seqs == list(range(1, len(seqs) + 1))


def test_trades_are_per_instrument(venue):
    venue.sell("A", 1, 100, symbol=SYM2)
    evs = venue.buy("B", 1, 100)
    assert not trades(evs)
    evs = venue.buy("B", 1, 100, symbol=SYM2)
    assert trades(evs)[0].symbol == SYM2
    assert venue.depth(SYM) == ([(100, 1, 1)], []) and venue.depth(SYM2) == ([], [])


# --- market orders ------------------------------------------------------------------------------

def test_market_order_trades_within_the_band_and_cancels_the_rest(venue):
    # band = 3% of the best ask at arrival: 100 * 300 / 10000 = 3 ticks -> up to 103
    venue.sell("A", 1, 100)
    venue.sell("A", 1, 103)
    far = oid(venue.sell("A", 1, 104))
    evs = venue.buy("B", 5, ord_type=MARKET, tif=IOC)
    assert [t.price for t in trades(evs)] == [100, 103]
    end = execs(evs)[-1]
    assert end.exec_type == X.CANCELED and end.reason == "PRICE_PROTECTION"
    assert end.cum == 2 and end.leaves == 0 and end.status == S.CANCELED
    assert venue.order(far).leaves == 1
    assert venue.depth() == ([], [(104, 1, 1)])


def test_market_sell_band_is_below_the_best_bid(venue):
    venue.buy("A", 1, 100)
    venue.buy("A", 1, 97)
    venue.buy("A", 1, 96)
    evs = venue.sell("B", 3, ord_type=MARKET, tif=IOC)
    assert [t.price for t in trades(evs)] == [100, 97]
    assert execs(evs)[-1].reason == "PRICE_PROTECTION"


def test_market_order_never_sweeps_an_empty_book(venue):
    evs = venue.buy("B", 5, ord_type=MARKET, tif=IOC)
    [rej] = execs(evs)
    assert rej.exec_type == X.REJECTED and rej.reason == "NO_LIQUIDITY" and rej.status == S.REJECTED
    assert not trades(evs)


def test_market_order_rejected_for_no_liquidity_reports_no_leaves(venue):
    """A finished order has nothing left to execute: LeavesQty 0 on every terminal report."""
    [rej] = execs(venue.buy("B", 5, ord_type=MARKET, tif=IOC))
    assert rej.status == S.REJECTED
    assert rej.leaves == 0


def test_market_order_that_empties_the_book_cancels_for_no_liquidity(venue):
    venue.sell("A", 2, 100)
    evs = venue.buy("B", 5, ord_type=MARKET, tif=IOC)
    end = execs(evs)[-1]
    assert end.exec_type == X.CANCELED and end.reason == "NO_LIQUIDITY" and end.cum == 2


def test_market_order_with_day_tif_is_still_immediate(venue):
    venue.sell("A", 2, 100)
    evs = venue.buy("B", 5, ord_type=MARKET)       # GTC market: never rests
    assert execs(evs)[-1].status == S.CANCELED
    assert venue.depth() == ([], [])


def test_market_order_price_field_is_rejected(venue):
    [rej] = execs(venue.buy("B", 1, 100, ord_type=MARKET, tif=IOC))
    assert rej.reason == "INVALID_ORDER"


def test_limit_order_needs_a_positive_price(venue):
    [rej] = execs(venue.buy("B", 1, 0))
    assert rej.exec_type == X.REJECTED and rej.reason == "INVALID_PRICE"


def test_quantity_outside_instrument_bounds_is_rejected(venue):
    assert execs(venue.buy("B", 0, 100))[0].reason == "INVALID_QUANTITY"
    assert execs(venue.buy("B", 1001, 100))[0].reason == "INVALID_QUANTITY"
    assert execs(venue.buy("B", 1000, 100))[0].exec_type == X.NEW


def test_unknown_account_symbol_side_type_are_rejected(venue):
    assert execs(venue.buy("ZZ", 1, 100))[0].reason == "UNKNOWN_ACCOUNT"
    assert execs(venue.buy("A", 1, 100, symbol="NOPE"))[0].reason == "UNKNOWN_SYMBOL"
    assert execs(venue.new("A", 3, 1, 100))[0].reason == "INVALID_ORDER"
    assert execs(venue.buy("A", 1, 100, ord_type=9))[0].reason == "INVALID_ORDER"
    assert execs(venue.buy("A", 1, 100, tif=9))[0].reason == "INVALID_ORDER"
    assert execs(venue.new("A", BUY, 1, 100, clid="x", stp=77))[0].reason == "INVALID_ORDER"


def test_empty_client_order_id_is_rejected(venue):
    from engine.commands import NewOrder
    evs = venue.run(NewOrder(venue.next_ts(None), "A", "", SYM, BUY, 2, 1, 1, 100))
    assert execs(evs)[0].reason == "INVALID_ORDER"


def test_rejected_order_gets_an_id_and_is_not_booked(venue):
    evs = venue.buy("A", 0, 100)
    [rej] = execs(evs)
    assert rej.order_id == 1 and rej.status == S.REJECTED and rej.leaves == 0
    assert venue.depth() == ([], [])
    assert oid(venue.buy("A", 1, 100)) == 2


def test_edge_reject_is_recorded_with_its_reason(venue):
    evs = venue.reject_new("A", "RISK_LIMIT", "too big", qty=7, price=100)
    [rej] = execs(evs)
    assert rej.exec_type == X.REJECTED and rej.reason == "RISK_LIMIT" and rej.text == "too big"
    assert (rej.qty, rej.leaves, rej.price) == (7, 0, 100)
