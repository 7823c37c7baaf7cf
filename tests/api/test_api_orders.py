"""Order entry over real HTTP: every order type and time in force, queries, cancel/replace,
mass cancel, edge rejects recorded through the OMS, idempotent retries.

The module runs twice: with the order-entry fast lane (the default) and with it
switched off, so both paths must give the same answers.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
from api_harness import LiveVenue, data, err

_ids = itertools.count(1)


def clid(prefix: str = "t") -> str:
    return f"{prefix}-{next(_ids)}"


@pytest.fixture(scope="module", params=[True, False], ids=["fastlane", "fastapi-only"])
def live(request, tmp_path_factory):
    with LiveVenue(tmp_path_factory.mktemp("orders"), rest={"fast_order_entry": request.param}) as v:
        yield v


@pytest.fixture()
def demo1(live):
    with live.client("demo1") as c:
        yield c


@pytest.fixture()
def demo2(live):
    with live.client("demo2") as c:
        yield c


def place(c, **fields):
    body = {"cl_ord_id": clid(), "symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "3000", **fields}
    return c.post("/api/v1/orders", json=body)


def test_limit_order_is_accepted_and_can_be_found_by_id_and_client_id(demo1):
    cid = clid("lim")
    r = place(demo1, cl_ord_id=cid, price="2900.5", quantity="1.25")
    assert r.status_code == 201
    d = data(r)
    o = d["order"]
    assert d["replayed"] is False and d["fills"] == []
    assert o["status"] == "new" and o["account"] == "DEMO1" and o["symbol"] == "ETH-USD"
    assert o["price"] == "2900.5" and o["quantity"] == "1.25" and o["leaves_qty"] == "1.25"
    assert o["origin"] == "REST:demo1"
    by_id = data(demo1.get(f"/api/v1/orders/{o['order_id']}"))
    by_clid = data(demo1.get(f"/api/v1/orders/{cid}"))
    assert by_id == by_clid and by_id["order_id"] == o["order_id"]


@pytest.mark.parametrize("fields", [
    {"order_type": "market", "price": None, "time_in_force": "ioc"},
    {"order_type": "limit", "time_in_force": "gtc"},
    {"order_type": "limit", "time_in_force": "day"},
    {"order_type": "limit", "time_in_force": "ioc"},
    {"order_type": "limit", "time_in_force": "fok"},
    {"order_type": "limit", "time_in_force": "gtd", "expire_time": "2099-01-01T00:00:00Z"},
    {"order_type": "stop", "price": None, "stop_price": "9000"},
    {"order_type": "stop_limit", "price": "9001", "stop_price": "9000"},
    {"order_type": "market_if_touched", "price": None, "stop_price": "100"},
    {"order_type": "trailing_stop", "price": None, "trail_amount": "50"},
    {"order_type": "trailing_stop", "price": None, "trail_percent": "2.5"},
    {"order_type": "limit", "post_only": True, "price": "100"},
    {"order_type": "limit", "hidden": True, "price": "101"},
    {"order_type": "limit", "display_qty": "0.1", "quantity": "1", "price": "102"},
], ids=lambda f: "-".join(str(v) for k, v in f.items() if k in ("order_type", "time_in_force")) + (
    "-" + next(k for k in f if k in ("post_only", "hidden", "display_qty", "trail_amount", "trail_percent"))
    if any(k in f for k in ("post_only", "hidden", "display_qty", "trail_amount", "trail_percent")) else ""))
def test_every_order_type_and_time_in_force_is_accepted(live, fields):
    # liquidity on the other side first, so market / IOC / FOK orders have something to trade with
    with live.client("mm1") as mm, live.client("demo3") as c:
        assert place(mm, side="sell", price="2000", quantity="5").status_code == 201
        body = {k: v for k, v in fields.items() if v is not None}
        if fields.get("price", "") is None:
            body.pop("price", None)
            r = c.post("/api/v1/orders", json={"cl_ord_id": clid(), "symbol": "ETH-USD", "side": "buy",
                                               "quantity": "1", **body})
        else:
            r = place(c, **body)
        assert r.status_code == 201, r.json()
        o = data(r)["order"]
        assert o["order_type"] == fields["order_type"]
        assert o["time_in_force"] == fields.get("time_in_force", "gtc")
        assert o["status"] in ("new", "filled", "partially_filled", "canceled")
        if fields.get("time_in_force") == "gtd":
            assert o["expire_ts"] == int(dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc).timestamp()) * 10**9


def test_marketable_order_reports_its_fills(live):
    with live.client("mm1") as mm, live.client("demo4") as c:
        assert place(mm, symbol="BTC-USD", side="sell", price="64000", quantity="0.5").status_code == 201
        r = place(c, symbol="BTC-USD", side="buy", price="64000", quantity="0.2", time_in_force="ioc")
        d = data(r)
        assert d["order"]["status"] == "filled" and d["order"]["cum_qty"] == "0.2"
        assert len(d["fills"]) == 1
        f = d["fills"][0]
        assert f["last_price"] == "64000" and f["last_qty"] == "0.2" and f["liquidity"] == "taker"
        assert f["fee_currency"] == "USD" and f["trade_id"] > 0


def test_edge_reject_is_recorded_through_the_oms_with_an_order_id(demo1, live):
    cid = clid("badtick")
    e = err(place(demo1, cl_ord_id=cid, price="3000.001"), 400, "INVALID_PRICE")
    oid = e["details"]["order_id"]
    assert isinstance(oid, int) and e["details"]["tick_size"] == "0.01"
    # the OMS knows the refused order: it has an id, a REJECTED status and a sequence number
    o = live.call(lambda: live.venue.oms.get(oid))
    assert o is not None and o.status == 8 and o.cl_ord_id == cid
    got = data(demo1.get(f"/api/v1/orders/{oid}"))
    assert got["status"] == "rejected"
    # a refused client order id may be used again
    assert place(demo1, cl_ord_id=cid).status_code == 201


@pytest.mark.parametrize("fields,code", [
    ({"symbol": "NOPE-USD"}, "UNKNOWN_SYMBOL"),
    ({"quantity": "0.0001"}, "INVALID_QUANTITY"),
    ({"quantity": "-1"}, "INVALID_QUANTITY"),
    ({"price": "0"}, "INVALID_PRICE"),
    ({"order_type": "limit", "price": None}, "INVALID_PRICE"),
    ({"order_type": "market"}, "INVALID_ORDER"),
    ({"order_type": "stop_limit", "price": "1"}, "INVALID_PRICE"),
    ({"order_type": "trailing_stop", "price": None}, "INVALID_ORDER"),
])
def test_translation_rejects_use_engine_reason_codes(demo1, fields, code):
    body = {"cl_ord_id": clid(), "symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "3000", **fields}
    body = {k: v for k, v in body.items() if v is not None}
    e = err(demo1.post("/api/v1/orders", json=body), 400, code)
    assert e["details"]["order_id"] > 0


def test_engine_rejects_after_translation(live):
    with live.client("demo5") as c, live.client("mm1") as mm:
        # market order with nothing to trade against
        market = {"cl_ord_id": clid(), "symbol": "AAPL", "side": "buy", "order_type": "market", "quantity": "5"}
        e = err(c.post("/api/v1/orders", json=market), 400, "NO_LIQUIDITY")
        assert e["details"]["status"] == "rejected"
        assert place(mm, symbol="AAPL", side="sell", price="190", quantity="10").status_code == 201
        e = err(place(c, symbol="AAPL", side="buy", price="191", quantity="1", post_only=True), 400,
                "POST_ONLY_WOULD_TAKE")
        assert e["details"]["order_id"] > 0


@pytest.mark.parametrize("body", [
    {},
    {"symbol": "ETH-USD", "side": "buy"},
    {"symbol": "ETH-USD", "side": "hold", "quantity": "1", "price": "1"},
    {"symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "1", "colour": "red"},
    {"symbol": "ETH-USD", "side": "buy", "quantity": "lots", "price": "1"},
    {"symbol": "ETH-USD", "side": "buy", "quantity": "1e400", "price": "1"},
    {"symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "1", "order_type": "iceberg"},
    {"symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "1", "cl_ord_id": "has space"},
    {"symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "1", "cl_ord_id": "a/b"},
    {"symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "1", "time_in_force": "gtd",
     "expire_time": "2999-01-01T00:00:00Z"},
    [1, 2, 3],
    "just a string",
])
def test_malformed_orders_are_422_validation_errors(demo1, body):
    e = err(demo1.post("/api/v1/orders", json=body), 422, "VALIDATION_ERROR")
    assert e["details"]["errors"]


def test_broken_json_and_wrong_content_type_are_4xx_never_5xx(demo1):
    err(demo1.post("/api/v1/orders", content=b'{"symbol": "ETH-USD", '), 422, "VALIDATION_ERROR")
    r = demo1.post("/api/v1/orders", content=b"symbol=ETH-USD", headers={"Content-Type": "text/plain"})
    assert 400 <= r.status_code < 500 and r.json()["success"] is False


def test_retried_post_returns_the_original_order(demo1):
    body = {"cl_ord_id": clid("retry"), "symbol": "ETH-USD", "side": "sell", "quantity": "2", "price": "3500"}
    first = demo1.post("/api/v1/orders", json=body)
    second = demo1.post("/api/v1/orders", json=body)
    assert first.status_code == 201 and second.status_code == 200
    a, b = data(first), data(second)
    assert b["replayed"] is True and a["order"]["order_id"] == b["order"]["order_id"]
    mine = [o for o in data(demo1.get("/api/v1/orders", params={"limit": 1000}))["items"]
            if o["cl_ord_id"] == body["cl_ord_id"]]
    assert len(mine) == 1


def test_concurrent_retries_create_exactly_one_order(live):
    body = {"cl_ord_id": clid("race"), "symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "1500"}
    results = []

    def send():
        with live.client("demo6") as c:
            results.append(c.post("/api/v1/orders", json=body))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8
    assert sorted(r.status_code for r in results) == [200] * 7 + [201]
    assert len({data(r)["order"]["order_id"] for r in results}) == 1


def test_reusing_a_client_order_id_for_a_different_order_is_a_duplicate(demo1):
    cid = clid("dup")
    assert place(demo1, cl_ord_id=cid, side="buy").status_code == 201
    e = err(place(demo1, cl_ord_id=cid, side="sell"), 409, "DUPLICATE_ORDER")
    assert e["details"]["cl_ord_id"] == cid


def test_cancel_then_cancel_again(demo1):
    o = data(place(demo1, price="1000"))["order"]
    c = data(demo1.delete(f"/api/v1/orders/{o['order_id']}"))
    assert c["status"] == "canceled" and c["leaves_qty"] == "0"
    e = err(demo1.delete(f"/api/v1/orders/{o['order_id']}"), 409, "ORDER_NOT_OPEN")
    assert e["details"]["status"] == "canceled"
    err(demo1.delete("/api/v1/orders/999999999"), 404, "UNKNOWN_ORDER")


def test_cancel_replace_changes_price_and_quantity(demo1):
    cid = clid("rep")
    o = data(place(demo1, cl_ord_id=cid, price="1000", quantity="1"))["order"]
    new_cid = clid("rep2")
    d = data(demo1.put(f"/api/v1/orders/{cid}", json={"cl_ord_id": new_cid, "price": "1001.5", "quantity": "3"}))
    r = d["order"]
    assert r["order_id"] == o["order_id"] and r["cl_ord_id"] == new_cid
    assert r["price"] == "1001.5" and r["quantity"] == "3" and r["status"] in ("new", "replaced")
    assert data(demo1.get(f"/api/v1/orders/{new_cid}"))["price"] == "1001.5"
    err(demo1.put(f"/api/v1/orders/{new_cid}", json={"price": "1000.001"}), 400, "INVALID_PRICE")
    err(demo1.put(f"/api/v1/orders/{new_cid}", json={}), 400, "INVALID_ORDER")
    err(demo1.put("/api/v1/orders/no-such-order", json={"price": "1"}), 404, "UNKNOWN_ORDER")
    demo1.delete(f"/api/v1/orders/{new_cid}")
    err(demo1.put(f"/api/v1/orders/{new_cid}", json={"price": "999"}), 409, "ORDER_NOT_OPEN")


def test_mass_cancel_with_filters(live):
    with live.client("demo7") as c:
        eth = [data(place(c, price=str(1000 + i)))["order"]["order_id"] for i in range(3)]
        btc = data(place(c, symbol="BTC-USD", price="1000", quantity="0.01"))["order"]["order_id"]
        sell = data(place(c, side="sell", price="9000"))["order"]["order_id"]
        d = data(c.delete("/api/v1/orders", params={"symbol": "ETH-USD", "side": "buy"}))
        assert d["cancelled"] == 3 and sorted(d["order_ids"]) == sorted(eth)
        open_ids = {o["order_id"] for o in data(c.get("/api/v1/orders", params={"status": "open"}))["items"]}
        assert {btc, sell} <= open_ids and not set(eth) & open_ids
        d = data(c.delete("/api/v1/orders"))
        assert d["cancelled"] >= 2
        assert data(c.get("/api/v1/orders", params={"status": "open"}))["items"] == []
        err(c.delete("/api/v1/orders", params={"symbol": "NOPE"}), 400, "UNKNOWN_SYMBOL")


def test_list_filters_and_paging(live):
    with live.client("demo8") as c:
        t0 = dt.datetime.now(dt.timezone.utc)
        ids = [data(place(c, price=str(500 + i)))["order"]["order_id"] for i in range(5)]
        data(c.delete(f"/api/v1/orders/{ids[0]}"))
        page1 = data(c.get("/api/v1/orders", params={"limit": 2}))
        assert [o["order_id"] for o in page1["items"]] == ids[:2] and page1["next_after"] == ids[1]
        page2 = data(c.get("/api/v1/orders", params={"limit": 2, "after": page1["next_after"]}))
        assert [o["order_id"] for o in page2["items"]] == ids[2:4]
        page3 = data(c.get("/api/v1/orders", params={"limit": 2, "after": page2["next_after"]}))
        assert [o["order_id"] for o in page3["items"]] == ids[4:] and page3["next_after"] is None
        canceled = data(c.get("/api/v1/orders", params={"status": "canceled"}))["items"]
        assert [o["order_id"] for o in canceled] == [ids[0]]
        opened = data(c.get("/api/v1/orders", params={"status": "open,filled"}))["items"]
        assert [o["order_id"] for o in opened] == ids[1:]
        assert data(c.get("/api/v1/orders", params={"symbol": "BTC-USD"}))["items"] == []
        assert len(data(c.get("/api/v1/orders", params={"symbol": "eth_usd"}))["items"]) == 5
        later = (t0 + dt.timedelta(hours=1)).isoformat()
        assert data(c.get("/api/v1/orders", params={"since": later}))["items"] == []
        assert len(data(c.get("/api/v1/orders", params={"until": later}))["items"]) == 5
        err(c.get("/api/v1/orders", params={"status": "sleeping"}), 422, "VALIDATION_ERROR")
        err(c.get("/api/v1/orders", params={"limit": 0}), 422, "VALIDATION_ERROR")
        err(c.get("/api/v1/orders/does-not-exist"), 404, "NOT_FOUND")


def test_halted_instrument_refuses_orders_then_resumes(live):
    with live.client("admin") as adm, live.client("demo2") as c:
        assert data(adm.post("/api/v1/admin/instruments/AAPL/halt"))["trading_state"] == "halted"
        err(place(c, symbol="AAPL", price="150", quantity="1"), 409, "MARKET_HALTED")
        assert data(adm.post("/api/v1/admin/instruments/AAPL/resume"))["trading_state"] == "open"
        assert place(c, symbol="AAPL", price="150", quantity="1").status_code == 201
