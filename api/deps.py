"""FastAPI dependencies: the context, authentication, rate limits and roles.

Routes declare what they need (`Depends(trader)`, `Depends(reader)`,
`Depends(admin)`, `Depends(public)`); the order is authenticate, then charge
the key's rate limit (so nobody can drain another key's budget with unsigned
junk), then check the role. Every failure is an `ApiError`, rendered in the
envelope by the app's handler.
"""

from __future__ import annotations

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.context import ApiContext
from api.envelope import FORBIDDEN, RATE_LIMITED, ApiError
from api.keys import ApiKey
from api.limits import RateLimiter
from api.settings import Role
from api.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

_key_header = APIKeyHeader(name=KEY_HEADER, scheme_name="ApiKey", auto_error=False,
                           description="API key id (see the README: demo keys ship in config/venue.yaml)")
_ts_header = APIKeyHeader(name=TIMESTAMP_HEADER, scheme_name="ApiTimestamp", auto_error=False,
                          description="milliseconds since the Unix epoch; stale or reused values are refused")
_sig_header = APIKeyHeader(name=SIGNATURE_HEADER, scheme_name="ApiSignature", auto_error=False,
                           description="hex HMAC-SHA256(secret, timestamp + METHOD + path?query + body)")


def get_ctx(request: Request) -> ApiContext:
    return request.app.state.ctx


def request_target(scope) -> str:
    """The request target as sent on the wire: raw (percent-encoded) path plus ?query."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope["path"]
    qs = scope.get("query_string", b"")
    return path + "?" + qs.decode("latin-1") if qs else path


async def authenticated(request: Request, key_id: str | None = Security(_key_header),
                        timestamp: str | None = Security(_ts_header),
                        sig: str | None = Security(_sig_header)) -> ApiKey:
    ctx: ApiContext = request.app.state.ctx
    body = await request.body()
    return ctx.keys.verify(key_id, timestamp, sig, request.method, request_target(request.scope), body)


def _charge(ctx: ApiContext, bucket: str, rate: float, burst: int) -> None:
    wait = ctx.limiter.check(bucket, rate, burst)
    if wait:
        raise ApiError(429, RATE_LIMITED, "rate limit exceeded", {"retry_after_s": round(wait, 3)},
                       headers={"Retry-After": RateLimiter.retry_after(wait)})


async def limited(request: Request, key: ApiKey = Depends(authenticated)) -> ApiKey:
    _charge(request.app.state.ctx, "key:" + key.key_id, key.rate, key.burst)
    return key


async def public(request: Request) -> None:
    """Unauthenticated endpoints (market data): limited per client address."""
    ctx: ApiContext = request.app.state.ctx
    lim = ctx.settings.public_rate_limit
    client = request.client
    _charge(ctx, "ip:" + (client.host if client else "?"), lim.rate, lim.burst)


async def trader(key: ApiKey = Depends(limited)) -> ApiKey:
    """May trade: place, replace and cancel orders of its own account."""
    if key.role != Role.TRADER:
        raise ApiError(403, FORBIDDEN, f"a {key.role.value} key cannot trade")
    return key


async def reader(key: ApiKey = Depends(limited)) -> ApiKey:
    """May read its own account (trader and read-only keys, or an admin key bound to an account)."""
    if key.account is None:
        raise ApiError(403, FORBIDDEN, "this key is not bound to an account")
    return key


async def admin(key: ApiKey = Depends(limited)) -> ApiKey:
    if key.role != Role.ADMIN:
        raise ApiError(403, FORBIDDEN, "admin role required")
    return key
