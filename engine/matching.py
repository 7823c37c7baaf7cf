"""Price-time matching for one instrument.

`MatchingEngine` owns the two book sides, the orders waiting for a trigger
(stop, stop-limit, market-if-touched, trailing stop), the last trade price and
the instrument's trading state. It is driven by the OMS, which has already
validated and registered each order; everything here is deterministic and free
of I/O. Events are appended to the `out` list the OMS passes in.

Priority rules, in one place:
- better price first; at one price, displayed orders in arrival order, then
  hidden orders in arrival order;
- an iceberg shows `display_qty`; when that slice is filled it is refilled and
  goes to the back of its level (and may trade again in the same sweep);
- trades print at the resting order's price;
- stop and touch orders trigger on trades, in arrival order, and a triggered
  order's own trades can trigger others (cascade) until nothing more triggers.
"""

from __future__ import annotations

from engine.book import BookSide
from engine.events import BookUpdate, ExecReport, Trade
from engine.reject import Reason
from engine.types import (
    BUY,
    F_HIDDEN,
    F_ICEBERG,
    F_POST_ONLY,
    ExecType,
    OrdStatus,
    OrdType,
    StpMode,
    TimeInForce,
    TradingState,
)

# plain-int aliases for the hot path
_NEW = int(ExecType.NEW)
_TRADE = int(ExecType.TRADE)
_CANCELED_X = int(ExecType.CANCELED)
_RESTATED = int(ExecType.RESTATED)
_TRIGGERED = int(ExecType.TRIGGERED)
_REPLACED_X = int(ExecType.REPLACED)
_REJECTED_X = int(ExecType.REJECTED)
_S_NEW = int(OrdStatus.NEW)
_S_PARTIAL = int(OrdStatus.PARTIALLY_FILLED)
_S_FILLED = int(OrdStatus.FILLED)
_S_CANCELED = int(OrdStatus.CANCELED)
_S_REJECTED = int(OrdStatus.REJECTED)
_MARKET = int(OrdType.MARKET)
_LIMIT = int(OrdType.LIMIT)
_STOP = int(OrdType.STOP)
_STOP_LIMIT = int(OrdType.STOP_LIMIT)
_MIT = int(OrdType.MARKET_IF_TOUCHED)
_TRAILING = int(OrdType.TRAILING_STOP)
_TRIGGER_TYPES = frozenset((_STOP, _STOP_LIMIT, _MIT, _TRAILING))
_IOC = int(TimeInForce.IOC)
_FOK = int(TimeInForce.FOK)
_STP_NONE = int(StpMode.NONE)
_STP_NEWEST = int(StpMode.CANCEL_NEWEST)
_STP_OLDEST = int(StpMode.CANCEL_OLDEST)
_STP_BOTH = int(StpMode.CANCEL_BOTH)
_STP_DECREMENT = int(StpMode.DECREMENT_AND_CANCEL)


class MatchingEngine:
    __slots__ = (
        "instrument", "symbol", "bids", "asks", "state", "last_px", "stops", "oms",
        "_px", "_stp_stop", "md_seq",
    )

    def __init__(self, instrument, oms) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.bids = BookSide(True)
        self.asks = BookSide(False)
        self.state = int(TradingState.OPEN)
        self.last_px = 0
        self.stops: dict[int, object] = {}   # order_id -> waiting trigger order, arrival order
        self.oms = oms                       # ids, fees, STP modes, open-order index
        self._px: list[int] = []             # trade prices since the last trigger check, in order
        self._stp_stop = False
        self.md_seq = 0                      # market-data sequence of this instrument's BookUpdates

    # ------------------------------------------------------------------ new orders

    def accept(self, o, ts: int, out: list) -> None:
        """A validated, registered order enters the book (status PENDING_NEW)."""
        ot = o.ord_type
        if ot in _TRIGGER_TYPES:
            o.status = _S_NEW
            out.append(ExecReport(ts, _NEW, o))
            ext = o.ext
            if ot == _TRAILING and not ext.stop_px:
                # a trailing stop starts one offset away from the last trade price
                ref = self.last_px or self._reference_price(o.side)
                if ref:
                    off = self._trail_offset(ext, ref)
                    ext.stop_px = ref + off if o.side == BUY else max(1, ref - off)
            self.stops[o.order_id] = o
            if self.last_px and ext.stop_px:
                # already through its trigger price? then it triggers now
                self._px.append(self.last_px)
                self.check_triggers(ts, out)
            return
        self._execute(o, ts, out, ack=True)

    def _reference_price(self, side: int) -> int:
        opp = self.asks if side == BUY else self.bids
        return opp.best()

    def _execute(self, o, ts: int, out: list, ack: bool) -> None:
        """Match an incoming (or triggered, or re-priced) order, then rest or end it."""
        side = o.side
        opp = self.asks if side == BUY else self.bids
        ot = o.ord_type
        # a triggered stop / MIT / trailing stop keeps its type but trades as a market order
        is_market = ot != _LIMIT and ot != _STOP_LIMIT
        if is_market:
            best = opp.best()
            if not best:
                self._reject_or_cancel(o, ts, out, ack, Reason.NO_LIQUIDITY, "no liquidity on the opposite side")
                return
            band = best * self.instrument.market_protection_bps // 10_000
            lim = best + band if side == BUY else max(1, best - band)
        else:
            lim = o.price
            if o.flags & F_POST_ONLY:
                best = opp.best()
                if best and (best <= lim if side == BUY else best >= lim):
                    self._reject_or_cancel(o, ts, out, ack, Reason.POST_ONLY_WOULD_TAKE,
                                           "post-only order would take liquidity")
                    return
        ext = o.ext
        if o.tif == _FOK or (ext is not None and ext.min_qty):
            need = o.leaves if o.tif == _FOK else min(ext.min_qty, o.leaves)
            if self._available(o, lim, need) < need:
                if o.tif == _FOK:
                    reason, text = Reason.FOK_NOT_FILLED, "fill-or-kill order could not be filled in full"
                else:
                    reason, text = Reason.MIN_QTY_NOT_MET, "minimum quantity not available"
                if ack:
                    o.status = _S_NEW
                    out.append(ExecReport(ts, _NEW, o))
                self._end(o, ts, out, reason, text)
                return
            if ext is not None:
                ext.min_qty = 0  # the minimum applies to the immediate execution only
        if ack:
            o.status = _S_NEW
            out.append(ExecReport(ts, _NEW, o))
        self._stp_stop = False
        if opp.prices:
            self._match(o, opp, lim, ts, out)
        if not o.leaves:
            self.oms.order_done(o)
            return
        if self._stp_stop:
            self._end(o, ts, out, Reason.SELF_TRADE, "self-trade prevented: incoming order cancelled")
        elif is_market:
            if opp.prices:
                self._end(o, ts, out, Reason.PRICE_PROTECTION,
                          "market order remainder beyond the price protection band")
            else:
                self._end(o, ts, out, Reason.NO_LIQUIDITY, "market order remainder: no more liquidity")
        elif o.tif == _IOC or o.tif == _FOK:
            self._end(o, ts, out, Reason.IOC_REMAINDER, "immediate-or-cancel remainder cancelled")
        else:
            self._rest(o)

    def _rest(self, o) -> None:
        flags = o.flags
        if flags & F_HIDDEN:
            o.visible = 0
        elif flags & F_ICEBERG:
            d = o.ext.display_qty
            o.visible = d if d < o.leaves else o.leaves
        else:
            o.visible = o.leaves
        (self.bids if o.side == BUY else self.asks).add(o)

    def _reject_or_cancel(self, o, ts, out, ack, reason, text) -> None:
        if ack:
            o.status = _S_REJECTED
            o.leaves = 0
            out.append(ExecReport(ts, _REJECTED_X, o, reason=reason.value, text=text))
            self.oms.order_done(o)
        else:
            self._end(o, ts, out, reason, text)

    def _end(self, o, ts, out, reason, text) -> None:
        """Cancel what is left of an order that is not resting (IOC remainder etc.)."""
        o.leaves = 0
        o.status = _S_CANCELED
        out.append(ExecReport(ts, _CANCELED_X, o, reason=reason.value, text=text))
        self.oms.order_done(o)

    def _stp_mode(self, o) -> int:
        ext = o.ext
        if ext is not None and ext.stp is not None:
            return ext.stp
        return self.oms.stp_mode(o.account)

    def _available(self, o, lim: int, need: int) -> int:
        """Quantity the order would take right now, up to `need` (FOK / MinQty pre-check).

        A dry run of `_match` that changes nothing: per level, displayed orders in
        queue order (an iceberg refill goes to the back of the displayed queue),
        then hidden orders; an own-account order stops the count unless the
        self-trade mode is cancel-oldest (then it is skipped, as it would be cancelled)."""
        is_buy = o.side == BUY
        opp = self.asks if is_buy else self.bids
        got = 0
        account = o.account
        stp = self._stp_mode(o)
        for lv in opp.iter_levels():
            if (lv.price > lim) if is_buy else (lv.price < lim):
                break
            shown = []
            hidden = []
            r = lv.head
            while r is not None:
                if r.flags & F_HIDDEN:
                    hidden.append(r)
                else:
                    shown.append([r, r.visible, r.leaves])
                r = r.next
            i = 0
            while i < len(shown):
                r, vis, leaves = shown[i]
                i += 1
                if r.account == account and stp != _STP_NONE:
                    if stp == _STP_OLDEST:
                        continue
                    return got
                q = vis if vis < need - got else need - got
                got += q
                if got >= need:
                    return got
                leaves -= q
                if leaves and r.flags & F_ICEBERG:
                    d = r.ext.display_qty
                    shown.append([r, d if d < leaves else leaves, leaves])
            for r in hidden:
                if r.account == account and stp != _STP_NONE:
                    if stp == _STP_OLDEST:
                        continue
                    return got
                got += r.leaves
                if got >= need:
                    return got
        return got

    # ------------------------------------------------------------------ matching

    def _match(self, o, opp: BookSide, lim: int, ts: int, out: list) -> None:
        """Trade `o` against the best resting order until it is done or no longer crosses.

        Each `_cross` either fills the head order (removing it), refills an
        iceberg to the back, cancels it (self-trade prevention), or uses up the
        aggressor, so re-reading the head of the best level each time is both
        simple and correct."""
        prices = opp.prices
        levels = opp.levels
        is_buy = o.side == BUY
        while o.leaves and prices:
            best = prices[0] if is_buy else prices[-1]
            if (best > lim) if is_buy else (best < lim):
                return
            lv = levels[best]
            r = lv.head
            if lv.hidden:
                # displayed orders first, then hidden, each in arrival order
                while r is not None and r.flags & F_HIDDEN:
                    r = r.next
                if r is None:
                    r = lv.head
            self._cross(o, r, opp, ts, out)
            if self._stp_stop:
                return

    def _cross(self, o, r, opp: BookSide, ts: int, out: list) -> None:
        """Aggressor `o` meets resting `r`: trade, or apply self-trade prevention."""
        if r.account == o.account:
            mode = self._stp_mode(o)
            if mode != _STP_NONE:
                self._self_trade(o, r, opp, mode, ts, out)
                return
        q = r.visible if r.visible else r.leaves
        if q > o.leaves:
            q = o.leaves
        px = r.price
        oms = self.oms
        oms.trade_seq += 1
        tid = oms.trade_seq
        inst = self.instrument
        # maker side
        r.leaves -= q
        r.cum += q
        r.cum_notional += px * q
        lv = r.level
        if r.visible:
            r.visible -= q
            lv.qty -= q
            opp.dirty.add(px)
        r.status = _S_FILLED if not r.leaves else _S_PARTIAL
        # taker side
        o.leaves -= q
        o.cum += q
        o.cum_notional += px * q
        o.status = _S_FILLED if not o.leaves else _S_PARTIAL
        out.append(ExecReport(ts, _TRADE, r, last_px=px, last_qty=q,
                              fee_e8=inst.fee_e8(px, q, oms.maker_fee(r.account)), liquidity="M", trade_id=tid))
        out.append(ExecReport(ts, _TRADE, o, last_px=px, last_qty=q,
                              fee_e8=inst.fee_e8(px, q, oms.taker_fee(o.account)), liquidity="T", trade_id=tid))
        t = Trade(ts, tid, self.symbol, px, q, o.side, r.order_id, o.order_id, r.account, o.account)
        out.append(t)
        oms.trades[self.symbol].append(t)
        if not r.leaves:
            opp.remove(r)
            oms.order_done(r)
        elif not r.visible and r.flags & F_ICEBERG:
            # refill the displayed slice at the back of the level
            opp.remove(r)
            d = r.ext.display_qty
            r.visible = d if d < r.leaves else r.leaves
            opp.add(r)
        self._px.append(px)
        self.last_px = px

    def _self_trade(self, o, r, opp: BookSide, mode: int, ts: int, out: list) -> None:
        if mode == _STP_NEWEST:
            self._stp_stop = True
            return
        if mode == _STP_OLDEST or mode == _STP_BOTH:
            self.cancel_resting(r, ts, out, Reason.SELF_TRADE, "self-trade prevented: resting order cancelled")
            if mode == _STP_BOTH:
                self._stp_stop = True
            return
        # decrement and cancel: both shrink by the smaller leaves quantity, no trade; an order
        # that stays open has its OrderQty lowered too (qty == cum + leaves), one used up is cancelled
        d = o.leaves if o.leaves < r.leaves else r.leaves
        if d == r.leaves:
            self.cancel_resting(r, ts, out, Reason.SELF_TRADE, "self-trade prevented: resting order decremented to zero")
        else:
            lv = r.level
            r.leaves -= d
            r.qty -= d
            if r.visible > r.leaves:
                if not r.flags & F_HIDDEN:
                    lv.qty -= r.visible - r.leaves
                    opp.dirty.add(r.price)
                r.visible = r.leaves
            out.append(ExecReport(ts, _RESTATED, r, "", 0, 0, 0, "", 0, Reason.SELF_TRADE.value,
                                  "self-trade prevented: resting order decremented"))
        if d == o.leaves:
            o.leaves = 0
            o.status = _S_CANCELED
            out.append(ExecReport(ts, _CANCELED_X, o, "", 0, 0, 0, "", 0, Reason.SELF_TRADE.value,
                                  "self-trade prevented: incoming order decremented to zero"))
            self.oms.order_done(o)
        else:
            o.leaves -= d
            o.qty -= d
            out.append(ExecReport(ts, _RESTATED, o, "", 0, 0, 0, "", 0, Reason.SELF_TRADE.value,
                                  "self-trade prevented: incoming order decremented"))

    # ------------------------------------------------------------------ cancel / replace / expiry

    def cancel_resting(self, o, ts: int, out: list, reason: Reason, text: str, *, cl_ord_id: str = "",
                       exec_type: int = _CANCELED_X, status: int = _S_CANCELED) -> None:
        """End an open order (resting or waiting for a trigger)."""
        if o.level is not None:
            (self.bids if o.side == BUY else self.asks).remove(o)
        else:
            self.stops.pop(o.order_id, None)
        orig = ""
        if cl_ord_id and cl_ord_id != o.cl_ord_id:
            orig = o.cl_ord_id
            o.cl_ord_id = cl_ord_id
        o.leaves = 0
        o.visible = 0
        o.status = status
        out.append(ExecReport(ts, exec_type, o, orig_cl_ord_id=orig, reason=reason.value, text=text))
        self.oms.order_done(o)

    def replace(self, o, new_clid: str, qty: int, price: int, stop_px: int, ts: int, out: list) -> None:
        """Apply an already validated cancel/replace.

        Quantity down at the same price keeps time priority; a price change or a
        quantity increase loses it (the order goes to the back, and may trade if
        it now crosses)."""
        orig = o.cl_ord_id
        o.cl_ord_id = new_clid
        new_leaves = qty - o.cum
        lv = o.level
        if lv is not None:
            is_buy = o.side == BUY
            side = self.bids if is_buy else self.asks
            if price == o.price and qty <= o.qty:
                # in place: keeps priority
                o.qty = qty
                o.leaves = new_leaves
                flags = o.flags
                if not flags & F_HIDDEN:
                    v = o.visible
                    if flags & F_ICEBERG:
                        nv = v if v < new_leaves else new_leaves
                    else:
                        nv = new_leaves
                    if nv != v:
                        lv.qty += nv - v
                        side.dirty.add(price)
                        o.visible = nv
                out.append(ExecReport(ts, _REPLACED_X, o, orig))
                return
            side.remove(o)
            o.qty = qty
            o.leaves = new_leaves
            o.price = price
            out.append(ExecReport(ts, _REPLACED_X, o, orig))
            if is_buy:
                opp = self.asks.prices
                crosses = opp and opp[0] <= price
            else:
                opp = self.bids.prices
                crosses = opp and opp[-1] >= price
            if not crosses:
                # loses time priority: back of the new level
                if o.flags:
                    self._rest(o)
                else:
                    o.visible = new_leaves
                    side.add(o)
                return
            self._execute(o, ts, out, ack=False)
            if self._px and self.stops:
                self.check_triggers(ts, out)
            return
        # waiting for a trigger
        o.qty = qty
        o.leaves = new_leaves
        if price:
            o.price = price
        if stop_px:
            o.ext.stop_px = stop_px
        out.append(ExecReport(ts, _REPLACED_X, o, orig))
        if self.last_px:
            self._px.append(self.last_px)
            self.check_triggers(ts, out)

    # ------------------------------------------------------------------ triggers

    @staticmethod
    def _trail_offset(ext, ref: int) -> int:
        if ext.trail_ticks:
            return ext.trail_ticks
        off = ref * ext.trail_ppm // 1_000_000
        return off if off > 0 else 1

    def check_triggers(self, ts: int, out: list) -> None:
        """Trigger waiting orders against the trade prices printed since the last check.

        Prices are taken in the order they printed: trailing stops trail each one
        before it is tested, so a rising sweep lifts a sell trailing stop without
        triggering it. Orders fired by one batch of prices execute in firing order
        (then arrival order); their own trades are the next batch (cascade)."""
        while self._px:
            prices = self._px
            self._px = []
            if not self.stops:
                return
            fired = []
            for px in prices:
                for o in self.stops.values():
                    if o.ext.triggered:
                        continue
                    ext = o.ext
                    ot = o.ord_type
                    is_buy = o.side == BUY
                    if ot == _TRAILING:
                        off = self._trail_offset(ext, px)
                        if not ext.stop_px:
                            # armed by the first trade it sees; that trade does not trigger it
                            ext.stop_px = px + off if is_buy else max(1, px - off)
                            continue
                        if is_buy:
                            if px + off < ext.stop_px:
                                ext.stop_px = px + off
                        elif px - off > ext.stop_px:
                            ext.stop_px = px - off
                    sp = ext.stop_px
                    if ot == _MIT:
                        hit = px <= sp if is_buy else px >= sp
                    else:
                        hit = px >= sp if is_buy else px <= sp
                    if hit:
                        ext.triggered = True
                        fired.append(o)
            if not fired:
                continue
            for o in fired:
                del self.stops[o.order_id]
            for o in fired:
                if o.status != _S_NEW and o.status != _S_PARTIAL:
                    continue
                if self.state != TradingState.OPEN:
                    o.ext.triggered = False
                    self.stops[o.order_id] = o  # halted: stay armed
                    continue
                out.append(ExecReport(ts, _TRIGGERED, o))
                self._execute(o, ts, out, ack=False)
            # trades made by triggered orders are the next batch (loop)

    def after_command(self, ts: int, out: list) -> None:
        if self._px:
            if self.stops:
                self.check_triggers(ts, out)
            else:
                self._px.clear()

    def book_update(self, ts: int, out: list) -> None:
        """Emit one BookUpdate with the current displayed totals of every level changed since the last one."""
        bd = self.bids.dirty
        ad = self.asks.dirty
        if not bd and not ad:
            return
        levels = []
        if bd:
            lvls = self.bids.levels
            for p in (sorted(bd, reverse=True) if len(bd) > 1 else bd):
                lv = lvls.get(p)
                levels.append((1, p, lv.qty, lv.count - lv.hidden) if lv is not None else (1, p, 0, 0))
            bd.clear()
        if ad:
            lvls = self.asks.levels
            for p in (sorted(ad) if len(ad) > 1 else ad):
                lv = lvls.get(p)
                levels.append((2, p, lv.qty, lv.count - lv.hidden) if lv is not None else (2, p, 0, 0))
            ad.clear()
        ev = BookUpdate(ts, self.symbol, tuple(levels))
        self.md_seq += 1
        ev.seq = self.md_seq
        out.append(ev)
