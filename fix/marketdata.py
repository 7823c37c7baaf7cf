"""FIX market data: MarketDataRequest (V) -> snapshots (W), incremental refreshes (X), rejects (Y).

The engine renders book changes as `BookUpdate` events (the changed price levels with their
current displayed totals, conflated per delivered batch) and trades as `Trade` events. This
hub keeps, per subscription, the view of the book it last sent (price -> (size, orders) per
side, limited to the requested depth) and turns each delivered batch into one message per
subscription:

* incremental (265=1, the default): one X per batch with, for every changed symbol, the
  trades (279=0, 269=2) and then the level changes against the sent view — deletes first
  (279=2), then changes (279=1), then new levels (279=0), bids before offers, best price first;
  levels that move into a depth-N window appear as new, levels pushed out as deleted;
* full refresh (265=0): a new W for every changed symbol;
* snapshot only (263=0): one W per symbol.

Snapshots are taken when the gateway runs the deferred answer, i.e. after every command
processed before the request is durable and delivered, so a snapshot and the updates that
follow it never overlap or leave a gap. `(side, price, size, orders)` come from the engine
in ticks and lots; `Formats` renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from engine.events import BookUpdate, Trade

from .codec import Message
from .mapping import Dialect, Formats

BID, OFFER, TRADE = b"0", b"1", b"2"
SUPPORTED_ENTRY_TYPES = frozenset({BID, OFFER, TRADE})
MAX_SUBSCRIPTIONS_PER_SESSION = 256

# MDReqRejReason (281)
REJ_UNKNOWN_SYMBOL = b"0"
REJ_DUPLICATE_ID = b"1"
REJ_BANDWIDTH = b"2"
REJ_SUBSCRIPTION_TYPE = b"4"
REJ_DEPTH = b"5"
REJ_UPDATE_TYPE = b"6"
REJ_AGGREGATED_BOOK = b"7"
REJ_ENTRY_TYPE = b"8"


class MarketDataReject(Exception):
    """A MarketDataRequest the venue cannot serve: answered with 35=Y."""

    def __init__(self, req_id: bytes, code: bytes | None, text: str) -> None:
        super().__init__(text)
        self.req_id = req_id
        self.code = code
        self.text = text

    def message(self) -> Message:
        f = [(262, self.req_id or b"?")]
        if self.code is not None:
            f.append((281, self.code))
        f.append((58, self.text.encode()))
        return Message(b"Y", f)


@dataclass(eq=False, slots=True)
class Subscription:
    route: object
    req_id: bytes
    symbols: tuple[str, ...]
    bids: bool
    offers: bool
    trades: bool
    depth: int                        # 0 = full book
    incremental: bool
    dialect: Dialect
    active: bool = False
    views: dict = field(default_factory=dict)   # symbol -> (bids {px: (qty, n)}, offers {px: (qty, n)})


class MarketDataHub:
    def __init__(self, oms, formats: dict[str, Formats]) -> None:
        self.oms = oms
        self.formats = formats
        self.by_symbol: dict[str, list[Subscription]] = {}
        self.by_route: dict[object, dict[bytes, Subscription]] = {}
        self._books: dict[str, BookUpdate] = {}
        self._trades: dict[str, list[Trade]] = {}

    @property
    def active(self) -> bool:
        return bool(self.by_symbol)

    # ------------------------------------------------------------------ requests

    def request(self, route, msg: Message, d: Dialect) -> Subscription | None:
        """Validate a MarketDataRequest. Returns the (not yet active) subscription whose snapshot
        `snapshot()` renders, or None for an unsubscribe. Raises MarketDataReject."""
        req_id = msg.get(262) or b""
        kind = msg.get(263)
        subs = self.by_route.setdefault(route, {})
        if kind == b"2":
            sub = subs.pop(req_id, None)
            if sub is None:
                raise MarketDataReject(req_id, None, f"no subscription with MDReqID {req_id.decode(errors='replace')!r}")
            self._deactivate(sub)
            return None
        if kind not in (b"0", b"1"):
            raise MarketDataReject(req_id, REJ_SUBSCRIPTION_TYPE, "unsupported SubscriptionRequestType")
        if kind == b"1" and req_id in subs:
            raise MarketDataReject(req_id, REJ_DUPLICATE_ID, "MDReqID already used by an active subscription")
        if kind == b"1" and len(subs) >= MAX_SUBSCRIPTIONS_PER_SESSION:
            raise MarketDataReject(req_id, REJ_BANDWIDTH, f"at most {MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions per session")
        depth_raw = msg.get(264, b"0")
        if not depth_raw.isdigit():
            raise MarketDataReject(req_id, REJ_DEPTH, "MarketDepth (264) must be 0 (full book) or a positive number")
        depth = int(depth_raw)
        update = msg.get(265, b"1")
        if update not in (b"0", b"1"):
            raise MarketDataReject(req_id, REJ_UPDATE_TYPE, "unsupported MDUpdateType")
        if msg.get(266, b"Y") != b"Y":
            raise MarketDataReject(req_id, REJ_AGGREGATED_BOOK, "only aggregated (price level) books are served")
        types = [e.get(269) for e in msg.group(267, d.dd.group("V", 267))]
        if not types:
            raise MarketDataReject(req_id, REJ_ENTRY_TYPE, "NoMDEntryTypes (267) must name at least one entry type")
        bad = [t for t in types if t not in SUPPORTED_ENTRY_TYPES]
        if bad:
            raise MarketDataReject(req_id, REJ_ENTRY_TYPE,
                                   f"MDEntryType {bad[0].decode(errors='replace')} not supported (0 bid, 1 offer, 2 trade)")
        symbols = []
        for e in msg.group(146, d.dd.group("V", 146)):
            s = e.get(55)
            sym = s.decode(errors="replace") if s else ""
            if sym not in self.formats:
                raise MarketDataReject(req_id, REJ_UNKNOWN_SYMBOL, f"unknown symbol {sym!r}")
            if sym not in symbols:
                symbols.append(sym)
        if not symbols:
            raise MarketDataReject(req_id, REJ_UNKNOWN_SYMBOL, "NoRelatedSym (146) must name at least one symbol")
        sub = Subscription(route, req_id, tuple(symbols), BID in types, OFFER in types, TRADE in types, depth,
                           update == b"1", d)
        if kind == b"1":
            subs[req_id] = sub
        return sub

    def snapshot(self, sub: Subscription, subscribe: bool) -> list[Message]:
        """The W messages for `sub` (one per symbol); a subscription becomes live from here on."""
        out = []
        for sym in sub.symbols:
            view = self._current_view(sym, sub.depth)
            out.append(self._full(sub, sym, view))
            if subscribe:
                sub.views[sym] = view
        if subscribe and self.by_route.get(sub.route, {}).get(sub.req_id) is sub:
            sub.active = True
            for sym in sub.symbols:
                self.by_symbol.setdefault(sym, []).append(sub)
        return out

    def drop(self, route) -> None:
        """A session went away: its subscriptions end."""
        for sub in self.by_route.pop(route, {}).values():
            self._deactivate(sub)

    def _deactivate(self, sub: Subscription) -> None:
        if not sub.active:
            return
        sub.active = False
        for sym in sub.symbols:
            lst = self.by_symbol.get(sym)
            if lst and sub in lst:
                lst.remove(sub)
                if not lst:
                    del self.by_symbol[sym]

    # ------------------------------------------------------------------ events

    def on_book(self, ev: BookUpdate) -> None:
        if ev.symbol in self.by_symbol:
            self._books[ev.symbol] = ev

    def on_trade(self, ev: Trade) -> None:
        if ev.symbol in self.by_symbol:
            self._trades.setdefault(ev.symbol, []).append(ev)

    def flush(self) -> Iterable[tuple[object, Message]]:
        """Messages for this batch's changes: (route, message) pairs."""
        if not self._books and not self._trades:
            return ()
        books, self._books = self._books, {}
        trades, self._trades = self._trades, {}
        per_sub: dict[Subscription, list] = {}
        out: list[tuple[object, Message]] = []
        for sym in dict.fromkeys([*books, *trades]):
            book = books.get(sym)
            sym_trades = trades.get(sym, ())
            for sub in self.by_symbol.get(sym, ()):
                if not sub.incremental:
                    changed = (book is not None and (sub.bids or sub.offers)) or (sym_trades and sub.trades)
                    if changed:
                        view = self._current_view(sym, sub.depth)
                        sub.views[sym] = view
                        out.append((sub.route, self._full(sub, sym, view)))
                    continue
                entries = per_sub.get(sub)
                if entries is None:
                    entries = per_sub[sub] = []
                self._incremental(sub, sym, book, sym_trades, entries)
        for sub, entries in per_sub.items():
            if entries:
                f = [(262, sub.req_id), (268, b"%d" % _count(entries))]
                f += entries
                out.append((sub.route, Message(b"X", f)))
        return out

    # ------------------------------------------------------------------ rendering

    def _current_view(self, sym: str, depth: int) -> tuple[dict, dict]:
        bids, asks = self.oms.depth(sym, depth or None)
        return ({p: (q, n) for p, q, n in bids}, {p: (q, n) for p, q, n in asks})

    def _full(self, sub: Subscription, sym: str, view: tuple[dict, dict]) -> Message:
        fmt = self.formats[sym]
        entries: list = []
        n = 0
        if sub.bids:
            for p in sorted(view[0], reverse=True):
                q, c = view[0][p]
                entries += [(269, BID), (270, fmt.px(p)), (271, fmt.qty(q)), (346, b"%d" % c)]
                n += 1
        if sub.offers:
            for p in sorted(view[1]):
                q, c = view[1][p]
                entries += [(269, OFFER), (270, fmt.px(p)), (271, fmt.qty(q)), (346, b"%d" % c)]
                n += 1
        if sub.trades:
            last = self.oms.recent_trades(sym, 1)
            if last:
                t = last[0]
                entries += [(269, TRADE), (270, fmt.px(t.price)), (271, fmt.qty(t.qty))]
                n += 1
        f = [(262, sub.req_id), (55, sym.encode()), (268, b"%d" % n)]
        f += entries
        return Message(b"W", f)

    def _incremental(self, sub: Subscription, sym: str, book: BookUpdate | None, trades, entries: list) -> None:
        fmt = self.formats[sym]
        symb = sym.encode()
        if sub.trades:
            for t in trades:
                entries += [(279, b"0"), (269, TRADE), (55, symb), (270, fmt.px(t.price)), (271, fmt.qty(t.qty))]
        if book is None or not (sub.bids or sub.offers):
            return
        view = sub.views.get(sym)
        if view is None:
            view = sub.views[sym] = ({}, {})
        if sub.depth:
            new = self._current_view(sym, sub.depth)
            diffs = (_diff(view[0], new[0]), _diff(view[1], new[1]))
            sub.views[sym] = new
        else:
            diffs = (_apply(view[0], [lv for lv in book.levels if lv[0] == 1]),
                     _apply(view[1], [lv for lv in book.levels if lv[0] == 2]))
        sides = []
        if sub.bids:
            sides.append((BID, diffs[0], True))
        if sub.offers:
            sides.append((OFFER, diffs[1], False))
        for action, idx in ((b"2", 0), (b"1", 1), (b"0", 2)):
            for etype, diff, best_high in sides:
                for p, q, c in sorted(diff[idx], reverse=best_high):
                    if action == b"2":
                        entries += [(279, action), (269, etype), (55, symb), (270, fmt.px(p))]
                    else:
                        entries += [(279, action), (269, etype), (55, symb), (270, fmt.px(p)), (271, fmt.qty(q)),
                                    (346, b"%d" % c)]


def _count(entries: list) -> int:
    return sum(1 for tag, _ in entries if tag == 279)


def _diff(old: dict, new: dict) -> tuple[list, list, list]:
    """(deletes, changes, news) between two views of one side: lists of (price, qty, orders)."""
    deletes = [(p, 0, 0) for p in old if p not in new]
    changes = []
    news = []
    for p, qc in new.items():
        prev = old.get(p)
        if prev is None:
            news.append((p, qc[0], qc[1]))
        elif prev != qc:
            changes.append((p, qc[0], qc[1]))
    return deletes, changes, news


def _apply(view: dict, levels: list) -> tuple[list, list, list]:
    """Apply BookUpdate levels (current totals) to a full-depth view; return the diff."""
    deletes, changes, news = [], [], []
    for _side, p, q, c in levels:
        prev = view.get(p)
        if not q:
            if prev is not None:
                del view[p]
                deletes.append((p, 0, 0))
        elif prev is None:
            view[p] = (q, c)
            news.append((p, q, c))
        elif prev != (q, c):
            view[p] = (q, c)
            changes.append((p, q, c))
    return deletes, changes, news
