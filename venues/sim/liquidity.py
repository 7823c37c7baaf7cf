"""Seeded market-maker liquidity for the simulators.

A `Ladder` describes the resting quotes a simulated venue shows around a mid
price: `levels` prices per side, `step` apart, the first `half_spread` away from
mid, `quantity` each. `reseed` replaces the market maker's orders in a `Book`
with a fresh ladder; the new quotes go in through the normal matching path, so a
price move that crosses resting client orders fills them, as on a real venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import count

from venues.sim.book import BUY, SELL, Book, Match

MM = "mm"
_ids = count(1)


@dataclass
class Ladder:
    mid: Decimal
    half_spread: Decimal
    step: Decimal
    levels: int = 5
    quantity: Decimal = Decimal(1_000_000)


def reseed(book: Book, ladder: Ladder) -> list[Match]:
    """Replace the market maker's quotes; return matches against crossed client orders."""
    book.remove_owner(MM)
    matches: list[Match] = []
    for i in range(ladder.levels):
        offset = ladder.half_spread + ladder.step * i
        for side, price in ((BUY, ladder.mid - offset), (SELL, ladder.mid + offset)):
            if price <= 0:
                continue
            result = book.add(f"mm-{next(_ids)}", MM, side, ladder.quantity, price, "GTC")
            matches.extend(result.matches)
    return matches
