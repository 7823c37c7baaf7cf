"""Public market data over HTTP: instruments, order book, trades, ticker, candles, and
the symbol spellings a URL may use."""

from __future__ import annotations

import itertools

import httpx
import pytest
from api_harness import LiveVenue, data, err

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveVenue(tmp_path_factory.mktemp("market")) as v:
        # a small EUR/USD book and two trades
        with v.client("mm1") as mm, v.client("demo1") as t:
            for side, px, qty in (("buy", "1.08490", "1000000"), ("buy", "1.08480", "2000000"),
                                  ("sell", "1.08510", "1000000"), ("sell", "1.08520", "3000000"),
                                  ("sell", "1.08510", "500000")):
                data(mm.post("/api/v1/orders", json={"symbol": "EUR/USD", "side": side, "price": px,
                                                     "quantity": qty}))
            data(t.post("/api/v1/orders", json={"symbol": "EUR-USD", "side": "buy", "price": "1.08510",
                                                "quantity": "1200000", "time_in_force": "ioc"}))
            data(t.post("/api/v1/orders", json={"symbol": "EUR-USD", "side": "sell", "order_type": "market",
                                                "quantity": "100000"}))
        yield v


def get(live, path, **params):
    return httpx.get(live.url + path, params=params or None, timeout=10)


def test_instruments_list_the_config_with_url_spellings(live):
    insts = {i["symbol"]: i for i in data(get(live, "/api/v1/instruments"))}
    assert set(insts) == {"BTC-USD", "ETH-USD", "EUR/USD", "AAPL"}
    eur = insts["EUR/USD"]
    assert eur["url_symbol"] == "EUR-USD" and eur["tick_size"] == "0.00001" and eur["lot_size"] == "1000"
    assert eur["trading_state"] == "open" and eur["session"]["open"] == "00:00"


@pytest.mark.parametrize("spelling", ["EUR-USD", "EUR_USD", "eur-usd", "EUR%2FUSD", "EUR/USD", "eur%2fusd"])
def test_every_symbol_spelling_reaches_the_same_book(live, spelling):
    r = httpx.get(live.url + f"/api/v1/market/{spelling}/orderbook", timeout=10)
    assert data(r)["symbol"] == "EUR/USD"


def test_unknown_symbol_is_404_unknown_symbol(live):
    for path in ("orderbook", "trades", "ticker", "candles"):
        e = err(get(live, f"/api/v1/market/XXX-YYY/{path}"), 404, "UNKNOWN_SYMBOL")
        assert "EUR/USD" in e["details"]["known"]


def test_orderbook_levels_best_first_with_depth(live):
    book = data(get(live, "/api/v1/market/EUR-USD/orderbook"))
    assert book["seq"] > 0
    assert book["bids"] == [{"price": "1.0849", "qty": "900000", "orders": 1},
                            {"price": "1.0848", "qty": "2000000", "orders": 1}]
    assert book["asks"] == [{"price": "1.0851", "qty": "300000", "orders": 1},
                            {"price": "1.0852", "qty": "3000000", "orders": 1}]
    top = data(get(live, "/api/v1/market/EUR-USD/orderbook", depth=1))
    assert len(top["bids"]) == 1 and len(top["asks"]) == 1
    err(get(live, "/api/v1/market/EUR-USD/orderbook", depth=0), 422, "VALIDATION_ERROR")


def test_recent_trades_newest_first_without_accounts(live):
    trades = data(get(live, "/api/v1/market/EUR_USD/trades"))
    assert [(t["price"], t["qty"], t["side"]) for t in trades] == [
        ("1.0849", "100000", "sell"), ("1.0851", "200000", "buy"), ("1.0851", "1000000", "buy")]
    assert all(set(t) == {"trade_id", "price", "qty", "side", "ts"} for t in trades)
    assert len(data(get(live, "/api/v1/market/EUR_USD/trades", limit=1))) == 1


def test_ticker(live):
    t = data(get(live, "/api/v1/market/EUR-USD/ticker"))
    assert t["last_price"] == "1.0849" and t["best_bid"] == "1.0849" and t["best_ask"] == "1.0851"
    assert t["best_bid_qty"] == "900000" and t["trades_24h"] == 3 and t["volume_24h"] == "1300000"
    assert t["high_24h"] == "1.0851" and t["low_24h"] == "1.0849" and t["open_24h"] == "1.0851"
    assert t["change_24h"] == "-0.0002"
    empty = data(get(live, "/api/v1/market/AAPL/ticker"))
    assert empty["last_price"] is None and empty["trades_24h"] == 0 and empty["volume_24h"] == "0"


@pytest.mark.parametrize("interval", ["1m", "5m", "15m", "1h", "4h", "1d"])
def test_candles_from_trades(live, interval):
    d = data(get(live, "/api/v1/market/EUR-USD/candles", interval=interval))
    assert d["interval"] == interval and d["symbol"] == "EUR/USD"
    vol = sum(int(c["volume"]) for c in d["candles"])
    assert vol == 1_300_000
    c = d["candles"][-1]
    assert c["high"] == "1.0851" and c["low"] == "1.0849" and c["close"] == "1.0849"


def test_candles_reject_unknown_interval(live):
    err(get(live, "/api/v1/market/EUR-USD/candles", interval="2m"), 422, "VALIDATION_ERROR")


def test_unknown_endpoints_and_methods_use_the_envelope(live):
    err(get(live, "/api/v1/nothing-here"), 404, "NOT_FOUND")
    err(httpx.post(live.url + "/api/v1/instruments", timeout=10), 405, "METHOD_NOT_ALLOWED")
