"""Time in force: GTC, DAY, IOC, FOK, GTD, and the minimum quantity of the
immediate execution. Expiry is driven by command timestamps only."""

from __future__ import annotations

import pytest

from engine.types import StpMode
from engine_fixtures import (
    DAY,
    FOK,
    GTD,
    IOC,
    MARKET,
    MIDNIGHT,
    S,
    T0,
    X,
    cancel_rejects,
    execs,
    kinds,
    oid,
    trades,
    venue,  # noqa: F401  (fixture)
)


def test_gtc_rests_until_cancelled(venue):
    o = oid(venue.buy("A", 2, 100))
    assert not venue.tick(MIDNIGHT + 86_400 * 10**9 * 30)
    assert venue.order(o).status == S.NEW


# --- IOC -------------------------------------------------------------------------------------------

def test_ioc_trades_what_it_can_and_cancels_the_rest(venue):
    venue.sell("A", 2, 100)
    evs = venue.buy("B", 5, 100, tif=IOC)
    o = oid(evs)
    assert [t.qty for t in trades(evs)] == [2]
    end = execs(evs, o)[-1]
    assert end.exec_type == X.CANCELED and end.reason == "IOC_REMAINDER" and end.cum == 2 and end.leaves == 0
    assert venue.depth() == ([], [])


def test_ioc_without_a_match_is_acknowledged_then_cancelled(venue):
    evs = venue.buy("B", 5, 100, tif=IOC)
    assert [e.exec_type for e in execs(evs)] == [X.NEW, X.CANCELED]
    assert venue.depth() == ([], [])


# --- FOK -------------------------------------------------------------------------------------------

def test_fok_that_can_fill_in_full_fills(venue):
    venue.sell("A", 2, 100)
    venue.sell("C", 3, 101)
    evs = venue.buy("B", 5, 101, tif=FOK)
    assert [t.qty for t in trades(evs)] == [2, 3]
    assert execs(evs)[-1].status == S.FILLED


def test_fok_that_cannot_fill_in_full_trades_nothing(venue):
    resting = oid(venue.sell("A", 3, 100))
    evs = venue.buy("B", 5, 100, tif=FOK)
    assert not trades(evs), "a fill-or-kill order must not partially fill"
    assert [(e.exec_type, e.reason) for e in execs(evs)] == [(X.NEW, ""), (X.CANCELED, "FOK_NOT_FILLED")]
    assert venue.order(resting).leaves == 3


def test_fok_market_order_that_cannot_fill_in_full_trades_nothing(venue):
    venue.sell("A", 3, 100)
    evs = venue.buy("B", 5, ord_type=MARKET, tif=FOK)
    assert not trades(evs)
    assert execs(evs)[-1].reason == "FOK_NOT_FILLED"


def test_fok_with_an_stp_override_is_all_or_nothing(venue):
    venue.sell("A", 3, 100)
    evs = venue.buy("B", 5, 100, tif=FOK, stp=int(StpMode.CANCEL_NEWEST))
    assert not trades(evs)
    assert execs(evs)[-1].reason == "FOK_NOT_FILLED"


def test_fok_counts_liquidity_beyond_the_first_level_up_to_its_limit(venue):
    venue.sell("A", 3, 100)
    venue.sell("A", 3, 102)
    evs = venue.buy("B", 5, 101, tif=FOK)
    assert not trades(evs)
    evs = venue.buy("B", 5, 102, tif=FOK)
    assert [t.qty for t in trades(evs)] == [3, 2]


@pytest.mark.parametrize("stp", [None, int(StpMode.CANCEL_NEWEST)], ids=["account-stp", "order-stp"])
def test_fok_check_sees_displayed_before_hidden(venue, stp):
    """At one price displayed orders trade first. A's own hidden order arrived first but is
    behind B's displayed order, so A's fill-or-kill can fill entirely against B."""
    venue.sell("A", 5, 100, hidden=True)
    b = oid(venue.sell("B", 5, 100))
    evs = venue.buy("A", 5, 100, tif=FOK, stp=stp)
    assert [(t.maker_order_id, t.qty) for t in trades(evs)] == [(b, 5)]
    assert execs(evs)[-1].status == S.FILLED


def test_fok_never_partially_fills_when_an_iceberg_refill_meets_its_own_order(venue):
    """B's iceberg shows 2 of 10; after its slice trades it refills behind A's own order,
    where self-trade prevention (cancel newest) stops matching: only 2 are reachable."""
    venue.sell("B", 10, 100, display_qty=2)
    venue.sell("A", 5, 100)
    evs = venue.buy("A", 10, 100, tif=FOK)
    assert not trades(evs), "a fill-or-kill order must not partially fill"
    assert execs(evs)[-1].reason == "FOK_NOT_FILLED"


# --- minimum quantity ----------------------------------------------------------------------------

def test_min_qty_not_available_cancels_without_trading(venue):
    venue.sell("A", 2, 100)
    evs = venue.buy("B", 10, 100, min_qty=3)
    assert not trades(evs)
    assert [(e.exec_type, e.reason) for e in execs(evs)] == [(X.NEW, ""), (X.CANCELED, "MIN_QTY_NOT_MET")]


def test_min_qty_applies_to_the_immediate_execution_only(venue):
    venue.sell("A", 3, 100)
    evs = venue.buy("B", 10, 100, min_qty=3)
    o = oid(evs)
    assert [t.qty for t in trades(evs)] == [3]
    assert venue.order(o).leaves == 7 and venue.order(o).status == S.PARTIALLY_FILLED
    evs = venue.sell("C", 1, 100)        # a later 1-lot fill is fine
    assert [t.qty for t in trades(evs)] == [1]


def test_min_qty_check_follows_matching_order(venue):
    """Displayed C (2) trades before hidden B; A's own displayed order comes next and stops
    matching, so only 2 lots are reachable: below the minimum of 5, nothing may trade."""
    venue.sell("B", 10, 100, hidden=True)
    venue.sell("C", 2, 100)
    venue.sell("A", 5, 100)
    evs = venue.buy("A", 10, 100, min_qty=5)
    assert not trades(evs), "the order traded less than its minimum quantity"
    assert execs(evs)[-1].reason == "MIN_QTY_NOT_MET"


def test_min_qty_must_be_within_the_order_quantity(venue):
    assert execs(venue.buy("B", 5, 100, min_qty=6))[0].reason == "INVALID_QUANTITY"
    assert execs(venue.buy("B", 5, 100, min_qty=-1))[0].reason == "INVALID_QUANTITY"


# --- DAY and GTD -------------------------------------------------------------------------------

def test_day_order_expires_at_the_session_end(venue):
    o = oid(venue.buy("A", 2, 100, tif=DAY))
    assert not venue.tick(MIDNIGHT - 1)
    evs = venue.tick(MIDNIGHT)
    [exp] = execs(evs)
    assert (exp.order_id, exp.exec_type, exp.status, exp.reason, exp.leaves) == (o, X.EXPIRED, S.EXPIRED, "EXPIRED", 0)
    assert venue.depth() == ([], [])


def test_day_order_entered_after_the_close_lives_until_the_next_one(venue):
    o = oid(venue.buy("A", 2, 100, tif=DAY, ts=MIDNIGHT + 5))
    assert not venue.tick(MIDNIGHT + 86_400 * 10**9 - 1)
    assert execs(venue.tick(MIDNIGHT + 86_400 * 10**9))[0].order_id == o


def test_gtd_order_expires_at_its_time(venue):
    o = oid(venue.sell("A", 2, 100, tif=GTD, expire_ts=T0 + 100))
    assert not venue.tick(T0 + 99)
    evs = venue.tick(T0 + 100)
    assert [(e.order_id, e.exec_type) for e in execs(evs)] == [(o, X.EXPIRED)]


def test_expiry_runs_before_the_command_that_reaches_it(venue):
    o = oid(venue.sell("A", 2, 100, tif=GTD, expire_ts=T0 + 100))
    evs = venue.buy("B", 2, 100, ts=T0 + 100)
    assert not trades(evs)
    assert kinds(evs)[0] == ("exec", o, X.EXPIRED)
    assert venue.depth() == ([(100, 2, 1)], [])


def test_any_command_moves_time_for_expiry(venue):
    o = oid(venue.sell("A", 2, 100, tif=GTD, expire_ts=T0 + 100))
    evs = venue.cancel("A", o, ts=T0 + 500)
    assert execs(evs)[0].exec_type == X.EXPIRED
    assert cancel_rejects(evs)[0].reason == "ORDER_NOT_OPEN"


def test_expiries_come_in_expiry_time_order(venue):
    late = oid(venue.sell("A", 1, 101, tif=GTD, expire_ts=T0 + 300))
    early = oid(venue.sell("A", 1, 102, tif=GTD, expire_ts=T0 + 200))
    day = oid(venue.buy("A", 1, 99, tif=DAY))
    evs = venue.tick(MIDNIGHT)
    assert [e.order_id for e in execs(evs)] == [early, late, day]


def test_partially_filled_gtd_order_expires_with_its_fills(venue):
    o = oid(venue.sell("A", 5, 100, tif=GTD, expire_ts=T0 + 100))
    venue.buy("B", 2, 100)
    [exp] = execs(venue.tick(T0 + 100))
    assert (exp.order_id, exp.cum, exp.leaves, exp.status) == (o, 2, 0, S.EXPIRED)


def test_gtd_needs_a_future_expire_time(venue):
    assert execs(venue.buy("A", 1, 100, tif=GTD, expire_ts=T0 - 5, ts=T0))[0].reason == "GTD_IN_PAST"
    assert execs(venue.buy("A", 1, 100, tif=GTD, expire_ts=venue.ts + 1))[0].reason == "GTD_IN_PAST"
    assert execs(venue.buy("A", 1, 100, tif=GTD))[0].reason == "INVALID_ORDER"
    assert execs(venue.buy("A", 1, 100, expire_ts=T0 + 10**12))[0].reason == "INVALID_ORDER"
