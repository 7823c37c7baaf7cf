"""Reject and cancel reasons: one vocabulary for every gateway.

The engine, risk and router name what went wrong with these codes; the FIX
gateway maps them to OrdRejReason / CxlRejReason, the REST gateway uses the
names as its machine-readable error codes. `Reason` values are the strings the
REST envelope shows.
"""

from __future__ import annotations

from enum import Enum


class Reason(str, Enum):
    # order validation
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_ORDER = "INVALID_ORDER"          # unsupported combination of fields
    DUPLICATE_ORDER = "DUPLICATE_ORDER"      # client order id already used by this account
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    ORDER_NOT_OPEN = "ORDER_NOT_OPEN"        # cancel/replace of a finished order
    # market state
    MARKET_CLOSED = "MARKET_CLOSED"
    MARKET_HALTED = "MARKET_HALTED"
    # matching outcomes
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    NO_LIQUIDITY = "NO_LIQUIDITY"
    FOK_NOT_FILLED = "FOK_NOT_FILLED"
    MIN_QTY_NOT_MET = "MIN_QTY_NOT_MET"
    IOC_REMAINDER = "IOC_REMAINDER"
    PRICE_PROTECTION = "PRICE_PROTECTION"    # market order remainder beyond its protection band
    SELF_TRADE = "SELF_TRADE"
    EXPIRED = "EXPIRED"
    GTD_IN_PAST = "GTD_IN_PAST"
    # owner actions
    CLIENT_REQUEST = "CLIENT_REQUEST"
    MASS_CANCEL = "MASS_CANCEL"
    CANCEL_ON_DISCONNECT = "CANCEL_ON_DISCONNECT"
    REPLACE_QTY_BELOW_FILLED = "REPLACE_QTY_BELOW_FILLED"
    # risk and control
    RISK_LIMIT = "RISK_LIMIT"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    KILL_SWITCH = "KILL_SWITCH"
    RATE_LIMITED = "RATE_LIMITED"
    RESTRICTED = "RESTRICTED"
    PRICE_COLLAR = "PRICE_COLLAR"            # limit price too far from the reference price (fat finger)
    REDUCE_ONLY = "REDUCE_ONLY"              # the order would not reduce the position (reduce-only)
    # routing
    VENUE_REJECT = "VENUE_REJECT"
    VENUE_UNAVAILABLE = "VENUE_UNAVAILABLE"


class RejectError(Exception):
    """Raised at the edges (conversion, validation) and turned into a reject event."""

    def __init__(self, reason: Reason, text: str, details: dict | None = None) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text
        self.details = details or {}
