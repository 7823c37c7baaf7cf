"""Money in the risk layer: integers in 1e-8 units (e8), like the engine's fees.

Inside the books a notional is ticks x lots. To add notionals of different
instruments (account exposure, equity, margin) the risk layer converts them to
e8 units of the margin currency with one exact rational factor per instrument:

    value_e8 = ticks * lots * num // den,   num/den = tick_size * lot_size * 1e8 * rate

computed once from Decimals with `Fraction`, so the hot path multiplies ints.
`Decimal` appears only here and in the query views.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

E8 = 100_000_000
BIG = 1 << 62          # "no limit": larger than any reachable scaled value
PPM = 1_000_000


def factor(tick_size: Decimal, lot_size: Decimal, rate: Decimal = Decimal(1)) -> tuple[int, int]:
    """(num, den) so that ticks * lots * num // den is the value in e8 units."""
    f = Fraction(tick_size) * Fraction(lot_size) * Fraction(rate) * E8
    return f.numerator, f.denominator


def to_e8(amount: Decimal) -> int:
    return int((Fraction(amount) * E8).__floor__())


def plain(d: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (25000, not 2.5E+4), so str() is wire-ready."""
    d = d.normalize()
    if d.as_tuple().exponent > 0:
        d = d.quantize(Decimal(1))
    return d


def from_e8(v: int) -> Decimal:
    if not v:
        return Decimal(0)
    return plain(Decimal(v) / E8)


def pct_to_ppm(pct: Decimal) -> int:
    return int(Fraction(pct) * 10_000)


def qty_to_lots_floor(qty: Decimal, lot_size: Decimal) -> int:
    """A limit in instrument units as whole lots (rounded down: a limit is never loosened)."""
    return int((Fraction(qty) / Fraction(lot_size)).__floor__())


def money_to_ticklots_floor(amount: Decimal, num: int, den: int) -> int:
    """A money limit (margin currency) as ticks x lots of one instrument, rounded down."""
    return int((Fraction(amount) * E8 * den / num).__floor__())
