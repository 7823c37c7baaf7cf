"""Stop, stop-limit, market-if-touched and trailing stop orders: they wait
(undisplayed) for a trade at or through their trigger, then trade as market
or limit orders; triggered orders' trades can trigger more (cascade)."""

from __future__ import annotations

from engine.types import BUY, SELL
from engine_fixtures import (
    MIT,
    STOP,
    STOP_LIMIT,
    TRAILING,
    S,
    X,
    execs,
    kinds,
    oid,
    trades,
    venue,  # noqa: F401  (fixture)
)


def print_trade(venue, px):
    """One 1-lot trade at `px` between A (seller) and C (buyer); returns the events."""
    venue.sell("A", 1, px)
    return venue.buy("C", 1, px)


def triggered(evs):
    return execs(evs, exec_type=X.TRIGGERED)


def test_stop_waits_undisplayed_until_a_trade_reaches_it(venue):
    evs = venue.buy("B", 2, ord_type=STOP, stop_px=101)
    assert [(e.exec_type, e.stop_px, e.price) for e in execs(evs)] == [(X.NEW, 101, 0)]
    assert venue.depth() == ([], [])
    assert not triggered(print_trade(venue, 100))


def test_buy_stop_triggers_on_a_trade_at_its_stop_and_trades_as_market(venue):
    venue.sell("A", 5, 102)
    stop = oid(venue.buy("B", 2, ord_type=STOP, stop_px=101))
    venue.sell("A", 1, 101)
    evs = venue.buy("C", 1, 101)
    c = execs(evs)[0].order_id
    assert kinds(evs) == [
        ("exec", c, X.NEW), ("exec", 3, X.TRADE), ("exec", c, X.TRADE), ("trade", 3, c),
        ("exec", stop, X.TRIGGERED), ("exec", 1, X.TRADE), ("exec", stop, X.TRADE), ("trade", 1, stop),
    ]
    assert [t.price for t in trades(evs)] == [101, 102]
    assert venue.order(stop).status == S.FILLED


def test_sell_stop_triggers_on_a_trade_at_or_below_its_stop(venue):
    venue.buy("NONE", 5, 95)
    stop = oid(venue.sell("B", 1, ord_type=STOP, stop_px=99))
    assert not triggered(print_trade(venue, 100))
    evs = print_trade(venue, 98)
    assert [e.order_id for e in triggered(evs)] == [stop]
    assert trades(evs)[-1].price == 95


def test_stop_limit_triggers_then_rests_at_its_limit(venue):
    venue.sell("A", 5, 103)
    sl = oid(venue.buy("B", 3, 102, ord_type=STOP_LIMIT, stop_px=100))
    evs = print_trade(venue, 100)
    assert [e.order_id for e in triggered(evs)] == [sl]
    assert venue.depth() == ([(102, 3, 1)], [(103, 5, 1)])
    assert venue.order(sl).status == S.NEW and venue.order(sl).price == 102


def test_triggered_stop_limit_keeps_its_order_type(venue):
    """FIX: ExecReports echo the order's OrdType; a triggered stop-limit is still a stop-limit."""
    sl = oid(venue.buy("B", 3, 102, ord_type=STOP_LIMIT, stop_px=100))
    [trig] = triggered(print_trade(venue, 100))
    assert trig.ord_type == STOP_LIMIT
    [cxl] = execs(venue.cancel("B", sl))
    assert cxl.ord_type == STOP_LIMIT


def test_triggered_stop_keeps_its_order_type(venue):
    venue.sell("A", 5, 102)
    stop = oid(venue.buy("B", 2, ord_type=STOP, stop_px=100))
    evs = print_trade(venue, 100)
    assert {e.ord_type for e in execs(evs, stop)} == {STOP}


def test_market_if_touched_buy_triggers_when_price_falls_to_it(venue):
    mit = oid(venue.buy("B", 1, ord_type=MIT, stop_px=98))
    assert not triggered(print_trade(venue, 100))      # above 98: not touched
    venue.sell("NONE", 3, 99)
    venue.buy("NONE", 1, 98)
    evs = venue.sell("C", 1, 98)                       # a trade at 98: touched
    assert [e.order_id for e in triggered(evs)] == [mit]
    assert trades(evs)[-1].price == 99 and trades(evs)[-1].taker_order_id == mit


def test_market_if_touched_sell_triggers_when_price_rises_to_it(venue):
    venue.buy("NONE", 3, 101)
    mit = oid(venue.sell("B", 1, ord_type=MIT, stop_px=103))
    assert not triggered(print_trade(venue, 102))
    evs = print_trade(venue, 103)
    assert [e.order_id for e in triggered(evs)] == [mit]
    assert trades(evs)[-1].price == 101


def test_trailing_sell_follows_the_market_up_and_triggers_on_the_pullback(venue):
    venue.buy("NONE", 5, 90)
    print_trade(venue, 100)
    ts = oid(venue.sell("B", 1, ord_type=TRAILING, trail_ticks=2))
    assert venue.order(ts).stop_px == 98
    assert not triggered(print_trade(venue, 105))
    assert venue.order(ts).stop_px == 103
    assert not triggered(print_trade(venue, 104))
    assert venue.order(ts).stop_px == 103            # never moves back
    evs = print_trade(venue, 103)
    assert [e.order_id for e in triggered(evs)] == [ts]
    assert trades(evs)[-1].price == 90


def test_trailing_buy_follows_the_market_down(venue):
    venue.sell("NONE", 5, 110)
    print_trade(venue, 100)
    ts = oid(venue.buy("B", 1, ord_type=TRAILING, trail_ticks=3))
    assert venue.order(ts).stop_px == 103
    assert not triggered(print_trade(venue, 96))
    assert venue.order(ts).stop_px == 99
    evs = print_trade(venue, 99)
    assert [e.order_id for e in triggered(evs)] == [ts]


def test_trailing_offset_in_ppm_is_a_share_of_the_price(venue):
    venue.buy("NONE", 5, 90)
    print_trade(venue, 100)
    ts = oid(venue.sell("B", 1, ord_type=TRAILING, trail_ppm=30_000))   # 3%
    assert venue.order(ts).stop_px == 97


def test_trailing_stop_starts_from_the_opposite_best_without_trades(venue):
    venue.sell("A", 1, 100)
    ts = oid(venue.buy("B", 1, ord_type=TRAILING, trail_ticks=2))
    assert venue.order(ts).stop_px == 102


def test_trailing_sell_is_not_triggered_by_a_rising_sweep(venue):
    """A buy sweeping 101..110 moves a trailing sell (offset 5) up to 105; prices only rose,
    so nothing may trigger (last trade 110 is above the stop)."""
    venue.buy("NONE", 5, 90)
    print_trade(venue, 100)
    ts = oid(venue.sell("B", 1, ord_type=TRAILING, trail_ticks=5))
    for px in range(101, 111):
        venue.sell("A", 1, px)
    evs = venue.buy("C", 10, 110)
    assert not triggered(evs), "trailing sell triggered while prices only rose"
    assert venue.order(ts).stop_px == 105 and venue.order(ts).status == S.NEW


def test_trailing_buy_in_an_empty_market_is_armed_by_the_first_trade(venue):
    """No trade and no ask at entry: the trailing buy has no stop yet. The first trade (100)
    must arm it at 100 + 2, not trigger it."""
    ts = oid(venue.buy("B", 1, ord_type=TRAILING, trail_ticks=2))
    venue.sell("A", 5, 103)
    evs = print_trade(venue, 100)
    assert not triggered(evs), "an unarmed trailing stop triggered on the first trade"
    assert venue.order(ts).stop_px == 102
    evs = print_trade(venue, 102)
    assert [e.order_id for e in triggered(evs)] == [ts]


def test_stops_cascade_in_one_command(venue):
    venue.sell("A", 1, 101)
    venue.sell("A", 1, 102)
    venue.sell("A", 5, 103)
    s1 = oid(venue.buy("B", 1, ord_type=STOP, stop_px=101))
    s2 = oid(venue.buy("B", 1, ord_type=STOP, stop_px=102))
    evs = venue.buy("C", 1, 101)
    assert [e.order_id for e in triggered(evs)] == [s1, s2]
    assert [t.price for t in trades(evs)] == [101, 102, 103]
    order = [k for k in kinds(evs) if k[0] == "trade" or k[2] == X.TRIGGERED]
    assert order == [("trade", 1, 6), ("exec", s1, X.TRIGGERED), ("trade", 2, s1),
                     ("exec", s2, X.TRIGGERED), ("trade", 3, s2)]


def test_stops_triggered_together_run_in_arrival_order(venue):
    venue.sell("A", 5, 103)
    first = oid(venue.buy("B", 1, ord_type=STOP, stop_px=100))
    second = oid(venue.buy("B", 1, ord_type=MIT, stop_px=101))
    third = oid(venue.buy("B", 1, ord_type=STOP, stop_px=99))
    evs = print_trade(venue, 100)
    assert [e.order_id for e in triggered(evs)] == [first, second, third]


def test_stop_already_through_the_last_price_triggers_at_entry(venue):
    venue.sell("A", 5, 102)
    print_trade(venue, 100)
    evs = venue.buy("B", 1, ord_type=STOP, stop_px=99)
    stop = execs(evs)[0].order_id
    assert [e.exec_type for e in execs(evs, stop)] == [X.NEW, X.TRIGGERED, X.TRADE]


def test_triggered_market_stop_without_liquidity_is_cancelled(venue):
    stop = oid(venue.sell("B", 1, ord_type=STOP, stop_px=100))
    evs = print_trade(venue, 100)
    assert [(e.exec_type, e.reason) for e in execs(evs, stop)] == [(X.TRIGGERED, ""), (X.CANCELED, "NO_LIQUIDITY")]


def test_waiting_stop_can_be_cancelled_and_replaced(venue):
    stop = oid(venue.buy("B", 2, ord_type=STOP, stop_px=105))
    evs = venue.replace("B", stop, stop_px=104, qty=3)
    [rep] = execs(evs)
    assert (rep.exec_type, rep.stop_px, rep.qty, rep.leaves) == (X.REPLACED, 104, 3, 3)
    [cxl] = execs(venue.cancel("B", stop))
    assert cxl.exec_type == X.CANCELED and cxl.status == S.CANCELED
    assert not triggered(print_trade(venue, 110))


def test_replacing_the_stop_price_through_the_market_triggers(venue):
    venue.sell("A", 5, 102)
    print_trade(venue, 100)
    stop = oid(venue.buy("B", 1, ord_type=STOP, stop_px=105))
    evs = venue.replace("B", stop, stop_px=100)
    assert [e.exec_type for e in execs(evs, stop)] == [X.REPLACED, X.TRIGGERED, X.TRADE]


def test_stop_price_of_a_triggered_order_cannot_be_replaced(venue):
    sl = oid(venue.buy("B", 3, 102, ord_type=STOP_LIMIT, stop_px=100))
    print_trade(venue, 100)
    [cr] = [e for e in venue.replace("B", sl, stop_px=101) if e.kind == "cancel_reject"]
    assert cr.reason == "INVALID_ORDER"


def test_stop_orders_are_validated(venue):
    assert execs(venue.buy("B", 1, ord_type=STOP))[0].reason == "INVALID_PRICE"
    assert execs(venue.buy("B", 1, ord_type=MIT))[0].reason == "INVALID_PRICE"
    assert execs(venue.buy("B", 1, ord_type=STOP_LIMIT, stop_px=100))[0].reason == "INVALID_PRICE"
    assert execs(venue.buy("B", 1, 100, ord_type=STOP, stop_px=100))[0].reason == "INVALID_ORDER"
    assert execs(venue.buy("B", 1, ord_type=TRAILING))[0].reason == "INVALID_ORDER"
    assert execs(venue.buy("B", 1, ord_type=TRAILING, trail_ticks=1, trail_ppm=1))[0].reason == "INVALID_ORDER"
    assert execs(venue.buy("B", 1, 100, stop_px=99))[0].reason == "INVALID_ORDER"
    assert {e.side for e in execs(venue.sell("B", 1, ord_type=STOP, stop_px=1))} == {SELL}
    assert execs(venue.new("B", BUY, 1, ord_type=TRAILING, trail_ticks=1))[0].exec_type == X.NEW


def test_trailing_stop_offsets_must_be_one_positive_value(venue):
    """A negative value in the 'unused' offset slot must not pass as 'the other one is set':
    a trailing sell with offset -1 sits above the market and fires at once."""
    print_trade(venue, 100)
    for kw in (dict(trail_ticks=-1, trail_ppm=20_000), dict(trail_ticks=2, trail_ppm=-5)):
        [rej] = execs(venue.sell("B", 1, ord_type=TRAILING, **kw))
        assert (rej.exec_type, rej.reason) == (X.REJECTED, "INVALID_ORDER"), kw


def test_trailing_percentage_must_be_below_100_percent(venue):
    print_trade(venue, 100)
    assert execs(venue.sell("B", 1, ord_type=TRAILING, trail_ppm=1_000_000))[0].reason == "INVALID_ORDER"
    assert execs(venue.sell("B", 1, ord_type=TRAILING, trail_ppm=999_999))[0].exec_type == X.NEW


def test_trailing_stop_initial_stop_price_must_be_positive(venue):
    print_trade(venue, 100)
    [rej] = execs(venue.buy("B", 1, ord_type=TRAILING, trail_ticks=2, stop_px=-5))
    assert (rej.exec_type, rej.reason) == (X.REJECTED, "INVALID_PRICE")


def test_stops_fired_by_one_sweep_run_in_firing_order(venue):
    """One buy sweeps 101, 102, 103: the stop at 101 (entered second) fires at the first
    print, the stop at 103 (entered first) at the last one."""
    for px in (101, 102, 103):
        venue.sell("A", 1, px)
    venue.sell("A", 10, 104)
    late = oid(venue.buy("B", 1, ord_type=STOP, stop_px=103))
    early = oid(venue.buy("B", 1, ord_type=STOP, stop_px=101))
    evs = venue.buy("C", 3, 103)
    assert [e.order_id for e in triggered(evs)] == [early, late]
    assert [t.price for t in trades(evs)] == [101, 102, 103, 104, 104]
