"""Routing under risk/: every routed order passes pre-trade risk, the kill switch cancels
external children and stops new routing, and losing a venue is reported to risk."""

from decimal import Decimal as D

from engine.types import OrdStatus as S

from routing_support import BUY, SELL, Harness, routing_config


def with_risk(config: dict, risk: dict) -> dict:
    config = dict(config)
    config["risk"] = risk
    return config


async def test_a_routed_order_passes_pre_trade_risk_before_the_router_sees_it(binance):
    cfg = with_risk(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"}}),
                    {"instruments": {"ETH-USD": {"max_order_qty": "5"}}})
    h = Harness(cfg, risk=True)
    async with h:
        risk = h.venue.services["risk"]
        posts = len([r for r in binance.requests if r[0] == "POST"])
        clid = h.new("C1", "ETH-USD", BUY, "10", "3001")
        o = await h.done("C1", clid)
        assert o.status == int(S.REJECTED) and h.reports(o.order_id)[-1].reason == "RISK_LIMIT"
        assert h.children(o.order_id) == [] and o.order_id not in h.core.book.parents
        assert len([r for r in binance.requests if r[0] == "POST"]) == posts      # nothing reached the venue
        # within the limit it is routed, and the parent's fills move the client's risk position
        clid = h.new("C1", "ETH-USD", BUY, "2", "3001")
        o = await h.done("C1", clid)
        assert o.status == int(S.FILLED)
        assert risk.position("C1", "ETH-USD")["quantity"] == D("2")


async def test_kill_switch_cancels_external_and_internal_children_and_stops_new_routing(binance):
    cfg = with_risk(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"},
                                                   "BTC-USD": {"policy": "split", "venues": ["internal", "binance"]}}),
                    {})
    h = Harness(cfg, risk=True)
    async with h:
        risk = h.venue.services["risk"]
        ext = h.new("C1", "ETH-USD", BUY, "3", "2900")          # rests at binance
        inner = h.new("C2", "BTC-USD", BUY, "0.5", "40000")     # nothing shown that low: rests on our book
        oe = await h.status("C1", ext, int(S.NEW))
        oi = await h.status("C2", inner, int(S.NEW))
        (ke,), (ki,) = h.children(oe.order_id), h.children(oi.order_id)
        assert (ke["venue"], ki["venue"]) == ("binance", "internal")
        h.seq.submit(risk.kill_command("global", None, "test kill", "ops"))
        oe, oi = await h.done("C1", ext), await h.done("C2", inner)
        for o in (oe, oi):
            assert o.status == int(S.CANCELED) and h.reports(o.order_id)[-1].reason == "KILL_SWITCH"
        assert binance.orders_with_client_id(ke["child_id"])[0]["status"] == "CANCELED"
        assert h.oms.get(ki["internal_order_id"]).status == int(S.CANCELED)
        assert not h.oms.books["BTC-USD"].bids.prices
        posts = len([r for r in binance.requests if r[0] == "POST"])
        clid = h.new("C1", "ETH-USD", BUY, "1", "3001")
        o = await h.done("C1", clid)
        assert o.status == int(S.REJECTED) and h.reports(o.order_id)[-1].reason == "KILL_SWITCH"
        assert h.children(o.order_id) == []
        assert len([r for r in binance.requests if r[0] == "POST"]) == posts


async def test_losing_a_venue_is_reported_to_risk_which_can_kill_its_instruments(binance):
    cfg = with_risk(routing_config(None, binance, {"ETH-USD": {"policy": "venue", "venue": "binance"}}),
                    {"auto_kill": {"venue_loss": {"enabled": True, "release_on_reconnect": True,
                                                  "venues": {"binance": {"scope": "instrument",
                                                                         "targets": ["ETH-USD"]}}}}})
    h = Harness(cfg, risk=True)
    async with h:
        risk = h.venue.services["risk"]
        clid = h.new("C1", "ETH-USD", BUY, "1", "2900")
        o = await h.status("C1", clid, int(S.NEW))
        await binance.stop()
        await h.until(lambda: risk.venues.get("binance") is False, what="risk to hear of the loss")
        assert any(e.kind == "venue_status" and not e.connected for e in h.events)
        assert risk.trading_state(symbol="ETH-USD")["state"] == "HALTED"
        # the kill switch cancelled the routed order: its child is cancelled once the venue answers
        await h.until(lambda: h.order("C1", clid).status == int(S.PENDING_CANCEL), what="pending cancel")
        await binance.start()
        o = await h.done("C1", clid)
        assert o.status == int(S.CANCELED)
        (k,) = h.children(o.order_id)
        assert binance.orders_with_client_id(k["child_id"])[0]["status"] == "CANCELED"
        await h.until(lambda: risk.venues.get("binance") is True, what="risk to hear the venue is back")
        assert risk.trading_state(symbol="ETH-USD")["state"] == "ACTIVE"
