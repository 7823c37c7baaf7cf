"""A lean front for the one hot endpoint, POST /api/v1/orders.

With this FastAPI, routing, dependency solving and body handling cost more CPU
per request than the whole order path behind them (signature check,
translation, matching, answer) — measured, see bench/rest.py. The lane takes
the common case off that machinery: a JSON body that validates as `OrderIn`.
It then does exactly what the FastAPI route does, with the same parts: the
`trader` gate (authenticate, rate limit, role), `place_and_answer` (the desk,
the envelope, the ack-latency metric) and the same ApiError rendering.

Everything else — a body that does not validate, a content type that is not
JSON, any other path or method — is handed to the FastAPI app untouched (the
body it already read is replayed), so every error a client can see is still
produced by the FastAPI route and its handlers. Switch it off with
`rest: {fast_order_entry: false}` and answers do not change (the test suite
runs both ways).
"""

from __future__ import annotations

import logging
import time
import uuid

from pydantic import ValidationError
from starlette.requests import Request

from api.deps import trader
from api.envelope import INTERNAL_ERROR, ApiError, error
from api.routers.orders import place_and_answer
from api.schemas import OrderIn

log = logging.getLogger("fixvenue.api")

ORDERS_PATH = "/api/v1/orders"


def _is_json(content_type: bytes) -> bool:
    ct = content_type.split(b";", 1)[0].strip().lower()
    return ct == b"application/json" or (ct.startswith(b"application/") and ct.endswith(b"+json"))


class OrderEntryLane:
    def __init__(self, app, ctx) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != ORDERS_PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
                break
        if not _is_json(content_type):
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        try:
            body = await request.body()
        except ApiError as exc:      # BodyLimit refusing a chunked body that grew too large
            return await error(exc.status, exc.code, exc.message, exc.details)(scope, receive, send)
        try:
            order = OrderIn.model_validate_json(body)
        except ValidationError:
            return await self.app(scope, _replay(body, receive), send)
        scope.setdefault("app", self.app)
        try:
            key = await trader(request)
            resp = await place_and_answer(self.ctx, key, order, t0)
        except ApiError as exc:
            resp = error(exc.status, exc.code, exc.message, exc.details, exc.headers)
        except Exception as exc:  # same answer as the app's catch-all handler
            incident = uuid.uuid4().hex[:12]
            log.error("unhandled error %s on POST %s", incident, ORDERS_PATH, exc_info=exc)
            resp = error(500, INTERNAL_ERROR, "internal error", {"incident": incident})
        await resp(scope, receive, send)


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
