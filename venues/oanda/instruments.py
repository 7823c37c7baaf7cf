"""Symbols and quantities between fixvenue and OANDA.

Our symbols are ``BASE/QUOTE`` ("EUR/USD"); OANDA instruments are
``BASE_QUOTE`` ("EUR_USD"). Configured aliases win over the rule, both ways.

OANDA has no side field: ``units`` is signed (positive buys, negative sells),
so a (side, quantity) pair becomes one signed decimal string and back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from venues.adapter import RejectCode, Side, VenueReject

_OUR = re.compile(r"^[A-Z0-9]{2,12}/[A-Z0-9]{2,12}$")
_THEIRS = re.compile(r"^[A-Z0-9]{2,12}_[A-Z0-9]{2,12}$")


class InstrumentMap:
    def __init__(self, aliases: Mapping[str, str] | None = None) -> None:
        self._to = dict(aliases or {})
        self._from = {v: k for k, v in self._to.items()}

    def to_oanda(self, symbol: str) -> str:
        if symbol in self._to:
            return self._to[symbol]
        if not _OUR.match(symbol):
            raise VenueReject(RejectCode.UNKNOWN_SYMBOL, f"not an OANDA-style symbol: {symbol!r}", venue="oanda")
        return symbol.replace("/", "_")

    def from_oanda(self, instrument: str) -> str:
        if instrument in self._from:
            return self._from[instrument]
        if _THEIRS.match(instrument):
            return instrument.replace("_", "/")
        return instrument


def fmt_decimal(value: Decimal) -> str:
    """A plain decimal string (no exponent, no trailing zeros): what v20 accepts."""
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {value}")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def to_units(side: Side, quantity: Decimal) -> str:
    if quantity <= 0:
        raise VenueReject(RejectCode.INVALID_QUANTITY, f"quantity must be positive, got {quantity}", venue="oanda")
    return fmt_decimal(quantity if side is Side.BUY else -quantity)


def from_units(units: str | int | Decimal) -> tuple[Side, Decimal]:
    try:
        value = Decimal(str(units))
    except InvalidOperation:
        raise ValueError(f"bad units {units!r}") from None
    return (Side.BUY if value >= 0 else Side.SELL), abs(value)


def to_decimal(raw: object) -> Decimal | None:
    if raw is None or raw == "":
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        return None
