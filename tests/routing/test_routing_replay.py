"""Every external outcome is a journaled router command: a replay of the journal (or a
snapshot + the tail) rebuilds routed orders exactly, and a restarted venue reconciles the
children it had decided with the venues before sending anything new."""

import importlib
from decimal import Decimal as D

from app.config import parse_config
from app.venue import Venue
from engine.commands import CancelOrder
from engine.recovery import recover
from engine.snapshot import capture, restore, state_digest
from engine.types import ExecType as X, OrdStatus as S
from venues.adapter import OrderType, Side, VenueOrderRequest
from venues.ccxt import CcxtAdapter
from venues.sim.faults import Fault

from routing_support import BUY, SELL, Harness, routing_config

POLICIES = {"BTC-USD": {"policy": "split", "venues": ["internal", "binance", "oanda"]},
            "ETH-USD": {"policy": "venue", "venue": "binance", "failover": ["internal"]}}


def offline_venue(config: dict):
    cfg = parse_config(config, "<replay>")
    venue = Venue(cfg, "<replay>", {"offline": True})
    importlib.import_module("app.wiring_routing").wire(venue)
    return venue


async def scenario(h: Harness, oanda, binance) -> None:
    """A bit of everything: split fills, a replace, a cancel, a failover, orders left open."""
    oanda.set_price("BTC_USD", "50000.00", quantity="1", half_spread="1", step="1")
    h.new("MM", "BTC-USD", SELL, "0.5", "50000.00")
    await h.done("C2", h.new("C2", "BTC-USD", BUY, "3", "50002.00"))
    a = h.new("C1", "ETH-USD", BUY, "1", "2900")
    await h.status("C1", a, int(S.NEW))
    h.replace("C1", a, "C1-a2", qty="2", price="2910")
    await h.status("C1", "C1-a2", int(S.NEW))
    h.cancel("C1", "C1-a2")
    await h.done("C1", "C1-a2")
    binance.faults.add(Fault("reject"))
    h.new("MM", "ETH-USD", SELL, "1", "3000.50")
    await h.done("C1", h.new("C1", "ETH-USD", BUY, "1", "3001"))
    h.new("C2", "ETH-USD", BUY, "1.5", "2800")                  # left resting at binance
    h.new("C2", "BTC-USD", BUY, "0.2", "49000")                 # left resting (internal child, nothing shown)
    await h.until(lambda: all(not p.planning and all(c.state == "live" for c in p.children)
                              for p in h.core.book.parents.values()) and len(h.core.book.parents) == 2,
                  what="open orders to settle")
    await h.router.settled()


async def test_replaying_the_journal_gives_the_same_events_and_state(oanda, binance, tmp_path):
    config = routing_config(oanda, binance, POLICIES)
    h = Harness(config, journal_dir=tmp_path / "journal")
    async with h:
        await scenario(h, oanda, binance)
    live = [e.encode() for e in h.events if e.kind != "book"]
    live_digest = state_digest(h.oms)
    live_book = h.core.snapshot_state()["book"]
    assert {e.account for e in h.events if e.kind == "exec"} == {"C1", "C2", "MM", "ROUTER"} and len(live) > 25

    replayed = []
    venue = offline_venue(config)
    report = recover(venue.oms, tmp_path / "journal", on_events=lambda evs: replayed.extend(evs))
    assert report.command_errors == 0 and report.commands_replayed > 20
    assert [e.encode() for e in replayed if e.kind != "book"] == live
    assert state_digest(venue.oms) == live_digest
    core = venue.services["router_core"]
    assert core.snapshot_state()["book"] == live_book
    assert core.outbox == []                 # a replay never asks for venue work
    assert set(venue.oms.routed) == set(h.oms.routed) and len(venue.oms.routed) == 2


async def test_a_snapshot_carries_routed_orders_and_their_children(oanda, binance, tmp_path):
    config = routing_config(oanda, binance, POLICIES)
    h = Harness(config)
    async with h:
        await scenario(h, oanda, binance)
        snap = capture(h.oms, 0, {"router": h.core})
        venue = offline_venue(config)
        core = venue.services["router_core"]
        assert restore(venue.oms, snap, {"router": core}) == []
        assert state_digest(venue.oms) == state_digest(h.oms)
        assert set(venue.oms.routed) == set(h.oms.routed)
        for oid in h.oms.routed:
            assert core.children_of(oid) == h.core.children_of(oid)
            assert core.audit_of(oid) == h.core.audit_of(oid)
        # the restored router owns them: cancelling the one with an internal child ends it at once
        internal = next(oid for oid in h.oms.routed if core.children_of(oid)[0]["venue"] == "internal")
        o = venue.oms.get(internal)
        events = venue.oms.process(CancelOrder(h.ts(), o.account, "", o.cl_ord_id, origin="TEST"))
        mine = [e for e in events if e.kind == "exec" and e.order_id == internal]
        assert [X(e.exec_type).name for e in mine] == ["PENDING_CANCEL", "CANCELED"]
        child = venue.oms.get(core.children_of(internal)[0]["internal_order_id"])
        assert child.status == int(S.CANCELED)


async def test_after_a_crash_children_that_were_decided_are_reconciled_before_anything_is_sent(binance, tmp_path):
    config = routing_config(None, binance, {"ETH-USD": POLICIES["ETH-USD"]})
    jdir = tmp_path / "journal"
    # --- the venue before the crash: two children decided (journaled), the first one sent
    before = Harness(config, journal_dir=jdir)       # its dispatcher is never started
    a = before.new("C1", "ETH-USD", BUY, "1", "2900")
    b = before.new("C1", "ETH-USD", BUY, "2", "2890")
    pa, pb = before.order("C1", a), before.order("C1", b)
    # a `venue` policy decides the child inside the NewOrder command itself
    (ka,), (kb,) = before.children(pa.order_id), before.children(pb.order_id)
    assert ka["state"] == kb["state"] == "pending"
    sent, unsent = ka["child_id"], kb["child_id"]
    before.seq.flush()
    before.journal.close()
    adapter = CcxtAdapter(before.core.settings.venues["binance"].adapter_config("binance"))
    await adapter.connect()
    await adapter.submit(VenueOrderRequest(sent, "ETH-USD", Side.BUY, OrderType.LIMIT, D("1"),
                                           price=D("2900")))
    await adapter.close()
    assert [o.client_id for o in binance.orders.values()] == [sent]
    # --- the venue restarts from its journal
    h = Harness(config, journal_dir=jdir)
    assert h.recovered.commands_replayed == 2
    async with h:
        oa = await h.status("C1", a, int(S.NEW))
        ob = await h.status("C1", b, int(S.NEW))
        await h.router.settled()
        assert len(binance.orders_with_client_id(sent)) == 1      # found, not sent again
        assert len(binance.orders_with_client_id(unsent)) == 1    # not found, so sent once
        assert h.children(oa.order_id)[0]["venue_order_id"] is not None
        h.cancel("C1", a)
        h.cancel("C1", b)
        assert (await h.done("C1", a)).status == (await h.done("C1", b)).status == int(S.CANCELED)
        assert {o.status for o in binance.orders.values()} == {"CANCELED"}
