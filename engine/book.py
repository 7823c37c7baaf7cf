"""The resting-order structure of one instrument side: price levels in a sorted
list of integer prices, each level a doubly linked FIFO of orders.

Why this shape: the benchmark mix is dominated by cancel/replace, so removing an
order must be O(1) (unlink from its level) and finding the best price must be
O(1) (end of a sorted list). New levels are inserted with `bisect.insort`,
a C-speed memmove that is cheap for the few thousand levels a book holds.
No matching logic lives here — see `matching.py`.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from engine.types import F_HIDDEN


class Level:
    __slots__ = ("price", "head", "tail", "qty", "count", "hidden")

    def __init__(self, price: int) -> None:
        self.price = price
        self.head = None
        self.tail = None
        self.qty = 0       # displayed quantity (lots)
        self.count = 0     # orders resting here, hidden included
        self.hidden = 0    # hidden orders resting here

    def orders(self):
        o = self.head
        while o is not None:
            yield o
            o = o.next


class BookSide:
    """One side of a book. `prices` is ascending; the best bid is prices[-1], the best ask prices[0]."""

    __slots__ = ("is_bid", "levels", "prices", "dirty")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, Level] = {}
        self.prices: list[int] = []
        self.dirty: set[int] = set()   # prices whose displayed level changed in this command

    def best(self) -> int:
        """Best price, or 0 when the side is empty."""
        prices = self.prices
        if not prices:
            return 0
        return prices[-1] if self.is_bid else prices[0]

    def add(self, o) -> None:
        """Append `o` to the back of its price level (creating the level)."""
        price = o.price
        lv = self.levels.get(price)
        if lv is None:
            lv = Level(price)
            self.levels[price] = lv
            insort(self.prices, price)
        tail = lv.tail
        o.prev = tail
        o.next = None
        if tail is None:
            lv.head = o
        else:
            tail.next = o
        lv.tail = o
        lv.count += 1
        if o.flags & F_HIDDEN:
            lv.hidden += 1
        else:
            lv.qty += o.visible
            self.dirty.add(price)
        o.level = lv

    def remove(self, o) -> None:
        """Unlink `o` from its level (dropping the level when it empties)."""
        lv = o.level
        prev = o.prev
        nxt = o.next
        if prev is None:
            lv.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            lv.tail = prev
        else:
            nxt.prev = prev
        o.prev = o.next = o.level = None
        lv.count -= 1
        if o.flags & F_HIDDEN:
            lv.hidden -= 1
        else:
            lv.qty -= o.visible
            self.dirty.add(lv.price)
        if lv.count == 0:
            price = lv.price
            del self.levels[price]
            prices = self.prices
            if self.is_bid:
                if prices[-1] == price:
                    prices.pop()
                else:
                    del prices[bisect_left(prices, price)]
            elif prices[0] == price:
                del prices[0]
            else:
                del prices[bisect_left(prices, price)]

    def iter_levels(self):
        """Levels best first."""
        levels = self.levels
        seq = reversed(self.prices) if self.is_bid else self.prices
        for p in seq:
            yield levels[p]

    def depth(self, n: int | None = None) -> list[tuple[int, int, int]]:
        """Displayed depth, best first: [(price, qty, orders)], hidden-only levels left out."""
        out = []
        for lv in self.iter_levels():
            if lv.qty:
                out.append((lv.price, lv.qty, lv.count - lv.hidden))
                if n is not None and len(out) >= n:
                    break
        return out

    def level_view(self, price: int) -> tuple[int, int]:
        lv = self.levels.get(price)
        if lv is None:
            return 0, 0
        return lv.qty, lv.count - lv.hidden

    def __len__(self) -> int:
        return sum(lv.count for lv in self.levels.values())
