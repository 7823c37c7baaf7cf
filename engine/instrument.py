"""Instruments: the static description of what trades, and the one place where
decimal prices and quantities become the scaled integers the books use.

Inside the books a price is an integer number of ticks and a quantity an
integer number of lots. `Instrument.price_to_ticks` / `qty_to_lots` are used by
every gateway (FIX, REST, router), so rounding and validation rules live once.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from engine.reject import Reason, RejectError

MAX_UNITS = 2**63 - 1   # ticks / lots beyond this are refused (journals, DB columns, feeds carry int64)
NS_PER_SEC = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SEC
FEE_SCALE = 100_000_000  # fees are carried as integers in 1e-8 of the quote currency
PPM = 1_000_000          # fee rates are integers in millionths (1 bps = 100 ppm)


@dataclass(frozen=True, slots=True)
class TradingSession:
    """Daily trading hours in UTC. `close_s` may be 86400 (midnight) for 24h markets.

    DAY orders expire at the end of the session they were entered in; outside
    the session the instrument is closed (the venue's scheduler moves the
    trading state, the engine itself never reads a clock).
    """

    open_s: int = 0
    close_s: int = 86_400
    weekdays: frozenset[int] = frozenset(range(7))  # Monday=0 .. Sunday=6

    def session_end_after(self, ts_ns: int) -> int:
        """The first session close strictly after `ts_ns` (ns since the epoch)."""
        day_start = ts_ns - ts_ns % NS_PER_DAY
        for i in range(8):
            start = day_start + i * NS_PER_DAY
            weekday = (_dt.datetime.fromtimestamp(start // NS_PER_SEC, _dt.timezone.utc)).weekday()
            if weekday not in self.weekdays:
                continue
            close = start + self.close_s * NS_PER_SEC
            if close > ts_ns:
                return close
        return ts_ns + NS_PER_DAY

    def is_open(self, ts_ns: int) -> bool:
        day_start = ts_ns - ts_ns % NS_PER_DAY
        weekday = _dt.datetime.fromtimestamp(day_start // NS_PER_SEC, _dt.timezone.utc).weekday()
        if weekday not in self.weekdays:
            return False
        sec = (ts_ns - day_start) // NS_PER_SEC
        return self.open_s <= sec < self.close_s


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    asset_class: str = "crypto"
    price_precision: int = 2
    session: TradingSession = field(default_factory=TradingSession)
    # market orders never trade further than this from the best price at arrival (basis points)
    market_protection_bps: int = 500
    description: str = ""
    # derived (filled in __post_init__)
    min_lots: int = 0
    max_lots: int = 0
    _fee_num: int = 0
    _fee_den: int = 1

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.lot_size <= 0:
            raise ValueError("tick_size and lot_size must be positive")
        min_lots = self.min_qty / self.lot_size
        max_lots = self.max_qty / self.lot_size
        if min_lots != min_lots.to_integral_value() or max_lots != max_lots.to_integral_value():
            raise ValueError("min_qty and max_qty must be whole multiples of lot_size")
        if min_lots < 1 or max_lots < min_lots:
            raise ValueError("need lot_size <= min_qty <= max_qty")
        object.__setattr__(self, "min_lots", int(min_lots))
        object.__setattr__(self, "max_lots", int(max_lots))
        # fee_e8 = ticks * lots * rate_ppm * tick_size * lot_size * 1e8 / 1e6
        f = Fraction(self.tick_size) * Fraction(self.lot_size) * FEE_SCALE / PPM
        object.__setattr__(self, "_fee_num", f.numerator)
        object.__setattr__(self, "_fee_den", f.denominator)

    # --- decimal <-> scaled integers (the only place this happens) ---------

    def price_to_ticks(self, price) -> int:
        p = _to_decimal(price, Reason.INVALID_PRICE, "price")
        if p <= 0:
            raise RejectError(Reason.INVALID_PRICE, f"price {p} must be positive", {"price": str(p)})
        t = _exact_units(p, self.tick_size)
        if t is None:
            raise RejectError(
                Reason.INVALID_PRICE,
                f"price {p} is not a multiple of the tick size {self.tick_size} for {self.symbol}",
                {"price": str(p), "tick_size": str(self.tick_size)},
            )
        return t

    def offset_to_ticks(self, offset) -> int:
        """A positive price distance (e.g. a trailing amount) in ticks."""
        p = _to_decimal(offset, Reason.INVALID_PRICE, "offset")
        t = _exact_units(p, self.tick_size) if p > 0 else None
        if not t:
            raise RejectError(
                Reason.INVALID_PRICE,
                f"offset {p} must be a positive multiple of the tick size {self.tick_size}",
                {"offset": str(p), "tick_size": str(self.tick_size)},
            )
        return t

    def qty_to_lots(self, qty, *, check_bounds: bool = True) -> int:
        q = _to_decimal(qty, Reason.INVALID_QUANTITY, "quantity")
        if check_bounds and q > 0 and not (self.min_qty <= q <= self.max_qty):
            raise RejectError(
                Reason.INVALID_QUANTITY,
                f"quantity {q} is outside [{self.min_qty}, {self.max_qty}] for {self.symbol}",
                {"quantity": str(q), "min_qty": str(self.min_qty), "max_qty": str(self.max_qty)},
            )
        n = _exact_units(q, self.lot_size) if q > 0 else None
        if not n:
            raise RejectError(
                Reason.INVALID_QUANTITY,
                f"quantity {q} is not a positive multiple of the lot size {self.lot_size} for {self.symbol}",
                {"quantity": str(q), "lot_size": str(self.lot_size)},
            )
        return n

    def ticks_to_price(self, ticks: int) -> Decimal:
        return _plain(self.tick_size * ticks) if ticks else Decimal(0)

    def lots_to_qty(self, lots: int) -> Decimal:
        return _plain(self.lot_size * lots) if lots else Decimal(0)

    def avg_price(self, cum_notional: int, cum_lots: int) -> Decimal:
        """Average price from the integer notional (sum of ticks*lots) and filled lots."""
        if not cum_lots:
            return Decimal(0)
        return _plain((self.tick_size * cum_notional / cum_lots).quantize(Decimal(1).scaleb(-(self.price_precision + 4))))

    def notional(self, ticks: int, lots: int) -> Decimal:
        return self.tick_size * self.lot_size * ticks * lots

    def fee_e8(self, ticks: int, lots: int, rate_ppm: int) -> int:
        """Fee in 1e-8 units of the quote currency, rounded toward zero. Negative = rebate."""
        n = ticks * lots * rate_ppm * self._fee_num
        if n >= 0:
            return n // self._fee_den
        return -((-n) // self._fee_den)


def _exact_units(value: Decimal, step: Decimal) -> int | None:
    """value / step as an int if it is exactly whole (and within int64), else None.

    Exact (Fraction) arithmetic: Decimal division in the default 28-digit context would
    round an off-tick price with many digits onto the grid. Magnitudes are bounded
    before any big-integer work, so absurd exponents cost nothing."""
    if value.adjusted() > 30 or value.adjusted() < -30:
        return None
    q = Fraction(value) / Fraction(step)
    if q.denominator != 1 or q.numerator > MAX_UNITS:
        return None
    return q.numerator


def _plain(d: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (100, not 1E+2), so str() is wire-ready."""
    d = d.normalize()
    if d.as_tuple().exponent > 0:
        d = d.quantize(Decimal(1))
    return d


def fee_to_decimal(fee_e8: int) -> Decimal:
    return _plain(Decimal(fee_e8) / FEE_SCALE) if fee_e8 else Decimal(0)


def _to_decimal(value, reason: Reason, what: str) -> Decimal:
    if isinstance(value, Decimal):
        d = value
    else:
        try:
            d = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise RejectError(reason, f"{what} {value!r} is not a number", {what: str(value)}) from None
    if not d.is_finite():
        raise RejectError(reason, f"{what} {value!r} is not a finite number", {what: str(value)})
    return d
