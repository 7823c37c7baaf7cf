"""Risk state per instrument, per account and per account x instrument ("slot").

Built by the risk listener from execution reports only, so a journal replay
rebuilds it exactly. Everything is a scaled integer:

- positions in lots; cost in ticks x lots (signed, = position x average cost);
- realized P&L per slot in ticks x lots of the instrument (quote currency);
- account aggregates (realized, fees, unrealized, gross exposure, working-order
  exposure, equity) in e8 units of the margin currency;
- balances per currency in e8 units.

The slot also carries the resolved limits of its account and instrument, so a
pre-trade check reads one object and compares ints. Average cost is kept
exactly: closing part of a position removes `cost * closed // position` from
the cost (the remainder stays in the cost), so realized + remaining cost always
adds up to the cash that changed hands.
"""

from __future__ import annotations

from decimal import Decimal

from risk.scaling import BIG, E8, from_e8
from risk.throttle import SlidingWindow

COLLAR_LAST, COLLAR_MID, COLLAR_REFERENCE = 0, 1, 2
COLLAR_MODES = {"last": COLLAR_LAST, "mid": COLLAR_MID, "reference": COLLAR_REFERENCE}


class InstrumentRisk:
    """What the risk layer keeps per instrument: value factors, reference and mark prices."""

    __slots__ = ("symbol", "inst", "book", "base", "quote", "mk_num", "mk_den", "qk_num", "qk_den",
                 "lot_num", "lot_den", "fx_num", "fx_den", "ref_px", "mark", "holders")

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
        self.mark = 0                       # risk mark (ticks): refreshed on the mark schedule
        self.holders: set = set()           # slots with a non-zero position

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


class AccountRisk:
    """One account: aggregates in e8 of the margin currency, balances, account-wide limits."""

    __slots__ = ("account", "slots", "balances", "collateral_e8", "realized_e8", "fees_e8", "unreal_e8",
                 "gross_e8", "open_e8", "day_start_e8", "max_open", "credit_e8", "margin_ppm", "margin_check",
                 "im_ppm", "mm_ppm", "leverage", "daily_loss_e8", "ord_rate", "msg_rate", "loss_fired",
                 "margin_fired", "limits")

    def __init__(self, account: str) -> None:
        self.account = account
        self.slots: dict[str, Slot] = {}
        self.balances: dict[str, int] = {}
        self.collateral_e8 = 0       # starting balance in the margin currency
        self.realized_e8 = 0
        self.fees_e8 = 0
        self.unreal_e8 = 0
        self.gross_e8 = 0            # sum of |position| x mark
        self.open_e8 = 0             # sum of working orders' leaves x price
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
        self.ord_rate: SlidingWindow | None = None
        self.msg_rate: SlidingWindow | None = None
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


class SessionRisk:
    """One gateway session (command origin): its rate limits."""

    __slots__ = ("origin", "ord_rate", "msg_rate")

    def __init__(self, origin: str, ord_rate: SlidingWindow | None, msg_rate: SlidingWindow | None) -> None:
        self.origin = origin
        self.ord_rate = ord_rate
        self.msg_rate = msg_rate


class Slot:
    """One account in one instrument: resolved limits and the live position."""

    __slots__ = ("account", "symbol", "acct", "ir", "max_qty", "max_notional", "collar_ppm", "collar_mode",
                 "max_long", "max_short", "reduce_only", "restricted", "dup_ns", "recent",
                 "pos", "cost", "realized_tl", "fees_e8", "buy_leaves", "sell_leaves", "unreal_e8", "gross_e8",
                 "limits")

    def __init__(self, acct: AccountRisk, ir: InstrumentRisk) -> None:
        self.account = acct.account
        self.symbol = ir.symbol
        self.acct = acct
        self.ir = ir
        # limits (scaled; BIG / 0 / False = none)
        self.max_qty = BIG            # lots
        self.max_notional = BIG       # ticks x lots
        self.collar_ppm = 0
        self.collar_mode = COLLAR_LAST
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
        self.unreal_e8 = 0            # margin currency
        self.gross_e8 = 0
        self.limits: dict = {}

    # ------------------------------------------------------------------ updates (listener)

    def apply_fill(self, is_buy: bool, q: int, p: int, fee_e8: int) -> None:
        """A fill of q lots at p ticks with fee_e8 (quote currency; negative = rebate)."""
        pos = self.pos
        realized = 0
        if pos == 0 or (pos > 0) == is_buy:
            self.cost += q * p if is_buy else -q * p
        else:
            apos = -pos if pos < 0 else pos
            closing = q if q < apos else apos
            removed = self.cost * closing // apos
            self.cost -= removed
            realized = closing * p - removed if pos > 0 else -closing * p - removed
            rest = q - closing
            if rest:
                self.cost += rest * p if is_buy else -rest * p
        self.pos = pos = pos + (q if is_buy else -q)
        ir = self.ir
        a = self.acct
        if realized:
            self.realized_tl += realized
            a.realized_e8 += realized * ir.mk_num // ir.mk_den
        if fee_e8:
            self.fees_e8 += fee_e8
            a.fees_e8 += fee_e8 * ir.fx_num // ir.fx_den
        bal = a.balances
        base_e8 = q * ir.lot_num // ir.lot_den
        quote_e8 = q * p * ir.qk_num // ir.qk_den
        if is_buy:
            bal[ir.base] = bal.get(ir.base, 0) + base_e8
            bal[ir.quote] = bal.get(ir.quote, 0) - quote_e8 - fee_e8
        else:
            bal[ir.base] = bal.get(ir.base, 0) - base_e8
            bal[ir.quote] = bal.get(ir.quote, 0) + quote_e8 - fee_e8
        if pos:
            ir.holders.add(self)
        else:
            ir.holders.discard(self)
        self.revalue()

    def revalue(self) -> None:
        """Unrealized P&L and gross value at the instrument's risk mark (into the account)."""
        ir = self.ir
        pos = self.pos
        if pos:
            m = ir.mark
            if not m:
                # no mark yet: value at cost
                u = 0
                g = (self.cost if self.cost > 0 else -self.cost) * ir.mk_num // ir.mk_den
            else:
                u = (pos * m - self.cost) * ir.mk_num // ir.mk_den
                g = (pos if pos > 0 else -pos) * m * ir.mk_num // ir.mk_den
        else:
            u = g = 0
        a = self.acct
        a.unreal_e8 += u - self.unreal_e8
        a.gross_e8 += g - self.gross_e8
        self.unreal_e8 = u
        self.gross_e8 = g

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
        return {
            "account": self.account,
            "symbol": self.symbol,
            "quantity": (inst.lot_size * pos).normalize() if pos else Decimal(0),
            "side": "long" if pos > 0 else "short" if pos < 0 else "flat",
            "avg_price": inst.avg_price(self.cost, pos) if pos else Decimal(0),
            "mark_price": inst.ticks_to_price(mark),
            "currency": inst.quote,
            "realized_pnl": (unit * self.realized_tl).normalize() if self.realized_tl else Decimal(0),
            "unrealized_pnl": (unit * (pos * mark - self.cost)).normalize() if pos and mark else Decimal(0),
            "fees": from_e8(self.fees_e8),
            "notional": (unit * abs(pos) * mark).normalize() if pos and mark else Decimal(0),
            "working_buy_qty": inst.lots_to_qty(self.buy_leaves),
            "working_sell_qty": inst.lots_to_qty(self.sell_leaves),
        }


class Working:
    """What the risk layer has counted for one working order (so updates are exact deltas)."""

    __slots__ = ("slot", "buy", "leaves", "val")

    def __init__(self, slot: Slot, buy: bool) -> None:
        self.slot = slot
        self.buy = buy
        self.leaves = 0
        self.val = 0     # leaves x price in e8 of the margin currency, as added to the account's open_e8


__all__ = ["InstrumentRisk", "AccountRisk", "SessionRisk", "Slot", "Working", "COLLAR_MODES", "E8"]
