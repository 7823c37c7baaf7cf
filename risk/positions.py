"""Risk state per instrument, per account and per account x instrument ("slot").

Built by the risk listener from execution reports only, so a journal replay
rebuilds it exactly. Everything is a scaled integer:

- positions in lots; cost in ticks x lots (signed, = position x average cost);
- realized P&L per slot in ticks x lots of the instrument (quote currency);
- account aggregates (realized, fees, unrealized, gross exposure, working-order
  exposure, equity) in e8 units of the margin currency, kept up to date
  incrementally so a pre-trade check reads them in O(1);
- balances per currency in e8 units, derived on demand from the slots.

Positions and working orders are valued at the instrument's risk mark (last
trade or mid, refreshed on a schedule of venue time, see RiskControls), not at
each order's own limit price: moving a working order's price then changes no
aggregate, which keeps the dominant cancel/replace flow cheap.

The slot also carries the resolved limits of its account and instrument, so a
pre-trade check reads one object and compares ints. Average cost is kept
exactly: closing part of a position removes `cost * closed // position` from
the cost (the remainder stays in the cost), so realized + remaining cost always
adds up to the cash that changed hands.
"""

from __future__ import annotations

from decimal import Decimal

from risk.scaling import BIG, from_e8, plain
from risk.throttle import TokenBucket

COLLAR_LAST, COLLAR_MID, COLLAR_REFERENCE = 0, 1, 2
COLLAR_MODES = {"last": COLLAR_LAST, "mid": COLLAR_MID, "reference": COLLAR_REFERENCE}


class InstrumentRisk:
    """What the risk layer keeps per instrument: value factors, reference and mark prices."""

    __slots__ = ("symbol", "inst", "book", "base", "quote", "mk_num", "mk_den", "qk_num", "qk_den",
                 "lot_num", "lot_den", "fx_num", "fx_den", "ref_px", "mark", "vpl", "active", "bands")

    def __init__(self, inst, book, mk: tuple[int, int], qk: tuple[int, int], lot: tuple[int, int],
                 fx: tuple[int, int], ref_px: int) -> None:
        self.symbol = inst.symbol
        self.inst = inst
        self.book = book                    # the engine's MatchingEngine (last_px, best prices)
        self.base = inst.base
        self.quote = inst.quote
        self.mk_num, self.mk_den = mk       # ticks x lots -> e8 of the margin currency
        self.qk_num, self.qk_den = qk       # ticks x lots -> e8 of the quote currency
        self.lot_num, self.lot_den = lot    # lots -> e8 of the base currency
        self.fx_num, self.fx_den = fx       # e8 quote -> e8 margin currency
        self.ref_px = ref_px                # configured reference price (ticks), 0 = none
        self.mark = ref_px                  # risk mark (ticks): refreshed on the mark schedule
        self.vpl = 0                        # value of one lot at the mark, e8 of the margin currency
        self.set_mark(ref_px)
        self.active: list = []              # slots that have had a position or working orders (revalued on re-mark)
        self.bands: dict = {}               # (collar ppm, mode) -> CollarBand

    def set_mark(self, mark: int) -> None:
        """Positions and working orders are valued per lot at `vpl` (rounded down to 1e-8),
        so exposure is linear in lots: a change of working quantity is one multiplication."""
        self.mark = mark
        self.vpl = mark * self.mk_num // self.mk_den

    def reference(self, mode: int) -> int:
        """The collar reference price now: last trade, mid, or the configured reference,
        falling back along last -> mid -> reference when one is missing."""
        book = self.book
        if mode == COLLAR_REFERENCE and self.ref_px:
            return self.ref_px
        if mode == COLLAR_LAST and book.last_px:
            return book.last_px
        bids = book.bids.prices
        asks = book.asks.prices
        if bids and asks:
            return (bids[-1] + asks[0]) // 2
        return book.last_px or self.ref_px

    def mark_now(self, mode_mid: bool) -> int:
        book = self.book
        if mode_mid:
            bids = book.bids.prices
            asks = book.asks.prices
            if bids and asks:
                return (bids[-1] + asks[0]) // 2
        return book.last_px or self.mark or self.ref_px


class CollarBand:
    """The allowed limit-price range [lo, hi] (ticks) of one (instrument, collar %, reference)
    combination, shared by every slot with those settings.

    With the last-trade reference the band is recomputed when the instrument
    trades (the listener calls `refresh`), so checking a price is two
    comparisons; with the mid reference (which moves with every book change), or
    before the first trade, `hi` is 0 and the check computes the reference then."""

    __slots__ = ("ir", "ppm", "mode", "lo", "hi")

    def __init__(self, ir: "InstrumentRisk", ppm: int, mode: int) -> None:
        self.ir = ir
        self.ppm = ppm
        self.mode = mode
        self.lo = 0
        self.hi = 0
        self.refresh()

    def refresh(self) -> None:
        if self.mode == COLLAR_LAST:
            ref = self.ir.book.last_px
        elif self.mode == COLLAR_REFERENCE:
            ref = self.ir.ref_px
        else:
            ref = 0
        if ref:
            d = ref * self.ppm // 1_000_000
            self.lo = ref - d
            self.hi = ref + d
        else:
            self.lo = self.hi = 0

    def reference_now(self) -> int:
        return self.ir.reference(self.mode)


class _NoBand:
    """The band of a slot without a price collar: nothing is outside it."""

    __slots__ = ("lo", "hi", "mode", "ppm")

    def __init__(self) -> None:
        self.lo = 0
        self.hi = BIG
        self.mode = COLLAR_LAST
        self.ppm = 0


NO_BAND = _NoBand()


class AccountRisk:
    """One account: aggregates in e8 of the margin currency, account-wide limits."""

    __slots__ = ("account", "slots", "start_balances", "collateral_e8", "realized_e8", "fees_e8", "unreal_e8",
                 "gross_e8", "open_e8", "day_start_e8", "max_open", "credit_e8", "margin_ppm", "margin_check",
                 "im_ppm", "mm_ppm", "leverage", "daily_loss_e8", "ord_rate", "msg_rate", "loss_fired",
                 "margin_fired", "limits")

    def __init__(self, account: str) -> None:
        self.account = account
        self.slots: dict[str, Slot] = {}
        self.start_balances: dict[str, int] = {}   # e8 per currency, from the configuration
        self.collateral_e8 = 0       # starting balance in the margin currency
        self.realized_e8 = 0
        self.fees_e8 = 0
        self.unreal_e8 = 0
        self.gross_e8 = 0            # sum of |position| x mark
        self.open_e8 = 0             # sum of working orders' leaves x mark
        self.day_start_e8 = 0        # pnl at the start of the trading day
        # limits (BIG / 0 = none)
        self.max_open = BIG
        self.credit_e8 = BIG
        self.margin_ppm = 0          # required equity per unit of exposure (max of initial margin, 1/leverage)
        self.margin_check = "initial_margin"
        self.im_ppm = 0
        self.mm_ppm = 0
        self.leverage: Decimal | None = None
        self.daily_loss_e8 = BIG
        self.ord_rate: TokenBucket | None = None
        self.msg_rate: TokenBucket | None = None
        self.loss_fired = False      # automatic daily-loss trigger already fired today
        self.margin_fired = False
        self.limits: dict = {}       # configured values, for views

    def pnl_e8(self) -> int:
        return self.realized_e8 - self.fees_e8 + self.unreal_e8

    def equity_e8(self) -> int:
        return self.collateral_e8 + self.realized_e8 - self.fees_e8 + self.unreal_e8

    def daily_pnl_e8(self) -> int:
        return self.pnl_e8() - self.day_start_e8

    def margin_used_e8(self) -> int:
        """Initial margin held by positions and working orders."""
        return (self.gross_e8 + self.open_e8) * self.margin_ppm // 1_000_000

    def maintenance_e8(self) -> int:
        return self.gross_e8 * self.mm_ppm // 1_000_000

    def balances_e8(self) -> dict[str, int]:
        """Balances per currency: the starting balances plus what fills and fees moved.

        Derived from the slots on demand (a slot's cash flow is realized - cost, in
        ticks x lots of its quote currency; its base flow is the position), so a
        fill updates a handful of ints and no dict."""
        bal = dict(self.start_balances)
        for s in self.slots.values():
            if not (s.pos or s.cost or s.realized_tl or s.fees_e8):
                continue
            ir = s.ir
            bal[ir.base] = bal.get(ir.base, 0) + s.pos * ir.lot_num // ir.lot_den
            bal[ir.quote] = bal.get(ir.quote, 0) + (s.realized_tl - s.cost) * ir.qk_num // ir.qk_den - s.fees_e8
        return bal


class SessionRisk:
    """One gateway session (command origin): its rate limits."""

    __slots__ = ("origin", "ord_rate", "msg_rate")

    def __init__(self, origin: str, ord_rate: TokenBucket | None, msg_rate: TokenBucket | None) -> None:
        self.origin = origin
        self.ord_rate = ord_rate
        self.msg_rate = msg_rate


class Slot:
    """One account in one instrument: resolved limits and the live position."""

    __slots__ = ("account", "symbol", "acct", "ir", "book", "max_qty", "max_notional", "collar_ppm", "collar_mode",
                 "band",
                 "max_long", "max_short", "reduce_only", "restricted", "dup_ns", "recent",
                 "pos", "cost", "realized_tl", "fees_e8", "buy_leaves", "sell_leaves", "unreal_e8", "gross_e8",
                 "open_e8", "active", "limits")

    def __init__(self, acct: AccountRisk, ir: InstrumentRisk) -> None:
        self.account = acct.account
        self.symbol = ir.symbol
        self.acct = acct
        self.ir = ir
        self.book = ir.book
        # limits (scaled; BIG / 0 / False = none)
        self.max_qty = BIG            # lots
        self.max_notional = BIG       # ticks x lots
        self.collar_ppm = 0
        self.collar_mode = COLLAR_LAST
        self.band = NO_BAND           # the price collar's band (NO_BAND: no collar)
        self.max_long = BIG           # lots
        self.max_short = BIG          # lots
        self.reduce_only = False
        self.restricted = False
        self.dup_ns = 0
        self.recent: dict[tuple, int] = {}   # (side, qty, price) -> ts of the last accepted identical order
        # live
        self.pos = 0                  # lots, + long / - short
        self.cost = 0                 # ticks x lots, signed like pos
        self.realized_tl = 0          # ticks x lots
        self.fees_e8 = 0              # quote currency
        self.buy_leaves = 0           # working buy quantity (lots)
        self.sell_leaves = 0
        self.unreal_e8 = 0            # margin currency: pos x mark - cost
        self.gross_e8 = 0             # margin currency: |pos| x mark
        self.open_e8 = 0              # margin currency: working quantity x mark
        self.active = False           # listed in ir.active (has had a position or working orders)
        self.limits: dict = {}

    # ------------------------------------------------------------------ updates (listener)

    def apply_fill(self, is_buy: bool, q: int, p: int, fee_e8: int) -> None:
        """A fill of q lots at p ticks with fee_e8 (quote currency; negative = rebate), then
        the slot revalued at the risk mark (the working quantity is already updated).
        One function with local arithmetic (it runs twice per trade); `revalue` is the
        same valuation for re-marks."""
        pos = self.pos
        cost = self.cost
        ir = self.ir
        a = self.acct
        num = ir.mk_num
        den = ir.mk_den
        if pos == 0 or (pos > 0) == is_buy:
            cost += q * p if is_buy else -q * p
        else:
            apos = -pos if pos < 0 else pos
            closing = q if q < apos else apos
            removed = cost * closing // apos
            cost -= removed
            realized = closing * p - removed if pos > 0 else -closing * p - removed
            rest = q - closing
            if rest:
                cost += rest * p if is_buy else -rest * p
            self.realized_tl += realized
            a.realized_e8 += realized * num // den
        pos = pos + q if is_buy else pos - q
        self.pos = pos
        self.cost = cost
        if fee_e8:
            self.fees_e8 += fee_e8
            a.fees_e8 += fee_e8 if ir.fx_den == ir.fx_num else fee_e8 * ir.fx_num // ir.fx_den
        if not self.active:
            self.active = True
            ir.active.append(self)
        m = ir.mark
        vpl = ir.vpl
        if pos:
            if m:
                u = (pos * m - cost) * num // den
                g = (pos if pos > 0 else -pos) * vpl
            else:
                u = 0
                g = (cost if cost > 0 else -cost) * num // den
        else:
            u = g = 0
        o = (self.buy_leaves + self.sell_leaves) * vpl
        a.unreal_e8 += u - self.unreal_e8
        a.gross_e8 += g - self.gross_e8
        a.open_e8 += o - self.open_e8
        self.unreal_e8 = u
        self.gross_e8 = g
        self.open_e8 = o

    def revalue(self) -> None:
        """Unrealized P&L, gross value and working-order value at the instrument's risk mark."""
        ir = self.ir
        pos = self.pos
        m = ir.mark
        if pos:
            if not m:
                # no mark yet: value at cost
                u = 0
                g = (self.cost if self.cost > 0 else -self.cost) * ir.mk_num // ir.mk_den
            else:
                u = (pos * m - self.cost) * ir.mk_num // ir.mk_den
                g = (pos if pos > 0 else -pos) * ir.vpl
        else:
            u = g = 0
        o = (self.buy_leaves + self.sell_leaves) * ir.vpl
        a = self.acct
        a.unreal_e8 += u - self.unreal_e8
        a.gross_e8 += g - self.gross_e8
        a.open_e8 += o - self.open_e8
        self.unreal_e8 = u
        self.gross_e8 = g
        self.open_e8 = o

    # ------------------------------------------------------------------ checks helpers

    def reduces(self, is_buy: bool, more: int) -> bool:
        """Would `more` additional lots on this side (with the side's working orders)
        only reduce the position, never flip or grow it?"""
        pos = self.pos
        if is_buy:
            return pos < 0 and self.buy_leaves + more <= -pos
        return pos > 0 and self.sell_leaves + more <= pos

    # ------------------------------------------------------------------ views (Decimals)

    def view(self) -> dict:
        ir = self.ir
        inst = ir.inst
        unit = inst.tick_size * inst.lot_size
        mark = ir.mark
        pos = self.pos
        zero = Decimal(0)
        return {
            "account": self.account,
            "symbol": self.symbol,
            "quantity": plain(inst.lot_size * pos) if pos else zero,
            "side": "long" if pos > 0 else "short" if pos < 0 else "flat",
            "avg_price": plain(inst.avg_price(self.cost, pos)) if pos else zero,
            "mark_price": plain(inst.ticks_to_price(mark)) if mark else zero,
            "currency": inst.quote,
            "realized_pnl": plain(unit * self.realized_tl) if self.realized_tl else zero,
            "unrealized_pnl": plain(unit * (pos * mark - self.cost)) if pos and mark else zero,
            "fees": from_e8(self.fees_e8),
            "notional": plain(unit * abs(pos) * mark) if pos and mark else zero,
            "working_buy_qty": plain(inst.lots_to_qty(self.buy_leaves)) if self.buy_leaves else zero,
            "working_sell_qty": plain(inst.lots_to_qty(self.sell_leaves)) if self.sell_leaves else zero,
        }


__all__ = ["InstrumentRisk", "CollarBand", "AccountRisk", "SessionRisk", "Slot", "COLLAR_MODES", "NO_BAND"]
