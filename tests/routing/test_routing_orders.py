"""Routed orders end to end at the sequencer level: real adapters, real simulators on loopback.

The client sees ONE order (the parent): its execution reports aggregate the children's
fills with correct CumQty/AvgPx, cancels and replaces propagate to the children, and
the audit trail links parent and children.
"""

import asyncio
from decimal import Decimal as D

from engine.commands import NewOrder, Tick
from engine.types import ExecType as X, OrdStatus as S

from routing_support import (
    BUY, DAY, GTC, IOC, LIMIT, MARKET, SELL, Harness, check_aggregation, routing_config,
)

GTD = 6


def names(h, order_id):
    return [X(t).name for t in h.exec_types(order_id)]


async def test_market_order_to_oanda_is_one_client_order_with_the_venue_fill(oanda):
    h = Harness(routing_config(oanda, None, {"EUR/USD": {"policy": "venue", "venue": "oanda"}}))
    async with h:
        clid = h.new("C1", "EUR/USD", BUY, "25000")
        o = await h.done("C1", clid)
        assert (o.status, o.cum, o.leaves) == (int(S.FILLED), 25000, 0)
        assert names(h, o.order_id) == ["PENDING_NEW", "NEW", "TRADE"]
        trade = h.reports(o.order_id)[-1]
        inst = h.venue.instruments["EUR/USD"]
        assert inst.ticks_to_price(trade.last_px) == D("1.10005") and trade.last_qty == 25000
        assert inst.avg_price(o.cum_notional, o.cum) == D("1.10005")
        assert trade.fee_e8 == inst.fee_e8(trade.last_px, 25000, 200)    # the client's own taker fee (2 bps)
        (child,) = h.children(o.order_id)
        assert child["venue"] == "oanda" and child["end"] == "filled"
        (venue_order,) = oanda.orders_with_client_id(child["child_id"])
        assert venue_order["units"] == "25000" and venue_order["state"] == "FILLED"
        # nothing but the parent's reports was published for this flow
        assert {e.account for e in h.events if e.kind == "exec"} == {"C1"}
        check_aggregation(h, o.order_id)
        actions = [a["action"] for a in h.router.audit_of(o.order_id)]
        assert actions[:3] == ["accepted", "plan", "child_new"] and "child_fill" in actions and "filled" in actions
        assert h.router.parent_of(child["child_id"]) == o.order_id


async def test_resting_limit_at_binance_then_client_cancel_propagates(binance):
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"}}))
    async with h:
        clid = h.new("C1", "ETH-USD", BUY, "1.5", "2900")
        o = await h.status("C1", clid, int(S.NEW))
        (child,) = h.children(o.order_id)
        (vo,) = binance.orders_with_client_id(child["child_id"])
        assert (vo["status"], vo["price"], vo["origQty"]) == ("NEW", "2900.00000000", "1.50000000")
        h.cancel("C1", clid, "C1-cxl")
        o = await h.done("C1", "C1-cxl")
        assert o.status == int(S.CANCELED) and o.cl_ord_id == "C1-cxl"
        reps = h.reports(o.order_id)
        assert names(h, o.order_id) == ["PENDING_NEW", "NEW", "PENDING_CANCEL", "CANCELED"]
        assert (reps[-2].cl_ord_id, reps[-2].orig_cl_ord_id) == ("C1-cxl", clid)
        assert (reps[-1].cl_ord_id, reps[-1].orig_cl_ord_id) == ("C1-cxl", clid)
        (vo,) = binance.orders_with_client_id(child["child_id"])
        assert vo["status"] == "CANCELED"
        assert h.children(o.order_id)[0]["end"] == "ours"


async def test_replace_moves_the_child_and_the_client_keeps_one_order(binance):
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"}}))
    async with h:
        clid = h.new("C1", "ETH-USD", BUY, "1", "2900")
        o = await h.status("C1", clid, int(S.NEW))
        first = h.children(o.order_id)[0]["child_id"]
        h.replace("C1", clid, "C1-r1", qty="2", price="3000.20")   # now crosses the venue's ask
        o = await h.done("C1", "C1-r1")
        assert (o.status, o.qty, o.cum, o.cl_ord_id) == (int(S.FILLED), 2000, 2000, "C1-r1")
        seq = names(h, o.order_id)
        assert seq[:5] == ["PENDING_NEW", "NEW", "PENDING_REPLACE", "REPLACED", "TRADE"], seq
        rep = next(e for e in h.reports(o.order_id) if e.exec_type == int(X.REPLACED))
        assert (rep.cl_ord_id, rep.orig_cl_ord_id, rep.qty, rep.price) == ("C1-r1", clid, 2000, 300020)
        kids = h.children(o.order_id)
        assert [k["end"] for k in kids] == ["ours", "filled"] and kids[1]["qty"] == 2000
        assert binance.orders_with_client_id(first)[0]["status"] == "CANCELED"
        (second,) = binance.orders_with_client_id(kids[1]["child_id"])
        assert second["price"] == "3000.20000000" and second["status"] == "FILLED"
        check_aggregation(h, o.order_id)


async def test_split_across_the_internal_book_and_both_simulators(oanda, binance):
    oanda.set_price("BTC_USD", "50000.00", quantity="1", half_spread="1", step="1")
    h = Harness(routing_config(oanda, binance, {
        "BTC-USD": {"policy": "split", "venues": ["internal", "binance", "oanda"]}}))
    async with h:
        h.new("MM", "BTC-USD", SELL, "0.5", "50000.00")      # internal liquidity (MM is never routed)
        clid = h.new("C2", "BTC-USD", BUY, "3", "50002.00")
        o = await h.done("C2", clid)
        assert (o.status, o.cum) == (int(S.FILLED), 30000)
        kids = {k["venue"]: k for k in h.children(o.order_id)}
        # displayed within 50002: internal 0.5, binance 4 x 1, oanda 2 x 1 -> 5 : 40 : 20 of 65
        assert {v: k["qty"] for v, k in kids.items()} == {"internal": 2307, "binance": 18461, "oanda": 9232}
        assert all(k["end"] == "filled" for k in kids.values())
        assert sum(k["qty"] for k in kids.values()) == o.qty
        check_aggregation(h, o.order_id)
        trades = [e for e in h.reports(o.order_id) if e.exec_type == int(X.TRADE)]
        assert {e.text for e in trades} == {"routed to internal", "routed to binance", "routed to oanda"}
        # the internal child is an order of the routing account; the client never hears of it
        internal = h.oms.get(kids["internal"]["internal_order_id"])
        assert (internal.account, internal.origin, internal.cum) == ("ROUTER", "ROUTER", 2307)
        assert {e.account for e in h.events if e.kind == "exec" and e.origin == "TEST" and e.account != "MM"} == {"C2"}
        mm_fill = next(e for e in h.events if e.kind == "trade")
        assert (mm_fill.maker_account, mm_fill.taker_account, mm_fill.qty) == ("MM", "ROUTER", 2307)
        # each external child is one order at its venue
        assert len(binance.orders_with_client_id(kids["binance"]["child_id"])) == 1
        assert len(oanda.orders_with_client_id(kids["oanda"]["child_id"])) == 1
        avg = h.venue.instruments["BTC-USD"].avg_price(o.cum_notional, o.cum)
        assert D("50000") < avg < D("50002")


async def test_best_price_compares_fee_adjusted_prices(binance):
    # binance shows ETH at 3000.10 and charges 10 bps; the internal book charges the client 2 bps
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "best_price",
                                                            "venues": ["binance", "internal"]}}))
    async with h:
        h.new("MM", "ETH-USD", SELL, "1", "3000.20")        # worse raw price, better after fees
        clid = h.new("C1", "ETH-USD", BUY, "1", "3001")
        o = await h.done("C1", clid)
        assert [k["venue"] for k in h.children(o.order_id)] == ["internal"]
        assert h.reports(o.order_id)[-1].last_px == 300020
        h.new("MM", "ETH-USD", SELL, "1", "3004.00")        # now binance wins even after its fee
        clid = h.new("C1", "ETH-USD", BUY, "1", "3005")
        o = await h.done("C1", clid)
        assert [k["venue"] for k in h.children(o.order_id)] == ["binance"]
        assert o.status == int(S.FILLED)
        # a buy bigger than binance's top levels within the limit sweeps both
        # a buy bigger than what is displayed within its limit: the rest rests at the best venue
        clid = h.new("C1", "ETH-USD", BUY, "45", "3000.20")
        o = await h.status("C1", clid, int(S.PARTIALLY_FILLED))
        assert {k["venue"]: k["qty"] for k in h.children(o.order_id)} == {"binance": 45000}
        h.cancel("C1", clid)
        o = await h.done("C1", clid)
        assert o.status == int(S.CANCELED) and 0 < o.cum < 45000
        check_aggregation(h, o.order_id)


async def test_immediate_order_partially_filled_at_the_venue_ends_cancelled(oanda):
    oanda.set_price("EUR_USD", "1.10000", levels=1, quantity="1000")
    h = Harness(routing_config(oanda, None, {"EUR/USD": {"policy": "venue", "venue": "oanda"}}))
    async with h:
        clid = h.new("C1", "EUR/USD", BUY, "5000", tif=IOC)
        o = await h.done("C1", clid)
        assert (o.status, o.cum, o.leaves) == (int(S.CANCELED), 1000, 0)
        assert names(h, o.order_id)[-2:] == ["TRADE", "CANCELED"]
        assert h.reports(o.order_id)[-1].reason == "IOC_REMAINDER"
        check_aggregation(h, o.order_id)


async def test_resting_internal_child_fills_later_and_cancel_reaches_it(binance):
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "split",
                                                            "venues": ["internal", "binance"]}}))
    async with h:
        h.new("MM", "ETH-USD", SELL, "2", "3100.00")          # internal liquidity far above the limit
        clid = h.new("C1", "ETH-USD", BUY, "4", "2990")       # nothing displayed within the limit anywhere
        o = await h.status("C1", clid, int(S.NEW))
        (kid,) = h.children(o.order_id)
        assert kid["venue"] == "internal"                      # all to the first (preferred) venue
        h.new("MM", "ETH-USD", SELL, "1.5", "2990")            # someone sells into the resting child
        o = h.order("C1", clid)
        await h.until(lambda: X.TRADE in h.exec_types(o.order_id), what="mirrored fill")
        assert o.cum == 1500
        assert o.status == int(S.PARTIALLY_FILLED) and h.reports(o.order_id)[-1].last_px == 299000
        h.cancel("C1", clid, "C1-c")
        o = await h.done("C1", "C1-c")
        assert (o.status, o.cum) == (int(S.CANCELED), 1500)
        child = h.oms.get(h.children(o.order_id)[0]["internal_order_id"])
        assert child.status == int(S.CANCELED) and child.cum == 1500
        check_aggregation(h, o.order_id)


async def test_mass_cancel_cancels_every_external_child(binance, oanda):
    h = Harness(routing_config(oanda, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"},
                                                "EUR/USD": {"policy": "venue", "venue": "oanda"}}))
    async with h:
        a = h.new("C1", "ETH-USD", BUY, "1", "2800")
        b = h.new("C1", "EUR/USD", SELL, "10000", "1.20000")
        await h.status("C1", a, int(S.NEW))
        await h.status("C1", b, int(S.NEW))
        h.mass_cancel(account="C1", reason="KILL_SWITCH", origin="risk:kill-switch")
        oa, ob = await h.done("C1", a), await h.done("C1", b)
        assert oa.status == ob.status == int(S.CANCELED)
        assert h.reports(oa.order_id)[-1].reason == "KILL_SWITCH"
        assert binance.orders_with_client_id(h.children(oa.order_id)[0]["child_id"])[0]["status"] == "CANCELED"
        assert oanda.orders_with_client_id(h.children(ob.order_id)[0]["child_id"])[0]["state"] == "CANCELLED"


async def test_halt_stops_new_routing_until_resumed(binance):
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"}}))
    async with h:
        before = len(binance.requests)
        h.router.halt("operator test", "ops")
        clid = h.new("C1", "ETH-USD", BUY, "1", "3001")
        o = await h.done("C1", clid)
        assert o.status == int(S.REJECTED) and h.reports(o.order_id)[-1].reason == "VENUE_UNAVAILABLE"
        assert "halted" in h.reports(o.order_id)[-1].text
        assert not [r for r in list(binance.requests)[before:] if r[0] == "POST"]
        assert h.oms.get_by_clid("C1", clid) is None      # like any reject: the client order id may be reused
        h.router.resume()
        clid = h.new("C1", "ETH-USD", BUY, "1", "3001")
        assert (await h.done("C1", clid)).status == int(S.FILLED)


async def test_gtd_parent_expires_and_its_child_is_cancelled(binance):
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"}}))
    async with h:
        inst = h.venue.instruments["ETH-USD"]
        now = h.ts()
        h.seq.submit(NewOrder(now, "C1", "gtd-1", "ETH-USD", BUY, LIMIT, GTD, 1000, inst.price_to_ticks(D("2800")),
                              expire_ts=now + 300_000_000, origin="TEST"))
        o = await h.status("C1", "gtd-1", int(S.NEW))
        child = h.children(o.order_id)[0]["child_id"]
        assert binance.orders_with_client_id(child)[0]["timeInForce"] == "GTC"
        await asyncio.sleep(0.35)
        h.seq.submit(Tick(h.ts()))
        o = await h.done("C1", "gtd-1")
        assert o.status == int(S.EXPIRED) and names(h, o.order_id)[-2:] == ["PENDING_CANCEL", "EXPIRED"]
        assert binance.orders_with_client_id(child)[0]["status"] == "CANCELED"


async def test_unroutable_order_types_are_rejected_not_rested(binance):
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"}}))
    async with h:
        inst = h.venue.instruments["ETH-USD"]
        h.seq.submit(NewOrder(h.ts(), "C1", "ice", "ETH-USD", BUY, LIMIT, GTC, 5000, inst.price_to_ticks(D("2900")),
                              display_qty=1000, origin="TEST"))
        o = await h.done("C1", "ice")
        assert o.status == int(S.REJECTED) and h.reports(o.order_id)[-1].reason == "INVALID_ORDER"
        assert not h.oms.books["ETH-USD"].bids.prices
