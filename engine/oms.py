"""The order management system: the single entry point of the core.

`OMS.process(command)` validates a command, applies it to the right matching
engine and returns the events it caused, each stamped with a venue-wide
sequence number. The OMS owns order identity (order ids, client order ids unique
per account), the open-order indexes behind queries and mass cancels, expiry of
DAY/GTD orders, and the two extension points the rest of the venue plugs into:

- `pre_trade`: checks run on every new order and replace before it reaches a
  book (filled by `risk/` in the app; the engine does not import it);
- `listeners`: called synchronously with each command's events (positions,
  market data), so state derived from events is rebuilt by a journal replay.

Everything is deterministic: no clock, no I/O, no randomness.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

from engine.commands import (
    CancelOrder,
    Command,
    MassCancel,
    NewOrder,
    RejectCancel,
    RejectNew,
    ReplaceOrder,
    SetTradingState,
    Tick,
)
from engine.events import BookUpdate, CancelReject, Event, ExecReport, MassCancelDone, TradingStateChanged
from engine.instrument import Instrument
from engine.matching import MatchingEngine
from engine.order import Order, OrderExt
from engine.reject import Reason, RejectError
from engine.types import (
    BUY,
    F_HIDDEN,
    F_ICEBERG,
    F_POST_ONLY,
    F_REDUCE_ONLY,
    SELL,
    ExecType,
    OrdStatus,
    OrdType,
    StpMode,
    TimeInForce,
    TradingState,
)

_TRIGGER_TYPES = {int(OrdType.STOP), int(OrdType.STOP_LIMIT), int(OrdType.MARKET_IF_TOUCHED), int(OrdType.TRAILING_STOP)}
_PRICED_TYPES = {int(OrdType.LIMIT), int(OrdType.STOP_LIMIT)}
_OPEN = int(TradingState.OPEN)
_LIMIT = int(OrdType.LIMIT)
_STATES = {int(t) for t in TradingState}
_OPEN_STATUSES = {int(OrdStatus.NEW), int(OrdStatus.PARTIALLY_FILLED), int(OrdStatus.PENDING_NEW),
                  int(OrdStatus.PENDING_CANCEL), int(OrdStatus.PENDING_REPLACE)}


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """What the core needs to know about an account: fees and self-trade mode."""

    account_id: str
    maker_fee_ppm: int = 0     # fee rate in millionths of notional (100 = 1 bps); negative = rebate
    taker_fee_ppm: int = 0
    stp_mode: int = int(StpMode.CANCEL_NEWEST)


class PreTradeCheck(Protocol):
    """A pre-trade control. Return a RejectError to refuse, or None to let the order through."""

    def check_new(self, cmd: NewOrder, oms: "OMS") -> RejectError | None: ...

    def check_replace(self, cmd: ReplaceOrder, order: Order, oms: "OMS") -> RejectError | None: ...


class OrderRouter(Protocol):
    """Takes over orders that should not (only) rest on the internal book.

    The OMS asks `claims()` for every accepted new order; a claimed order is kept
    by the OMS (identity, queries, open index) but its executions come from the
    router, which places child orders at external venues (or on the internal
    book) outside the core and feeds the outcomes back as commands of its own
    (registered with `register_handler`). Cancels, replaces and mass cancels of
    a claimed order are handed to the router, which answers with events (e.g.
    PENDING_CANCEL now, CANCELED when the venues confirm)."""

    def claims(self, cmd: NewOrder, order: Order, oms: "OMS") -> bool: ...

    def accept(self, order: Order, cmd: NewOrder, out: list) -> None: ...

    def cancel(self, order: Order, cmd: Command, out: list) -> None: ...

    def replace(self, order: Order, cmd: ReplaceOrder, out: list) -> None: ...


class OMS:
    def __init__(
        self,
        instruments: Iterable[Instrument],
        accounts: Iterable[AccountSpec],
        *,
        trade_history: int = 10_000,
    ) -> None:
        self.instruments: dict[str, Instrument] = {i.symbol: i for i in instruments}
        self.books: dict[str, MatchingEngine] = {s: MatchingEngine(i, self) for s, i in self.instruments.items()}
        self.accounts: dict[str, AccountSpec] = {a.account_id: a for a in accounts}
        self._maker = {a.account_id: a.maker_fee_ppm for a in self.accounts.values()}
        self._taker = {a.account_id: a.taker_fee_ppm for a in self.accounts.values()}
        self._stp = {a.account_id: a.stp_mode for a in self.accounts.values()}
        self.orders: dict[int, Order] = {}
        self.by_clid: dict[str, dict[str, Order]] = {a: {} for a in self.accounts}
        self.open_by_account: dict[str, dict[int, Order]] = {a: {} for a in self.accounts}
        self.seq = 0
        self.trade_seq = 0
        self.last_order_id = 0
        self.pre_trade: list[PreTradeCheck] = []
        self.router: OrderRouter | None = None
        self.routed: dict[int, Order] = {}            # open orders claimed by the router
        self.listeners: list[Callable[[list[Event]], None]] = []
        self.trades: dict[str, deque] = {s: deque(maxlen=trade_history) for s in self.instruments}
        self._expiry: list[tuple[int, int]] = []     # heap of (expire_ts, order_id)
        self.now = 0                                  # ts of the last command
        self._deferred: list[Command] = []
        self._handlers = {
            NewOrder: self._new,
            CancelOrder: self._cancel,
            ReplaceOrder: self._replace,
            MassCancel: self._mass_cancel,
            SetTradingState: self._set_state,
            Tick: self._tick,
            RejectNew: self._reject_new,
            RejectCancel: self._reject_cancel,
        }

    # ------------------------------------------------------------------ hooks for matching

    def maker_fee(self, account: str) -> int:
        return self._maker.get(account, 0)

    def taker_fee(self, account: str) -> int:
        return self._taker.get(account, 0)

    def stp_mode(self, account: str) -> int:
        return self._stp.get(account, 1)

    def order_done(self, o: Order) -> None:
        """An order reached a terminal state: drop it from the open index."""
        d = self.open_by_account.get(o.account)
        if d is not None:
            d.pop(o.order_id, None)
        if self.routed:
            self.routed.pop(o.order_id, None)

    # ------------------------------------------------------------------ processing

    def process(self, cmd: Command) -> list[Event]:
        out: list[Event] = []
        ts = cmd.ts
        if ts > self.now:
            self.now = ts
        if self._expiry and self._expiry[0][0] <= ts:
            self._expire(ts, out)
        self._handlers[type(cmd)](cmd, out)
        seq = self.seq
        for ev in out:
            seq += 1
            ev.seq = seq
        self.seq = seq
        for fn in self.listeners:
            fn(out)
        if self._deferred:
            out = self._run_deferred(out)
        return out

    def _run_deferred(self, out: list[Event]) -> list[Event]:
        """Commands that listeners derived from this command's events (e.g. a circuit
        breaker halting an instrument) run right after it, inside the same `process`
        call, so a journal replay re-derives them instead of recording them."""
        guard = 0
        while self._deferred:
            guard += 1
            if guard > 10_000:
                raise RuntimeError("deferred commands do not converge")
            cmd = self._deferred.pop(0)
            more: list[Event] = []
            self._handlers[type(cmd)](cmd, more)
            seq = self.seq
            for ev in more:
                seq += 1
                ev.seq = seq
            self.seq = seq
            for fn in self.listeners:
                fn(more)
            out.extend(more)
        return out

    def defer(self, cmd: Command) -> None:
        """Run `cmd` after the current command (from a listener or handler)."""
        self._deferred.append(cmd)

    def register_handler(self, cmd_type: type[Command], handler: Callable[[Command, list], None]) -> None:
        """Let another layer handle its own command type (see commands.register_command_type).
        The handler appends its events to the list it is given."""
        self._handlers[cmd_type] = handler

    def collect_book_updates(self) -> list[BookUpdate]:
        """Market data: one BookUpdate per book whose displayed levels changed since the
        last call, with the levels' current totals (conflated).

        Book changes are tracked as they happen (a set of dirty prices per side) but
        rendered only when the sequencer delivers a batch, so market data costs the
        matching path almost nothing. BookUpdate.seq is a per-instrument market-data
        sequence number (gap detection for subscribers); it is not part of the
        venue-wide event sequence, which depends only on the commands."""
        out: list[BookUpdate] = []
        ts = self.now
        for book in self.books.values():
            if book.bids.dirty or book.asks.dirty:
                book.book_update(ts, out)
        return out

    # ------------------------------------------------------------------ new order

    def _reject(self, cmd, out, reason: Reason, text: str) -> None:
        """Refuse a new order: it still gets an id and a REJECTED execution report."""
        self.last_order_id += 1
        o = Order(self.last_order_id, cmd.cl_ord_id, cmd.account, cmd.symbol, cmd.side, cmd.ord_type,
                  getattr(cmd, "tif", 1), cmd.price, cmd.qty, 0, cmd.ts, cmd.origin, None)
        o.leaves = 0
        o.status = int(OrdStatus.REJECTED)
        out.append(ExecReport(cmd.ts, int(ExecType.REJECTED), o, reason=reason.value, text=text))
        # keep it queryable, but a rejected client order id does not block reuse
        self.orders[o.order_id] = o

    def _reject_new(self, cmd: RejectNew, out: list) -> None:
        self._reject(cmd, out, Reason(cmd.reason), cmd.text)

    def _reject_cancel(self, cmd: RejectCancel, out: list) -> None:
        o = self.find(cmd.account, cmd.order_id, cmd.orig_cl_ord_id)
        self._cancel_reject(cmd, out, o, Reason(cmd.reason), cmd.text, cmd.is_replace)

    def _new(self, cmd: NewOrder, out: list) -> None:
        err = self.validate_new(cmd)
        if err is None:
            for check in self.pre_trade:
                err = check.check_new(cmd, self)
                if err is not None:
                    break
        if err is not None:
            self._reject(cmd, out, err.reason, err.text)
            return
        book = self.books[cmd.symbol]
        ot = cmd.ord_type
        flags = 0
        if cmd.post_only:
            flags |= F_POST_ONLY
        if cmd.hidden:
            flags |= F_HIDDEN
        if cmd.display_qty:
            flags |= F_ICEBERG
        if cmd.reduce_only:
            flags |= F_REDUCE_ONLY
        expire_ts = 0
        tif = cmd.tif
        if tif == TimeInForce.GTD:
            expire_ts = cmd.expire_ts
        elif tif == TimeInForce.DAY:
            expire_ts = self.instruments[cmd.symbol].session.session_end_after(cmd.ts)
        ext = None
        if (ot in _TRIGGER_TYPES or flags & F_ICEBERG or cmd.min_qty or expire_ts or cmd.stp is not None):
            ext = OrderExt(cmd.stop_px, cmd.trail_ticks, cmd.trail_ppm, cmd.display_qty, cmd.min_qty,
                           expire_ts, cmd.stp)
        self.last_order_id += 1
        oid = self.last_order_id
        o = Order(oid, cmd.cl_ord_id, cmd.account, cmd.symbol, cmd.side, ot, tif,
                  cmd.price if ot in _PRICED_TYPES else 0, cmd.qty, flags, cmd.ts, cmd.origin, ext)
        self.orders[oid] = o
        self.by_clid[cmd.account][cmd.cl_ord_id] = o
        self.open_by_account[cmd.account][oid] = o
        if expire_ts:
            heapq.heappush(self._expiry, (expire_ts, oid))
        router = self.router
        if router is not None and router.claims(cmd, o, self):
            self.routed[oid] = o
            router.accept(o, cmd, out)
            return
        book.accept(o, cmd.ts, out)
        book.after_command(cmd.ts, out)

    def validate_new(self, cmd: NewOrder) -> RejectError | None:
        """The engine's own rules for a new order (shape, instrument, identity, state)."""
        clids = self.by_clid.get(cmd.account)
        if clids is None:
            return RejectError(Reason.UNKNOWN_ACCOUNT, f"unknown account {cmd.account!r}")
        if not cmd.cl_ord_id:
            return RejectError(Reason.INVALID_ORDER, "client order id is required")
        if cmd.cl_ord_id in clids:
            return RejectError(Reason.DUPLICATE_ORDER, f"client order id {cmd.cl_ord_id!r} already used")
        inst = self.instruments.get(cmd.symbol)
        if inst is None:
            return RejectError(Reason.UNKNOWN_SYMBOL, f"unknown symbol {cmd.symbol!r}")
        book = self.books[cmd.symbol]
        if book.state != _OPEN:
            if book.state == TradingState.HALTED:
                return RejectError(Reason.MARKET_HALTED, f"{cmd.symbol} is halted")
            return RejectError(Reason.MARKET_CLOSED, f"{cmd.symbol} is closed")
        if cmd.side not in (BUY, SELL):
            return RejectError(Reason.INVALID_ORDER, f"invalid side {cmd.side!r}")
        if not (inst.min_lots <= cmd.qty <= inst.max_lots):
            return RejectError(Reason.INVALID_QUANTITY, f"quantity outside [{inst.min_qty}, {inst.max_qty}]")
        ot = cmd.ord_type
        tif = cmd.tif
        try:
            OrdType(ot)
            TimeInForce(tif)
        except ValueError:
            return RejectError(Reason.INVALID_ORDER, "unsupported order type or time in force")
        if ot in _PRICED_TYPES:
            if cmd.price <= 0:
                return RejectError(Reason.INVALID_PRICE, "a limit price is required")
        elif cmd.price:
            return RejectError(Reason.INVALID_ORDER, "price is not allowed for this order type")
        if ot in (OrdType.STOP, OrdType.STOP_LIMIT, OrdType.MARKET_IF_TOUCHED):
            if cmd.stop_px <= 0:
                return RejectError(Reason.INVALID_PRICE, "a stop/trigger price is required")
        elif ot == OrdType.TRAILING_STOP:
            if cmd.trail_ticks < 0 or cmd.trail_ppm < 0 or (cmd.trail_ticks > 0) == (cmd.trail_ppm > 0):
                return RejectError(Reason.INVALID_ORDER, "a trailing stop needs exactly one positive offset: amount or percentage")
            if cmd.trail_ppm >= 1_000_000:
                return RejectError(Reason.INVALID_ORDER, "a trailing percentage must be below 100%")
            if cmd.stop_px < 0:
                return RejectError(Reason.INVALID_PRICE, "the initial stop price must be positive")
        elif cmd.stop_px:
            return RejectError(Reason.INVALID_ORDER, "stop price is not allowed for this order type")
        if ot == OrdType.MARKET and tif not in (TimeInForce.IOC, TimeInForce.FOK):
            # market orders never rest; accept DAY/GTC as "immediate" like most venues
            pass
        if cmd.post_only and (ot != OrdType.LIMIT or tif in (TimeInForce.IOC, TimeInForce.FOK)):
            return RejectError(Reason.INVALID_ORDER, "post-only needs a resting limit order")
        if cmd.display_qty:
            if ot not in _PRICED_TYPES or cmd.hidden:
                return RejectError(Reason.INVALID_ORDER, "an iceberg must be a visible limit order")
            if not (0 < cmd.display_qty < cmd.qty):
                return RejectError(Reason.INVALID_QUANTITY, "display quantity must be below the order quantity")
        if cmd.hidden and ot not in _PRICED_TYPES:
            return RejectError(Reason.INVALID_ORDER, "a hidden order must be a limit order")
        if cmd.min_qty and not (0 < cmd.min_qty <= cmd.qty):
            return RejectError(Reason.INVALID_QUANTITY, "minimum quantity must be within the order quantity")
        if tif == TimeInForce.GTD:
            if not cmd.expire_ts:
                return RejectError(Reason.INVALID_ORDER, "good-till-date needs an expire time")
            if cmd.expire_ts <= cmd.ts:
                return RejectError(Reason.GTD_IN_PAST, "expire time is in the past")
        elif cmd.expire_ts:
            return RejectError(Reason.INVALID_ORDER, "expire time is only allowed with good-till-date")
        if cmd.stp is not None:
            try:
                StpMode(cmd.stp)
            except ValueError:
                return RejectError(Reason.INVALID_ORDER, f"unknown self-trade prevention mode {cmd.stp!r}")
        return None

    # ------------------------------------------------------------------ cancel / replace

    def find(self, account: str, order_id: int = 0, cl_ord_id: str = "") -> Order | None:
        if order_id:
            o = self.orders.get(order_id)
            return o if o is not None and o.account == account else None
        clids = self.by_clid.get(account)
        return clids.get(cl_ord_id) if clids is not None else None

    def _cancel_reject(self, cmd, out, o, reason: Reason, text: str, is_replace: bool) -> None:
        out.append(CancelReject(cmd.ts, cmd.account, cmd.cl_ord_id, cmd.orig_cl_ord_id,
                                o.order_id if o is not None else 0,
                                o.status if o is not None else -1, is_replace, reason.value, text, cmd.origin,
                                o.symbol if o is not None else ""))

    def _cancel(self, cmd: CancelOrder, out: list) -> None:
        o = self.find(cmd.account, cmd.order_id, cmd.orig_cl_ord_id)
        if o is None:
            self._cancel_reject(cmd, out, None, Reason.UNKNOWN_ORDER, "unknown order", False)
            return
        if o.status not in _OPEN_STATUSES:
            self._cancel_reject(cmd, out, o, Reason.ORDER_NOT_OPEN, "order is not open", False)
            return
        clid = cmd.cl_ord_id
        if clid and clid != o.cl_ord_id:
            if clid in self.by_clid[cmd.account]:
                self._cancel_reject(cmd, out, o, Reason.DUPLICATE_ORDER, f"client order id {clid!r} already used", False)
                return
            self.by_clid[cmd.account][clid] = o
        if o.order_id in self.routed:
            self.router.cancel(o, cmd, out)
            return
        book = self.books[o.symbol]
        reason = Reason(cmd.reason) if cmd.reason in Reason._value2member_map_ else Reason.CLIENT_REQUEST
        book.cancel_resting(o, cmd.ts, out, reason, "cancelled" if reason == Reason.CLIENT_REQUEST else reason.value.lower().replace("_", " "),
                            cl_ord_id=clid)

    def _replace(self, cmd: ReplaceOrder, out: list) -> None:
        if cmd.order_id:
            o = self.orders.get(cmd.order_id)
            if o is not None and o.account != cmd.account:
                o = None
        else:
            clids = self.by_clid.get(cmd.account)
            o = clids.get(cmd.orig_cl_ord_id) if clids is not None else None
        if o is None:
            self._cancel_reject(cmd, out, None, Reason.UNKNOWN_ORDER, "unknown order", True)
            return
        err = self.validate_replace(cmd, o)
        if err is None and self.pre_trade:
            for check in self.pre_trade:
                err = check.check_replace(cmd, o, self)
                if err is not None:
                    break
        if err is not None:
            self._cancel_reject(cmd, out, o, err.reason, err.text, True)
            return
        new_clid = cmd.cl_ord_id
        if not new_clid:
            new_clid = o.cl_ord_id
        elif new_clid != o.cl_ord_id:
            self.by_clid[cmd.account][new_clid] = o
        if self.routed and o.order_id in self.routed:
            self.router.replace(o, cmd, out)
            return
        book = self.books[o.symbol]
        book.replace(o, new_clid, cmd.qty or o.qty, cmd.price or o.price, cmd.stop_px, cmd.ts, out)
        if book._px:
            book.after_command(cmd.ts, out)

    def validate_replace(self, cmd: ReplaceOrder, o: Order) -> RejectError | None:
        """The engine's own rules for a cancel/replace (cheap checks first: this is the hot path)."""
        if o.status not in _OPEN_STATUSES:
            return RejectError(Reason.ORDER_NOT_OPEN, "order is not open")
        book = self.books[o.symbol]
        if book.state != _OPEN:
            return RejectError(Reason.MARKET_HALTED if book.state == TradingState.HALTED else Reason.MARKET_CLOSED,
                               f"{o.symbol} is not open for trading")
        clid = cmd.cl_ord_id
        if clid and clid != o.cl_ord_id and clid in self.by_clid[cmd.account]:
            return RejectError(Reason.DUPLICATE_ORDER, f"client order id {clid!r} already used")
        qty = cmd.qty or o.qty
        if qty != o.qty:
            inst = self.instruments[o.symbol]
            if qty > inst.max_lots or qty < inst.min_lots:
                return RejectError(Reason.INVALID_QUANTITY, f"quantity outside [{inst.min_qty}, {inst.max_qty}]")
        if qty <= o.cum:
            return RejectError(Reason.REPLACE_QTY_BELOW_FILLED, "new quantity is not above the filled quantity")
        if cmd.price < 0 or cmd.qty < 0 or cmd.stop_px < 0:
            return RejectError(Reason.INVALID_ORDER, "negative values")
        ext = o.ext
        if ext is None and not o.flags and not cmd.stop_px:
            # plain limit or market order
            if cmd.price and o.ord_type != _LIMIT:
                return RejectError(Reason.INVALID_ORDER, "this order type has no limit price")
            return None
        if ext is not None and ext.display_qty and ext.display_qty >= qty:
            return RejectError(Reason.INVALID_QUANTITY, "iceberg quantity must stay above its display quantity")
        if cmd.price and o.ord_type not in _PRICED_TYPES:
            return RejectError(Reason.INVALID_ORDER, "this order type has no limit price")
        if cmd.stop_px and o.ord_type not in _TRIGGER_TYPES:
            return RejectError(Reason.INVALID_ORDER, "this order type has no stop price")
        if cmd.stop_px and (ext is None or ext.triggered):
            return RejectError(Reason.INVALID_ORDER, "the order has already triggered")
        if o.flags & F_POST_ONLY and cmd.price and o.level is not None:
            opp = book.asks if o.side == BUY else book.bids
            best = opp.best()
            if best and (best <= cmd.price if o.side == BUY else best >= cmd.price):
                return RejectError(Reason.POST_ONLY_WOULD_TAKE, "post-only order would take liquidity")
        return None

    def _mass_cancel(self, cmd: MassCancel, out: list) -> None:
        if cmd.account is None:
            pools = list(self.open_by_account.values())
        else:
            pool = self.open_by_account.get(cmd.account)
            pools = [pool] if pool is not None else []
        victims = []
        for pool in pools:
            for o in pool.values():
                if cmd.symbol is not None and o.symbol != cmd.symbol:
                    continue
                if cmd.side is not None and o.side != cmd.side:
                    continue
                if cmd.scope_origin is not None and o.origin != cmd.scope_origin:
                    continue
                if cmd.tif is not None and o.tif != cmd.tif:
                    continue
                victims.append(o)
        victims.sort(key=lambda o: o.order_id)
        reason = Reason(cmd.reason) if cmd.reason in Reason._value2member_map_ else Reason.MASS_CANCEL
        for o in victims:
            if o.order_id in self.routed:
                self.router.cancel(o, cmd, out)
            else:
                self.books[o.symbol].cancel_resting(o, cmd.ts, out, reason, reason.value.lower().replace("_", " "))
        out.append(MassCancelDone(cmd.ts, cmd.account, cmd.symbol, cmd.side, cmd.cl_ord_id, cmd.origin,
                                  len(victims), reason.value))

    def _set_state(self, cmd: SetTradingState, out: list) -> None:
        book = self.books.get(cmd.symbol)
        if book is None or cmd.state not in _STATES:
            return  # unknown symbol or state: nothing to change (gateways validate and answer)
        state = int(cmd.state)
        if book.state == state:
            return
        book.state = state
        out.append(TradingStateChanged(cmd.ts, cmd.symbol, state, cmd.reason, cmd.origin))
        if state == _OPEN and book.stops and book.last_px:
            book._px.append(book.last_px)
            book.check_triggers(cmd.ts, out)

    def _tick(self, cmd: Tick, out: list) -> None:
        pass  # expiry already ran in process()

    def _expire(self, ts: int, out: list) -> None:
        heap = self._expiry
        while heap and heap[0][0] <= ts:
            _, oid = heapq.heappop(heap)
            o = self.orders.get(oid)
            if o is None or o.status not in _OPEN_STATUSES or o.ext is None or o.ext.expire_ts > ts:
                continue
            if o.order_id in self.routed:
                self.router.cancel(o, Tick(ts), out)
                continue
            self.books[o.symbol].cancel_resting(
                o, ts, out, Reason.EXPIRED, "expired", exec_type=int(ExecType.EXPIRED), status=int(OrdStatus.EXPIRED))

    # ------------------------------------------------------------------ queries

    def get(self, order_id: int) -> Order | None:
        return self.orders.get(order_id)

    def get_by_clid(self, account: str, cl_ord_id: str) -> Order | None:
        clids = self.by_clid.get(account)
        return clids.get(cl_ord_id) if clids else None

    def orders_for(self, account: str, *, open_only: bool = False, symbol: str | None = None) -> list[Order]:
        if open_only:
            pool = list(self.open_by_account.get(account, {}).values())
        else:
            pool = [o for o in self.orders.values() if o.account == account]
        if symbol is not None:
            pool = [o for o in pool if o.symbol == symbol]
        pool.sort(key=lambda o: o.order_id)
        return pool

    def open_orders(self) -> list[Order]:
        return sorted((o for d in self.open_by_account.values() for o in d.values()), key=lambda o: o.order_id)

    def recent_trades(self, symbol: str, limit: int = 100) -> list:
        dq = self.trades.get(symbol)
        if not dq:
            return []
        return list(dq)[-limit:]

    def depth(self, symbol: str, n: int | None = None) -> tuple[list, list]:
        book = self.books[symbol]
        return book.bids.depth(n), book.asks.depth(n)
