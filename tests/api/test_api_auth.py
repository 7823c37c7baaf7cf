"""Authentication (HMAC signing, stale and replayed requests), roles, rate limits, and
isolation: every account endpoint tried with another account's key."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest
from api_harness import LiveVenue, data, err, key

from api.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

_ids = itertools.count(1)


def clid() -> str:
    return f"auth-{next(_ids)}"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveVenue(tmp_path_factory.mktemp("auth")) as v:
        yield v


def raw_post(url: str, target: str, body: bytes, headers: dict) -> httpx.Response:
    return httpx.post(url + target, content=body, headers={"Content-Type": "application/json", **headers}, timeout=10)


def signed_headers(key_id: str, target: str, body: bytes, method: str = "POST", ts: int | None = None) -> dict:
    kid, secret = key(key_id)
    ts = ts if ts is not None else time.time_ns() // 1_000_000
    return {KEY_HEADER: kid, TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, method, target, body)}


BODY = b'{"symbol":"ETH-USD","side":"buy","quantity":"1","price":"100"}'


def test_unsigned_requests_are_refused(live):
    for path in ("/api/v1/orders", "/api/v1/account", "/api/v1/account/balances", "/api/v1/admin/sessions"):
        e = err(httpx.get(live.url + path, timeout=10), 401, "UNAUTHORIZED")
        assert "X-API-Signature" in e["message"]


def test_a_correctly_signed_request_passes(live):
    r = raw_post(live.url, "/api/v1/orders", BODY, signed_headers("demo1", "/api/v1/orders", BODY))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("tamper", ["secret", "body", "method", "path", "key", "timestamp-format", "non-ascii"])
def test_a_wrong_signature_is_refused(live, tamper):
    target, body = "/api/v1/orders", BODY
    h = signed_headers("demo1", target, body)
    if tamper == "secret":
        ts = h[TIMESTAMP_HEADER]
        h[SIGNATURE_HEADER] = signature("not-the-secret-at-all", ts, "POST", target, body)
    elif tamper == "body":
        body = BODY.replace(b'"1"', b'"2"')
    elif tamper == "method":
        h = signed_headers("demo1", target, body, method="PUT")
    elif tamper == "path":
        h = signed_headers("demo1", "/api/v1/order", body)
    elif tamper == "key":
        h[KEY_HEADER] = "nobody"
    elif tamper == "timestamp-format":
        h[TIMESTAMP_HEADER] = "yesterday"
    elif tamper == "non-ascii":
        h[SIGNATURE_HEADER] = "é" * 64
    r = httpx.post(live.url + target, content=body, timeout=10,
                   headers={"Content-Type": "application/json", **{k: v.encode("utf-8") for k, v in h.items()}})
    err(r, 401, "UNAUTHORIZED")


def test_the_query_string_is_part_of_the_signature(live):
    h = signed_headers("demo1", "/api/v1/orders?limit=5", b"", method="GET")
    assert httpx.get(live.url + "/api/v1/orders?limit=5", headers=h, timeout=10).status_code == 200
    h = signed_headers("demo1", "/api/v1/orders?limit=5", b"", method="GET")
    err(httpx.get(live.url + "/api/v1/orders?limit=6", headers=h, timeout=10), 401, "UNAUTHORIZED")


def test_stale_timestamps_are_refused(live):
    old = time.time_ns() // 1_000_000 - 10 * 60_000
    e = err(raw_post(live.url, "/api/v1/orders", BODY, signed_headers("demo1", "/api/v1/orders", BODY, ts=old)),
            401, "UNAUTHORIZED")
    assert "stale" in e["message"] and "server_time_ms" in e["details"]
    future = time.time_ns() // 1_000_000 + 10 * 60_000
    err(raw_post(live.url, "/api/v1/orders", BODY, signed_headers("demo1", "/api/v1/orders", BODY, ts=future)),
        401, "UNAUTHORIZED")


def test_a_replayed_request_is_refused(live):
    body = b'{"cl_ord_id":"%s","symbol":"ETH-USD","side":"buy","quantity":"1","price":"100"}' % clid().encode()
    h = signed_headers("demo1", "/api/v1/orders", body)
    assert raw_post(live.url, "/api/v1/orders", body, h).status_code == 201
    e = err(raw_post(live.url, "/api/v1/orders", body, h), 401, "UNAUTHORIZED")
    assert "replayed" in e["message"]


def test_roles(live):
    with live.client("demo1-readonly") as ro, live.client("admin") as adm, live.client("demo1") as tr:
        # read-only: reads its account, cannot trade
        assert data(ro.get("/api/v1/account"))["account"] == "DEMO1"
        assert ro.get("/api/v1/orders").status_code == 200
        err(ro.post("/api/v1/orders", json={"symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "1"}),
            403, "FORBIDDEN")
        err(ro.delete("/api/v1/orders"), 403, "FORBIDDEN")
        err(ro.get("/api/v1/admin/sessions"), 403, "FORBIDDEN")
        # admin: venue controls, but no account of its own
        assert adm.get("/api/v1/admin/sessions").status_code == 200
        err(adm.get("/api/v1/account/balances"), 403, "FORBIDDEN")
        err(adm.post("/api/v1/orders", json={"symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "1"}),
            403, "FORBIDDEN")
        # trader: no admin
        err(tr.post("/api/v1/admin/instruments/ETH-USD/halt"), 403, "FORBIDDEN")
        err(tr.post("/api/v1/admin/kill-switch", json={"action": "activate"}), 403, "FORBIDDEN")


def test_a_key_never_sees_or_touches_another_accounts_orders(live):
    """Every account-scoped endpoint, tried with DEMO2's key on DEMO1's order."""
    with live.client("demo1") as owner, live.client("demo2") as other, live.client("mm1") as mm:
        cid = clid()
        o = data(owner.post("/api/v1/orders", json={"cl_ord_id": cid, "symbol": "BTC-USD", "side": "buy",
                                                    "quantity": "0.5", "price": "60000"}))["order"]
        oid = o["order_id"]
        # a partial fill so DEMO1 has a fill and a position
        assert mm.post("/api/v1/orders", json={"symbol": "BTC-USD", "side": "sell", "quantity": "0.1",
                                               "price": "60000"}).status_code == 201
        for ident in (str(oid), cid):
            err(other.get(f"/api/v1/orders/{ident}"), 404, "NOT_FOUND")
            err(other.put(f"/api/v1/orders/{ident}", json={"price": "1"}), 404, "UNKNOWN_ORDER")
            err(other.delete(f"/api/v1/orders/{ident}"), 404, "UNKNOWN_ORDER")
        listed = data(other.get("/api/v1/orders", params={"limit": 1000}))["items"]
        assert all(x["account"] == "DEMO2" for x in listed) and oid not in {x["order_id"] for x in listed}
        # mass cancel of DEMO2 leaves DEMO1 alone
        data(other.delete("/api/v1/orders"))
        assert data(owner.get(f"/api/v1/orders/{oid}"))["status"] == "partially_filled"
        # idempotency is per account: DEMO2 may use DEMO1's client order id for its own order
        r = other.post("/api/v1/orders", json={"cl_ord_id": cid, "symbol": "BTC-USD", "side": "buy",
                                               "quantity": "0.5", "price": "50000"})
        assert r.status_code == 201 and data(r)["order"]["order_id"] != oid
        # account views are the key's own
        assert data(other.get("/api/v1/account"))["account"] == "DEMO2"
        fills = data(other.get("/api/v1/account/fills"))
        assert fills["account"] == "DEMO2" and all(f["order_id"] != oid for f in fills["fills"])
        assert any(f["order_id"] == oid for f in data(owner.get("/api/v1/account/fills"))["fills"])
        for path in ("/api/v1/account/balances", "/api/v1/account/positions", "/api/v1/account/risk"):
            assert data(other.get(path))["account"] == "DEMO2"
        pos = data(other.get("/api/v1/account/positions"))["positions"]
        assert all(p["symbol"] != "BTC-USD" or p["quantity"] in ("0",) for p in pos)
        # the order is untouched
        assert data(owner.get(f"/api/v1/orders/{cid}"))["leaves_qty"] == "0.4"


def test_isolation_test_covers_every_account_endpoint(live):
    """If a new account-scoped route appears, the isolation test above must learn about it."""
    spec = httpx.get(live.url + "/openapi.json", timeout=10).json()
    covered = {("get", "/api/v1/orders/{order_id}"), ("put", "/api/v1/orders/{order_id}"),
               ("delete", "/api/v1/orders/{order_id}"), ("get", "/api/v1/orders"), ("delete", "/api/v1/orders"),
               ("post", "/api/v1/orders"), ("get", "/api/v1/account"), ("get", "/api/v1/account/fills"),
               ("get", "/api/v1/account/balances"), ("get", "/api/v1/account/positions"),
               ("get", "/api/v1/account/risk")}
    signed = {(m, p) for p, ops in spec["paths"].items() for m, op in ops.items()
              if op.get("security") and not p.startswith("/api/v1/admin")}
    assert signed == covered


def test_rate_limit_answers_429_with_retry_after(tmp_path):
    limits = {"trader": {"rate": 1, "burst": 3}, "read_only": {"rate": 1, "burst": 3}, "admin": {"rate": 1, "burst": 3}}
    with LiveVenue(tmp_path, rest={"rate_limits": limits}) as v, v.client("demo3") as c:
        codes = [c.get("/api/v1/account").status_code for _ in range(4)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        r = c.get("/api/v1/account")
        e = err(r, 429, "RATE_LIMITED")
        assert int(r.headers["Retry-After"]) >= 1 and e["details"]["retry_after_s"] > 0
        # the budget is per key: another key is unaffected
        with v.client("demo4") as other:
            assert other.get("/api/v1/account").status_code == 200
