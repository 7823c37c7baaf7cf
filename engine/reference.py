"""A naive reference OMS: the executable specification of matching.

Why it exists: the optimised engine (`oms.py`, `matching.py`, `book.py`) is
built for speed — linked price levels, sorted price lists, dirty sets, a trade
price range instead of a trade list. This module is the same venue written to
be obviously right instead: the resting orders of a book are ONE plain list,
the next order to trade is found by a linear scan for the smallest priority
key `(price priority, displayed before hidden, arrival sequence)`, the open
orders are whatever orders have an open status, and market data is recomputed
from that list. Randomized tests feed the same commands to `OMS` and
`ReferenceOMS` and compare every event byte for byte (exchange-core's method).

`ReferenceOMS(instruments, accounts).process(cmd) -> list[Event]` produces the
same event classes, fields, order and sequence numbers as `OMS.process`:

- a new order is validated (same checks, same order, same texts); a refused
  order still gets an order id and a REJECTED report;
- an accepted order is acknowledged (NEW) before it trades; each fill emits
  the maker's ExecReport, then the taker's, then the public Trade print, at the
  resting order's price; a remainder rests, or is cancelled (IOC/FOK, market
  orders beyond the protection band or without liquidity, self-trade);
- stop / stop-limit / market-if-touched / trailing orders wait, and are checked
  against the trade prices printed since the last check, one print at a time
  in print order, at the same points the engine checks (entry of a trigger
  order, end of a new/replace command, a replace, re-opening); a trailing stop
  follows each print before it is tested against it; fired orders run in
  firing order and their trades can trigger more (cascade);
- sequence numbers are stamped over each command's events at the end;
- market data is not part of `process`: `collect_book_updates()` returns one
  BookUpdate per book whose displayed levels were touched since the previous
  call, with those levels' current totals (side, price, displayed qty,
  displayed orders), bids best first then asks best first, stamped with the
  time of the latest command and the book's own market-data sequence.

Not modelled (the reference is the internal book only): pre-trade checks,
listeners, deferred commands, extension handlers, and orders claimed by an
OrderRouter.

Engine choices matched on purpose (reasonable, and what the engine documents
or clearly intends): a FOK / MinQty order that cannot trade is acknowledged
(NEW) then cancelled, while a post-only that would take or a market order
into an empty side is REJECTED without an ack; a stop already through the last
trade triggers at entry; HALTED / CLOSED refuse new orders and replaces but
allow cancels; the FOK / MinQty count stops at an own order unless the STP mode
is cancel-oldest; a trailing stop's NEW ack is sent before its first stop
price is set; a touched level is reported even if its totals end unchanged.

The rules below were found broken in the engine and filed (/tmp/engine-bugs.md,
each with a failing test); here they are written the way a venue must behave:

1. an aggressor that fills completely leaves the open orders (here: open means
   an open status, nothing to forget);
2. fill-or-kill is all-or-nothing for every order, not only for orders that
   happen to carry extended attributes;
3. the fill-or-kill / minimum-quantity check walks the opposite side in true
   matching order (displayed before hidden, iceberg refills to the back), so it
   agrees with what matching then does;
4. decrement-and-cancel lowers the order quantity of an order it leaves open,
   so qty == cum + leaves keeps holding;
5. a trailing stop follows the prints in the order they happened (a rising
   sweep never triggers a trailing sell); a trailing stop without a stop price
   yet (entered into an empty market) is armed by the first print instead of
   triggering on it;
6. a triggered order keeps its order type in its execution reports (a
   triggered stop-limit still reports STOP_LIMIT; it trades as a limit order);
7. an unknown trading state in SetTradingState is ignored instead of raising;
8. an order the book refuses at entry (post-only that would take, market
   order without liquidity) reports REJECTED with leaves 0, like every other
   finished order;
9. a trailing stop needs exactly one positive offset with the other one 0,
   and no negative initial stop price.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable

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
from engine.events import BookUpdate, CancelReject, Event, ExecReport, MassCancelDone, Trade, TradingStateChanged
from engine.instrument import FEE_SCALE, PPM, Instrument
from engine.reject import Reason
from engine.types import (
    BUY,
    SELL,
    ExecType,
    OrdStatus,
    OrdType,
    StpMode,
    TimeInForce,
    TradingState,
)

MARKET = int(OrdType.MARKET)
LIMIT = int(OrdType.LIMIT)
STOP = int(OrdType.STOP)
STOP_LIMIT = int(OrdType.STOP_LIMIT)
MIT = int(OrdType.MARKET_IF_TOUCHED)
TRAILING = int(OrdType.TRAILING_STOP)
TRIGGER_TYPES = (STOP, STOP_LIMIT, MIT, TRAILING)
PRICED_TYPES = (LIMIT, STOP_LIMIT)

OPEN_STATUSES = (int(OrdStatus.NEW), int(OrdStatus.PARTIALLY_FILLED), int(OrdStatus.PENDING_NEW),
                 int(OrdStatus.PENDING_CANCEL), int(OrdStatus.PENDING_REPLACE))
S_NEW = int(OrdStatus.NEW)
S_PARTIAL = int(OrdStatus.PARTIALLY_FILLED)
S_FILLED = int(OrdStatus.FILLED)
S_CANCELED = int(OrdStatus.CANCELED)
S_REJECTED = int(OrdStatus.REJECTED)
S_EXPIRED = int(OrdStatus.EXPIRED)
S_PENDING_NEW = int(OrdStatus.PENDING_NEW)

X_NEW = int(ExecType.NEW)
X_TRADE = int(ExecType.TRADE)
X_CANCELED = int(ExecType.CANCELED)
X_REPLACED = int(ExecType.REPLACED)
X_REJECTED = int(ExecType.REJECTED)
X_EXPIRED = int(ExecType.EXPIRED)
X_RESTATED = int(ExecType.RESTATED)
X_TRIGGERED = int(ExecType.TRIGGERED)

OPEN = int(TradingState.OPEN)
HALTED = int(TradingState.HALTED)


class RefOrder:
    """Everything about one order in one flat record."""

    def __init__(self, order_id, cl_ord_id, account, symbol, side, ord_type, tif, price, qty, origin):
        self.order_id = order_id
        self.cl_ord_id = cl_ord_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.ord_type = ord_type      # as entered; never rewritten on trigger
        self.tif = tif
        self.price = price
        self.qty = qty
        self.leaves = qty
        self.cum = 0
        self.cum_notional = 0
        self.status = S_PENDING_NEW
        self.origin = origin
        self.stop_px = 0
        self.trail_ticks = 0
        self.trail_ppm = 0
        self.display_qty = 0
        self.min_qty = 0
        self.expire_ts = 0
        self.stp = None
        self.hidden = False
        self.post_only = False
        self.reduce_only = False
        self.triggered = False
        self.resting = False          # in its book's `resting` list
        self.visible = 0              # displayed quantity while resting
        self.arrival = 0              # time priority: bigger = later

    @property
    def ext(self):
        """`ExecReport` reads the stop price as `o.ext.stop_px`."""
        return self

    @property
    def iceberg(self) -> bool:
        return self.display_qty > 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def trades_as(self) -> int:
        """The order type it trades as: a limit order, or a market order."""
        return LIMIT if self.ord_type in PRICED_TYPES else MARKET

    def __repr__(self) -> str:
        return (f"RefOrder(id={self.order_id}, clid={self.cl_ord_id!r}, acct={self.account!r}, side={self.side} "
                f"type={self.ord_type} px={self.price} qty={self.qty} leaves={self.leaves} cum={self.cum} "
                f"status={self.status} vis={self.visible})")


def _priority(o: RefOrder) -> tuple:
    """Smaller is better: price, then displayed before hidden, then arrival."""
    return (-o.price if o.side == BUY else o.price, 1 if o.hidden else 0, o.arrival)


def _crosses(aggressor_side: int, resting_price: int, limit: int) -> bool:
    return resting_price <= limit if aggressor_side == BUY else resting_price >= limit


class RefBook:
    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.state = OPEN
        self.resting: list[RefOrder] = []    # both sides, any order
        self.waiting: list[RefOrder] = []    # trigger orders, arrival order
        self.last_px = 0
        self.pending: list[int] = []         # trade prices since the last trigger check
        self.touched: set[tuple[int, int]] = set()   # (side, price) displayed-changed since the last BookUpdate
        self.md_seq = 0

    def side_orders(self, side: int) -> list[RefOrder]:
        return [r for r in self.resting if r.side == side]

    def best(self, side: int) -> int:
        """Best price resting on `side` (hidden orders included), 0 when empty."""
        prices = [r.price for r in self.resting if r.side == side]
        if not prices:
            return 0
        return max(prices) if side == BUY else min(prices)

    def level(self, side: int, price: int) -> tuple[int, int]:
        shown = [r for r in self.resting if r.side == side and r.price == price and not r.hidden]
        return sum(r.visible for r in shown), len(shown)

    def touch(self, o: RefOrder) -> None:
        if not o.hidden:
            self.touched.add((o.side, o.price))


class ReferenceOMS:
    def __init__(self, instruments: Iterable[Instrument], accounts: Iterable) -> None:
        self.instruments: dict[str, Instrument] = {i.symbol: i for i in instruments}
        self.books: dict[str, RefBook] = {s: RefBook(i) for s, i in self.instruments.items()}
        self.accounts = {a.account_id: a for a in accounts}
        self.orders: dict[int, RefOrder] = {}
        self.clids: dict[str, dict[str, RefOrder]] = {a: {} for a in self.accounts}
        self.trades: dict[str, list[Trade]] = {s: [] for s in self.instruments}
        self.seq = 0
        self.trade_seq = 0
        self.last_order_id = 0
        self.arrival = 0
        self.now = 0
        self._stp_stop = False

    # ------------------------------------------------------------------ processing

    def process(self, cmd: Command) -> list[Event]:
        out: list[Event] = []
        self.now = max(self.now, cmd.ts)
        self._expire(cmd.ts, out)
        if isinstance(cmd, NewOrder):
            self._new(cmd, out)
        elif isinstance(cmd, CancelOrder):
            self._cancel(cmd, out)
        elif isinstance(cmd, ReplaceOrder):
            self._replace(cmd, out)
        elif isinstance(cmd, MassCancel):
            self._mass_cancel(cmd, out)
        elif isinstance(cmd, SetTradingState):
            self._set_state(cmd, out)
        elif isinstance(cmd, RejectNew):
            self._reject(cmd, out, Reason(cmd.reason), cmd.text)
        elif isinstance(cmd, RejectCancel):
            o = self.find(cmd.account, cmd.order_id, cmd.orig_cl_ord_id)
            self._cancel_reject(cmd, out, o, Reason(cmd.reason), cmd.text, cmd.is_replace)
        elif isinstance(cmd, Tick):
            pass
        else:
            raise TypeError(f"unknown command {cmd!r}")
        for ev in out:
            self.seq += 1
            ev.seq = self.seq
        return out

    def collect_book_updates(self) -> list[BookUpdate]:
        """Conflated market data: the touched levels of each book since the last call."""
        out = []
        for book in self.books.values():
            if book.touched:
                bids = sorted((p for s, p in book.touched if s == BUY), reverse=True)
                asks = sorted(p for s, p in book.touched if s == SELL)
                levels = tuple((BUY, p) + book.level(BUY, p) for p in bids)
                levels += tuple((SELL, p) + book.level(SELL, p) for p in asks)
                ev = BookUpdate(self.now, book.symbol, levels)
                book.md_seq += 1
                ev.seq = book.md_seq
                out.append(ev)
                book.touched.clear()
        return out

    # ------------------------------------------------------------------ helpers

    def _report(self, out, ts, exec_type, o, **kw) -> None:
        out.append(ExecReport(ts, exec_type, o, **kw))

    def _stp_mode(self, o: RefOrder) -> int:
        if o.stp is not None:
            return o.stp
        spec = self.accounts.get(o.account)
        return spec.stp_mode if spec is not None else int(StpMode.CANCEL_NEWEST)

    def _fee(self, inst: Instrument, px: int, q: int, account: str, maker: bool) -> int:
        spec = self.accounts.get(account)
        rate = 0 if spec is None else (spec.maker_fee_ppm if maker else spec.taker_fee_ppm)
        exact = Fraction(inst.tick_size) * Fraction(inst.lot_size) * px * q * rate * FEE_SCALE / PPM
        return int(exact)   # int() of a Fraction truncates toward zero

    @staticmethod
    def _trail_offset(o: RefOrder, ref: int) -> int:
        if o.trail_ticks:
            return o.trail_ticks
        return max(1, ref * o.trail_ppm // 1_000_000)

    # ------------------------------------------------------------------ new order

    def _reject(self, cmd, out, reason: Reason, text: str) -> None:
        self.last_order_id += 1
        o = RefOrder(self.last_order_id, cmd.cl_ord_id, cmd.account, cmd.symbol, cmd.side, cmd.ord_type,
                     getattr(cmd, "tif", 1), cmd.price, cmd.qty, cmd.origin)
        o.leaves = 0
        o.status = S_REJECTED
        self.orders[o.order_id] = o
        self._report(out, cmd.ts, X_REJECTED, o, reason=reason.value, text=text)

    def _validate_new(self, cmd: NewOrder):
        clids = self.clids.get(cmd.account)
        if clids is None:
            return Reason.UNKNOWN_ACCOUNT, f"unknown account {cmd.account!r}"
        if not cmd.cl_ord_id:
            return Reason.INVALID_ORDER, "client order id is required"
        if cmd.cl_ord_id in clids:
            return Reason.DUPLICATE_ORDER, f"client order id {cmd.cl_ord_id!r} already used"
        inst = self.instruments.get(cmd.symbol)
        if inst is None:
            return Reason.UNKNOWN_SYMBOL, f"unknown symbol {cmd.symbol!r}"
        state = self.books[cmd.symbol].state
        if state != OPEN:
            if state == HALTED:
                return Reason.MARKET_HALTED, f"{cmd.symbol} is halted"
            return Reason.MARKET_CLOSED, f"{cmd.symbol} is closed"
        if cmd.side not in (BUY, SELL):
            return Reason.INVALID_ORDER, f"invalid side {cmd.side!r}"
        if not (inst.min_lots <= cmd.qty <= inst.max_lots):
            return Reason.INVALID_QUANTITY, f"quantity outside [{inst.min_qty}, {inst.max_qty}]"
        ot, tif = cmd.ord_type, cmd.tif
        if ot not in {int(t) for t in OrdType} or tif not in {int(t) for t in TimeInForce}:
            return Reason.INVALID_ORDER, "unsupported order type or time in force"
        if ot in PRICED_TYPES:
            if cmd.price <= 0:
                return Reason.INVALID_PRICE, "a limit price is required"
        elif cmd.price:
            return Reason.INVALID_ORDER, "price is not allowed for this order type"
        if ot in (STOP, STOP_LIMIT, MIT):
            if cmd.stop_px <= 0:
                return Reason.INVALID_PRICE, "a stop/trigger price is required"
        elif ot == TRAILING:
            if not ((cmd.trail_ticks > 0 and cmd.trail_ppm == 0) or (cmd.trail_ppm > 0 and cmd.trail_ticks == 0)):
                return Reason.INVALID_ORDER, "a trailing stop needs exactly one positive offset: amount or percentage"
            if cmd.trail_ppm >= 1_000_000:
                return Reason.INVALID_ORDER, "a trailing percentage must be below 100%"
            if cmd.stop_px < 0:
                return Reason.INVALID_PRICE, "the initial stop price must be positive"
        elif cmd.stop_px:
            return Reason.INVALID_ORDER, "stop price is not allowed for this order type"
        if cmd.post_only and (ot != LIMIT or tif in (TimeInForce.IOC, TimeInForce.FOK)):
            return Reason.INVALID_ORDER, "post-only needs a resting limit order"
        if cmd.display_qty:
            if ot not in PRICED_TYPES or cmd.hidden:
                return Reason.INVALID_ORDER, "an iceberg must be a visible limit order"
            if not (0 < cmd.display_qty < cmd.qty):
                return Reason.INVALID_QUANTITY, "display quantity must be below the order quantity"
        if cmd.hidden and ot not in PRICED_TYPES:
            return Reason.INVALID_ORDER, "a hidden order must be a limit order"
        if cmd.min_qty and not (0 < cmd.min_qty <= cmd.qty):
            return Reason.INVALID_QUANTITY, "minimum quantity must be within the order quantity"
        if tif == TimeInForce.GTD:
            if not cmd.expire_ts:
                return Reason.INVALID_ORDER, "good-till-date needs an expire time"
            if cmd.expire_ts <= cmd.ts:
                return Reason.GTD_IN_PAST, "expire time is in the past"
        elif cmd.expire_ts:
            return Reason.INVALID_ORDER, "expire time is only allowed with good-till-date"
        if cmd.stp is not None and cmd.stp not in {int(m) for m in StpMode}:
            return Reason.INVALID_ORDER, f"unknown self-trade prevention mode {cmd.stp!r}"
        return None

    def _new(self, cmd: NewOrder, out: list) -> None:
        err = self._validate_new(cmd)
        if err is not None:
            self._reject(cmd, out, *err)
            return
        ot = cmd.ord_type
        self.last_order_id += 1
        o = RefOrder(self.last_order_id, cmd.cl_ord_id, cmd.account, cmd.symbol, cmd.side, ot, cmd.tif,
                     cmd.price if ot in PRICED_TYPES else 0, cmd.qty, cmd.origin)
        o.stop_px = cmd.stop_px
        o.trail_ticks = cmd.trail_ticks
        o.trail_ppm = cmd.trail_ppm
        o.display_qty = cmd.display_qty
        o.min_qty = cmd.min_qty
        o.stp = cmd.stp
        o.hidden = bool(cmd.hidden)
        o.post_only = bool(cmd.post_only)
        o.reduce_only = bool(cmd.reduce_only)
        if cmd.tif == TimeInForce.GTD:
            o.expire_ts = cmd.expire_ts
        elif cmd.tif == TimeInForce.DAY:
            o.expire_ts = self.instruments[cmd.symbol].session.session_end_after(cmd.ts)
        self.orders[o.order_id] = o
        self.clids[cmd.account][cmd.cl_ord_id] = o
        book = self.books[cmd.symbol]
        ts = cmd.ts
        if ot in TRIGGER_TYPES:
            o.status = S_NEW
            self._report(out, ts, X_NEW, o)
            if ot == TRAILING and not o.stop_px:
                ref = book.last_px or book.best(SELL if o.side == BUY else BUY)
                if ref:
                    off = self._trail_offset(o, ref)
                    o.stop_px = ref + off if o.side == BUY else max(1, ref - off)
            book.waiting.append(o)
            if book.last_px and o.stop_px:
                # already through its trigger price? then it triggers now
                book.pending.append(book.last_px)
                self._check_triggers(book, ts, out)
        else:
            self._execute(book, o, ts, out, ack=True)
        self._after_command(book, ts, out)

    # ------------------------------------------------------------------ matching

    def _execute(self, book: RefBook, o: RefOrder, ts: int, out: list, ack: bool) -> None:
        opp_side = SELL if o.side == BUY else BUY
        if o.trades_as() == MARKET:
            best = book.best(opp_side)
            if not best:
                self._reject_or_cancel(o, ts, out, ack, Reason.NO_LIQUIDITY, "no liquidity on the opposite side")
                return
            band = best * book.instrument.market_protection_bps // 10_000
            lim = best + band if o.side == BUY else max(1, best - band)
        else:
            lim = o.price
            if o.post_only:
                best = book.best(opp_side)
                if best and _crosses(o.side, best, lim):
                    self._reject_or_cancel(o, ts, out, ack, Reason.POST_ONLY_WOULD_TAKE,
                                           "post-only order would take liquidity")
                    return
        if o.tif == TimeInForce.FOK or o.min_qty:
            need = o.leaves if o.tif == TimeInForce.FOK else min(o.min_qty, o.leaves)
            if self._available(book, o, lim, need) < need:
                if o.tif == TimeInForce.FOK:
                    reason, text = Reason.FOK_NOT_FILLED, "fill-or-kill order could not be filled in full"
                else:
                    reason, text = Reason.MIN_QTY_NOT_MET, "minimum quantity not available"
                if ack:
                    o.status = S_NEW
                    self._report(out, ts, X_NEW, o)
                self._end(o, ts, out, reason, text)
                return
            o.min_qty = 0   # the minimum applies to the immediate execution only
        if ack:
            o.status = S_NEW
            self._report(out, ts, X_NEW, o)
        self._stp_stop = False
        while o.leaves and not self._stp_stop:
            cands = [r for r in book.resting if r.side == opp_side and _crosses(o.side, r.price, lim)]
            if not cands:
                break
            self._cross(book, o, min(cands, key=_priority), ts, out)
        if not o.leaves:
            return
        if self._stp_stop:
            self._end(o, ts, out, Reason.SELF_TRADE, "self-trade prevented: incoming order cancelled")
        elif o.trades_as() == MARKET:
            if book.side_orders(opp_side):
                self._end(o, ts, out, Reason.PRICE_PROTECTION,
                          "market order remainder beyond the price protection band")
            else:
                self._end(o, ts, out, Reason.NO_LIQUIDITY, "market order remainder: no more liquidity")
        elif o.tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._end(o, ts, out, Reason.IOC_REMAINDER, "immediate-or-cancel remainder cancelled")
        else:
            self._rest(book, o)

    def _available(self, book: RefBook, o: RefOrder, lim: int, need: int) -> int:
        """Dry run of matching on copies: how much `o` would trade before matching stops
        (self-trade other than cancel-oldest stops the count, as the engine chooses)."""
        mode = self._stp_mode(o)
        opp_side = SELL if o.side == BUY else BUY
        sim = [
            {"price": r.price, "hidden": r.hidden, "arrival": r.arrival, "account": r.account,
             "visible": r.visible, "leaves": r.leaves, "display": r.display_qty, "side": r.side}
            for r in book.resting if r.side == opp_side and _crosses(o.side, r.price, lim)
        ]

        def key(s):
            return (-s["price"] if s["side"] == BUY else s["price"], 1 if s["hidden"] else 0, s["arrival"])

        got = 0
        arrival = self.arrival
        while sim and got < need:
            s = min(sim, key=key)
            if s["account"] == o.account and mode != StpMode.NONE:
                if mode != StpMode.CANCEL_OLDEST:
                    return got
                sim.remove(s)
                continue
            q = min(s["visible"] or s["leaves"], need - got)
            got += q
            s["leaves"] -= q
            if s["visible"]:
                s["visible"] -= q
            if not s["leaves"]:
                sim.remove(s)
            elif s["display"] and not s["visible"]:
                s["visible"] = min(s["display"], s["leaves"])
                arrival += 1
                s["arrival"] = arrival
        return got

    def _cross(self, book: RefBook, o: RefOrder, r: RefOrder, ts: int, out: list) -> None:
        if r.account == o.account:
            mode = self._stp_mode(o)
            if mode != StpMode.NONE:
                self._self_trade(book, o, r, mode, ts, out)
                return
        q = min(r.visible if r.visible else r.leaves, o.leaves)
        px = r.price
        inst = book.instrument
        self.trade_seq += 1
        tid = self.trade_seq
        r.leaves -= q
        r.cum += q
        r.cum_notional += px * q
        if r.visible:
            r.visible -= q
            book.touch(r)
        r.status = S_FILLED if not r.leaves else S_PARTIAL
        o.leaves -= q
        o.cum += q
        o.cum_notional += px * q
        o.status = S_FILLED if not o.leaves else S_PARTIAL
        self._report(out, ts, X_TRADE, r, last_px=px, last_qty=q,
                     fee_e8=self._fee(inst, px, q, r.account, True), liquidity="M", trade_id=tid)
        self._report(out, ts, X_TRADE, o, last_px=px, last_qty=q,
                     fee_e8=self._fee(inst, px, q, o.account, False), liquidity="T", trade_id=tid)
        t = Trade(ts, tid, book.symbol, px, q, o.side, r.order_id, o.order_id, r.account, o.account)
        out.append(t)
        self.trades[book.symbol].append(t)
        if not r.leaves:
            self._unrest(book, r)
        elif r.iceberg and not r.visible:
            # refill the displayed slice at the back of the level
            r.visible = min(r.display_qty, r.leaves)
            self.arrival += 1
            r.arrival = self.arrival
            book.touch(r)
        book.last_px = px
        book.pending.append(px)

    def _self_trade(self, book: RefBook, o: RefOrder, r: RefOrder, mode: int, ts: int, out: list) -> None:
        if mode == StpMode.CANCEL_NEWEST:
            self._stp_stop = True
            return
        if mode in (StpMode.CANCEL_OLDEST, StpMode.CANCEL_BOTH):
            self._cancel_open(book, r, ts, out, Reason.SELF_TRADE, "self-trade prevented: resting order cancelled")
            if mode == StpMode.CANCEL_BOTH:
                self._stp_stop = True
            return
        # decrement and cancel: both shrink by the smaller leaves quantity, no trade
        d = min(o.leaves, r.leaves)
        if d == r.leaves:
            self._cancel_open(book, r, ts, out, Reason.SELF_TRADE,
                              "self-trade prevented: resting order decremented to zero")
        else:
            r.leaves -= d
            r.qty -= d
            if r.visible > r.leaves:
                r.visible = r.leaves
                book.touch(r)
            self._report(out, ts, X_RESTATED, r, reason=Reason.SELF_TRADE.value,
                         text="self-trade prevented: resting order decremented")
        o.leaves -= d
        if not o.leaves:
            o.status = S_CANCELED
            self._report(out, ts, X_CANCELED, o, reason=Reason.SELF_TRADE.value,
                         text="self-trade prevented: incoming order decremented to zero")
        else:
            o.qty -= d
            self._report(out, ts, X_RESTATED, o, reason=Reason.SELF_TRADE.value,
                         text="self-trade prevented: incoming order decremented")

    def _rest(self, book: RefBook, o: RefOrder) -> None:
        if o.hidden:
            o.visible = 0
        elif o.iceberg:
            o.visible = min(o.display_qty, o.leaves)
        else:
            o.visible = o.leaves
        self.arrival += 1
        o.arrival = self.arrival
        o.resting = True
        book.resting.append(o)
        book.touch(o)

    def _unrest(self, book: RefBook, o: RefOrder) -> None:
        book.resting.remove(o)
        o.resting = False
        book.touch(o)

    def _reject_or_cancel(self, o, ts, out, ack, reason: Reason, text: str) -> None:
        if ack:
            o.leaves = 0
            o.status = S_REJECTED
            self._report(out, ts, X_REJECTED, o, reason=reason.value, text=text)
        else:
            self._end(o, ts, out, reason, text)

    def _end(self, o, ts, out, reason: Reason, text: str) -> None:
        o.leaves = 0
        o.status = S_CANCELED
        self._report(out, ts, X_CANCELED, o, reason=reason.value, text=text)

    def _cancel_open(self, book: RefBook, o: RefOrder, ts: int, out: list, reason: Reason, text: str, *,
                     cl_ord_id: str = "", exec_type: int = X_CANCELED, status: int = S_CANCELED) -> None:
        """End an open order, resting or waiting for its trigger."""
        if o.resting:
            self._unrest(book, o)
        else:
            book.waiting.remove(o)
        orig = ""
        if cl_ord_id and cl_ord_id != o.cl_ord_id:
            orig = o.cl_ord_id
            o.cl_ord_id = cl_ord_id
        o.leaves = 0
        o.visible = 0
        o.status = status
        self._report(out, ts, exec_type, o, orig_cl_ord_id=orig, reason=reason.value, text=text)

    # ------------------------------------------------------------------ triggers

    def _check_triggers(self, book: RefBook, ts: int, out: list) -> None:
        """Test the waiting orders against the prices printed since the last check, one
        print at a time in print order. A trailing stop first follows each print (a stop
        price of 0 is not armed yet: the first print arms it and cannot trigger it), then
        is tested against it. Fired orders run in firing order; their trades are the next
        batch of prints (cascade)."""
        while book.pending:
            prices, book.pending = book.pending, []
            if not book.waiting:
                return
            fired: list[RefOrder] = []
            for px in prices:
                for o in book.waiting:
                    if o in fired:
                        continue
                    buy = o.side == BUY
                    if o.ord_type == TRAILING:
                        off = self._trail_offset(o, px)
                        if not o.stop_px:
                            o.stop_px = px + off if buy else max(1, px - off)
                            continue
                        o.stop_px = min(o.stop_px, px + off) if buy else max(o.stop_px, px - off)
                    if o.ord_type == MIT:
                        hit = px <= o.stop_px if buy else px >= o.stop_px
                    else:
                        hit = px >= o.stop_px if buy else px <= o.stop_px
                    if hit:
                        fired.append(o)
            for o in fired:
                book.waiting.remove(o)
            for o in fired:
                if o.status not in (S_NEW, S_PARTIAL):
                    continue
                if book.state != OPEN:
                    book.waiting.append(o)     # not open: stays armed
                    continue
                o.triggered = True
                self._report(out, ts, X_TRIGGERED, o)
                self._execute(book, o, ts, out, ack=False)

    def _after_command(self, book: RefBook, ts: int, out: list) -> None:
        if book.pending:
            if book.waiting:
                self._check_triggers(book, ts, out)
            else:
                book.pending = []

    # ------------------------------------------------------------------ cancel / replace

    def find(self, account: str, order_id: int = 0, cl_ord_id: str = "") -> RefOrder | None:
        if order_id:
            o = self.orders.get(order_id)
            return o if o is not None and o.account == account else None
        clids = self.clids.get(account)
        return clids.get(cl_ord_id) if clids is not None else None

    def _cancel_reject(self, cmd, out, o, reason: Reason, text: str, is_replace: bool) -> None:
        out.append(CancelReject(cmd.ts, cmd.account, cmd.cl_ord_id, cmd.orig_cl_ord_id,
                                o.order_id if o is not None else 0, o.status if o is not None else -1,
                                is_replace, reason.value, text, cmd.origin, o.symbol if o is not None else ""))

    def _cancel(self, cmd: CancelOrder, out: list) -> None:
        o = self.find(cmd.account, cmd.order_id, cmd.orig_cl_ord_id)
        if o is None:
            self._cancel_reject(cmd, out, None, Reason.UNKNOWN_ORDER, "unknown order", False)
            return
        if not o.is_open:
            self._cancel_reject(cmd, out, o, Reason.ORDER_NOT_OPEN, "order is not open", False)
            return
        clid = cmd.cl_ord_id
        if clid and clid != o.cl_ord_id:
            if clid in self.clids[cmd.account]:
                self._cancel_reject(cmd, out, o, Reason.DUPLICATE_ORDER, f"client order id {clid!r} already used",
                                    False)
                return
            self.clids[cmd.account][clid] = o
        reason = Reason(cmd.reason) if cmd.reason in Reason._value2member_map_ else Reason.CLIENT_REQUEST
        text = "cancelled" if reason == Reason.CLIENT_REQUEST else reason.value.lower().replace("_", " ")
        self._cancel_open(self.books[o.symbol], o, cmd.ts, out, reason, text, cl_ord_id=clid)

    def _validate_replace(self, cmd: ReplaceOrder, o: RefOrder):
        if not o.is_open:
            return Reason.ORDER_NOT_OPEN, "order is not open"
        book = self.books[o.symbol]
        if book.state != OPEN:
            return (Reason.MARKET_HALTED if book.state == HALTED else Reason.MARKET_CLOSED,
                    f"{o.symbol} is not open for trading")
        if cmd.cl_ord_id and cmd.cl_ord_id != o.cl_ord_id and cmd.cl_ord_id in self.clids[cmd.account]:
            return Reason.DUPLICATE_ORDER, f"client order id {cmd.cl_ord_id!r} already used"
        inst = self.instruments[o.symbol]
        qty = cmd.qty or o.qty
        if qty != o.qty and (qty > inst.max_lots or qty < inst.min_lots):
            return Reason.INVALID_QUANTITY, f"quantity outside [{inst.min_qty}, {inst.max_qty}]"
        if qty <= o.cum:
            return Reason.REPLACE_QTY_BELOW_FILLED, "new quantity is not above the filled quantity"
        if cmd.price < 0 or cmd.qty < 0 or cmd.stop_px < 0:
            return Reason.INVALID_ORDER, "negative values"
        if o.display_qty and o.display_qty >= qty:
            return Reason.INVALID_QUANTITY, "iceberg quantity must stay above its display quantity"
        if cmd.price and o.ord_type not in PRICED_TYPES:
            return Reason.INVALID_ORDER, "this order type has no limit price"
        if cmd.stop_px and o.ord_type not in TRIGGER_TYPES:
            return Reason.INVALID_ORDER, "this order type has no stop price"
        if cmd.stop_px and o.triggered:
            return Reason.INVALID_ORDER, "the order has already triggered"
        if o.post_only and cmd.price and o.resting:
            best = book.best(SELL if o.side == BUY else BUY)
            if best and _crosses(o.side, best, cmd.price):
                return Reason.POST_ONLY_WOULD_TAKE, "post-only order would take liquidity"
        return None

    def _replace(self, cmd: ReplaceOrder, out: list) -> None:
        o = self.find(cmd.account, cmd.order_id, cmd.orig_cl_ord_id)
        if o is None:
            self._cancel_reject(cmd, out, None, Reason.UNKNOWN_ORDER, "unknown order", True)
            return
        err = self._validate_replace(cmd, o)
        if err is not None:
            self._cancel_reject(cmd, out, o, *err, True)
            return
        new_clid = cmd.cl_ord_id or o.cl_ord_id
        if new_clid != o.cl_ord_id:
            self.clids[cmd.account][new_clid] = o
        qty = cmd.qty or o.qty
        price = cmd.price or o.price
        book = self.books[o.symbol]
        ts = cmd.ts
        orig = o.cl_ord_id
        o.cl_ord_id = new_clid
        new_leaves = qty - o.cum
        if o.resting:
            if price == o.price and qty <= o.qty:
                # quantity down (or unchanged) at the same price: keeps its place
                o.qty = qty
                o.leaves = new_leaves
                if not o.hidden:
                    nv = min(o.visible, new_leaves) if o.iceberg else new_leaves
                    if nv != o.visible:
                        o.visible = nv
                        book.touch(o)
                self._report(out, ts, X_REPLACED, o, orig_cl_ord_id=orig)
            else:
                # price change or quantity up: loses its place, may trade
                self._unrest(book, o)
                o.qty = qty
                o.leaves = new_leaves
                o.price = price
                self._report(out, ts, X_REPLACED, o, orig_cl_ord_id=orig)
                best = book.best(SELL if o.side == BUY else BUY)
                if best and _crosses(o.side, best, price):
                    self._execute(book, o, ts, out, ack=False)
                    if book.pending and book.waiting:
                        self._check_triggers(book, ts, out)
                else:
                    self._rest(book, o)
        else:
            o.qty = qty
            o.leaves = new_leaves
            if price:
                o.price = price
            if cmd.stop_px:
                o.stop_px = cmd.stop_px
            self._report(out, ts, X_REPLACED, o, orig_cl_ord_id=orig)
            if book.last_px:
                book.pending.append(book.last_px)
                self._check_triggers(book, ts, out)
        self._after_command(book, ts, out)

    def _mass_cancel(self, cmd: MassCancel, out: list) -> None:
        victims = [
            o for o in self.orders.values()
            if o.is_open
            and (cmd.account is None or o.account == cmd.account)
            and (cmd.symbol is None or o.symbol == cmd.symbol)
            and (cmd.side is None or o.side == cmd.side)
            and (cmd.scope_origin is None or o.origin == cmd.scope_origin)
            and (cmd.tif is None or o.tif == cmd.tif)
        ]
        victims.sort(key=lambda o: o.order_id)
        reason = Reason(cmd.reason) if cmd.reason in Reason._value2member_map_ else Reason.MASS_CANCEL
        for o in victims:
            self._cancel_open(self.books[o.symbol], o, cmd.ts, out, reason, reason.value.lower().replace("_", " "))
        out.append(MassCancelDone(cmd.ts, cmd.account, cmd.symbol, cmd.side, cmd.cl_ord_id, cmd.origin,
                                  len(victims), reason.value))

    def _set_state(self, cmd: SetTradingState, out: list) -> None:
        book = self.books.get(cmd.symbol)
        if book is None or cmd.state not in {int(s) for s in TradingState}:
            return
        state = int(cmd.state)
        if book.state == state:
            return
        book.state = state
        out.append(TradingStateChanged(cmd.ts, cmd.symbol, state, cmd.reason, cmd.origin))
        if state == OPEN and book.waiting and book.last_px:
            book.pending.append(book.last_px)
            self._check_triggers(book, cmd.ts, out)

    def _expire(self, ts: int, out: list) -> None:
        due = [o for o in self.orders.values() if o.is_open and o.expire_ts and o.expire_ts <= ts]
        due.sort(key=lambda o: (o.expire_ts, o.order_id))
        for o in due:
            self._cancel_open(self.books[o.symbol], o, ts, out, Reason.EXPIRED, "expired",
                              exec_type=X_EXPIRED, status=S_EXPIRED)

    # ------------------------------------------------------------------ queries

    def get(self, order_id: int) -> RefOrder | None:
        return self.orders.get(order_id)

    def get_by_clid(self, account: str, cl_ord_id: str) -> RefOrder | None:
        return self.clids.get(account, {}).get(cl_ord_id)

    def orders_for(self, account: str, *, open_only: bool = False, symbol: str | None = None) -> list[RefOrder]:
        return [o for o in sorted(self.orders.values(), key=lambda o: o.order_id)
                if o.account == account and (o.is_open or not open_only) and (symbol is None or o.symbol == symbol)]

    def open_orders(self) -> list[RefOrder]:
        return [o for o in sorted(self.orders.values(), key=lambda o: o.order_id) if o.is_open]

    def recent_trades(self, symbol: str, limit: int = 100) -> list[Trade]:
        return self.trades.get(symbol, [])[-limit:]

    def state(self, symbol: str) -> int:
        return self.books[symbol].state

    def queues(self, symbol: str) -> dict[tuple[int, int], list[int]]:
        """Resting order ids per (side, price), in the order they would trade."""
        out: dict[tuple[int, int], list[int]] = {}
        for o in sorted(self.books[symbol].resting, key=_priority):
            out.setdefault((o.side, o.price), []).append(o.order_id)
        return out

    def waiting(self, symbol: str) -> list[tuple[int, int]]:
        """(order id, current stop price) of the orders waiting for their trigger, in arrival order."""
        return [(o.order_id, o.stop_px) for o in self.books[symbol].waiting]

    def depth(self, symbol: str, n: int | None = None) -> tuple[list, list]:
        """Displayed depth best first, [(price, qty, orders)], hidden-only levels left out."""
        book = self.books[symbol]
        result = []
        for side in (BUY, SELL):
            prices = sorted({r.price for r in book.resting if r.side == side and not r.hidden},
                            reverse=(side == BUY))
            rows = [(p,) + book.level(side, p) for p in prices]
            result.append(rows[:n] if n is not None else rows)
        return result[0], result[1]
