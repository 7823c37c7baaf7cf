"""The simulators on the wire: authentication, signatures, error shapes, streams, admin API."""

import asyncio
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import aiohttp
import pytest

from venues.sim.binance import BinanceSim
from venues.sim.oanda import OandaSim


@pytest.fixture
async def binance():
    s = BinanceSim()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def oanda():
    s = OandaSim(heartbeat=0.1)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def signed(secret: str, params: dict) -> str:
    query = urlencode(params)
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


def order_params(**extra):
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
              "price": "45000", "newClientOrderId": "raw-1", "timestamp": int(time.time() * 1000)}
    params.update(extra)
    return params


# ---------------------------------------------------------------- Binance


async def test_binance_accepts_a_correctly_signed_body(binance, http):
    body = signed(binance.secret, order_params())
    async with http.post(binance.base_url + "/api/v3/order", data=body,
                         headers={"X-MBX-APIKEY": binance.api_key,
                                  "Content-Type": "application/x-www-form-urlencoded"}) as r:
        assert r.status == 200
        order = await r.json()
    assert order["clientOrderId"] == "raw-1" and order["status"] == "NEW" and order["fills"] == []


async def test_binance_signature_covers_query_and_body_together(binance, http):
    params = order_params()
    query = urlencode({k: params[k] for k in ("symbol", "side", "type")})
    body = urlencode({k: v for k, v in params.items() if k not in ("symbol", "side", "type")})
    sig = hmac.new(binance.secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    async with http.post(f"{binance.base_url}/api/v3/order?{query}", data=body + "&signature=" + sig,
                         headers={"X-MBX-APIKEY": binance.api_key,
                                  "Content-Type": "application/x-www-form-urlencoded"}) as r:
        assert r.status == 200, await r.text()


async def test_binance_rejects_a_tampered_signature(binance, http):
    body = signed(binance.secret, order_params()).replace("quantity=0.01", "quantity=0.02")
    async with http.post(binance.base_url + "/api/v3/order", data=body,
                         headers={"X-MBX-APIKEY": binance.api_key,
                                  "Content-Type": "application/x-www-form-urlencoded"}) as r:
        assert r.status == 400
        assert await r.json() == {"code": -1022, "msg": "Signature for this request is not valid."}
    assert binance.orders == {}


@pytest.mark.parametrize(
    "headers,status,code",
    [({}, 401, -2014), ({"X-MBX-APIKEY": "someone-else"}, 401, -2015)],
)
async def test_binance_api_key_checks(binance, http, headers, status, code):
    query = signed(binance.secret, {"timestamp": int(time.time() * 1000)})
    async with http.get(f"{binance.base_url}/api/v3/account?{query}", headers=headers) as r:
        assert r.status == status
        assert (await r.json())["code"] == code


@pytest.mark.parametrize(
    "params,code",
    [
        ({"timestamp": int(time.time() * 1000) - 60_000}, -1021),  # stale
        ({"timestamp": int(time.time() * 1000) + 60_000}, -1021),  # from the future
        ({"timestamp": "now"}, -1102),
        ({"timestamp": int(time.time() * 1000), "recvWindow": 70_000}, -1131),
    ],
)
async def test_binance_timestamp_and_recv_window(binance, http, params, code):
    if params.get("timestamp") != "now":
        params = dict(params, timestamp=int(time.time() * 1000) + (params["timestamp"] - int(time.time() * 1000)))
    query = signed(binance.secret, params)
    async with http.get(f"{binance.base_url}/api/v3/account?{query}",
                        headers={"X-MBX-APIKEY": binance.api_key}) as r:
        assert r.status == 400
        assert (await r.json())["code"] == code


async def test_binance_missing_signature_and_error_shapes(binance, http):
    query = urlencode({"timestamp": int(time.time() * 1000)})
    async with http.get(f"{binance.base_url}/api/v3/account?{query}", headers={"X-MBX-APIKEY": binance.api_key}) as r:
        assert (r.status, (await r.json())["code"]) == (400, -1102)
    async with http.get(f"{binance.base_url}/api/v3/depth?symbol=NOPE") as r:
        assert (r.status, await r.json()) == (400, {"code": -1121, "msg": "Invalid symbol."})
    async with http.get(f"{binance.base_url}/api/v3/time") as r:
        assert abs((await r.json())["serverTime"] - time.time() * 1000) < 60_000


async def test_binance_429_has_retry_after_and_code(binance, http):
    async with http.post(binance.base_url + "/_sim/faults", json={"kind": "rate_limit", "method": "GET",
                                                                  "retry_after": 2}) as r:
        assert r.status == 201
    async with http.get(binance.base_url + "/api/v3/ping") as r:
        assert r.status == 429 and r.headers["Retry-After"] == "2"
        assert (await r.json())["code"] == -1003
    async with http.get(binance.base_url + "/api/v3/ping") as r:
        assert r.status == 200


async def test_admin_api_validates_and_drives_the_market(binance, http):
    async with http.post(binance.base_url + "/_sim/faults", json={"kind": "meteor"}) as r:
        assert r.status == 400
    async with http.post(binance.base_url + "/_sim/faults", json={"kind": "timeout", "sneaky": True}) as r:
        assert r.status == 400
    async with http.post(binance.base_url + "/_sim/price", json={"symbol": "BTCUSDT", "mid": "61000"}) as r:
        assert await r.json() == {"bid": "60999.50000000", "ask": "61000.50000000"}
    async with http.post(binance.base_url + "/_sim/price", json={"symbol": "NOPE", "mid": "1"}) as r:
        assert r.status == 400
    async with http.post(binance.base_url + "/_sim/halt", json={"symbol": "ETHUSDT"}) as r:
        assert (await r.json())["halted"] == ["ETHUSDT"]
    async with http.get(binance.base_url + "/api/v3/exchangeInfo?symbol=ETHUSDT") as r:
        assert (await r.json())["symbols"][0]["status"] == "BREAK"
    async with http.delete(binance.base_url + "/_sim/faults") as r:
        assert (await r.json())["faults"] == []


async def test_bad_input_does_not_break_the_simulator(binance, http):
    headers = {"X-MBX-APIKEY": binance.api_key, "Content-Type": "application/x-www-form-urlencoded"}
    for garbage in ["%%%", "a=b&&&=", "symbol=" + "X" * 5000, "\x00\x01"]:
        async with http.post(binance.base_url + "/api/v3/order", data=garbage, headers=headers) as r:
            assert r.status in (400, 401)
    async with http.post(binance.base_url + "/_sim/faults", data="not json") as r:
        assert r.status == 400
    async with http.get(binance.base_url + "/api/v3/ping") as r:
        assert r.status == 200


# ---------------------------------------------------------------- OANDA


def bearer(sim):
    return {"Authorization": f"Bearer {sim.token}"}


async def test_oanda_requires_the_bearer_token_and_the_account(oanda, http):
    url = f"{oanda.base_url}/v3/accounts/{oanda.account_id}/summary"
    async with http.get(url) as r:
        assert r.status == 401 and "errorMessage" in await r.json()
    async with http.get(url, headers={"Authorization": "Bearer wrong"}) as r:
        assert r.status == 401
    async with http.get(f"{oanda.base_url}/v3/accounts/999-999/summary", headers=bearer(oanda)) as r:
        assert r.status == 403
    async with http.get(url, headers=bearer(oanda)) as r:
        assert r.status == 200 and (await r.json())["account"]["currency"] == "USD"


async def test_oanda_order_create_reject_and_sinceid_shapes(oanda, http):
    base = f"{oanda.base_url}/v3/accounts/{oanda.account_id}"
    order = {"order": {"type": "MARKET", "instrument": "EUR_USD", "units": "-10", "clientExtensions": {"id": "w"}}}
    async with http.post(base + "/orders", json=order, headers=bearer(oanda)) as r:
        assert r.status == 201
        body = await r.json()
    assert body["orderCreateTransaction"]["type"] == "MARKET_ORDER"
    assert body["orderFillTransaction"]["units"] == "-10" and body["orderFillTransaction"]["tradeOpened"]["tradeID"]
    assert body["relatedTransactionIDs"] == ["1", "2"] and body["lastTransactionID"] == "2"
    bad = {"order": {"type": "LIMIT", "instrument": "EUR_USD", "units": "10"}}
    async with http.post(base + "/orders", json=bad, headers=bearer(oanda)) as r:
        assert r.status == 400
        body = await r.json()
    assert body["orderRejectTransaction"]["type"] == "LIMIT_ORDER_REJECT"
    assert body["errorCode"] == body["orderRejectTransaction"]["rejectReason"] == "PRICE_MISSING"
    async with http.post(base + "/orders", json={"order": {"type": "TELEPORT"}}, headers=bearer(oanda)) as r:
        assert r.status == 400 and "orderRejectTransaction" not in await r.json()
    async with http.post(base + "/orders", data="{{{", headers=bearer(oanda)) as r:
        assert r.status == 400
    async with http.get(base + "/transactions/sinceid?id=1", headers=bearer(oanda)) as r:
        txs = (await r.json())["transactions"]
    assert [t["type"] for t in txs] == ["ORDER_FILL", "LIMIT_ORDER_REJECT"]
    async with http.get(base + "/orders/@nope", headers=bearer(oanda)) as r:
        assert r.status == 404


async def test_oanda_transaction_stream_heartbeats_and_pushes(oanda, http):
    base = f"{oanda.base_url}/v3/accounts/{oanda.account_id}"
    async with http.get(base + "/transactions/stream", headers=bearer(oanda)) as stream:
        first = json.loads(await asyncio.wait_for(stream.content.readline(), 5))
        assert first["type"] == "HEARTBEAT" and first["lastTransactionID"] == "0"
        order = {"order": {"type": "MARKET", "instrument": "USD_JPY", "units": "5"}}
        async with http.post(base + "/orders", json=order, headers=bearer(oanda)) as r:
            assert r.status == 201
        seen = []
        while len([m for m in seen if m["type"] != "HEARTBEAT"]) < 2:
            seen.append(json.loads(await asyncio.wait_for(stream.content.readline(), 5)))
        assert [m["type"] for m in seen if m["type"] != "HEARTBEAT"] == ["MARKET_ORDER", "ORDER_FILL"]


async def test_oanda_streams_drop_and_block_on_demand(oanda, http):
    base = f"{oanda.base_url}/v3/accounts/{oanda.account_id}"
    async with http.get(base + "/pricing/stream?instruments=EUR_USD", headers=bearer(oanda)) as stream:
        first = json.loads(await asyncio.wait_for(stream.content.readline(), 5))
        assert first["type"] == "PRICE" and first["instrument"] == "EUR_USD"
        async with http.post(oanda.base_url + "/_sim/streams", json={"drop": True, "blocked": True}) as r:
            assert (await r.json())["blocked"] is True
        with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, ConnectionError,
                            asyncio.IncompleteReadError)):
            for _ in range(50):
                line = await asyncio.wait_for(stream.content.readline(), 5)
                if not line:
                    raise ConnectionError("stream ended")
    async with http.get(base + "/transactions/stream", headers=bearer(oanda)) as r:
        assert r.status == 503


@pytest.mark.parametrize(
    "order",
    [
        {"type": "MARKET", "instrument": ["EUR_USD"], "units": "1"},
        {"type": "MARKET", "instrument": "EUR_USD", "units": {"n": 1}},
        {"type": "MARKET", "instrument": "EUR_USD", "units": "NaN"},
        {"type": "MARKET", "instrument": "EUR_USD", "units": "1", "timeInForce": []},
        {"type": "LIMIT", "instrument": "EUR_USD", "units": "1", "price": "1.1", "positionFill": {}},
        {"type": "LIMIT", "instrument": "EUR_USD", "units": "1", "price": "Infinity"},
        {"type": "LIMIT", "instrument": "EUR_USD", "units": "1", "price": "1.1", "triggerCondition": [1]},
        {"type": "LIMIT", "instrument": "EUR_USD", "units": "1", "price": "1.1", "gtdTime": 5, "timeInForce": "GTD"},
        {"type": "MARKET", "instrument": "EUR_USD", "units": "1", "clientExtensions": "x"},
        {"type": "MARKET", "instrument": "EUR_USD", "units": "1", "takeProfitOnFill": []},
        {"type": "MARKET", "instrument": "EUR_USD", "units": "1", "stopLossOnFill": {"price": "1", "distance": "1"}},
        {"type": "MARKET", "instrument": "EUR_USD", "units": "1", "trailingStopLossOnFill": "far"},
        {"type": "TRAILING_STOP_LOSS", "tradeID": [], "distance": "1"},
        {"type": "MARKET", "instrument": "EUR_USD", "units": True},
    ],
)
async def test_oanda_malformed_orders_get_400_and_the_sim_survives(oanda, http, order):
    base = f"{oanda.base_url}/v3/accounts/{oanda.account_id}"
    async with http.post(base + "/orders", json={"order": order}, headers=bearer(oanda)) as r:
        assert r.status == 400, await r.text()
    good = {"order": {"type": "MARKET", "instrument": "EUR_USD", "units": "1"}}
    async with http.post(base + "/orders", json=good, headers=bearer(oanda)) as r:
        assert r.status == 201
