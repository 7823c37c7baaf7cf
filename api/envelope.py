"""The one response envelope of the REST API, and the typed error behind every failure.

    {"success": true,  "data": ...,                                   "timestamp": "..."}
    {"success": false, "error": {"code", "message", "details"},       "timestamp": "..."}

Error codes are the engine's reject vocabulary (`engine.reject.Reason` names:
UNKNOWN_SYMBOL, INVALID_PRICE, ...) plus the gateway's own (UNAUTHORIZED,
FORBIDDEN, NOT_FOUND, VALIDATION_ERROR, RATE_LIMITED, INTERNAL_ERROR, ...), so
a client switches on one field whichever layer refused it.

Bodies are rendered with orjson straight from dicts: the pydantic models in
`api.schemas` document the shape (and the schemathesis test holds the server
to it) without a second validation pass on every response.
"""

from __future__ import annotations

import datetime as _dt
import time
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from starlette.responses import Response

from engine.reject import Reason, RejectError

# gateway codes that are not engine reasons
UNAUTHORIZED = "UNAUTHORIZED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
VALIDATION_ERROR = "VALIDATION_ERROR"
RATE_LIMITED = "RATE_LIMITED"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
NOT_READY = "NOT_READY"
UNAVAILABLE = "UNAVAILABLE"          # a part the endpoint needs is not running
INTERNAL_ERROR = "INTERNAL_ERROR"

# HTTP status for each engine reason; anything not listed is a 400
_REASON_STATUS = {
    Reason.UNKNOWN_ORDER: 404,
    Reason.DUPLICATE_ORDER: 409,
    Reason.ORDER_NOT_OPEN: 409,
    Reason.MARKET_CLOSED: 409,
    Reason.MARKET_HALTED: 409,
    Reason.RISK_LIMIT: 422,
    Reason.INSUFFICIENT_BALANCE: 422,
    Reason.KILL_SWITCH: 403,
    Reason.RESTRICTED: 403,
    Reason.UNKNOWN_ACCOUNT: 403,
    Reason.RATE_LIMITED: 429,
    Reason.VENUE_UNAVAILABLE: 503,
}


def reason_status(reason: str) -> int:
    try:
        return _REASON_STATUS.get(Reason(reason), 400)
    except ValueError:
        return 400


class ApiError(Exception):
    """Raised anywhere below a route; the app's handler renders it in the envelope."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers

    @classmethod
    def from_reject(cls, err: RejectError, **extra: Any) -> "ApiError":
        reason = err.reason.value if isinstance(err.reason, Reason) else str(err.reason)
        return cls(reason_status(reason), reason, err.text, {**err.details, **extra})


_iso_cache = [-1, ""]


def now_iso() -> str:
    """UTC now as ISO 8601 with milliseconds (formatted at most once per millisecond)."""
    ms = time.time_ns() // 1_000_000
    if ms != _iso_cache[0]:
        dt = _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc)
        _iso_cache[0] = ms
        _iso_cache[1] = dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return _iso_cache[1]


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Enum):
        return obj.value
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS)


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONBody({"success": True, "data": data, "timestamp": now_iso()}, status_code=status, headers=headers)


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"success": False, "error": {"code": code, "message": message, "details": details or {}},
            "timestamp": now_iso()}


def error(status: int, code: str, message: str, details: dict | None = None,
          headers: dict[str, str] | None = None) -> Response:
    return JSONBody(error_body(code, message, details), status_code=status, headers=headers)
