"""The OANDA adapter driving the real oandapyV20 client against the v20 simulator."""

import asyncio
from decimal import Decimal as D

import pytest

from venues.adapter import (
    ConnectionState,
    ConnectionStateChanged,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
    TimeInForce,
    VenueDisconnected,
    VenueFill,
    VenueOrderRequest,
    VenueOrderUpdate,
    VenueRateLimited,
    VenueReject,
)
from venues.oanda import OandaAdapter, OandaConfig
from venues.sim.faults import Fault
from venues.sim.oanda import OandaSim

WAIT = 8.0  # upper bound for any single wait; tests normally finish far sooner


def make_adapter(sim: OandaSim, **overrides) -> OandaAdapter:
    cfg = dict(
        account_id=sim.account_id, token=sim.token, api_url=sim.base_url, request_timeout=2.0,
        connect_timeout=3.0, stream_read_timeout=2.0, reconnect_initial=0.05, reconnect_max=0.2,
        reconcile_delay=0.05,
    )
    cfg.update(overrides)
    return OandaAdapter(OandaConfig(**cfg))


@pytest.fixture
async def sim():
    s = OandaSim(heartbeat=0.2)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def adapter(sim):
    a = make_adapter(sim)
    await a.connect()
    yield a
    await a.close()


async def wait_for(stream, predicate, timeout=WAIT):
    """Next event on `stream` matching `predicate` (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError("expected event not seen")
        event = await stream.get(remaining)
        if predicate(event):
            return event


def update_of(cid, status):
    return lambda e: isinstance(e, VenueOrderUpdate) and e.order.client_order_id == cid and e.order.status is status


def fill_of(cid):
    return lambda e: isinstance(e, VenueFill) and e.client_order_id == cid


def req(cid, order_type=OrderType.MARKET, side=Side.BUY, qty="1000", symbol="EUR/USD", **kw):
    return VenueOrderRequest(cid, symbol, side, order_type, D(qty), **kw)


def posts(sim, fragment="/orders"):
    return [p for m, p in sim.requests if m == "POST" and p.endswith(fragment)]


# ---------------------------------------------------------------- basics


async def test_connect_account_and_market_data(sim, adapter):
    assert adapter.connection_state is ConnectionState.CONNECTED
    (balance,) = await adapter.balances()
    assert (balance.currency, balance.total) == ("USD", D(100000))
    assert await adapter.positions() == []
    quote = await adapter.quote("EUR/USD")
    assert quote.bid == D("1.09995") and quote.ask == D("1.10005") and quote.tradeable
    book = await adapter.book("EUR/USD", depth=3)
    assert [lvl.price for lvl in book.asks] == [D("1.10005"), D("1.10007"), D("1.10009")]
    assert book.bids[0].quantity == D(1_000_000)
    assert ("GET", f"/v3/accounts/{sim.account_id}/pricing?instruments=EUR_USD") in sim.requests


async def test_wrong_token_is_an_auth_reject(sim):
    bad = make_adapter(sim, token="not-the-token")
    with pytest.raises(VenueReject) as exc:
        await bad.connect()
    assert exc.value.code is RejectCode.AUTH_FAILED
    assert bad.connection_state is ConnectionState.DISCONNECTED
    await bad.close()


async def test_market_order_fills_and_streams_events_in_order(sim, adapter):
    events = adapter.events()
    order = await adapter.submit(req("mkt-1", qty="2500"))
    assert order.status is OrderStatus.FILLED and order.filled_quantity == D(2500)
    assert order.avg_fill_price == D("1.10005") and order.trade_id is not None
    assert sim.orders_with_client_id("mkt-1")[0]["units"] == "2500"
    new = await wait_for(events, update_of("mkt-1", OrderStatus.NEW))
    fill = await wait_for(events, fill_of("mkt-1"))
    done = await wait_for(events, update_of("mkt-1", OrderStatus.FILLED))
    assert (fill.side, fill.quantity, fill.price, fill.trade_id) == (Side.BUY, D(2500), D("1.10005"), order.trade_id)
    assert new.order.venue_order_id == done.order.venue_order_id == order.venue_order_id
    (pos,) = await adapter.positions()
    assert (pos.symbol, pos.quantity, pos.avg_price) == ("EUR/USD", D(2500), D("1.10005"))
    assert pos.trade_ids == (order.trade_id,)


async def test_sell_units_are_negative_on_the_wire(sim, adapter):
    order = await adapter.submit(req("short-1", side=Side.SELL, qty="700"))
    assert order.side is Side.SELL and order.status is OrderStatus.FILLED
    assert sim.orders_with_client_id("short-1")[0]["units"] == "-700"
    (pos,) = await adapter.positions()
    assert pos.quantity == D(-700)


# ---------------------------------------------------------------- order types


async def test_limit_rests_then_fills_when_price_comes(sim, adapter):
    events = adapter.events()
    order = await adapter.submit(req("lim-1", OrderType.LIMIT, price=D("1.09900")))
    assert order.status is OrderStatus.NEW and order.price == D("1.09900")
    assert [o.client_order_id for o in await adapter.open_orders()] == ["lim-1"]
    sim.set_price("EUR_USD", "1.09800")  # ask 1.09805 <= limit
    fill = await wait_for(events, fill_of("lim-1"))
    assert fill.price <= D("1.09900")
    status = await adapter.order_status("lim-1")
    assert status.status is OrderStatus.FILLED and status.filled_quantity == D(1000)
    assert await adapter.open_orders() == []


async def test_stop_triggers_on_adverse_move(sim, adapter):
    events = adapter.events()
    order = await adapter.submit(req("stop-1", OrderType.STOP, side=Side.SELL, stop_price=D("1.09500")))
    assert order.status is OrderStatus.NEW and order.stop_price == D("1.09500")
    sim.set_price("EUR_USD", "1.09600")  # not yet
    sim.set_price("EUR_USD", "1.09400")  # bid 1.09395 <= stop
    await wait_for(events, fill_of("stop-1"))
    assert (await adapter.order_status("stop-1")).status is OrderStatus.FILLED


async def test_stop_limit_beyond_its_bound_is_cancelled_with_a_reason(sim, adapter):
    events = adapter.events()
    await adapter.submit(req("sl-1", OrderType.STOP_LIMIT, stop_price=D("1.10500"), price=D("1.10600")))
    sim.set_price("EUR_USD", "1.11000")  # gaps through: ask 1.11005 > bound
    update = await wait_for(events, lambda e: isinstance(e, VenueOrderUpdate) and e.order.client_order_id == "sl-1"
                            and e.order.status.is_terminal)
    assert update.order.status is OrderStatus.CANCELLED
    assert update.order.reject_code is RejectCode.INVALID_PRICE and update.order.reason == "BOUNDS_VIOLATION"


async def test_market_if_touched_fills_on_favourable_touch(sim, adapter):
    events = adapter.events()
    order = await adapter.submit(req("mit-1", OrderType.MARKET_IF_TOUCHED, stop_price=D("1.09500")))
    assert order.order_type is OrderType.MARKET_IF_TOUCHED and order.status is OrderStatus.NEW
    sim.set_price("EUR_USD", "1.09400")
    fill = await wait_for(events, fill_of("mit-1"))
    assert fill.side is Side.BUY and fill.quantity == D(1000)


async def test_trailing_stop_protects_a_trade_and_follows_the_market(sim, adapter):
    events = adapter.events()
    entry = await adapter.submit(req("entry-1"))
    trail = await adapter.submit(req("trail-1", OrderType.TRAILING_STOP, side=Side.SELL,
                                     trade_id=entry.trade_id, trailing_distance=D("0.00100")))
    assert trail.order_type is OrderType.TRAILING_STOP and trail.status is OrderStatus.NEW
    assert (trail.side, trail.quantity) == (Side.SELL, D(1000))
    sim.set_price("EUR_USD", "1.10500")  # trail moves up to 1.10395
    sim.set_price("EUR_USD", "1.10450")  # above the trail: nothing
    assert (await adapter.order_status("trail-1")).status is OrderStatus.NEW
    sim.set_price("EUR_USD", "1.10300")  # through the trail
    fill = await wait_for(events, fill_of("trail-1"))
    assert fill.side is Side.SELL
    assert await adapter.positions() == []


async def test_take_profit_and_stop_loss_on_fill(sim, adapter):
    events = adapter.events()
    order = await adapter.submit(req("bracket-1", take_profit_price=D("1.10500"), stop_loss_price=D("1.09500")))
    tp = await adapter.order_status("bracket-1.tp")
    sl = await adapter.order_status("bracket-1.sl")
    assert (tp.order_type, tp.side, tp.price, tp.trade_id) == (OrderType.LIMIT, Side.SELL, D("1.10500"), order.trade_id)
    assert (sl.order_type, sl.stop_price, sl.status) == (OrderType.STOP, D("1.09500"), OrderStatus.NEW)
    sim.set_price("EUR_USD", "1.10600")  # take profit hit
    await wait_for(events, fill_of("bracket-1.tp"))
    linked = await wait_for(events, update_of("bracket-1.sl", OrderStatus.CANCELLED))
    assert linked.order.reason == "LINKED_TRADE_CLOSED"
    assert await adapter.positions() == []


async def test_ioc_market_order_partially_fills_on_thin_liquidity(sim, adapter):
    sim.set_price("EUR_USD", "1.10000", levels=2, quantity=1000)
    order = await adapter.submit(req("ioc-1", qty="5000", time_in_force=TimeInForce.IOC))
    assert order.status is OrderStatus.EXPIRED and order.filled_quantity == D(2000)
    assert order.avg_fill_price == D("1.10006")  # 1000 @ 1.10005 + 1000 @ 1.10007
    status = await adapter.order_status("ioc-1")
    assert status.status is OrderStatus.EXPIRED and status.filled_quantity == D(2000)


async def test_fok_market_order_without_liquidity_is_rejected(sim, adapter):
    sim.set_price("EUR_USD", "1.10000", levels=1, quantity=100)
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("fok-1", qty="5000"))
    assert exc.value.code is RejectCode.INSUFFICIENT_LIQUIDITY


# ---------------------------------------------------------------- cancel / replace / status / fills


async def test_cancel_and_cancel_again(sim, adapter):
    await adapter.submit(req("can-1", OrderType.LIMIT, price=D("1.05000")))
    cancelled = await adapter.cancel("can-1")
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.client_order_id == "can-1"
    assert (await adapter.order_status("can-1")).status is OrderStatus.CANCELLED
    again = await adapter.cancel("can-1")  # idempotent: still cancelled
    assert again.status is OrderStatus.CANCELLED
    with pytest.raises(VenueReject) as exc:
        await adapter.cancel("never-sent")
    assert exc.value.code is RejectCode.ORDER_NOT_FOUND


async def test_cancel_of_a_filled_order_is_too_late(sim, adapter):
    await adapter.submit(req("done-1"))
    with pytest.raises(VenueReject) as exc:
        await adapter.cancel("done-1")
    assert exc.value.code is RejectCode.TOO_LATE


async def test_replace_moves_price_and_quantity_under_a_new_client_id(sim, adapter):
    events = adapter.events()
    old = await adapter.submit(req("rep-1", OrderType.LIMIT, side=Side.SELL, price=D("1.11000")))
    new = await adapter.replace("rep-1", new_client_order_id="rep-2", quantity=D(3000), price=D("1.11200"))
    assert (new.client_order_id, new.quantity, new.price, new.status) == ("rep-2", D(3000), D("1.11200"),
                                                                          OrderStatus.NEW)
    assert new.venue_order_id != old.venue_order_id
    gone = await adapter.order_status("rep-1")
    assert gone.status is OrderStatus.REPLACED and gone.replaced_by == new.venue_order_id
    replaced = await wait_for(events, update_of("rep-1", OrderStatus.REPLACED))
    assert replaced.order.replaced_by == new.venue_order_id
    assert sim.orders_with_client_id("rep-2")[0]["units"] == "-3000"
    with pytest.raises(VenueReject) as exc:
        await adapter.replace("rep-1", new_client_order_id="rep-3", price=D("1.2"))
    assert exc.value.code is RejectCode.TOO_LATE


async def test_fills_since_a_cursor(sim, adapter):
    await adapter.submit(req("f-1", qty="100"))
    page = await adapter.fills()
    assert [(f.client_order_id, f.quantity) for f in page.fills] == [("f-1", D(100))]
    assert (await adapter.fills(page.cursor)).fills == ()
    await adapter.submit(req("f-2", side=Side.SELL, qty="40"))
    later = await adapter.fills(page.cursor)
    assert [(f.client_order_id, f.side, f.quantity) for f in later.fills] == [("f-2", Side.SELL, D(40))]
    assert int(later.cursor) > int(page.cursor)
    assert (await adapter.fills(symbol="GBP/USD")).fills == ()


async def test_pricing_stream_quotes(sim, adapter):
    stream = adapter.quotes(["EUR/USD"])
    try:
        first = await asyncio.wait_for(stream.__anext__(), WAIT)
        assert first.symbol == "EUR/USD" and first.bid == D("1.09995")
        sim.set_price("EUR_USD", "1.20000")
        moved = await asyncio.wait_for(stream.__anext__(), WAIT)
        assert moved.ask == D("1.20005")
    finally:
        await stream.aclose()


# ---------------------------------------------------------------- rejects


@pytest.mark.parametrize(
    "request_kw,code,venue_code",
    [
        (dict(symbol="FOO/BAR"), RejectCode.UNKNOWN_SYMBOL, "INSTRUMENT_UNKNOWN"),
        (dict(qty="50000000"), RejectCode.INSUFFICIENT_BALANCE, "INSUFFICIENT_MARGIN"),
        (dict(qty="10.5"), RejectCode.INVALID_QUANTITY, "UNITS_PRECISION_EXCEEDED"),
        (dict(qty="200000000"), RejectCode.INVALID_QUANTITY, "UNITS_LIMIT_EXCEEDED"),
        (dict(order_type=OrderType.LIMIT, price=D("1.123456")), RejectCode.INVALID_PRICE, "PRICE_PRECISION_EXCEEDED"),
        (dict(take_profit_price=D("1.1234567")), RejectCode.INVALID_TAKE_PROFIT,
         "TAKE_PROFIT_ON_FILL_PRICE_PRECISION_EXCEEDED"),
        (dict(order_type=OrderType.TRAILING_STOP, trade_id="999", trailing_distance=D("0.001")),
         RejectCode.INVALID_ORDER, "TRADE_DOESNT_EXIST"),
    ],
)
async def test_venue_rejects_map_to_our_codes(sim, adapter, request_kw, code, venue_code):
    events = adapter.events()
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("rej-1", **request_kw))
    assert (exc.value.code, exc.value.venue_code, exc.value.client_order_id) == (code, venue_code, "rej-1")
    rejected = await wait_for(events, update_of("rej-1", OrderStatus.REJECTED))  # the *_REJECT transaction
    assert rejected.order.reject_code is code


async def test_duplicate_client_order_id(sim, adapter):
    await adapter.submit(req("dup-1", OrderType.LIMIT, price=D("1.0")))
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("dup-1", OrderType.LIMIT, price=D("1.0")))
    assert exc.value.code is RejectCode.DUPLICATE_ORDER and exc.value.venue_code == "CLIENT_ORDER_ID_ALREADY_EXISTS"


async def test_market_halted_and_account_locked(sim, adapter):
    sim.halt("EUR_USD")
    assert (await adapter.quote("EUR/USD")).tradeable is False
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("halt-1"))
    assert exc.value.code is RejectCode.MARKET_HALTED and exc.value.venue_code == "MARKET_HALTED"
    sim.halt("EUR_USD", False)
    sim.account_active = False
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("lock-1"))
    assert exc.value.code is RejectCode.ACCOUNT_LOCKED


async def test_injected_reject_reason(sim, adapter):
    sim.faults.add(Fault("reject", reason="PENDING_ORDERS_ALLOWED_EXCEEDED", path="/orders"))
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("inj-1", OrderType.LIMIT, price=D("1.0")))
    assert exc.value.code is RejectCode.LIMIT_EXCEEDED


async def test_local_validation_never_reaches_the_venue(sim, adapter):
    before = len(posts(sim))
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("bad id!"))
    assert exc.value.code is RejectCode.INVALID_ORDER
    assert len(posts(sim)) == before


# ---------------------------------------------------------------- faults


async def test_rate_limit_429_then_local_cooldown(sim, adapter):
    sim.faults.add(Fault("rate_limit", retry_after=1, path="/orders"))
    with pytest.raises(VenueRateLimited) as exc:
        await adapter.submit(req("rl-1"))
    assert exc.value.retry_after == 1.0
    sent = len(sim.requests)
    with pytest.raises(VenueRateLimited):  # refused locally, the venue is not touched
        await adapter.quote("EUR/USD")
    assert len(sim.requests) == sent
    assert sim.orders_with_client_id("rl-1") == []


async def test_timeout_after_accept_is_reconciled_without_duplicate(sim):
    adapter = make_adapter(sim, request_timeout=0.5)
    await adapter.connect()
    try:
        sim.faults.add(Fault("timeout", delay=2.0, path="/orders"))
        order = await adapter.submit(req("to-1", qty="300"))
        assert order.status is OrderStatus.FILLED and order.filled_quantity == D(300)
        assert len(sim.orders_with_client_id("to-1")) == 1
        assert len(posts(sim)) == 1  # never re-sent
        assert any(p.endswith("/orders/@to-1") for m, p in sim.requests if m == "GET")
    finally:
        await adapter.close()


async def test_dropped_connection_after_accept_is_reconciled(sim, adapter):
    sim.faults.add(Fault("disconnect", path="/orders"))
    order = await adapter.submit(req("dc-1", OrderType.LIMIT, price=D("1.05000")))
    assert order.status is OrderStatus.NEW and order.client_order_id == "dc-1"
    assert len(sim.orders_with_client_id("dc-1")) == 1 and len(posts(sim)) == 1


async def test_dropped_connection_before_accept_is_resubmitted_once(sim, adapter):
    sim.faults.add(Fault("disconnect", before=True, path="/orders"))
    order = await adapter.submit(req("dc-2"))
    assert order.status is OrderStatus.FILLED
    assert len(sim.orders_with_client_id("dc-2")) == 1
    assert len(posts(sim)) == 2  # the lookup said "no such order", so it was sent again


async def test_stream_outage_is_gap_filled_with_sinceid(sim, adapter):
    events = adapter.events()
    sim.drop_streams(blocked=True)
    await wait_for(events, lambda e: isinstance(e, ConnectionStateChanged) and e.state is ConnectionState.RECONNECTING)
    # while the stream is down: an order is placed, its REST answer is lost, and a resting order fills
    sim.faults.add(Fault("disconnect", path="/orders"))
    order = await adapter.submit(req("gap-1", qty="100"))
    assert order.status is OrderStatus.FILLED and len(sim.orders_with_client_id("gap-1")) == 1
    await adapter.submit(req("gap-2", OrderType.LIMIT, side=Side.SELL, price=D("1.10100")))
    sim.set_price("EUR_USD", "1.10200")
    assert not any(isinstance(e, VenueFill) for e in _drain(events))  # nothing could arrive yet
    fills_before = adapter.gap_fills
    sim.streams_blocked = False
    await wait_for(events, lambda e: isinstance(e, ConnectionStateChanged) and e.state is ConnectionState.CONNECTED)
    seen = [await wait_for(events, fill_of("gap-1")), await wait_for(events, fill_of("gap-2"))]
    assert [f.quantity for f in seen] == [D(100), D(1000)]
    assert adapter.gap_fills > fills_before
    assert any("/transactions/sinceid" in p for _, p in sim.requests)
    await asyncio.sleep(0.5)  # a few heartbeats: nothing may be delivered twice
    later = _drain(events)
    assert not [e for e in later if isinstance(e, VenueFill)]


async def test_closed_adapter_refuses_and_reconnect_resumes_without_loss(sim, adapter):
    events = adapter.events()
    await adapter.close()
    assert adapter.connection_state is ConnectionState.CLOSED
    with pytest.raises(VenueDisconnected):
        await adapter.submit(req("off-1"))
    other = make_adapter(sim)  # another client trades while we are away
    await other.connect()
    await other.submit(req("while-away", qty="20"))
    await other.close()
    await adapter.connect()
    fill = await wait_for(events, fill_of("while-away"))
    assert fill.quantity == D(20)


def _drain(stream):
    return stream.drain()


async def test_reconnect_keeps_the_feed_position(sim, adapter):
    events = adapter.events()
    await adapter.reconnect()
    assert adapter.connection_state is ConnectionState.CONNECTED
    states = [e.state for e in events.drain() if isinstance(e, ConnectionStateChanged)]
    assert states == [ConnectionState.RECONNECTING, ConnectionState.CONNECTED]
    order = await adapter.submit(req("after-reconnect", qty="5"))
    fill = await wait_for(events, fill_of("after-reconnect"))
    assert fill.venue_order_id == order.venue_order_id


async def test_faults_can_be_given_to_the_constructor():
    sim = OandaSim(heartbeat=0.2, faults=[Fault("rate_limit", method="GET", path="/summary")])
    await sim.start()
    adapter = make_adapter(sim)
    try:
        with pytest.raises(VenueRateLimited):
            await adapter.connect()
    finally:
        await adapter.close()
        await sim.stop()
