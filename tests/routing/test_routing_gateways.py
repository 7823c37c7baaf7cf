"""End to end: a FIX client and a REST client of a running `fixvenue run` whose routing
section points at the OANDA and Binance simulators (started here, on free loopback ports).

The client sees one order per request: the FIX ExecutionReports and the REST views come
from the parent's execution reports, with CumQty/AvgPx aggregated over its children —
including a split whose Binance leg is refused and fails over.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import sys
from decimal import Decimal as D
from pathlib import Path

import httpx
import yaml

from api.signing import signature
from app.config import DEFAULT_CONFIG
from venues.sim.faults import Fault

from routing_support import binance_sim, oanda_sim

HERE = Path(__file__).resolve().parent
WAIT = 15.0


def _support():
    name = "fix_venue_support"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE.parent / "fix_venue" / "fix_venue_support.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fixs = _support()


def write_config(tmp: Path, oanda, binance) -> Path:
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    raw["venue"]["data_dir"] = str(tmp / "data")
    raw["accounts"].append({"id": "ROUTER", "name": "routing account", "fee_tier": "market_maker", "stp": "none",
                            "balances": {"USD": "100000000", "BTC": "1000", "ETH": "10000", "EUR": "100000000"}})
    raw["routing"] = {
        "account": "ROUTER", "internal_accounts": ["MM1"], "fill_grace_s": 0.2,
        "venues": {
            "oanda": {"type": "oanda", "taker_fee_bps": "0.5", "config": {
                "account_id": oanda.account_id, "token": oanda.token, "api_url": oanda.base_url,
                "request_timeout": 2.0, "stream_read_timeout": 2.0, "reconnect_initial": 0.05,
                "instrument_aliases": {"BTC-USD": "BTC_USD"}}},
            "binance": {"type": "ccxt", "taker_fee_bps": "10", "config": {
                "exchange_id": "binance", "api_key": binance.api_key, "secret": binance.secret,
                "base_url": binance.base_url, "timeout": 2.0, "poll_interval": 0.05, "close_grace_ms": 0,
                "symbol_aliases": {"BTC-USD": "BTC/USDT", "ETH-USD": "ETH/USDT"}}},
        },
        "instruments": {
            "EUR/USD": {"policy": "venue", "venue": "oanda"},
            "BTC-USD": {"policy": "split", "venues": ["internal", "binance", "oanda"]},
            "ETH-USD": {"policy": "venue", "venue": "binance"},
        },
    }
    path = tmp / "venue.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


async def start(tmp: Path):
    oanda, binance = oanda_sim(), binance_sim()
    await oanda.start()
    await binance.start()
    oanda.set_price("BTC_USD", "50000.00", quantity="2", half_spread="1", step="1")
    cfg = write_config(tmp, oanda, binance)
    # VenueProcess.start blocks while the venue starts: off the loop, so the simulators answer it
    venue = await asyncio.to_thread(fixs.VenueProcess.start, tmp / "data", cfg)
    return oanda, binance, venue


async def stop(oanda, binance, venue) -> None:
    await asyncio.to_thread(venue.stop)
    await oanda.stop()
    await binance.stop()


def fix_reports(c, clid: str) -> list:
    return [m for m in c.received if m.type == "8" and m.get(11) == clid]


async def test_fix_client_through_the_router_to_both_simulators(tmp_path):
    oanda, binance, venue = await start(tmp_path)
    c = fixs.RawClient(venue.host, venue.port, "CLIENT1")
    try:
        routing = next(line for line in venue.summary if line.startswith("routing: "))
        assert "oanda (oanda, taker 0.5 bps, connected)" in routing
        assert "binance (ccxt, taker 10 bps, connected)" in routing
        await c.logon()
        # 1. market order to OANDA: one client order, pending-new, new, one fill
        c.new_order("fx-1", "EUR/USD", "1", "10000", ord_type="1", tif="3")
        done = await c.expect("8", WAIT, t11="fx-1", t39="2")
        seq = [m[150] for m in fix_reports(c, "fx-1")]
        assert seq == ["A", "0", "F"], seq
        assert (done[14], D(done[6]), done[151], D(done[31]), done[32]) == ("10000", D("1.10005"), "0",
                                                                             D("1.10005"), "10000")
        assert len([o for o in oanda.orders.values() if o.get("units") == "10000"]) == 1
        # 2. split across the internal book, Binance and OANDA; Binance refuses and its leg fails over
        binance.faults.add(Fault("reject"))
        c.new_order("split-1", "BTC-USD", "1", "3", "50002", tif="1")
        final = await c.expect("8", WAIT, t11="split-1", t39="2")
        fills = [m for m in fix_reports(c, "split-1") if m[150] == "F"]
        assert len(fills) >= 1 and final[14] == "3"
        cum = D(0)
        notional = D(0)
        for m in fills:
            cum += D(m[32])
            notional += D(m[32]) * D(m[31])
            assert D(m[14]) == cum                       # CumQty is the running sum of LastQty
        assert cum == D("3")
        assert abs(D(final[6]) - notional / cum) < D("0.01")
        assert not [m for m in fix_reports(c, "split-1") if m[150] == "8"]   # the refused leg is invisible
        assert len([o for o in binance.orders.values()]) == 0               # the refused leg left nothing
        # 3. a resting order and its cancel propagate to the venue
        c.new_order("rest-1", "EUR/USD", "1", "20000", "1.09000", tif="1")
        await c.expect("8", WAIT, t11="rest-1", t150="0")
        c.cancel("rest-1-c", "rest-1", "EUR/USD", "1")
        done = await c.expect("8", WAIT, t11="rest-1-c", t150="4")
        assert (done[41], done[39]) == ("rest-1", "4")
        assert [m[150] for m in fix_reports(c, "rest-1-c")] == ["6", "4"]
        pending = [o for o in oanda.orders.values() if o.get("price") == "1.09000"]
        assert len(pending) == 1 and pending[0]["state"] == "CANCELLED"
        await c.logout()
    finally:
        await c.close()
        await stop(oanda, binance, venue)


class Rest:
    def __init__(self, base: str, key: str, secret: str) -> None:
        self.client = httpx.AsyncClient(base_url=base, timeout=WAIT)
        self.key, self.secret = key, secret

    async def call(self, method: str, target: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else b""
        ts = str(__import__("time").time_ns() // 1_000_000)
        headers = {"X-API-Key": self.key, "X-API-Timestamp": ts,
                   "X-API-Signature": signature(self.secret, ts, method, target, data)}
        if data:
            headers["Content-Type"] = "application/json"
        r = await self.client.request(method, target, content=data or None, headers=headers)
        return r.status_code, r.json()

    async def until_status(self, order_id, statuses: set[str]) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while True:
            code, body = await self.call("GET", f"/api/v1/orders/{order_id}")
            assert code == 200, body
            if body["data"]["status"] in statuses:
                return body["data"]
            if loop.time() > deadline:
                raise AssertionError(f"order {order_id} stuck in {body['data']['status']}")
            await asyncio.sleep(0.05)


async def test_rest_client_through_the_router_to_both_simulators(tmp_path):
    oanda, binance, venue = await start(tmp_path)
    rest = Rest(fixs.rest_url(venue), "demo2", "demo-DEMO2-secret-not-for-production")
    try:
        # a split BTC order: accepted as pending_new, then filled across the venues
        code, body = await rest.call("POST", "/api/v1/orders", {"cl_ord_id": "r-split", "symbol": "BTC-USD",
                                                                "side": "buy", "quantity": "2.5", "price": "50002"})
        assert code == 201, body
        order = body["data"]["order"]
        assert order["status"] == "pending_new" and order["cum_qty"] in ("0", 0)
        final = await rest.until_status(order["order_id"], {"filled"})
        assert D(final["cum_qty"]) == D("2.5") and D("50000") < D(final["avg_price"]) <= D("50002")
        # a resting ETH order at Binance: replace (price up, crossing) then it fills there
        code, body = await rest.call("POST", "/api/v1/orders", {"cl_ord_id": "r-eth", "symbol": "ETH-USD",
                                                                "side": "buy", "quantity": "1", "price": "2900"})
        assert code == 201, body
        oid = body["data"]["order"]["order_id"]
        await rest.until_status(oid, {"new"})
        eth = lambda: sorted(o.status for o in binance.orders.values() if o.symbol == "ETHUSDT")  # noqa: E731
        assert eth() == ["NEW"]
        code, body = await rest.call("PUT", f"/api/v1/orders/{oid}", {"cl_ord_id": "r-eth-2", "price": "3000.10"})
        assert code == 200, body
        final = await rest.until_status(oid, {"filled"})
        assert (final["cl_ord_id"], D(final["cum_qty"]), D(final["avg_price"])) == ("r-eth-2", D("1"), D("3000.1"))
        assert eth() == ["CANCELED", "FILLED"]
        # a resting order cancelled over REST: the venue's order is cancelled too
        code, body = await rest.call("POST", "/api/v1/orders", {"cl_ord_id": "r-c", "symbol": "ETH-USD",
                                                                "side": "sell", "quantity": "2", "price": "3200"})
        oid = body["data"]["order"]["order_id"]
        await rest.until_status(oid, {"new"})
        code, body = await rest.call("DELETE", f"/api/v1/orders/{oid}")
        assert code == 200, body
        final = await rest.until_status(oid, {"canceled"})
        assert final["cum_qty"] in ("0", 0)
        assert eth() == ["CANCELED", "CANCELED", "FILLED"]
    finally:
        await rest.client.aclose()
        await stop(oanda, binance, venue)
