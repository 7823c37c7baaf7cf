"""Faults: rejects, 429s, lost answers, dropped connections and venue restarts lose no
order, create no duplicate, and the router's view matches the venue's afterwards."""

import asyncio
from decimal import Decimal as D

from engine.types import ExecType as X, OrdStatus as S
from venues.sim.faults import Fault

from routing_support import BUY, SELL, Harness, check_aggregation, routing_config

FAST = {"timeout": 0.5}
FAST_OANDA = {"request_timeout": 0.5}


def names(h, order_id):
    return [X(t).name for t in h.exec_types(order_id)]


def binance_orders(sim, clid):
    return sim.orders_with_client_id(clid)


async def test_a_reject_fails_over_to_the_next_venue(binance):
    binance.faults.add(Fault("reject", reason="-2010:Account has insufficient balance for requested action."))
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance",
                                                            "failover": ["internal"]}}))
    async with h:
        h.new("MM", "ETH-USD", SELL, "3", "3000.50")
        clid = h.new("C1", "ETH-USD", BUY, "2", "3001")
        o = await h.done("C1", clid)
        assert (o.status, o.cum) == (int(S.FILLED), 2000)
        assert names(h, o.order_id) == ["PENDING_NEW", "NEW", "TRADE"]       # the client never saw the reject
        first, second = h.children(o.order_id)
        assert (first["venue"], first["end"], first["reason"]) == ("binance", "failover", "INSUFFICIENT_BALANCE")
        assert (second["venue"], second["end"]) == ("internal", "filled")
        assert binance_orders(binance, first["child_id"]) == []
        actions = [a["action"] for a in h.router.audit_of(o.order_id)]
        assert actions.count("plan") == 2


async def test_when_every_venue_refuses_the_client_gets_one_reject(oanda):
    oanda.faults.add(Fault("reject", reason="INSUFFICIENT_MARGIN"))
    h = Harness(routing_config(oanda, None, {"EUR/USD": {"policy": "venue", "venue": "oanda"}}))
    async with h:
        clid = h.new("C1", "EUR/USD", BUY, "10000")
        o = await h.done("C1", clid)
        assert o.status == int(S.REJECTED) and names(h, o.order_id) == ["PENDING_NEW", "REJECTED"]
        rej = h.reports(o.order_id)[-1]
        assert rej.reason == "INSUFFICIENT_BALANCE" and "oanda" in rej.text


async def test_a_429_is_retried_and_the_venue_gets_exactly_one_order(binance):
    binance.faults.add(Fault("rate_limit", count=1, path="/api/v3/order", retry_after=0.2))
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"}}))
    async with h:
        clid = h.new("C1", "ETH-USD", BUY, "1", "3001")
        o = await h.done("C1", clid)
        assert o.status == int(S.FILLED)
        (child,) = h.children(o.order_id)
        assert len(binance_orders(binance, child["child_id"])) == 1
        assert ("rate_limit", "POST", "/api/v3/order") in binance.faults.fired


async def test_a_venue_that_keeps_throttling_fails_over_without_leaving_an_order(binance, oanda):
    oanda.set_price("BTC_USD", "50000.00", quantity="5", half_spread="1", step="1")
    binance.faults.add(Fault("rate_limit", count=20, path="/api/v3/order", retry_after=0.2))
    h = Harness(routing_config(oanda, binance, {"BTC-USD": {"policy": "venue", "venue": "binance",
                                                             "failover": ["oanda"]}},
                               rate_limit_retries=1))
    async with h:
        clid = h.new("C1", "BTC-USD", BUY, "0.5", "50010")
        o = await h.done("C1", clid)
        assert o.status == int(S.FILLED)
        first, second = h.children(o.order_id)
        assert (first["venue"], first["end"], first["reason"]) == ("binance", "failover", "RATE_LIMITED")
        assert second["venue"] == "oanda" and second["end"] == "filled"
        assert binance_orders(binance, first["child_id"]) == []
        assert len(oanda.orders_with_client_id(second["child_id"])) == 1


async def test_timeout_after_the_venue_accepted_creates_no_duplicate(oanda, binance):
    oanda.faults.add(Fault("timeout", path="/orders", delay=1.5))
    binance.faults.add(Fault("timeout", path="/api/v3/order", delay=1.5))
    h = Harness(routing_config(oanda, binance, {"EUR/USD": {"policy": "venue", "venue": "oanda"},
                                                "ETH-USD": {"policy": "venue", "venue": "binance"}},
                               oanda_extra=FAST_OANDA, binance_extra=FAST))
    async with h:
        a = h.new("C1", "EUR/USD", BUY, "10000")
        b = h.new("C1", "ETH-USD", BUY, "1", "3001")
        oa, ob = await h.done("C1", a), await h.done("C1", b)
        assert oa.status == ob.status == int(S.FILLED)
        assert oa.cum == 10000 and ob.cum == 1000
        (ca,), (cb,) = h.children(oa.order_id), h.children(ob.order_id)
        assert len(oanda.orders_with_client_id(ca["child_id"])) == 1
        assert len(binance_orders(binance, cb["child_id"])) == 1
        assert names(h, oa.order_id).count("TRADE") == 1 and names(h, ob.order_id).count("TRADE") == 1
        assert any(k == "timeout" for k, _, _ in oanda.faults.fired)
        assert any(k == "timeout" for k, _, _ in binance.faults.fired)


async def test_connection_dropped_after_the_venue_processed_the_order(binance):
    binance.faults.add(Fault("disconnect", path="/api/v3/order"))
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"}},
                               binance_extra=FAST))
    async with h:
        clid = h.new("C1", "ETH-USD", BUY, "1", "2900")
        o = await h.status("C1", clid, int(S.NEW))
        (child,) = h.children(o.order_id)
        assert len(binance_orders(binance, child["child_id"])) == 1
        assert ("disconnect", "POST", "/api/v3/order") in binance.faults.fired


async def test_an_order_in_doubt_is_never_sent_elsewhere_and_is_settled_by_reconciliation(binance, oanda):
    # the venue accepts, then every answer (the submit's and the lookups') is lost for a while
    binance.faults.add(Fault("timeout", path="/api/v3/order", method="POST", delay=1.0))
    binance.faults.add(Fault("timeout", path="/api/v3/order", method="GET", delay=1.0, count=5))
    h = Harness(routing_config(oanda, binance, {"BTC-USD": {"policy": "venue", "venue": "binance",
                                                             "failover": ["oanda"]}},
                               binance_extra={"timeout": 0.4, "reconcile_attempts": 2}))
    async with h:
        clid = h.new("C1", "BTC-USD", BUY, "0.5", "50010")
        o = h.order("C1", clid)
        await h.until(lambda: any(a["action"] == "child_unknown" for a in h.router.audit_of(o.order_id)),
                      what="the child to be in doubt")
        assert o.status == int(S.PENDING_NEW) and len(h.children(o.order_id)) == 1
        o = await h.done("C1", clid, timeout=20)
        assert (o.status, o.cum) == (int(S.FILLED), 5000)
        (child,) = h.children(o.order_id)                       # never failed over to oanda
        assert child["venue"] == "binance"
        (vo,) = binance_orders(binance, child["child_id"])
        assert vo["status"] == "FILLED" and D(vo["executedQty"]) == D("0.5")
        assert not oanda.orders
        check_aggregation(h, o.order_id)


async def test_stream_lost_mid_order_then_reconciled_with_the_venue(oanda):
    h = Harness(routing_config(oanda, None, {"EUR/USD": {"policy": "venue", "venue": "oanda"}}))
    async with h:
        clid = h.new("C1", "EUR/USD", BUY, "20000", "1.09000")
        o = await h.status("C1", clid, int(S.NEW))
        (child,) = h.children(o.order_id)
        oanda.drop_streams(blocked=True)                       # the transaction stream is gone
        await h.until(lambda: h.core.venue_up["oanda"] is False, what="venue marked down")
        oanda.set_price("EUR_USD", "1.08990")                  # the pending limit fills while we are blind
        (vo,) = oanda.orders_with_client_id(child["child_id"])
        assert vo["state"] == "FILLED"
        assert h.order("C1", clid).cum == 0
        oanda.streams_blocked = False                          # back: gap fill + reconciliation
        o = await h.done("C1", clid)
        assert (o.status, o.cum) == (int(S.FILLED), 20000)
        assert h.core.venue_up["oanda"] is True
        assert [e["up"] for e in h.core.venue_log if e.get("venue") == "oanda"] == [False, True]
        assert len(oanda.orders_with_client_id(child["child_id"])) == 1
        assert names(h, o.order_id).count("TRADE") == 1
        check_aggregation(h, o.order_id)


async def test_venue_restart_loses_nothing_and_reconciliation_matches_the_venue(binance):
    h = Harness(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance",
                                                            "failover": ["internal"]}},
                               binance_extra=FAST))
    async with h:
        h.new("MM", "ETH-USD", SELL, "5", "2950")
        resting = h.new("C1", "ETH-USD", BUY, "2", "2900")
        r = await h.status("C1", resting, int(S.NEW))
        (rchild,) = h.children(r.order_id)
        await binance.stop()
        await h.until(lambda: h.core.venue_up["binance"] is False, what="venue marked down")
        # while the venue is down new flow fails over at once (nothing is sent to a dead venue)
        clid = h.new("C2", "ETH-USD", BUY, "1", "2960")
        o = await h.done("C2", clid)
        assert o.status == int(S.FILLED)
        assert [k["venue"] for k in h.children(o.order_id)] == ["internal"]
        # the venue comes back with its state; the resting child fills there afterwards
        await binance.start()
        await h.until(lambda: h.core.venue_up["binance"] is True, what="venue back up")
        binance.set_price("ETHUSDT", "2899.00")
        r = await h.done("C1", resting)
        assert (r.status, r.cum) == (int(S.FILLED), 2000)
        (vo,) = binance_orders(binance, rchild["child_id"])
        assert vo["status"] == "FILLED"
        # reconciliation: the router's view of every child equals the venue's
        await h.router.reconcile_venue("binance")
        for k in h.children(r.order_id):
            (v,) = binance_orders(binance, k["child_id"])
            assert h.venue.instruments["ETH-USD"].lots_to_qty(k["cum"]) == D(v["executedQty"])
        check_aggregation(h, r.order_id)


async def test_losing_a_venue_with_failover_moves_resting_children(oanda):
    h = Harness(routing_config(oanda, None, {"EUR/USD": {"policy": "venue", "venue": "oanda",
                                                         "failover": ["internal"]}},
                               on_venue_loss="failover"))
    async with h:
        clid = h.new("C1", "EUR/USD", BUY, "20000", "1.09000")
        o = await h.status("C1", clid, int(S.NEW))
        (first,) = h.children(o.order_id)
        oanda.drop_streams(blocked=True)
        await h.until(lambda: len(h.children(o.order_id)) == 2 and h.children(o.order_id)[1]["state"] == "live",
                      what="the child to move to the internal book")
        kids = h.children(o.order_id)
        assert (kids[0]["end"], kids[1]["venue"], kids[1]["qty"]) == ("failover", "internal", 20000)
        (vo,) = oanda.orders_with_client_id(first["child_id"])
        assert vo["state"] == "CANCELLED"
        assert h.oms.books["EUR/USD"].bids.best() == 109000
        assert o.status == int(S.NEW) and names(h, o.order_id) == ["PENDING_NEW", "NEW"]
        oanda.streams_blocked = False
        h.cancel("C1", clid)
        o = await h.done("C1", clid)
        assert o.status == int(S.CANCELED)
