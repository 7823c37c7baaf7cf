"""Small integer enumerations used throughout the core.

They are `IntEnum`s so the hot path compares plain ints, while logs, journals
and gateways still get readable names. Values that FIX defines (Side, OrdType,
TimeInForce, ExecType, OrdStatus) use FIX's own codes where FIX has one, so the
mapping at the FIX edge is a table, not logic.
"""

from __future__ import annotations

from enum import IntEnum


class Side(IntEnum):
    BUY = 1
    SELL = 2


BUY = 1
SELL = 2


class OrdType(IntEnum):
    MARKET = 1
    LIMIT = 2
    STOP = 3            # stop (market) — FIX 40=3
    STOP_LIMIT = 4      # FIX 40=4
    MARKET_IF_TOUCHED = 5   # FIX 40=J
    TRAILING_STOP = 6   # FIX 40=P (pegged) with 211 PegOffsetValue / 1094 PegPriceType


class TimeInForce(IntEnum):
    DAY = 0
    GTC = 1
    IOC = 3
    FOK = 4
    GTD = 6


class OrdStatus(IntEnum):
    NEW = 0
    PARTIALLY_FILLED = 1
    FILLED = 2
    DONE_FOR_DAY = 3
    CANCELED = 4
    REPLACED = 5
    PENDING_CANCEL = 6
    STOPPED = 7
    REJECTED = 8
    SUSPENDED = 9
    PENDING_NEW = 10
    CALCULATED = 11
    EXPIRED = 12
    ACCEPTED_FOR_BIDDING = 13
    PENDING_REPLACE = 14


class ExecType(IntEnum):
    NEW = 0
    CANCELED = 4
    REPLACED = 5
    PENDING_CANCEL = 6
    REJECTED = 8
    PENDING_NEW = 10
    EXPIRED = 12
    RESTATED = 13
    PENDING_REPLACE = 14
    TRADE = 15
    TRIGGERED = 16      # stop/touch order triggered (FIX 150=L, "Triggered or Activated by System")
    ORDER_STATUS = 17   # status query answer (FIX 150=I)


class StpMode(IntEnum):
    """Self-trade prevention: what happens when an order would trade with the same account."""

    NONE = 0
    CANCEL_NEWEST = 1
    CANCEL_OLDEST = 2
    CANCEL_BOTH = 3
    DECREMENT_AND_CANCEL = 4


class TradingState(IntEnum):
    OPEN = 1
    HALTED = 2   # no matching; cancels allowed
    CLOSED = 3


# Order flags (bit set) — kept in one int slot to save memory per resting order.
F_POST_ONLY = 1
F_HIDDEN = 2
F_ICEBERG = 4
F_REDUCE_ONLY = 8

TERMINAL_STATUSES = frozenset(
    {OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED, OrdStatus.DONE_FOR_DAY}
)
