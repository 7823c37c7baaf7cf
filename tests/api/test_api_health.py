"""Liveness, readiness, Prometheus metrics, OpenAPI docs — and the catch-all that never
leaks a traceback."""

from __future__ import annotations

import httpx
import pytest
from api_harness import LiveVenue, data, err
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveVenue(tmp_path_factory.mktemp("health")) as v:
        yield v


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
def test_health_and_ready(live, prefix):
    h = data(httpx.get(live.url + prefix + "/health", timeout=10))
    assert h["status"] == "ok" and h["uptime_s"] >= 0
    r = data(httpx.get(live.url + prefix + "/ready", timeout=10))
    assert r["ready"] is True and r["parts"]["rest"] == "up"
    for part in ("storage", "fix", "risk"):
        if part in live.venue.services:
            assert r["parts"][part] == "up"


def test_ready_is_503_when_a_part_is_down(live):
    class Down:
        ready = False

    services = live.venue.services
    real = live.call(lambda: services.get("router"))
    live.call(lambda: services.__setitem__("router", Down()))
    try:
        e = err(httpx.get(live.url + "/ready", timeout=10), 503, "NOT_READY")
        assert e["details"]["parts"]["router"] == "down" and e["details"]["ready"] is False
    finally:
        live.call(lambda: services.__setitem__("router", real) if real is not None else services.pop("router"))
    assert httpx.get(live.url + "/ready", timeout=10).status_code == 200


def test_metrics_count_orders_trades_rejects_and_latency(live):
    with live.client("demo1") as buyer, live.client("demo2") as seller:
        seller.post("/api/v1/orders", json={"symbol": "ETH-USD", "side": "sell", "quantity": "1", "price": "3000"})
        buyer.post("/api/v1/orders", json={"symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "3000"})
        buyer.post("/api/v1/orders", json={"symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "3000.001"})
    text = httpx.get(live.url + "/metrics", timeout=10).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}

    def value(name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))), 0)

    assert value("fixvenue_orders_total", gateway="rest", symbol="ETH-USD", type="limit", result="accepted") >= 2
    assert value("fixvenue_orders_total", gateway="rest", symbol="ETH-USD", type="limit", result="rejected") >= 1
    assert value("fixvenue_trades_total", gateway="rest", symbol="ETH-USD", liquidity="taker") >= 1
    assert value("fixvenue_trades_total", gateway="rest", symbol="ETH-USD", liquidity="maker") >= 1
    assert value("fixvenue_rejects_total", gateway="rest", reason="INVALID_PRICE") >= 1
    assert value("fixvenue_ack_latency_seconds_count", gateway="rest") >= 3
    assert ("fixvenue_ws_clients", ()) in samples
    assert ("fixvenue_fix_sessions_connected", ()) in samples


def test_openapi_and_docs(live):
    spec = httpx.get(live.url + "/openapi.json", timeout=10).json()
    assert set(spec["components"]["securitySchemes"]) == {"ApiKey", "ApiTimestamp", "ApiSignature"}
    post = spec["paths"]["/api/v1/orders"]["post"]
    assert post["security"] and "422" in post["responses"] and "429" in post["responses"]
    assert "security" not in spec["paths"]["/api/v1/instruments"]["get"]
    docs = httpx.get(live.url + "/docs", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_an_unexpected_error_is_a_500_envelope_without_traceback(live):
    desk = live.venue.services["rest"].ctx.desk

    def boom(*a, **k):
        raise RuntimeError("secret internal detail")

    live.call(lambda: setattr(desk, "get", boom))
    try:
        with live.client("demo1") as c:
            e = err(c.get("/api/v1/orders/1"), 500, "INTERNAL_ERROR")
        assert e["message"] == "internal error" and len(e["details"]["incident"]) == 12
        assert "secret" not in str(e) and "Traceback" not in str(e)
    finally:
        live.call(lambda: delattr(desk, "get"))
    with live.client("demo1") as c:
        assert c.get("/api/v1/orders/1").status_code in (200, 404)


def test_an_oversized_body_is_refused_before_parsing(live):
    with live.client("demo1") as c:
        big = b'{"symbol": "' + b"x" * 100_000 + b'"}'
        err(c.post("/api/v1/orders", content=big), 413, "VALIDATION_ERROR")
