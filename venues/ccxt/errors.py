"""ccxt exceptions mapped to our typed errors and reject codes.

ccxt already classifies each exchange's error codes into its exception
hierarchy; we map that hierarchy, then refine the generic classes
(`InvalidOrder`, `BadRequest`, `ExchangeError`) by the exchange's message, since
Binance puts several different refusals under -2010 / -1013.

Which failures leave an order's fate unknown (timeout, dropped connection, 5xx,
garbled answer) is decided here too: those become `VenueTimeout` /
`VenueDisconnected`, and only those make the adapter reconcile by client order id.
"""

from __future__ import annotations

import re

import ccxt.async_support as ccxt

from venues.adapter import (
    RejectCode,
    VenueDisconnected,
    VenueError,
    VenueRateLimited,
    VenueReject,
    VenueTimeout,
)

_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')

# Binance error codes whose meaning is fixed regardless of message
BINANCE_CODES: dict[str, RejectCode] = {
    "-1013": RejectCode.INVALID_ORDER,  # refined by message (filters, market closed)
    "-1021": RejectCode.VENUE_ERROR,  # timestamp outside recvWindow (clock skew)
    "-1022": RejectCode.AUTH_FAILED,
    "-1100": RejectCode.INVALID_ORDER,
    "-1102": RejectCode.INVALID_ORDER,
    "-1106": RejectCode.INVALID_ORDER,
    "-1111": RejectCode.INVALID_QUANTITY,
    "-1115": RejectCode.INVALID_TIME_IN_FORCE,
    "-1116": RejectCode.UNSUPPORTED_ORDER_TYPE,
    "-1117": RejectCode.INVALID_ORDER,
    "-1121": RejectCode.UNKNOWN_SYMBOL,
    "-1131": RejectCode.INVALID_ORDER,
    "-2010": RejectCode.INVALID_ORDER,  # NEW_ORDER_REJECTED, refined by message
    "-2011": RejectCode.ORDER_NOT_FOUND,  # CANCEL_REJECTED / unknown order
    "-2013": RejectCode.ORDER_NOT_FOUND,
    "-2014": RejectCode.AUTH_FAILED,
    "-2015": RejectCode.AUTH_FAILED,
}

# message fragments (lower case) -> code, checked in order
MESSAGE_HINTS: tuple[tuple[str, RejectCode], ...] = (
    ("duplicate order", RejectCode.DUPLICATE_ORDER),
    ("insufficient balance", RejectCode.INSUFFICIENT_BALANCE),
    ("insufficient funds", RejectCode.INSUFFICIENT_BALANCE),
    ("would trigger immediately", RejectCode.WOULD_TRIGGER_IMMEDIATELY),
    ("would immediately match", RejectCode.WOULD_TRIGGER_IMMEDIATELY),
    ("market is closed", RejectCode.MARKET_HALTED),
    ("lot_size", RejectCode.INVALID_QUANTITY),
    ("notional", RejectCode.INVALID_QUANTITY),
    ("price_filter", RejectCode.INVALID_PRICE),
    ("percent_price", RejectCode.INVALID_PRICE),
    ("timeinforce", RejectCode.INVALID_TIME_IN_FORCE),
    ("unknown order", RejectCode.ORDER_NOT_FOUND),
    ("order does not exist", RejectCode.ORDER_NOT_FOUND),
    ("invalid symbol", RejectCode.UNKNOWN_SYMBOL),
)


def venue_code(message: str) -> str | None:
    m = _CODE.search(message)
    return m.group(1) if m else None


def refine(message: str, fallback: RejectCode) -> RejectCode:
    text = message.lower()
    for fragment, code in MESSAGE_HINTS:
        if fragment in text:
            return code
    vcode = venue_code(message)
    if vcode in BINANCE_CODES:
        return BINANCE_CODES[vcode]
    return fallback


def map_error(exc: Exception, *, venue: str, client_order_id: str | None = None,
              retry_after: float | None = None) -> VenueError:
    msg = str(exc)[:500]
    kw = {"venue": venue, "client_order_id": client_order_id}
    code = venue_code(msg)
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return VenueRateLimited(msg, retry_after=retry_after, **kw)
    if isinstance(exc, ccxt.InvalidNonce):  # the request was refused (clock / nonce), nothing happened
        return VenueReject(RejectCode.VENUE_ERROR, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.RequestTimeout):
        return VenueTimeout(msg, **kw)
    if isinstance(exc, ccxt.OperationFailed):  # NetworkError, ExchangeNotAvailable, BadResponse, ...
        return VenueDisconnected(msg, **kw)
    if isinstance(exc, ccxt.AccountSuspended):
        return VenueReject(RejectCode.ACCOUNT_LOCKED, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.AuthenticationError):
        return VenueReject(RejectCode.AUTH_FAILED, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.InsufficientFunds):
        return VenueReject(RejectCode.INSUFFICIENT_BALANCE, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.BadSymbol):
        return VenueReject(RejectCode.UNKNOWN_SYMBOL, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.OrderNotFound):
        return VenueReject(RejectCode.ORDER_NOT_FOUND, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.DuplicateOrderId):
        return VenueReject(RejectCode.DUPLICATE_ORDER, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.OrderImmediatelyFillable):
        return VenueReject(RejectCode.WOULD_TRIGGER_IMMEDIATELY, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.OrderNotFillable):
        return VenueReject(RejectCode.INSUFFICIENT_LIQUIDITY, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.MarketClosed):
        return VenueReject(RejectCode.MARKET_HALTED, msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.NotSupported):
        return VenueReject(RejectCode.UNSUPPORTED_ORDER_TYPE, msg, venue_code=code, **kw)
    if isinstance(exc, (ccxt.InvalidOrder, ccxt.BadRequest, ccxt.ArgumentsRequired)):
        return VenueReject(refine(msg, RejectCode.INVALID_ORDER), msg, venue_code=code, **kw)
    if isinstance(exc, ccxt.ExchangeError):
        return VenueReject(refine(msg, RejectCode.VENUE_ERROR), msg, venue_code=code, **kw)
    return VenueReject(RejectCode.VENUE_ERROR, f"{type(exc).__name__}: {msg}", **kw)
