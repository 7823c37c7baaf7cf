"""The WebSocket endpoint /ws: a small JSON protocol over the hub.

Client -> server (one JSON object per text frame; `id` is echoed back):
  {"op": "subscribe",   "channels": ["orderbook.BTC-USD", "trades.EUR-USD"], "id": 1}
  {"op": "unsubscribe", "channels": ["trades.EUR-USD"]}
  {"op": "auth", "key": "<key id>", "timestamp": "<ms>", "signature": "<hex>"}
        signature = HMAC-SHA256(secret, timestamp + "GET" + "/ws"), as for REST with an empty body;
        or sign the handshake itself with the REST headers (X-API-Key, X-API-Timestamp, X-API-Signature)
  {"op": "ping"}
Server -> client:
  {"type": "subscribed" | "unsubscribed", "channels": [...canonical names...], "id": ...}
  {"type": "snapshot" | "update", "channel": "...", "data": ..., "seq": n (order books)}
  {"type": "authenticated", "account": "...", "role": "..."}
  {"type": "error", "code": "...", "message": "...", "id": ...}
  {"type": "pong", "ts": <ns>}
"""

from __future__ import annotations

import logging
import time

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.deps import request_target
from api.envelope import RATE_LIMITED, ApiError, dumps
from api.hub import ChannelError, Connection
from api.limits import TokenBucket
from api.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

log = logging.getLogger("fixvenue.api.ws")
router = APIRouter()
WS_TARGET = "/ws"
_MSG_RATE, _MSG_BURST = 50.0, 100


def _reply(conn: Connection, obj: dict) -> None:
    conn.push(dumps(obj).decode())


def _err(conn: Connection, code: str, message: str, req_id=None, **extra) -> None:
    m = {"type": "error", "code": code, "message": message, **extra}
    if req_id is not None:
        m["id"] = req_id
    _reply(conn, m)


def _authenticate(conn: Connection, ctx, key_id, ts, sig, target: str) -> bool:
    if conn.key is not None:
        _err(conn, "FORBIDDEN", "this connection is already authenticated")
        return False
    try:
        conn.key = ctx.keys.verify(key_id, ts, sig, "GET", target, b"")
    except ApiError as e:
        _err(conn, e.code, e.message)
        return False
    _reply(conn, {"type": "authenticated", "account": conn.key.account, "role": conn.key.role.value})
    return True


def handle(conn: Connection, ctx, text: str) -> None:
    if conn.closed:
        return
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        _err(conn, "VALIDATION_ERROR", "messages are JSON objects")
        return
    if not isinstance(msg, dict):
        _err(conn, "VALIDATION_ERROR", "messages are JSON objects")
        return
    req_id = msg.get("id")
    if req_id is not None and not isinstance(req_id, (int, str)) or isinstance(req_id, bool):
        req_id = None
    op = msg.get("op")
    if op in ("subscribe", "unsubscribe"):
        chans = msg.get("channels", msg.get("channel"))
        if isinstance(chans, str):
            chans = [chans]
        if not isinstance(chans, list) or not chans or len(chans) > 100:
            _err(conn, "VALIDATION_ERROR", "'channels' is a non-empty list of channel names", req_id)
            return
        done = []
        for name in chans:
            try:
                done.append(ctx.hub.subscribe(conn, name) if op == "subscribe" else ctx.hub.unsubscribe(conn, name))
            except ChannelError as e:
                _err(conn, e.code, e.message, req_id, channel=name if isinstance(name, str) else None)
        if done:
            _reply(conn, {"type": op + "d", "channels": done, **({"id": req_id} if req_id is not None else {})})
    elif op == "auth":
        ok = _authenticate(conn, ctx, _s(msg.get("key")), _s(msg.get("timestamp")), _s(msg.get("signature")),
                           WS_TARGET)
        if not ok:
            return
    elif op == "ping":
        _reply(conn, {"type": "pong", "ts": time.time_ns(), **({"id": req_id} if req_id is not None else {})})
    else:
        _err(conn, "VALIDATION_ERROR", "unknown op; use subscribe, unsubscribe, auth or ping", req_id)


def _s(v) -> str | None:
    if isinstance(v, (int, str)) and not isinstance(v, bool):
        return str(v)
    return None


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    ctx = websocket.app.state.ctx
    hub = ctx.hub
    await websocket.accept()
    conn = hub.connect(websocket)
    bucket = TokenBucket(_MSG_RATE, _MSG_BURST, time.monotonic())
    max_bytes = ctx.settings.websocket.max_message_bytes
    try:
        h = websocket.headers
        if h.get(KEY_HEADER):
            if not _authenticate(conn, ctx, h.get(KEY_HEADER), h.get(TIMESTAMP_HEADER), h.get(SIGNATURE_HEADER),
                                 request_target(websocket.scope)):
                await conn.flush_and_close(1008, "authentication failed")
                return
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                break
            if conn.closed:
                continue     # closing (slow consumer): read and drop until the close handshake ends
            text = msg.get("text")
            if text is None:
                data = msg.get("bytes") or b""
                text = data.decode("utf-8", "replace")
            if len(text) > max_bytes:
                _err(conn, "VALIDATION_ERROR", f"message larger than {max_bytes} bytes")
                continue
            wait = bucket.take(time.monotonic())
            if wait:
                _err(conn, RATE_LIMITED, "too many messages", retry_after_s=round(wait, 3))
                continue
            handle(conn, ctx, text)
    except WebSocketDisconnect:
        pass
    except Exception:   # a broken connection must never take anything else down; keep a trace
        log.warning("websocket connection failed", exc_info=True)
    finally:
        await hub.disconnect(conn)
