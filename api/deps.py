"""FastAPI dependencies: the context, authentication, rate limits and roles.

Routes declare what they need (`Depends(trader)`, `Depends(reader)`,
`Depends(admin)`, `Depends(public)`); each gate authenticates, then charges
the key's rate limit (after authentication, so nobody can drain another key's
budget with unsigned junk), then checks the role. Every failure is an
`ApiError`, rendered in the envelope by the app's handler.
"""

from __future__ import annotations

from fastapi import Request

from api.context import ApiContext
from api.envelope import FORBIDDEN, RATE_LIMITED, ApiError
from api.keys import ApiKey
from api.limits import RateLimiter
from api.settings import Role
from api.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER


async def get_ctx(request: Request) -> ApiContext:
    return request.app.state.ctx


def request_target(scope) -> str:
    """The request target as sent on the wire: raw (percent-encoded) path plus ?query."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope["path"]
    qs = scope.get("query_string", b"")
    return path + "?" + qs.decode("latin-1") if qs else path


async def authenticate(request: Request) -> ApiKey:
    """Verify the request's signature (key known, timestamp fresh, HMAC right, not a replay)."""
    ctx: ApiContext = request.app.state.ctx
    h = request.headers
    body = await request.body()
    return ctx.keys.verify(h.get(KEY_HEADER), h.get(TIMESTAMP_HEADER), h.get(SIGNATURE_HEADER), request.method,
                           request_target(request.scope), body)


def charge(ctx: ApiContext, bucket: str, rate: float, burst: int) -> None:
    """Take one token from `bucket`, or refuse with 429 and Retry-After."""
    wait = ctx.limiter.check(bucket, rate, burst)
    if wait:
        raise ApiError(429, RATE_LIMITED, "rate limit exceeded", {"retry_after_s": round(wait, 3)},
                       headers={"Retry-After": RateLimiter.retry_after(wait)})


async def _signed(request: Request) -> ApiKey:
    key = await authenticate(request)
    charge(request.app.state.ctx, "key:" + key.key_id, key.rate, key.burst)
    return key


# The gates below are the dependencies routes declare. Each is ONE dependency doing
# authenticate -> rate limit -> role, because with this FastAPI every dependency
# node costs tens of microseconds per request, and order entry is the hot path.

async def trader(request: Request) -> ApiKey:
    """May trade: place, replace and cancel orders of its own account."""
    key = await _signed(request)
    if key.role != Role.TRADER:
        raise ApiError(403, FORBIDDEN, f"a {key.role.value} key cannot trade")
    return key


async def reader(request: Request) -> ApiKey:
    """May read its own account (trader and read-only keys, or an admin key bound to an account)."""
    key = await _signed(request)
    if key.account is None:
        raise ApiError(403, FORBIDDEN, "this key is not bound to an account")
    return key


async def admin(request: Request) -> ApiKey:
    key = await _signed(request)
    if key.role != Role.ADMIN:
        raise ApiError(403, FORBIDDEN, "admin role required")
    return key


async def public(request: Request) -> None:
    """Unauthenticated endpoints (market data): limited per client address."""
    ctx: ApiContext = request.app.state.ctx
    lim = ctx.settings.public_rate_limit
    client = request.client
    charge(ctx, "ip:" + (client.host if client else "?"), lim.rate, lim.burst)


SIGNED_GATES = (trader, reader, admin)

# documented in OpenAPI as one requirement of three header schemes (see api.app)
SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": KEY_HEADER,
               "description": "API key id (demo keys ship in config/venue.yaml)"},
    "ApiTimestamp": {"type": "apiKey", "in": "header", "name": TIMESTAMP_HEADER,
                     "description": "milliseconds since the Unix epoch; stale or reused values are refused"},
    "ApiSignature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER,
                     "description": "hex HMAC-SHA256(secret, timestamp + METHOD + path?query + body)"},
}
