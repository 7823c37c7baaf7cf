"""The CCXT adapter driving the real ccxt binance class against the Binance spot simulator."""

import asyncio
from decimal import Decimal as D

import pytest

from venues.adapter import (
    ConnectionState,
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
from venues.ccxt import CcxtAdapter, CcxtConfig, binance_spot_options
from venues.ccxt.translate import rebase_urls
from venues.sim.binance import BinanceSim
from venues.sim.faults import Fault

WAIT = 8.0


def make_adapter(sim: BinanceSim, **overrides) -> CcxtAdapter:
    cfg = dict(exchange_id="binance", api_key=sim.api_key, secret=sim.secret, base_url=sim.base_url,
               options=binance_spot_options(), timeout=2.0, poll_interval=0.05, reconcile_delay=0.05,
               close_grace_ms=0)
    cfg.update(overrides)
    return CcxtAdapter(CcxtConfig(**cfg))


@pytest.fixture
async def sim():
    s = BinanceSim()
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


def req(cid, order_type=OrderType.LIMIT, side=Side.BUY, qty="0.1", symbol="BTC/USDT", **kw):
    return VenueOrderRequest(cid, symbol, side, order_type, D(qty), **kw)


def order_posts(sim):
    return [p for m, p in sim.requests if m == "POST" and p.startswith("/api/v3/order")]


# ---------------------------------------------------------------- basics


def test_rebase_keeps_paths_and_only_moves_hosts():
    urls = {"public": "https://api.binance.com/api/v3", "sapi": "https://api.binance.com/sapi/v1",
            "nested": {"x": "https://fapi.binance.com/fapi/v1"}, "n": 3}
    assert rebase_urls(urls, "http://127.0.0.1:9/") == {
        "public": "http://127.0.0.1:9/api/v3", "sapi": "http://127.0.0.1:9/sapi/v1",
        "nested": {"x": "http://127.0.0.1:9/fapi/v1"}, "n": 3}


async def test_connect_loads_markets_from_the_sim(sim, adapter):
    assert adapter.connection_state is ConnectionState.CONNECTED
    assert set(adapter.exchange.markets) == {"BTC/USDT", "ETH/USDT"}
    assert adapter.exchange.urls["api"]["private"] == sim.base_url + "/api/v3"
    assert ("GET", "/api/v3/exchangeInfo") in sim.requests
    assert adapter.exchange.enableRateLimit is True


async def test_balances_and_book(sim, adapter):
    balances = {b.currency: b for b in await adapter.balances()}
    assert balances["USDT"].total == D(100000) and balances["BTC"].available == D(2)
    book = await adapter.book("BTC/USDT", depth=2)
    assert [lvl.price for lvl in book.bids] == [D("49999.5"), D("49999")]
    assert [lvl.price for lvl in book.asks] == [D("50000.5"), D("50001")]
    quote = await adapter.quote("ETH/USDT")
    assert (quote.bid, quote.ask) == (D("2999.9"), D("3000.1"))
    assert await adapter.positions() == []  # spot: balances, not positions


async def test_limit_order_under_our_client_id_and_its_wire_params(sim, adapter):
    order = await adapter.submit(req("lim-1", price=D("49000")))
    assert (order.status, order.client_order_id, order.price, order.quantity) == (
        OrderStatus.NEW, "lim-1", D(49000), D("0.1"))
    assert sim.orders_with_client_id("lim-1")[0]["type"] == "LIMIT"
    status = await adapter.order_status("lim-1")
    assert status.venue_order_id == order.venue_order_id and status.status is OrderStatus.NEW
    assert [o.client_order_id for o in await adapter.open_orders("BTC/USDT")] == ["lim-1"]
    cancelled = await adapter.cancel("lim-1")
    assert cancelled.status is OrderStatus.CANCELLED
    gets = [p for m, p in sim.requests if m in ("GET", "DELETE") and p.startswith("/api/v3/order?")]
    assert gets and all("origClientOrderId=lim-1" in p for p in gets)
    balances = {b.currency: b for b in await adapter.balances()}
    assert balances["USDT"].locked == 0  # the cancel released the funds


async def test_market_order_fills_and_events_carry_fills_first(sim, adapter):
    events = adapter.events()
    order = await adapter.submit(req("mkt-1", OrderType.MARKET, qty="0.2"))
    assert order.status is OrderStatus.FILLED and order.filled_quantity == D("0.2")
    assert order.avg_fill_price == D("50000.5")
    fill = await wait_for(events, lambda e: isinstance(e, VenueFill))
    update = await wait_for(events, lambda e: isinstance(e, VenueOrderUpdate))
    assert (fill.client_order_id, fill.quantity, fill.price, fill.fee_currency) == ("mkt-1", D("0.2"), D("50000.5"),
                                                                                     "BTC")
    assert fill.fee == D("0.0002") and fill.is_maker is False
    assert update.order.client_order_id == "mkt-1" and update.order.status is OrderStatus.FILLED


async def test_partial_fill_then_rest_fills_on_price_move(sim, adapter):
    events = adapter.events()
    sim.set_price("BTCUSDT", "50000", levels=2, quantity="0.1")
    order = await adapter.submit(req("part-1", qty="0.3", price=D("50001")))
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled_quantity == D("0.2")
    assert order.leaves_quantity == D("0.1")
    await wait_for(events, update_of("part-1", OrderStatus.PARTIALLY_FILLED))
    sim.set_price("BTCUSDT", "49990", levels=2, quantity="1")  # asks come down through the rest
    fill = await wait_for(events, lambda e: isinstance(e, VenueFill) and e.quantity == D("0.1"))
    assert fill.is_maker is True and fill.price == D("50001")
    done = await wait_for(events, update_of("part-1", OrderStatus.FILLED))
    assert done.order.filled_quantity == D("0.3")
    page = await adapter.fills(symbol="BTC/USDT")
    assert sum(f.quantity for f in page.fills if f.client_order_id == "part-1") == D("0.3")


async def test_ioc_and_fok(sim, adapter):
    sim.set_price("BTCUSDT", "50000", levels=1, quantity="0.1")
    ioc = await adapter.submit(req("ioc-1", qty="0.3", price=D("50001"), time_in_force=TimeInForce.IOC))
    assert ioc.status is OrderStatus.EXPIRED and ioc.filled_quantity == D("0.1")
    fok = await adapter.submit(req("fok-1", qty="0.3", price=D("50010"), time_in_force=TimeInForce.FOK))
    assert fok.status is OrderStatus.EXPIRED and fok.filled_quantity == 0


async def test_stop_and_stop_limit_trigger(sim, adapter):
    events = adapter.events()
    stop = await adapter.submit(req("stop-1", OrderType.STOP, side=Side.SELL, stop_price=D("49000")))
    assert stop.order_type is OrderType.STOP and stop.status is OrderStatus.NEW
    stop_limit = await adapter.submit(req("stpl-1", OrderType.STOP_LIMIT, side=Side.SELL, stop_price=D("49500"),
                                          price=D("48800")))
    assert stop_limit.order_type is OrderType.STOP_LIMIT and stop_limit.stop_price == D(49500)
    assert sim.orders_with_client_id("stop-1")[0]["type"] == "STOP_LOSS"
    assert sim.orders_with_client_id("stpl-1")[0]["type"] == "STOP_LOSS_LIMIT"
    sim.set_price("BTCUSDT", "48900")
    await wait_for(events, update_of("stop-1", OrderStatus.FILLED))
    await wait_for(events, update_of("stpl-1", OrderStatus.FILLED))


async def test_market_if_touched_is_take_profit(sim, adapter):
    events = adapter.events()
    mit = await adapter.submit(req("mit-1", OrderType.MARKET_IF_TOUCHED, stop_price=D("49000")))
    assert mit.order_type is OrderType.MARKET_IF_TOUCHED
    assert sim.orders_with_client_id("mit-1")[0]["type"] == "TAKE_PROFIT"
    sim.set_price("BTCUSDT", "48000")
    done = await wait_for(events, update_of("mit-1", OrderStatus.FILLED))
    assert done.order.filled_quantity == D("0.1")


async def test_replace_is_cancel_then_new(sim, adapter):
    events = adapter.events()
    old = await adapter.submit(req("rep-1", price=D("48000"), qty="0.5"))
    new = await adapter.replace("rep-1", new_client_order_id="rep-2", price=D("48500"), quantity=D("0.4"))
    assert (new.client_order_id, new.price, new.quantity, new.status) == ("rep-2", D(48500), D("0.4"), OrderStatus.NEW)
    gone = await adapter.order_status("rep-1")
    assert gone.status is OrderStatus.REPLACED and gone.replaced_by == new.venue_order_id != old.venue_order_id
    await wait_for(events, update_of("rep-1", OrderStatus.REPLACED))
    assert [o.client_order_id for o in await adapter.open_orders()] == ["rep-2"]
    await adapter.cancel("rep-2")
    with pytest.raises(VenueReject) as exc:
        await adapter.replace("rep-2", new_client_order_id="rep-3", price=D("48600"))
    assert exc.value.code is RejectCode.TOO_LATE


async def test_cancel_edge_cases(sim, adapter):
    await adapter.submit(req("done-1", OrderType.MARKET))
    with pytest.raises(VenueReject) as exc:
        await adapter.cancel("done-1")
    assert exc.value.code is RejectCode.TOO_LATE
    with pytest.raises(VenueReject) as exc:
        await adapter.cancel("never-sent", symbol="BTC/USDT")
    assert exc.value.code is RejectCode.ORDER_NOT_FOUND
    with pytest.raises(VenueReject) as exc:
        await adapter.cancel("no-symbol")  # a CCXT venue needs the symbol of an order it did not see
    assert exc.value.code is RejectCode.INVALID_ORDER


async def test_fills_cursor_returns_each_fill_once(sim, adapter):
    await adapter.submit(req("f-1", OrderType.MARKET, qty="0.01"))
    page = await adapter.fills()
    assert [(f.client_order_id, f.quantity) for f in page.fills] == [("f-1", D("0.01"))]
    assert (await adapter.fills(page.cursor)).fills == ()
    await adapter.submit(req("f-2", OrderType.MARKET, side=Side.SELL, qty="0.02"))
    later = await adapter.fills(page.cursor)
    assert [(f.client_order_id, f.side, f.quantity) for f in later.fills] == [("f-2", Side.SELL, D("0.02"))]


# ---------------------------------------------------------------- rejects


@pytest.mark.parametrize(
    "request_kw,code",
    [
        (dict(qty="100", price=D("49000")), RejectCode.INSUFFICIENT_BALANCE),
        (dict(side=Side.SELL, qty="50", price=D("51000")), RejectCode.INSUFFICIENT_BALANCE),
        (dict(qty="0.00001", price=D("49000")), RejectCode.INVALID_QUANTITY),  # NOTIONAL filter
        (dict(order_type=OrderType.STOP, side=Side.SELL, stop_price=D("51000")), RejectCode.WOULD_TRIGGER_IMMEDIATELY),
    ],
)
async def test_venue_rejects_map_to_our_codes(sim, adapter, request_kw, code):
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("rej-1", **request_kw))
    assert exc.value.code is code
    assert exc.value.client_order_id == "rej-1"
    assert sim.orders_with_client_id("rej-1") == []


@pytest.mark.parametrize(
    "request_kw,code",
    [
        (dict(qty="0.123456", price=D("49000")), RejectCode.INVALID_QUANTITY),  # off the lot grid
        (dict(price=D("49000.001")), RejectCode.INVALID_PRICE),  # off the tick grid
        (dict(symbol="DOGE/EUR", price=D("1")), RejectCode.UNKNOWN_SYMBOL),
        (dict(order_type=OrderType.TRAILING_STOP, trailing_distance=D(10)), RejectCode.UNSUPPORTED_ORDER_TYPE),
        (dict(price=D("49000"), take_profit_price=D("52000")), RejectCode.UNSUPPORTED_ORDER_TYPE),
        (dict(price=D("49000"), time_in_force=TimeInForce.DAY), RejectCode.INVALID_TIME_IN_FORCE),
        (dict(order_type=OrderType.MARKET, time_in_force=TimeInForce.FOK), RejectCode.INVALID_TIME_IN_FORCE),
    ],
)
async def test_local_checks_reject_before_sending(sim, adapter, request_kw, code):
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("loc-1", **request_kw))
    assert exc.value.code is code
    assert order_posts(sim) == []


async def test_duplicate_client_id_and_halted_market(sim, adapter):
    await adapter.submit(req("dup-1", price=D("48000")))
    other = make_adapter(sim)  # a second client re-using the id reaches the venue's own check
    await other.connect()
    try:
        with pytest.raises(VenueReject) as exc:
            await other.submit(req("dup-1", price=D("48000")))
        assert exc.value.code is RejectCode.DUPLICATE_ORDER and exc.value.venue_code == "-2010"
    finally:
        await other.close()
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("dup-1", price=D("48000")))  # and our own adapter refuses locally
    assert exc.value.code is RejectCode.DUPLICATE_ORDER
    sim.halt("BTCUSDT")
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("halt-1", price=D("48000")))
    assert exc.value.code is RejectCode.MARKET_HALTED


async def test_injected_reject(sim, adapter):
    sim.faults.add(Fault("reject", reason="-2010:Account has insufficient balance for requested action.",
                         path="/api/v3/order"))
    with pytest.raises(VenueReject) as exc:
        await adapter.submit(req("inj-1", price=D("48000")))
    assert exc.value.code is RejectCode.INSUFFICIENT_BALANCE


async def test_wrong_secret_fails_the_signature_check(sim):
    bad = make_adapter(sim, secret="not-the-secret")
    await bad.connect()  # markets are public: no signature needed
    try:
        with pytest.raises(VenueReject) as exc:
            await bad.balances()
        assert exc.value.code is RejectCode.AUTH_FAILED and exc.value.venue_code == "-1022"
        with pytest.raises(VenueReject) as exc:
            await bad.submit(req("sig-1", price=D("48000")))
        assert exc.value.code is RejectCode.AUTH_FAILED
        assert sim.orders_with_client_id("sig-1") == []
    finally:
        await bad.close()


# ---------------------------------------------------------------- faults


async def test_rate_limit_429_then_local_cooldown(sim, adapter):
    sim.faults.add(Fault("rate_limit", retry_after=1, path="/api/v3/order"))
    with pytest.raises(VenueRateLimited) as exc:
        await adapter.submit(req("rl-1", price=D("48000")))
    assert exc.value.retry_after == 1.0
    sent = len(sim.requests)
    with pytest.raises(VenueRateLimited):
        await adapter.balances()  # refused locally until Retry-After passes
    assert len(sim.requests) == sent
    assert sim.orders_with_client_id("rl-1") == []


async def test_timeout_after_accept_is_reconciled_without_duplicate(sim):
    adapter = make_adapter(sim, timeout=0.5)
    await adapter.connect()
    try:
        sim.faults.add(Fault("timeout", delay=2.0, path="/api/v3/order"))
        order = await adapter.submit(req("to-1", price=D("48000")))
        assert order.status is OrderStatus.NEW and order.client_order_id == "to-1"
        assert len(sim.orders_with_client_id("to-1")) == 1
        assert adapter.create_calls == 1 and len(order_posts(sim)) == 1  # never re-sent
        assert any("origClientOrderId=to-1" in p for m, p in sim.requests if m == "GET")
    finally:
        await adapter.close()


async def test_dropped_connection_after_accept_is_reconciled(sim, adapter):
    sim.faults.add(Fault("disconnect", path="/api/v3/order"))
    order = await adapter.submit(req("dc-1", OrderType.MARKET))
    assert order.status is OrderStatus.FILLED
    assert len(sim.orders_with_client_id("dc-1")) == 1 and adapter.create_calls == 1


async def test_dropped_connection_before_accept_is_resubmitted_once(sim, adapter):
    sim.faults.add(Fault("disconnect", before=True, path="/api/v3/order"))
    order = await adapter.submit(req("dc-2", price=D("48000")))
    assert order.status is OrderStatus.NEW
    assert len(sim.orders_with_client_id("dc-2")) == 1
    assert adapter.create_calls == 2 and len(order_posts(sim)) == 2


async def test_outage_moves_state_to_reconnecting_and_back(sim, adapter):
    events = adapter.events()
    await adapter.submit(req("out-1", price=D("48000")))  # gives the poller something to watch
    sim.faults.add(Fault("error", status=503, method="GET", count=3, path="/api/v3/order"))
    down = await wait_for(events, lambda e: getattr(e, "state", None) is ConnectionState.RECONNECTING)
    assert "503" in (down.detail or "") or down.detail
    await wait_for(events, lambda e: getattr(e, "state", None) is ConnectionState.CONNECTED)


async def test_closed_adapter_refuses(sim, adapter):
    await adapter.close()
    with pytest.raises(VenueDisconnected):
        await adapter.submit(req("closed-1", price=D("48000")))
    assert order_posts(sim) == []


async def test_reconnect_keeps_tracking_orders(sim, adapter):
    events = adapter.events()
    await adapter.submit(req("keep-1", price=D("49000")))
    await adapter.reconnect()
    assert adapter.connection_state is ConnectionState.CONNECTED
    sim.set_price("BTCUSDT", "48000")  # the resting bid is crossed while we watch through a new session
    done = await wait_for(events, update_of("keep-1", OrderStatus.FILLED))
    assert done.order.filled_quantity == D("0.1")
    states = [e.state for e in events.drain() if hasattr(e, "state")]
    assert ConnectionState.DISCONNECTED not in states


async def test_latency_setting_through_the_admin_api(sim, adapter):
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.post(sim.base_url + "/_sim/faults", json={"latency": 0.01}) as r:
            assert (await r.json())["latency"] == 0.01
    assert sim.faults.latency == 0.01
    assert (await adapter.book("BTC/USDT", 1)).bids  # still answers, just later


async def test_a_429_during_reconciliation_is_waited_out_not_mistaken_for_a_reject(sim):
    adapter = make_adapter(sim, timeout=0.5)
    await adapter.connect()
    try:
        sim.faults.add(Fault("timeout", delay=2.0, path="/api/v3/order"))
        sim.faults.add(Fault("rate_limit", method="GET", retry_after=1, path="/api/v3/order"))
        order = await adapter.submit(req("to-rl-1", price=D("48000")))
        assert order.client_order_id == "to-rl-1" and order.status is OrderStatus.NEW
        assert adapter.create_calls == 1 and len(sim.orders_with_client_id("to-rl-1")) == 1
        assert ("rate_limit", "GET", "/api/v3/order") in sim.faults.fired
    finally:
        await adapter.close()
