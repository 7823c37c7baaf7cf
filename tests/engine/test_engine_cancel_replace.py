"""Order identity and the owner's actions: duplicate client order ids, cancel,
cancel/replace priority rules, mass cancel."""

from __future__ import annotations

from engine.types import BUY, SELL
from engine_fixtures import (
    DAY,
    IOC,
    STOP,
    SYM,
    SYM2,
    S,
    X,
    cancel_rejects,
    execs,
    mass_done,
    oid,
    trades,
    venue,  # noqa: F401  (fixture)
)


# --- client order ids ---------------------------------------------------------------------------------

def test_duplicate_client_order_id_is_rejected_and_leaves_the_first_order_alone(venue):
    first = oid(venue.sell("A", 2, 100, clid="dup"))
    evs = venue.sell("A", 7, 101, clid="dup")
    [rej] = execs(evs)
    assert rej.exec_type == X.REJECTED and rej.reason == "DUPLICATE_ORDER" and rej.order_id != first
    assert rej.leaves == 0 and not trades(evs)
    assert venue.oms.get_by_clid("A", "dup").order_id == first
    assert [o.order_id for o in venue.oms.open_orders()] == [first]
    assert venue.depth() == ([], [(100, 2, 1)])


def test_finished_orders_keep_their_client_order_id(venue):
    o = oid(venue.sell("A", 2, 100, clid="k"))
    venue.cancel("A", o)
    assert execs(venue.sell("A", 2, 100, clid="k"))[0].reason == "DUPLICATE_ORDER"


def test_client_order_ids_are_per_account(venue):
    venue.sell("A", 2, 100, clid="same")
    assert execs(venue.sell("C", 2, 101, clid="same"))[0].exec_type == X.NEW


def test_a_validation_rejected_client_order_id_can_be_used_again(venue):
    assert execs(venue.sell("A", 0, 100, clid="again"))[0].exec_type == X.REJECTED
    assert execs(venue.sell("A", 1, 100, clid="again"))[0].exec_type == X.NEW


# --- cancel -------------------------------------------------------------------------------------------------

def test_cancel_by_order_id(venue):
    o = oid(venue.sell("A", 2, 100))
    [cxl] = execs(venue.cancel("A", o))
    assert (cxl.exec_type, cxl.status, cxl.leaves, cxl.reason, cxl.text) == (
        X.CANCELED, S.CANCELED, 0, "CLIENT_REQUEST", "cancelled")
    assert venue.depth() == ([], [])


def test_cancel_by_client_order_id_with_a_new_client_order_id(venue):
    o = oid(venue.sell("A", 2, 100, clid="orig"))
    [cxl] = execs(venue.cancel("A", orig="orig", clid="cxl-1"))
    assert (cxl.order_id, cxl.cl_ord_id, cxl.orig_cl_ord_id) == (o, "cxl-1", "orig")
    assert venue.oms.get_by_clid("A", "cxl-1").order_id == o


def test_cancel_of_a_partially_filled_order_keeps_its_fills(venue):
    o = oid(venue.sell("A", 5, 100))
    venue.buy("B", 2, 100)
    [cxl] = execs(venue.cancel("A", o))
    assert (cxl.cum, cxl.leaves, cxl.status) == (2, 0, S.CANCELED)


def test_cancel_unknown_order_is_refused(venue):
    [cr] = cancel_rejects(venue.cancel("A", 99))
    assert (cr.reason, cr.status, cr.order_id, cr.is_replace, cr.symbol) == ("UNKNOWN_ORDER", -1, 0, False, "")
    [cr] = cancel_rejects(venue.cancel("A", orig="nope"))
    assert cr.reason == "UNKNOWN_ORDER"


def test_cancel_of_another_accounts_order_is_unknown(venue):
    o = oid(venue.sell("A", 2, 100, clid="mine"))
    assert cancel_rejects(venue.cancel("B", o))[0].reason == "UNKNOWN_ORDER"
    assert cancel_rejects(venue.cancel("B", orig="mine"))[0].reason == "UNKNOWN_ORDER"
    assert venue.order(o).status == S.NEW


def test_cancel_of_a_finished_order_is_refused(venue):
    o = oid(venue.sell("A", 2, 100))
    venue.buy("B", 2, 100)
    [cr] = cancel_rejects(venue.cancel("A", o))
    assert (cr.reason, cr.status, cr.order_id, cr.symbol) == ("ORDER_NOT_OPEN", S.FILLED, o, SYM)


def test_cancel_with_a_used_client_order_id_is_refused(venue):
    venue.sell("A", 1, 101, clid="taken")
    o = oid(venue.sell("A", 2, 100))
    assert cancel_rejects(venue.cancel("A", o, clid="taken"))[0].reason == "DUPLICATE_ORDER"
    assert venue.order(o).status == S.NEW


def test_cancel_is_allowed_for_a_waiting_stop(venue):
    o = oid(venue.buy("A", 1, ord_type=STOP, stop_px=110))
    assert execs(venue.cancel("A", o))[0].status == S.CANCELED


# --- replace --------------------------------------------------------------------------------------------

def test_replace_quantity_down_keeps_time_priority(venue):
    first = oid(venue.sell("A", 5, 100))
    second = oid(venue.sell("C", 5, 100))
    [rep] = execs(venue.replace("A", first, qty=3))
    assert (rep.exec_type, rep.qty, rep.leaves, rep.status) == (X.REPLACED, 3, 3, S.NEW)
    evs = venue.buy("B", 1, 100)
    assert trades(evs)[0].maker_order_id == first
    assert second


def test_replace_quantity_up_loses_time_priority(venue):
    first = oid(venue.sell("A", 5, 100))
    second = oid(venue.sell("C", 5, 100))
    venue.replace("A", first, qty=6)
    assert trades(venue.buy("B", 1, 100))[0].maker_order_id == second
    assert venue.depth() == ([], [(100, 10, 2)])


def test_replace_price_change_loses_time_priority(venue):
    first = oid(venue.sell("A", 5, 100))
    venue.sell("A", 5, 101)
    second = oid(venue.sell("C", 5, 100))
    venue.replace("A", first, price=101)
    venue.replace("A", first, price=100)
    assert trades(venue.buy("B", 1, 100))[0].maker_order_id == second


def test_replace_to_the_same_quantity_and_price_keeps_priority(venue):
    first = oid(venue.sell("A", 5, 100))
    venue.sell("C", 5, 100)
    venue.replace("A", first)
    assert trades(venue.buy("B", 1, 100))[0].maker_order_id == first


def test_replace_to_a_crossing_price_trades_at_once(venue):
    venue.sell("A", 2, 101)
    o = oid(venue.buy("B", 5, 99))
    evs = venue.replace("B", o, price=101, clid="b-2")
    assert [e.exec_type for e in execs(evs, o)] == [X.REPLACED, X.TRADE]
    assert execs(evs, o)[0].orig_cl_ord_id == venue.log[-2].cl_ord_id
    assert [(t.price, t.qty) for t in trades(evs)] == [(101, 2)]
    assert venue.depth() == ([(101, 3, 1)], [])


def test_replace_of_a_partially_filled_order_keeps_the_fills(venue):
    o = oid(venue.sell("A", 10, 100))
    venue.buy("B", 4, 100)
    [rep] = execs(venue.replace("A", o, qty=6))
    assert (rep.qty, rep.cum, rep.leaves, rep.status) == (6, 4, 2, S.PARTIALLY_FILLED)
    assert venue.depth() == ([], [(100, 2, 1)])


def test_replace_quantity_not_above_the_filled_quantity_is_refused(venue):
    o = oid(venue.sell("A", 10, 100))
    venue.buy("B", 4, 100)
    [cr] = cancel_rejects(venue.replace("A", o, qty=4))
    assert (cr.reason, cr.is_replace, cr.status) == ("REPLACE_QTY_BELOW_FILLED", True, S.PARTIALLY_FILLED)


def test_replace_validation(venue):
    o = oid(venue.sell("A", 10, 100))
    assert cancel_rejects(venue.replace("A", o, qty=1001))[0].reason == "INVALID_QUANTITY"
    assert cancel_rejects(venue.replace("A", o, stop_px=99))[0].reason == "INVALID_ORDER"
    assert cancel_rejects(venue.replace("A", o, price=-1))[0].reason == "INVALID_ORDER"
    assert cancel_rejects(venue.replace("B", o, qty=5))[0].reason == "UNKNOWN_ORDER"
    venue.sell("A", 1, 105, clid="used")
    assert cancel_rejects(venue.replace("A", o, qty=5, clid="used"))[0].reason == "DUPLICATE_ORDER"
    ice = oid(venue.sell("A", 10, 102, display_qty=4))
    assert cancel_rejects(venue.replace("A", ice, qty=4))[0].reason == "INVALID_QUANTITY"
    stop = oid(venue.buy("A", 1, ord_type=STOP, stop_px=110))
    assert cancel_rejects(venue.replace("A", stop, price=100))[0].reason == "INVALID_ORDER"
    assert venue.order(o).qty == 10


def test_replace_of_a_finished_order_is_refused(venue):
    o = oid(venue.buy("B", 1, 100, tif=IOC))
    assert cancel_rejects(venue.replace("B", o, qty=2))[0].reason == "ORDER_NOT_OPEN"


def test_replace_by_client_order_id_chains(venue):
    o = oid(venue.sell("A", 5, 100, clid="v1"))
    venue.replace("A", orig="v1", clid="v2", qty=4)
    [rep] = execs(venue.replace("A", orig="v2", clid="v3", qty=3))
    assert (rep.order_id, rep.cl_ord_id, rep.orig_cl_ord_id, rep.qty) == (o, "v3", "v2", 3)


def test_iceberg_replace_down_trims_the_displayed_slice(venue):
    ice = oid(venue.sell("A", 10, 100, display_qty=4))
    venue.buy("B", 5, 100)                    # one slice of 4, then 1 of the refill: shows 3, leaves 5
    assert venue.depth() == ([], [(100, 3, 1)])
    venue.replace("A", ice, qty=9)            # leaves 4: the slice of 3 stays
    assert venue.depth() == ([], [(100, 3, 1)])
    [rep] = execs(venue.replace("A", ice, qty=7))     # leaves 2: the slice shrinks to 2
    assert (rep.qty, rep.cum, rep.leaves) == (7, 5, 2)
    assert venue.depth() == ([], [(100, 2, 1)])


def test_hidden_order_replace_stays_hidden(venue):
    h = oid(venue.sell("A", 5, 100, hidden=True))
    venue.replace("A", h, qty=3)
    venue.replace("A", h, price=101)
    assert venue.depth() == ([], [])
    assert trades(venue.buy("B", 5, 101))[0].qty == 3


# --- mass cancel ------------------------------------------------------------------------------------------

def _book(venue):
    ids = {
        "a_buy": oid(venue.buy("A", 1, 99)),
        "a_sell": oid(venue.sell("A", 1, 101)),
        "a_eth": oid(venue.sell("A", 1, 101, symbol=SYM2)),
        "a_stop": oid(venue.buy("A", 1, ord_type=STOP, stop_px=120)),
        "c_buy": oid(venue.buy("C", 1, 98)),
    }
    return ids


def test_mass_cancel_by_account(venue):
    ids = _book(venue)
    evs = venue.mass_cancel(account="A", cl_ord_id="m1")
    assert [e.order_id for e in execs(evs)] == [ids["a_buy"], ids["a_sell"], ids["a_eth"], ids["a_stop"]]
    assert all(e.reason == "MASS_CANCEL" and e.status == S.CANCELED for e in execs(evs))
    [done] = mass_done(evs)
    assert (done.cancelled, done.account, done.cl_ord_id) == (4, "A", "m1")
    assert [o.order_id for o in venue.oms.open_orders()] == [ids["c_buy"]]


def test_mass_cancel_by_instrument_and_side(venue):
    ids = _book(venue)
    evs = venue.mass_cancel(account="A", symbol=SYM, side=BUY)
    assert [e.order_id for e in execs(evs)] == [ids["a_buy"], ids["a_stop"]]
    evs = venue.mass_cancel(symbol=SYM2)
    assert [e.order_id for e in execs(evs)] == [ids["a_eth"]]
    evs = venue.mass_cancel(side=SELL)
    assert [e.order_id for e in execs(evs)] == [ids["a_sell"]]


def test_mass_cancel_of_everything(venue):
    _book(venue)
    evs = venue.mass_cancel()
    assert mass_done(evs)[0].cancelled == 5
    assert venue.oms.open_orders() == [] and venue.depth() == ([], [])


def test_mass_cancel_with_nothing_to_cancel_still_answers(venue):
    [done] = venue.mass_cancel(account="ZZ")
    assert done.kind == "mass_cancel_done" and done.cancelled == 0


def test_mass_cancel_by_origin_session(venue):
    keep = oid(venue.sell("A", 1, 101, origin="FIX:1"))
    gone = oid(venue.sell("A", 1, 102, origin="FIX:2"))
    evs = venue.mass_cancel(scope_origin="FIX:2", reason="CANCEL_ON_DISCONNECT")
    assert [(e.order_id, e.reason) for e in execs(evs)] == [(gone, "CANCEL_ON_DISCONNECT")]
    assert venue.order(keep).status == S.NEW


def test_mass_cancel_leaves_a_fully_filled_aggressor_alone(venue):
    venue.sell("A", 2, 100)
    taker = oid(venue.buy("B", 2, 100))
    evs = venue.mass_cancel(account="B")
    assert execs(evs) == [], "a FILLED order was cancelled"
    assert mass_done(evs)[0].cancelled == 0
    assert venue.order(taker).status == S.FILLED


def test_mass_cancel_by_time_in_force(venue):
    day = oid(venue.sell("A", 1, 101, tif=DAY))
    gtc = oid(venue.sell("A", 1, 102))
    evs = venue.mass_cancel(account="A", tif=DAY)
    assert [e.order_id for e in execs(evs)] == [day]
    assert venue.order(gtc).status == S.NEW


def test_edge_refused_cancel_is_recorded_as_a_cancel_reject(venue):
    from engine.commands import RejectCancel
    o = oid(venue.sell("A", 1, 101, clid="k"))
    evs = venue.run(RejectCancel(venue.next_ts(None), "A", "k2", "k", 0, True, "INVALID_PRICE", "off tick"))
    [cr] = cancel_rejects(evs)
    assert (cr.order_id, cr.status, cr.is_replace, cr.reason, cr.text, cr.symbol) == (
        o, S.NEW, True, "INVALID_PRICE", "off tick", SYM)
    [cr] = cancel_rejects(venue.run(RejectCancel(venue.next_ts(None), "A", "k3", "", 99, False, "RISK_LIMIT", "no")))
    assert (cr.order_id, cr.status, cr.symbol) == (0, -1, "")
    assert venue.order(o).status == S.NEW
