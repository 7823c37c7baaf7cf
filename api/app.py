"""The FastAPI application: routers, the error envelope, OpenAPI.

`create_app(ctx)` assembles one router per resource under /api/v1 (health also
at the root), the WebSocket at /ws, and the handlers that make every failure —
our ApiError, FastAPI's validation errors, Starlette's 404/405, and anything
unexpected — come out in the one envelope with a 4xx code, or a 500 that says
"internal error" and an id to find the traceback in the log (never the
traceback itself).
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from api.context import ApiContext
from api.deps import SECURITY_SCHEMES, SIGNED_GATES
from api.envelope import (
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    UNAUTHORIZED,
    VALIDATION_ERROR,
    FORBIDDEN,
    ApiError,
    error,
)
from api.routers import account, admin, health, market, orders
from api.schemas import ErrorEnvelope
from api import ws

log = logging.getLogger("fixvenue.api")

API_PREFIX = "/api/v1"
MAX_BODY = 64 * 1024

_ERR = {"model": ErrorEnvelope}
ERROR_RESPONSES = {
    400: {**_ERR, "description": "refused: the code is the engine reject reason (INVALID_PRICE, ...)"},
    401: {**_ERR, "description": "UNAUTHORIZED: missing, stale, replayed or wrong signature"},
    403: {**_ERR, "description": "FORBIDDEN: the key's role does not allow this"},
    404: {**_ERR, "description": "NOT_FOUND / UNKNOWN_ORDER / UNKNOWN_SYMBOL"},
    409: {**_ERR, "description": "conflict with the order's or market's state (DUPLICATE_ORDER, MARKET_HALTED, ...)"},
    413: {**_ERR, "description": "request body too large"},
    422: {**_ERR, "description": "VALIDATION_ERROR, or a risk refusal (RISK_LIMIT, INSUFFICIENT_BALANCE)"},
    429: {**_ERR, "description": "RATE_LIMITED: see Retry-After"},
    503: {**_ERR, "description": "a part of the venue this needs is not running"},
}

DESCRIPTION = """
REST and WebSocket gateway of the fixvenue trading venue.

**Envelope.** Every answer is `{"success": true, "data": ..., "timestamp": ...}` or
`{"success": false, "error": {"code", "message", "details"}, "timestamp": ...}`. Error codes are the
engine's reject reasons (`UNKNOWN_SYMBOL`, `INVALID_PRICE`, `INSUFFICIENT_BALANCE`, `RISK_LIMIT`, ...) plus
`UNAUTHORIZED`, `FORBIDDEN`, `NOT_FOUND`, `VALIDATION_ERROR`, `RATE_LIMITED`.

**Authentication.** Account and order endpoints need a signed request: headers `X-API-Key`,
`X-API-Timestamp` (ms since the epoch) and `X-API-Signature` =
hex(HMAC-SHA256(secret, timestamp + METHOD + path?query + body)), with the path and query exactly as
sent. Stale timestamps (outside 30 s by default) and reused signatures are refused. Market data is public.

**Symbols** containing `/` may be written `EUR-USD`, `EUR_USD` or `EUR%2FUSD` in paths.

**WebSocket** at `/ws`: subscribe to `orderbook.<symbol>`, `trades.<symbol>`, `ticker.<symbol>`, and after
authenticating to `orders` and `positions`.
"""


class BodyLimit:
    """Refuse request bodies over MAX_BODY before anything buffers them (pure ASGI: cheap)."""

    def __init__(self, app, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    resp = error(413, VALIDATION_ERROR, f"request body larger than {self.limit} bytes")
                    return await resp(scope, receive, send)
                return await self.app(scope, receive, send)
        # no length announced (chunked): count as it arrives
        seen = 0
        limit = self.limit

        async def counted():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise ApiError(413, VALIDATION_ERROR, f"request body larger than {limit} bytes")
            return msg

        return await self.app(scope, counted, send)


def _clean_errors(errors) -> list[dict]:
    out = []
    for e in errors[:20]:
        out.append({"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", ""))})
    return out


_HTTP_CODES = {401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = _clean_errors(exc.errors())
        first = errs[0] if errs else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"][1:] if len(first["loc"]) > 1 else first["loc"])
        return error(422, VALIDATION_ERROR, f"{where}: {first['msg']}" if where else first["msg"],
                     {"errors": errs})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, VALIDATION_ERROR if exc.status_code < 500 else INTERNAL_ERROR)
        msg = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404:
            msg = "no such endpoint"
        return error(exc.status_code, code, msg, {}, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        incident = uuid.uuid4().hex[:12]
        log.error("unhandled error %s on %s %s", incident, request.method, request.url.path, exc_info=exc)
        return error(500, INTERNAL_ERROR, "internal error", {"incident": incident})


def _flat_routes(app: FastAPI):
    """(route, full path format, methods) of every route, through included routers."""
    try:
        from fastapi.routing import iter_route_contexts   # FastAPI >= 0.16x keeps included routers nested
    except ImportError:
        return [(r, getattr(r, "path_format", None), getattr(r, "methods", None)) for r in app.routes]
    return [(rc.original_route, rc.path_format, rc.methods) for rc in iter_route_contexts(app.routes)]


def install_security_docs(app: FastAPI) -> None:
    """Document the signed-request headers on exactly the operations whose gate checks them.

    The gates read the headers themselves (one dependency per route instead of
    three header dependencies plus sub-dependencies: cheaper per request), so
    the OpenAPI security requirement is added here from the routes' dependencies."""
    from fastapi.openapi.utils import get_openapi
    from fastapi.routing import APIRoute

    def openapi():
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        requirement = [{name: [] for name in SECURITY_SCHEMES}]
        for route, path, methods in _flat_routes(app):
            if not isinstance(route, APIRoute) or not getattr(route, "include_in_schema", True):
                continue
            if any(d.call in SIGNED_GATES for d in route.dependant.dependencies):
                ops = schema["paths"].get(path, {})
                for method in methods or ():
                    op = ops.get(method.lower())
                    if op is not None:
                        op["security"] = requirement
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def create_app(ctx: ApiContext) -> FastAPI:
    docs = ctx.settings.docs
    app = FastAPI(
        title="fixvenue REST API",
        version="1.0",
        description=DESCRIPTION,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        # FastAPI's native OpenTelemetry hooks cost a few lookups per request; metrics are Prometheus here
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    for r in (orders.router, market.router, account.router, admin.router):
        app.include_router(r, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(health.router, prefix=API_PREFIX, responses={503: ERROR_RESPONSES[503]})
    app.include_router(health.router, include_in_schema=False)
    app.include_router(ws.router)
    app.add_middleware(BodyLimit)
    install_security_docs(app)
    return app
