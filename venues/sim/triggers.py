"""Price triggers for conditional orders in the simulators.

A trigger watches the top of the book and says when a pending order becomes
live. Buy-side triggers watch the ask (what a buyer would pay), sell-side ones
the bid, which is how OANDA evaluates pending orders; the Binance simulator uses
the same rule instead of last-trade price (documented simplification).

* ``touch`` - fires when the price reaches the level favourably:
  buy when ask <= level, sell when bid >= level (limit, market-if-touched, take-profit).
* ``stop``  - fires when the price moves through the level adversely:
  buy when ask >= level, sell when bid <= level (stop, stop-loss).
* ``trail`` - a stop whose level follows the market at `distance`:
  sell (protecting a long) level = max(level, bid - distance); buy level = min(level, ask + distance).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

TOUCH = "touch"
STOP = "stop"
TRAIL = "trail"


@dataclass
class Trigger:
    kind: str
    side: str  # "buy" | "sell"
    level: Decimal | None
    distance: Decimal | None = None

    def observe(self, bid: Decimal | None, ask: Decimal | None) -> None:
        """Move a trailing level with the market (never against the position)."""
        if self.kind != TRAIL or self.distance is None:
            return
        if self.side == "sell" and bid is not None:
            candidate = bid - self.distance
            if self.level is None or candidate > self.level:
                self.level = candidate
        elif self.side == "buy" and ask is not None:
            candidate = ask + self.distance
            if self.level is None or candidate < self.level:
                self.level = candidate

    def fired(self, bid: Decimal | None, ask: Decimal | None) -> bool:
        price = ask if self.side == "buy" else bid
        if price is None or self.level is None:
            return False
        if self.kind == TOUCH:
            return price <= self.level if self.side == "buy" else price >= self.level
        # STOP and TRAIL
        return price >= self.level if self.side == "buy" else price <= self.level
