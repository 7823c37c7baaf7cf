"""A small price-time priority order book for the venue simulators.

Both simulators keep one `Book` per instrument. Seeded market-maker liquidity and
(on the Binance simulator) resting client orders live in it; aggressive orders
walk it. It is deliberately plain - `Decimal` prices, a sorted price list and a
FIFO queue per level - because it only has to be correct, not fast: the real
matching engine lives in `engine/`.

Sides are the strings "buy" / "sell" so the simulators stay independent of the
adapter layer they are used to test.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

BUY = "buy"
SELL = "sell"
_ZERO = Decimal(0)


@dataclass(slots=True)
class RestingOrder:
    order_id: str
    owner: str
    side: str
    price: Decimal
    remaining: Decimal
    seq: int


@dataclass(frozen=True, slots=True)
class Match:
    maker_id: str
    maker_owner: str
    taker_id: str
    taker_owner: str
    price: Decimal
    quantity: Decimal


@dataclass(slots=True)
class AddResult:
    matches: list[Match] = field(default_factory=list)
    remaining: Decimal = _ZERO  # not matched
    rested: bool = False  # the remainder now rests in the book
    killed: bool = False  # FOK could not be filled in full; nothing happened
    would_cross: bool = False  # post-only order refused because it would take

    @property
    def filled(self) -> Decimal:
        return sum((m.quantity for m in self.matches), _ZERO)

    @property
    def notional(self) -> Decimal:
        return sum((m.quantity * m.price for m in self.matches), _ZERO)


class Book:
    """One instrument's book: bids and asks as price levels with FIFO queues."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._levels: dict[str, dict[Decimal, deque[RestingOrder]]] = {BUY: {}, SELL: {}}
        self._prices: dict[str, list[Decimal]] = {BUY: [], SELL: []}  # ascending
        self._orders: dict[str, RestingOrder] = {}
        self._seq = 0

    # ------------------------------------------------------------------ queries
    def best_bid(self) -> Decimal | None:
        p = self._prices[BUY]
        return p[-1] if p else None

    def best_ask(self) -> Decimal | None:
        p = self._prices[SELL]
        return p[0] if p else None

    def get(self, order_id: str) -> RestingOrder | None:
        return self._orders.get(order_id)

    def depth(self, levels: int = 10) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids, asks) as (price, total quantity), best first."""
        bids = [
            (p, sum((o.remaining for o in self._levels[BUY][p]), _ZERO))
            for p in reversed(self._prices[BUY][-levels:] if levels else [])
        ]
        asks = [(p, sum((o.remaining for o in self._levels[SELL][p]), _ZERO)) for p in self._prices[SELL][:levels]]
        return bids, asks

    def available(self, side: str, limit: Decimal | None = None) -> Decimal:
        """Quantity a taker on `side` could get at `limit` or better."""
        total = _ZERO
        for price in self._contra_prices(side):
            if limit is not None and not _acceptable(side, price, limit):
                break
            total += sum((o.remaining for o in self._levels[_other(side)][price]), _ZERO)
        return total

    def orders_of(self, owner: str) -> list[RestingOrder]:
        return [o for o in self._orders.values() if o.owner == owner]

    # ------------------------------------------------------------------ commands
    def add(
        self,
        order_id: str,
        owner: str,
        side: str,
        quantity: Decimal,
        price: Decimal | None = None,
        tif: str = "GTC",
        post_only: bool = False,
    ) -> AddResult:
        """Match `quantity` against the book, then rest what is left if it may.

        price None is a market order (never rests). tif: GTC rests the remainder,
        IOC drops it, FOK matches all or nothing.
        """
        if side not in (BUY, SELL):
            raise ValueError(f"bad side {side!r}")
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        if order_id in self._orders:
            raise ValueError(f"duplicate order id {order_id}")
        result = AddResult(remaining=quantity)
        best = self.best_ask() if side == BUY else self.best_bid()
        if post_only and price is not None and best is not None and _acceptable(side, best, price):
            result.would_cross = True
            return result
        if tif == "FOK" and self.available(side, price) < quantity:
            result.killed = True
            return result
        remaining = quantity
        contra = _other(side)
        while remaining > 0:
            prices = self._prices[contra]
            if not prices:
                break
            level_price = prices[0] if side == BUY else prices[-1]
            if price is not None and not _acceptable(side, level_price, price):
                break
            queue = self._levels[contra][level_price]
            while remaining > 0 and queue:
                maker = queue[0]
                qty = min(remaining, maker.remaining)
                maker.remaining -= qty
                remaining -= qty
                result.matches.append(Match(maker.order_id, maker.owner, order_id, owner, level_price, qty))
                if maker.remaining <= 0:
                    queue.popleft()
                    del self._orders[maker.order_id]
            if not queue:
                self._drop_level(contra, level_price)
        result.remaining = remaining
        if remaining > 0 and price is not None and tif == "GTC":
            self._rest(RestingOrder(order_id, owner, side, price, remaining, self._next_seq()))
            result.rested = True
        return result

    def cancel(self, order_id: str) -> RestingOrder | None:
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        queue = self._levels[order.side][order.price]
        queue.remove(order)
        if not queue:
            self._drop_level(order.side, order.price)
        return order

    def reduce(self, order_id: str, new_remaining: Decimal) -> bool:
        """Shrink a resting order in place (keeps its time priority)."""
        order = self._orders.get(order_id)
        if order is None or new_remaining <= 0 or new_remaining > order.remaining:
            return False
        order.remaining = new_remaining
        return True

    def remove_owner(self, owner: str) -> list[RestingOrder]:
        gone = [o for o in self._orders.values() if o.owner == owner]
        for o in gone:
            self.cancel(o.order_id)
        return gone

    # ------------------------------------------------------------------ internals
    def _contra_prices(self, side: str) -> list[Decimal]:
        prices = self._prices[_other(side)]
        return list(prices) if side == BUY else list(reversed(prices))

    def _rest(self, order: RestingOrder) -> None:
        levels = self._levels[order.side]
        queue = levels.get(order.price)
        if queue is None:
            queue = levels[order.price] = deque()
            bisect.insort(self._prices[order.side], order.price)
        queue.append(order)
        self._orders[order.order_id] = order

    def _drop_level(self, side: str, price: Decimal) -> None:
        del self._levels[side][price]
        prices = self._prices[side]
        prices.pop(bisect.bisect_left(prices, price))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq


def _other(side: str) -> str:
    return SELL if side == BUY else BUY


def _acceptable(side: str, level_price: Decimal, limit: Decimal) -> bool:
    return level_price <= limit if side == BUY else level_price >= limit
