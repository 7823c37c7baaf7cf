"""The pre-trade checks: one `PreTradeRisk` object the OMS calls on every new order
and every cancel/replace, before the order reaches a book.

One object, not one per check, because the venue's flow is ~80% cancel/replace
and every Python call and attribute load costs: the checks share one account
lookup and one slot lookup, compare precomputed integers (BIG = no limit, so a
switched-off check is a comparison that never fires), and allocate nothing on
the accepting path. `check_new` / `check_replace` are closures over the risk
state for the same reason. A refusal names the check, the limit and the
attempted value, in outside units:

    RejectError(Reason.RISK_LIMIT, "max_order_qty: 150 > limit 100",
                {"check": "max_order_qty", "limit": "100", "value": "150", ...})

and counts it in `fixvenue_risk_rejects_total{check, reason}`.

New orders, in this order (first failure wins): kill_switch, order_rate
(session, account), message_rate (session, account), restricted,
max_order_qty, max_order_notional, price_collar, max_open_orders, reduce_only,
position_limit, credit_limit, margin, daily_loss, duplicate_order.

Replaces run what a replace can change: kill_switch and message_rate always;
price_collar and max_order_notional when the price changes; max_order_qty and
max_order_notional when the quantity changes; reduce_only, position_limit,
credit_limit, margin and daily_loss when the working quantity grows (exposure
is valued at the risk mark, so a price move alone does not change it).
Cancels are never checked: pulling risk is always allowed.
"""

from __future__ import annotations

from decimal import Decimal

from engine.reject import Reason, RejectError
from engine.types import F_REDUCE_ONLY
from risk.commands import HALTED, REDUCING, STATE_NAMES
from risk.metrics import count_reject
from risk.positions import AccountRisk, Slot
from risk.scaling import BIG, PPM, from_e8, plain


def _d(v) -> str:
    return str(plain(v)) if isinstance(v, Decimal) else str(v)


class PreTradeRisk:
    """The `engine.oms.PreTradeCheck` of the risk layer (see module docstring)."""

    __slots__ = ("controls", "kill", "reduce_on", "check_new", "check_replace")

    def __init__(self, controls) -> None:
        self.controls = controls
        self.kill = controls.kill
        self.reduce_on = "reduce_only" in controls.enabled_checks
        self._build()

    # ------------------------------------------------------------------ the checks

    def _build(self) -> None:
        controls = self.controls
        accounts = controls.accounts
        sess_ord = controls.session_order_rates      # origin -> TokenBucket | None
        sess_msg = controls.session_message_rates
        new_session = controls.session
        new_account = controls.account
        new_slot = controls.slot
        kill = self.kill
        reduce_on = self.reduce_on
        refuse = self._refuse
        rate_refusal = self._rate_refusal
        qty_of = self._qty
        value_px = self._value_px
        exposure = self._exposure
        collar = self._collar
        position_refusal = self._position_refusal
        reduce_refusal = self._reduce_refusal
        kill_new = self._kill_new
        kill_replace = self._kill_replace
        dup_refusal = self._dup_refusal
        notional_refusal = self._notional_refusal
        risk_limit = Reason.RISK_LIMIT
        reduce_flag = F_REDUCE_ONLY
        PPM_ = PPM

        def check_new(cmd, oms):
            account = cmd.account
            try:
                a = accounts[account]
            except KeyError:
                a = new_account(account)
            symbol = cmd.symbol
            try:
                s = a.slots[symbol]
            except KeyError:
                s = new_slot(a, symbol)
            is_buy = cmd.side == 1
            qty = cmd.qty
            ts = cmd.ts
            if kill.any_active:
                err = kill_new(cmd, s, is_buy)
                if err is not None:
                    return err
            origin = cmd.origin
            try:
                w = sess_ord[origin]
            except KeyError:
                new_session(origin)
                w = sess_ord[origin]
            # token buckets (TokenBucket.allow, inlined): refused messages are not recorded
            if w is not None:
                tat = w.tat
                if tat < ts:
                    tat = ts
                elif tat - ts > w.tau:
                    return rate_refusal("order_rate", "session", origin, w)
                w.tat = tat + w.T
            w = a.ord_rate
            if w is not None:
                tat = w.tat
                if tat < ts:
                    tat = ts
                elif tat - ts > w.tau:
                    return rate_refusal("order_rate", "account", account, w)
                w.tat = tat + w.T
            w = sess_msg[origin]
            if w is not None:
                tat = w.tat
                if tat < ts:
                    tat = ts
                elif tat - ts > w.tau:
                    return rate_refusal("message_rate", "session", origin, w)
                w.tat = tat + w.T
            w = a.msg_rate
            if w is not None:
                tat = w.tat
                if tat < ts:
                    tat = ts
                elif tat - ts > w.tau:
                    return rate_refusal("message_rate", "account", account, w)
                w.tat = tat + w.T
            if s.restricted:
                return refuse(Reason.RESTRICTED, "restricted", "not allowed", symbol,
                              f"restricted: {symbol} is restricted for account {account}")
            if qty > s.max_qty:
                return refuse(risk_limit, "max_order_qty", qty_of(s, s.max_qty), qty_of(s, qty),
                              f"max_order_qty: {qty_of(s, qty)} > limit {qty_of(s, s.max_qty)}")
            price = cmd.price
            px = price or value_px(s, cmd, is_buy)
            if qty * px > s.max_notional:
                return notional_refusal(s, qty * px)
            b = s.band
            if price and (price < b.lo or price > b.hi):
                err = collar(s, b, price)
                if err is not None:
                    return err
            if len(oms.open_by_account[account]) >= a.max_open:
                return refuse(risk_limit, "max_open_orders", a.max_open, a.max_open + 1,
                              f"max_open_orders: {a.max_open + 1} > limit {a.max_open}")
            if (cmd.reduce_only or s.reduce_only) and reduce_on and not s.reduces(is_buy, qty):
                return reduce_refusal(s, is_buy, qty, bool(cmd.reduce_only))
            if is_buy:
                after = s.pos + s.buy_leaves + qty
                if after > s.max_long:
                    return position_refusal(s, "long", after, s.max_long)
            else:
                after = s.sell_leaves + qty - s.pos
                if after > s.max_short:
                    return position_refusal(s, "short", after, s.max_short)
            # credit limit, margin, daily loss (see _exposure, which also words the refusal)
            ir = s.ir
            exp = a.gross_e8 + a.open_e8 + qty * (ir.vpl or px * ir.mk_num // ir.mk_den)
            if exp > a.credit_e8 or (
                    a.margin_ppm and exp * a.margin_ppm > (a.collateral_e8 + a.realized_e8 - a.fees_e8
                                                           + a.unreal_e8) * PPM_) or (
                    a.daily_loss_e8 < BIG and a.day_start_e8 - (a.realized_e8 - a.fees_e8 + a.unreal_e8)
                    > a.daily_loss_e8):
                err = exposure(a, s, exp - a.gross_e8 - a.open_e8, is_buy, qty)
                if err is not None:
                    return err
            if s.dup_ns:
                key = (cmd.side, qty, price)
                recent = s.recent
                last = recent.get(key)
                if last is not None and ts - last < s.dup_ns:
                    return dup_refusal(s, cmd, ts - last)
                recent[key] = ts
                if len(recent) > 256:
                    horizon = ts - s.dup_ns
                    for k in [k for k, t in recent.items() if t <= horizon]:
                        del recent[k]
            return None

        def check_replace(cmd, o, oms):
            # the hot path: most replaces move the price of a working order
            try:
                a = accounts[o.account]
            except KeyError:
                return None
            if kill.any_active:
                err = kill_replace(cmd, o, a)
                if err is not None:
                    return err
            ts = cmd.ts
            w = a.msg_rate
            if w is not None:
                # TokenBucket.allow, inlined
                tat = w.tat
                if tat < ts:
                    w.tat = ts + w.T
                elif tat - ts > w.tau:
                    return rate_refusal("message_rate", "account", o.account, w)
                else:
                    w.tat = tat + w.T
            try:
                w = sess_msg[cmd.origin]
            except KeyError:
                new_session(cmd.origin)
                w = sess_msg[cmd.origin]
            if w is not None:
                tat = w.tat
                if tat < ts:
                    w.tat = ts + w.T
                elif tat - ts > w.tau:
                    return rate_refusal("message_rate", "session", cmd.origin, w)
                else:
                    w.tat = tat + w.T
            px = cmd.price
            if px and px != o.price:
                s = a.slots[o.symbol]
                b = s.band                       # no collar: a band that never refuses
                if px < b.lo or px > b.hi:
                    err = collar(s, b, px)
                    if err is not None:
                        return err
                qty = cmd.qty or o.qty
                if qty * px > s.max_notional:
                    return notional_refusal(s, qty * px)
                if qty == o.qty:
                    return None
            else:
                qty = cmd.qty
                if not qty or qty == o.qty:
                    return None
                px = o.price
                s = a.slots[o.symbol]
                if px and qty * px > s.max_notional:
                    return notional_refusal(s, qty * px)
            # the quantity changes
            if qty > s.max_qty:
                return refuse(risk_limit, "max_order_qty", qty_of(s, s.max_qty), qty_of(s, qty),
                              f"max_order_qty: {qty_of(s, qty)} > limit {qty_of(s, s.max_qty)}")
            dl = qty - o.cum - o.leaves
            if dl <= 0:
                return None
            is_buy = o.side == 1
            if (o.flags & reduce_flag or s.reduce_only) and reduce_on and not s.reduces(is_buy, dl):
                return reduce_refusal(s, is_buy, dl, bool(o.flags & reduce_flag))
            if is_buy:
                after = s.pos + s.buy_leaves + dl
                if after > s.max_long:
                    return position_refusal(s, "long", after, s.max_long)
            else:
                after = s.sell_leaves + dl - s.pos
                if after > s.max_short:
                    return position_refusal(s, "short", after, s.max_short)
            ir = s.ir
            return exposure(a, s, dl * (ir.vpl or (px or o.stop_px) * ir.mk_num // ir.mk_den), is_buy, dl)

        self.check_new = check_new
        self.check_replace = check_replace

    # ------------------------------------------------------------------ refusals and shared pieces (cold path)

    @staticmethod
    def _refuse(reason: Reason, check: str, limit, value, text: str, **extra) -> RejectError:
        count_reject(check, reason.value)
        details = {"check": check, "limit": _d(limit), "value": _d(value)}
        details.update({k: _d(v) for k, v in extra.items()})
        return RejectError(reason, text, details)

    def _notional_refusal(self, s: Slot, ticklots: int) -> RejectError:
        lim = self._money_tl(s, s.max_notional)
        val = self._money_tl(s, ticklots)
        return self._refuse(Reason.RISK_LIMIT, "max_order_notional", lim, val,
                            f"max_order_notional: {val} > limit {lim}")

    def _kill_new(self, cmd, s: Slot, is_buy: bool) -> RejectError | None:
        st, scope, target = self.kill.effective(cmd.account, cmd.origin, cmd.symbol)
        if st == HALTED or (st == REDUCING and not s.reduces(is_buy, cmd.qty)):
            return self._kill_refusal(st, scope, target, cmd.symbol)
        return None

    def _kill_replace(self, cmd, o, a: AccountRisk) -> RejectError | None:
        st, scope, target = self.kill.effective(o.account, cmd.origin, o.symbol, o.origin)
        if st == HALTED:
            return self._kill_refusal(st, scope, target, o.symbol)
        if st == REDUCING:
            qty = cmd.qty or o.qty
            dl = qty - o.cum - o.leaves
            s = a.slots[o.symbol]
            if dl > 0 and not s.reduces(o.side == 1, dl):
                return self._kill_refusal(st, scope, target, o.symbol)
        return None

    def _kill_refusal(self, st: int, scope: str, target: str, symbol: str) -> RejectError:
        where = scope if scope == "global" else f"{scope} {target}"
        if st == HALTED:
            text = f"kill_switch: {where} is HALTED"
        else:
            text = f"kill_switch: {where} is REDUCING and the order would not reduce the {symbol} position"
        return self._refuse(Reason.KILL_SWITCH, "kill_switch", "ACTIVE", STATE_NAMES[st], text, scope=scope,
                            target=target)

    def _rate_refusal(self, check: str, who: str, key: str, bucket) -> RejectError:
        limit = bucket.limit_text()
        return self._refuse(Reason.RATE_LIMITED, check, limit, "over",
                            f"{check}: {who} {key!r} is over its limit of {limit}", scope=who)

    @staticmethod
    def _qty(s: Slot, lots: int) -> Decimal:
        return plain(s.ir.inst.lots_to_qty(lots)) if lots < BIG else Decimal(lots)

    @staticmethod
    def _money_tl(s: Slot, ticklots: int) -> Decimal:
        """ticks x lots of the slot's instrument as margin-currency money."""
        ir = s.ir
        return from_e8(ticklots * ir.mk_num // ir.mk_den)

    @staticmethod
    def _value_px(s: Slot, cmd, is_buy: bool) -> int:
        """Price used to value an order without a limit price: its stop price, else the
        opposite best, else the last trade / mark / reference."""
        if cmd.stop_px:
            return cmd.stop_px
        book = s.book
        p = book.asks.prices if is_buy else book.bids.prices
        if p:
            return p[0] if is_buy else p[-1]
        return book.last_px or s.ir.mark or s.ir.ref_px

    def _collar(self, s: Slot, b, price: int) -> RejectError | None:
        """A price outside the precomputed band, or no precomputed band: decide exactly."""
        if b.hi:
            ref = (b.lo + b.hi) // 2
            if b.mode == 0:
                ref = s.book.last_px
            elif b.mode == 2:
                ref = s.ir.ref_px
        else:
            ref = b.reference_now()
            if not ref:
                return None      # nothing to measure against yet (empty book, no trades, no reference)
            diff = price - ref if price > ref else ref - price
            if diff * PPM <= ref * b.ppm:
                return None
        inst = s.ir.inst
        pct = plain(Decimal(b.ppm) / 10_000)
        dev = (Decimal(abs(price - ref)) * 100 / Decimal(ref)).quantize(Decimal("0.01"))
        mode = ("last", "mid", "reference")[b.mode]
        return self._refuse(Reason.PRICE_COLLAR, "price_collar", f"{pct}%", f"{dev}%",
                            f"price_collar: {inst.ticks_to_price(price)} is {dev}% from the {mode} reference "
                            f"{inst.ticks_to_price(ref)} > limit {pct}%",
                            reference=inst.ticks_to_price(ref), price=inst.ticks_to_price(price), mode=mode)

    def _exposure(self, a: AccountRisk, s: Slot, v: int, is_buy: bool, more: int) -> RejectError | None:
        """Credit limit, margin (initial margin / max leverage) and daily loss for an order adding
        `v` e8 of exposure. An order that only reduces the position passes these."""
        exp = a.gross_e8 + a.open_e8 + v
        if exp > a.credit_e8 and not s.reduces(is_buy, more):
            return self._refuse(Reason.RISK_LIMIT, "credit_limit", from_e8(a.credit_e8), from_e8(exp),
                                f"credit_limit: gross exposure {from_e8(exp)} > limit {from_e8(a.credit_e8)}")
        m = a.margin_ppm
        if m:
            eq = a.collateral_e8 + a.realized_e8 - a.fees_e8 + a.unreal_e8
            if exp * m > eq * PPM and not s.reduces(is_buy, more):
                return self._margin_refusal(a, exp, eq)
        lim = a.daily_loss_e8
        if lim < BIG:
            loss = a.day_start_e8 - (a.realized_e8 - a.fees_e8 + a.unreal_e8)
            if loss > lim and not s.reduces(is_buy, more):
                return self._refuse(Reason.RISK_LIMIT, "daily_loss", from_e8(lim), from_e8(loss),
                                    f"daily_loss: loss {from_e8(loss)} > limit {from_e8(lim)}")
        return None

    def _margin_refusal(self, a: AccountRisk, exp: int, eq: int) -> RejectError:
        required = exp * a.margin_ppm // PPM
        if a.margin_check == "max_leverage":
            lev = f"{Decimal(exp) / Decimal(eq):.2f}" if eq > 0 else "inf"
            return self._refuse(Reason.INSUFFICIENT_BALANCE, "margin", a.leverage, lev,
                                f"max_leverage: leverage {lev} > limit {a.leverage} "
                                f"(exposure {from_e8(exp)}, equity {from_e8(eq)})", rule="max_leverage")
        return self._refuse(Reason.INSUFFICIENT_BALANCE, "margin", from_e8(eq), from_e8(required),
                            f"initial_margin: required {from_e8(required)} > equity {from_e8(eq)}",
                            rule="initial_margin")

    def _position_refusal(self, s: Slot, side: str, after: int, limit: int) -> RejectError:
        return self._refuse(Reason.RISK_LIMIT, "position_limit", self._qty(s, limit), self._qty(s, after),
                            f"position_limit: {side} {self._qty(s, after)} > limit {self._qty(s, limit)} "
                            f"(position plus working orders)", side=side)

    def _reduce_refusal(self, s: Slot, is_buy: bool, more: int, flag: bool) -> RejectError:
        pos = s.pos
        working = s.buy_leaves if is_buy else s.sell_leaves
        why = "the order is reduce-only" if flag else f"account {s.account} is reduce-only in {s.symbol}"
        return self._refuse(Reason.REDUCE_ONLY, "reduce_only", self._qty(s, abs(pos)) if pos else Decimal(0),
                            self._qty(s, working + more),
                            f"reduce_only: {why}; {'buy' if is_buy else 'sell'} {self._qty(s, working + more)} "
                            f"(with working orders) would not reduce the position {self._qty(s, pos) if pos else 0}")

    def _dup_refusal(self, s: Slot, cmd, age: int) -> RejectError:
        inst = s.ir.inst
        px = inst.ticks_to_price(cmd.price) if cmd.price else "market"
        return self._refuse(Reason.DUPLICATE_ORDER, "duplicate_order", f"{s.dup_ns // 1_000_000}ms",
                            f"{age / 1e6:g}ms",
                            f"duplicate_order: identical {cmd.symbol} order ({'buy' if cmd.side == 1 else 'sell'} "
                            f"{self._qty(s, cmd.qty)} @ {px}) {age / 1e6:g}ms after the previous one "
                            f"(window {s.dup_ns / 1e6:g}ms)")
