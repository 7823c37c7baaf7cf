"""Account views (balances, positions, fills, risk) from the risk layer, the gateway's
fallbacks without it, and the admin controls: sessions, halt/resume, kill switch."""

from __future__ import annotations

import itertools

import httpx
import pytest
from api_harness import LiveVenue, data, err

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveVenue(tmp_path_factory.mktemp("acct")) as v:
        yield v


def order(c, **f):
    body = {"cl_ord_id": f"aa-{next(_ids)}", "symbol": "BTC-USD", "side": "buy", "quantity": "0.1",
            "price": "65000", **f}
    return c.post("/api/v1/orders", json=body)


def test_account_summary(live):
    with live.client("demo3") as c:
        a = data(c.get("/api/v1/account"))
        assert a == {**a, "account": "DEMO3", "key_id": "demo3", "role": "trader", "fee_maker_bps": "0.5",
                     "fee_taker_bps": "1.5"}


def test_fills_positions_and_balances_follow_a_trade(live):
    with live.client("demo5") as buyer, live.client("demo6") as seller:
        assert order(seller, side="sell", price="64000", quantity="0.25").status_code == 201
        assert order(buyer, side="buy", price="64000", quantity="0.25").status_code == 201
        fills = data(buyer.get("/api/v1/account/fills"))["fills"]
        assert len(fills) == 1 and fills[0]["last_qty"] == "0.25" and fills[0]["liquidity"] == "taker"
        assert data(buyer.get("/api/v1/account/fills", params={"symbol": "ETH-USD"}))["fills"] == []
        pos = data(buyer.get("/api/v1/account/positions"))
        assert pos["source"] == "risk"
        btc = next(p for p in pos["positions"] if p["symbol"] == "BTC-USD")
        assert btc["quantity"] == "0.25" and btc["side"] == "long" and btc["avg_price"] == "64000"
        short = next(p for p in data(seller.get("/api/v1/account/positions"))["positions"] if p["symbol"] == "BTC-USD")
        assert short["quantity"] == "-0.25" and short["side"] == "short"
        bal = data(buyer.get("/api/v1/account/balances"))
        assert bal["source"] == "risk"
        assets = {b["asset"]: b["total"] for b in bal["balances"]}
        assert "USD" in assets and "BTC" in assets
        risk = data(buyer.get("/api/v1/account/risk"))
        assert risk["source"] == "risk" and risk["trading_state"] == "ACTIVE"
        assert risk["summary"]["account"] == "DEMO5" and "checks_enabled" in risk["limits"]


def test_fallbacks_without_the_risk_layer(tmp_path):
    with LiveVenue(tmp_path, risk=False) as v, v.client("demo1") as buyer, v.client("demo2") as seller:
        assert order(seller, side="sell", price="64000", quantity="0.3").status_code == 201
        assert order(buyer, side="buy", price="64000", quantity="0.3").status_code == 201
        pos = data(buyer.get("/api/v1/account/positions"))
        assert pos["source"] == "fills"
        assert [(p["symbol"], p["quantity"], p["side"]) for p in pos["positions"]] == [("BTC-USD", "0.3", "long")]
        bal = data(buyer.get("/api/v1/account/balances"))
        assert bal["source"] == "config" and {"asset": "USD", "total": "1000000"} in bal["balances"]
        risk = data(buyer.get("/api/v1/account/risk"))
        assert risk["source"] == "gateway" and risk["trading_state"] is None
        with v.client("admin") as adm:
            err(adm.get("/api/v1/admin/kill-switch"), 503, "UNAVAILABLE")
            err(adm.post("/api/v1/admin/kill-switch", json={"action": "activate"}), 503, "UNAVAILABLE")


def test_admin_sessions_show_fix_and_websocket_state(live):
    with live.client("admin") as adm:
        s = data(adm.get("/api/v1/admin/sessions"))
        assert s["rest"]["url"] == live.url and s["rest"]["websocket_clients"] == 0
        if "fix" in live.venue.services:
            assert isinstance(s["fix"], list) and all("logged_on" in x for x in s["fix"])
        else:
            assert s["fix"] is None


def test_halt_and_resume_accept_any_symbol_spelling(live):
    with live.client("admin") as adm, live.client("demo7") as t:
        h = data(adm.post("/api/v1/admin/instruments/EUR-USD/halt", json={"reason": "test halt"}))
        assert h == {"symbol": "EUR/USD", "trading_state": "halted", "changed": True}
        assert data(adm.post("/api/v1/admin/instruments/EUR%2FUSD/halt"))["changed"] is False
        inst = {i["symbol"]: i for i in data(httpx.get(live.url + "/api/v1/instruments", timeout=10))}
        assert inst["EUR/USD"]["trading_state"] == "halted"
        err(order(t, symbol="EUR/USD", price="1.08", quantity="1000"), 409, "MARKET_HALTED")
        assert data(adm.post("/api/v1/admin/instruments/eur_usd/resume"))["trading_state"] == "open"
        err(adm.post("/api/v1/admin/instruments/NOPE/halt"), 404, "UNKNOWN_SYMBOL")


def test_kill_switch_for_one_account_cancels_and_refuses_then_releases(live):
    with live.client("admin") as adm, live.client("demo8") as t, live.client("demo4") as bystander:
        o = data(order(t, price="1000"))["order"]
        other = data(order(bystander, price="1000"))["order"]
        k = data(adm.post("/api/v1/admin/kill-switch", json={"action": "activate", "scope": "account",
                                                              "target": "DEMO8", "reason": "test"}))
        assert k == {"scope": "account", "target": "DEMO8", "state": "HALTED", "previous": "ACTIVE", "cancelled": 1}
        assert data(t.get(f"/api/v1/orders/{o['order_id']}"))["status"] == "canceled"
        assert data(bystander.get(f"/api/v1/orders/{other['order_id']}"))["status"] == "new"
        err(order(t, price="1000"), 403, "KILL_SWITCH")
        assert order(bystander, price="1000").status_code == 201
        st = data(adm.get("/api/v1/admin/kill-switch"))
        assert st["global_state"] == "ACTIVE"
        assert any(s["scope"] == "account" and s["target"] == "DEMO8" and s["state"] == "HALTED" for s in st["scopes"])
        assert data(t.get("/api/v1/account/risk"))["trading_state"] == "HALTED"
        r = data(adm.post("/api/v1/admin/kill-switch", json={"action": "release", "scope": "account",
                                                             "target": "DEMO8"}))
        assert r["state"] == "ACTIVE" and r["previous"] == "HALTED"
        assert order(t, price="1000").status_code == 201
        metrics = httpx.get(live.url + "/metrics", timeout=10).text
        assert 'fixvenue_kill_switch_engaged{scope="account",target="DEMO8"} 0.0' in metrics


def test_kill_switch_refuses_unknown_targets(live):
    with live.client("admin") as adm:
        err(adm.post("/api/v1/admin/kill-switch", json={"action": "activate", "scope": "account",
                                                        "target": "NOBODY"}), 404, "UNKNOWN_ACCOUNT")
        err(adm.post("/api/v1/admin/kill-switch", json={"action": "activate", "scope": "instrument",
                                                        "target": "NOPE"}), 404, "UNKNOWN_SYMBOL")
        err(adm.post("/api/v1/admin/kill-switch", json={"action": "activate", "scope": "account"}), 422,
            "INVALID_ORDER")
        err(adm.post("/api/v1/admin/kill-switch", json={"action": "explode"}), 422, "VALIDATION_ERROR")
