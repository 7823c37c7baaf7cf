"""The pre-trade checks: one `PreTradeRisk` object the OMS calls on every new order
and every cancel/replace, before the order reaches a book.

One object, not one per check, because the venue's flow is ~80% cancel/replace
and every Python call costs: the checks share one account lookup and one slot
lookup, compare precomputed integers (BIG = no limit, so a switched-off check
costs a comparison that never fires) and allocate nothing on the accepting
path. A refusal names the check, the limit and the attempted value, in outside
units:

    RejectError(Reason.RISK_LIMIT, "max_order_qty: 150 > limit 100",
                {"check": "max_order_qty", "limit": "100", "value": "150", ...})

and counts it in `fixvenue_risk_rejects_total{check, reason}`.

Evaluation order (first failure wins): kill_switch, order_rate, message_rate,
restricted, max_order_qty, max_order_notional, price_collar, max_open_orders,
reduce_only, position_limit, credit_limit, margin, daily_loss, duplicate_order.

Replaces run the subset that a replace can change: kill switch and message
rate always; quantity and notional limits when quantity or price changes; the
collar when the price changes; reduce-only and position limits when the
working quantity grows; credit, margin and daily loss when the order's
exposure grows. Cancels are never checked (pulling risk is always allowed).
"""

from __future__ import annotations

from decimal import Decimal

from engine.reject import Reason, RejectError
from engine.types import F_REDUCE_ONLY, OrdType
from risk.commands import HALTED, REDUCING, STATE_NAMES
from risk.metrics import count_reject
from risk.positions import COLLAR_MID, AccountRisk, SessionRisk, Slot
from risk.scaling import BIG, PPM, from_e8

_LIMIT = int(OrdType.LIMIT)


def _d(v) -> str:
    return str(v.normalize()) if isinstance(v, Decimal) else str(v)


class PreTradeRisk:
    """The `engine.oms.PreTradeCheck` of the risk layer (see module docstring)."""

    __slots__ = ("accounts", "sessions", "kill", "controls", "kill_on", "reduce_on", "_new_session")

    def __init__(self, controls) -> None:
        self.controls = controls
        self.accounts: dict[str, AccountRisk] = controls.accounts
        self.sessions: dict[str, SessionRisk] = controls.sessions
        self.kill = controls.kill
        self.kill_on = "kill_switch" in controls.enabled_checks
        self.reduce_on = "reduce_only" in controls.enabled_checks
        self._new_session = controls.session

    # ------------------------------------------------------------------ refusals (cold path)

    @staticmethod
    def _refuse(reason: Reason, check: str, limit, value, text: str, **extra) -> RejectError:
        count_reject(check, reason.value)
        details = {"check": check, "limit": _d(limit), "value": _d(value)}
        details.update({k: _d(v) for k, v in extra.items()})
        return RejectError(reason, text, details)

    def _kill_refusal(self, st: int, scope: str, target: str, symbol: str) -> RejectError:
        where = scope if scope == "global" else f"{scope} {target}"
        if st == HALTED:
            text = f"kill_switch: {where} is HALTED"
        else:
            text = f"kill_switch: {where} is REDUCING and the order would not reduce the {symbol} position"
        return self._refuse(Reason.KILL_SWITCH, "kill_switch", "ACTIVE", STATE_NAMES[st], text, scope=scope,
                            target=target)

    def _rate_refusal(self, check: str, who: str, key: str, window) -> RejectError:
        per = Decimal(window.window) / 1_000_000_000
        limit = f"{window.count}/{per.normalize()}s"
        return self._refuse(Reason.RATE_LIMITED, check,
                            limit, window.count + 1,
                            f"{check}: more than {window.count} in {per.normalize()}s for {who} {key!r}", scope=who)

    def _qty(self, s: Slot, lots: int) -> Decimal:
        return s.ir.inst.lots_to_qty(lots) if lots < BIG else Decimal(lots)

    def _money_tl(self, s: Slot, ticklots: int) -> Decimal:
        """ticks x lots of the slot's instrument as margin-currency money."""
        ir = s.ir
        return from_e8(ticklots * ir.mk_num // ir.mk_den)

    def _value_px(self, s: Slot, cmd, is_buy: bool) -> int:
        """Price used to value an order: its limit or stop price, else (market) the opposite best,
        else the last trade / reference."""
        px = cmd.price or cmd.stop_px
        if px:
            return px
        book = s.ir.book
        p = book.asks.prices if is_buy else book.bids.prices
        if p:
            return p[0] if is_buy else p[-1]
        return book.last_px or s.ir.mark or s.ir.ref_px

    # ------------------------------------------------------------------ new orders

    def check_new(self, cmd, oms) -> RejectError | None:
        a = self.accounts.get(cmd.account)
        if a is None:
            a = self.controls.account(cmd.account)
        s = a.slots.get(cmd.symbol)
        if s is None:
            s = self.controls.slot(a, cmd.symbol)
        is_buy = cmd.side == 1
        qty = cmd.qty
        ts = cmd.ts
        if self.kill.any_active and self.kill_on:
            st, scope, target = self.kill.effective(cmd.account, cmd.origin, cmd.symbol)
            if st == HALTED or (st == REDUCING and not s.reduces(is_buy, qty)):
                return self._kill_refusal(st, scope, target, cmd.symbol)
        sess = self.sessions.get(cmd.origin)
        if sess is None:
            sess = self._new_session(cmd.origin)
        w = sess.ord_rate
        if w is not None and not w.allow(ts):
            return self._rate_refusal("order_rate", "session", cmd.origin, w)
        w = a.ord_rate
        if w is not None and not w.allow(ts):
            return self._rate_refusal("order_rate", "account", cmd.account, w)
        w = sess.msg_rate
        if w is not None and not w.allow(ts):
            return self._rate_refusal("message_rate", "session", cmd.origin, w)
        w = a.msg_rate
        if w is not None and not w.allow(ts):
            return self._rate_refusal("message_rate", "account", cmd.account, w)
        if s.restricted:
            return self._refuse(Reason.RESTRICTED, "restricted", "not allowed", cmd.symbol,
                                f"restricted: {cmd.symbol} is restricted for account {cmd.account}")
        if qty > s.max_qty:
            return self._refuse(Reason.RISK_LIMIT, "max_order_qty", self._qty(s, s.max_qty), self._qty(s, qty),
                                f"max_order_qty: {self._qty(s, qty)} > limit {self._qty(s, s.max_qty)}")
        px = self._value_px(s, cmd, is_buy)
        if qty * px > s.max_notional:
            lim = self._money_tl(s, s.max_notional)
            val = self._money_tl(s, qty * px)
            return self._refuse(Reason.RISK_LIMIT, "max_order_notional", lim, val,
                                f"max_order_notional: {val} > limit {lim}")
        price = cmd.price
        if s.collar_ppm and price and cmd.ord_type == _LIMIT:
            ref = s.ir.reference(s.collar_mode)
            if ref:
                diff = price - ref if price > ref else ref - price
                if diff * PPM > ref * s.collar_ppm:
                    return self._collar_refusal(s, price, ref)
        if len(oms.open_by_account[cmd.account]) >= a.max_open:
            return self._refuse(Reason.RISK_LIMIT, "max_open_orders", a.max_open, a.max_open + 1,
                                f"max_open_orders: {a.max_open + 1} > limit {a.max_open}")
        if (cmd.reduce_only or s.reduce_only) and self.reduce_on and not s.reduces(is_buy, qty):
            return self._reduce_refusal(s, is_buy, qty, bool(cmd.reduce_only))
        if is_buy:
            after = s.pos + s.buy_leaves + qty
            if after > s.max_long:
                return self._position_refusal(s, "long", after, s.max_long)
        else:
            after = s.sell_leaves + qty - s.pos
            if after > s.max_short:
                return self._position_refusal(s, "short", after, s.max_short)
        ir = s.ir
        v = qty * px * ir.mk_num // ir.mk_den
        err = self._exposure(a, s, v, is_buy, qty)
        if err is not None:
            return err
        if s.dup_ns:
            key = (cmd.side, qty, price)
            recent = s.recent
            last = recent.get(key)
            if last is not None and ts - last < s.dup_ns:
                return self._refuse(Reason.DUPLICATE_ORDER, "duplicate_order", f"{s.dup_ns // 1_000_000}ms",
                                    f"{(ts - last) // 1_000_000}ms",
                                    f"duplicate_order: identical {cmd.symbol} order "
                                    f"({'buy' if is_buy else 'sell'} {self._qty(s, qty)} @ "
                                    f"{ir.inst.ticks_to_price(price) if price else 'market'}) "
                                    f"{(ts - last) / 1e6:g}ms after the previous one (window {s.dup_ns / 1e6:g}ms)")
            recent[key] = ts
            if len(recent) > 256:
                horizon = ts - s.dup_ns
                for k in [k for k, t in recent.items() if t <= horizon]:
                    del recent[k]
        return None

    # ------------------------------------------------------------------ cancel / replace (hot path)

    def check_replace(self, cmd, o, oms) -> RejectError | None:
        a = self.accounts.get(o.account)
        if a is None:
            return None
        ts = cmd.ts
        if self.kill.any_active and self.kill_on:
            err = self._kill_replace(cmd, o, a)
            if err is not None:
                return err
        w = a.msg_rate
        if w is not None:
            ring = w.ring
            i = w.idx
            if ts - ring[i] < w.window:
                return self._rate_refusal("message_rate", "account", o.account, w)
            ring[i] = ts
            i += 1
            w.idx = 0 if i == w.count else i
        sess = self.sessions.get(cmd.origin)
        if sess is None:
            sess = self._new_session(cmd.origin)
        w = sess.msg_rate
        if w is not None and not w.allow(ts):
            return self._rate_refusal("message_rate", "session", cmd.origin, w)
        qty = cmd.qty or o.qty
        px = cmd.price or o.price
        oqty = o.qty
        opx = o.price
        if qty == oqty and px == opx:
            return None
        s = a.slots[o.symbol]
        if qty != oqty and qty > s.max_qty:
            return self._refuse(Reason.RISK_LIMIT, "max_order_qty", self._qty(s, s.max_qty), self._qty(s, qty),
                                f"max_order_qty: {self._qty(s, qty)} > limit {self._qty(s, s.max_qty)}")
        if px:
            if qty * px > s.max_notional:
                lim = self._money_tl(s, s.max_notional)
                val = self._money_tl(s, qty * px)
                return self._refuse(Reason.RISK_LIMIT, "max_order_notional", lim, val,
                                    f"max_order_notional: {val} > limit {lim}")
            if px != opx and s.collar_ppm and o.ord_type == _LIMIT:
                ref = s.ir.reference(s.collar_mode)
                if ref:
                    diff = px - ref if px > ref else ref - px
                    if diff * PPM > ref * s.collar_ppm:
                        return self._collar_refusal(s, px, ref)
        leaves = qty - o.cum
        dl = leaves - o.leaves
        is_buy = o.side == 1
        if dl > 0:
            if (o.flags & F_REDUCE_ONLY or s.reduce_only) and self.reduce_on and not s.reduces(is_buy, dl):
                return self._reduce_refusal(s, is_buy, dl, bool(o.flags & F_REDUCE_ONLY))
            if is_buy:
                after = s.pos + s.buy_leaves + dl
                if after > s.max_long:
                    return self._position_refusal(s, "long", after, s.max_long)
            else:
                after = s.sell_leaves + dl - s.pos
                if after > s.max_short:
                    return self._position_refusal(s, "short", after, s.max_short)
        if not px:
            px = opx = o.stop_px
        if leaves * px > o.leaves * opx:
            ir = s.ir
            dv = (leaves * px - o.leaves * opx) * ir.mk_num // ir.mk_den
            return self._exposure(a, s, dv, is_buy, dl if dl > 0 else 0)
        return None

    def _kill_replace(self, cmd, o, a) -> RejectError | None:
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

    # ------------------------------------------------------------------ shared pieces

    def _exposure(self, a: AccountRisk, s: Slot, v: int, is_buy: bool, more: int) -> RejectError | None:
        """Credit limit, margin (initial margin / max leverage) and daily loss for an order adding
        `v` e8 of exposure. An order that only reduces the position passes these."""
        exp = a.gross_e8 + a.open_e8 + v
        if exp > a.credit_e8:
            if not s.reduces(is_buy, more):
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

    def _collar_refusal(self, s: Slot, price: int, ref: int) -> RejectError:
        inst = s.ir.inst
        pct = Decimal(s.collar_ppm) / 10_000
        dev = (Decimal(abs(price - ref)) * 100 / Decimal(ref)).quantize(Decimal("0.01"))
        mode = ("last", "mid", "reference")[s.collar_mode]
        return self._refuse(Reason.PRICE_COLLAR, "price_collar", f"{pct.normalize()}%", f"{dev}%",
                            f"price_collar: {inst.ticks_to_price(price)} is {dev}% from the reference "
                            f"{inst.ticks_to_price(ref)} > limit {pct.normalize()}%",
                            reference=inst.ticks_to_price(ref), price=inst.ticks_to_price(price), mode=mode)

    def _position_refusal(self, s: Slot, side: str, after: int, limit: int) -> RejectError:
        check_text = f"position_limit: {side} {self._qty(s, after)} > limit {self._qty(s, limit)}"
        return self._refuse(Reason.RISK_LIMIT, "position_limit", self._qty(s, limit), self._qty(s, after),
                            check_text + " (position plus working orders)", side=side)

    def _reduce_refusal(self, s: Slot, is_buy: bool, more: int, flag: bool) -> RejectError:
        pos = s.pos
        working = s.buy_leaves if is_buy else s.sell_leaves
        why = "the order is reduce-only" if flag else f"account {s.account} is reduce-only in {s.symbol}"
        return self._refuse(Reason.REDUCE_ONLY, "reduce_only", self._qty(s, abs(pos)) if pos else Decimal(0),
                            self._qty(s, working + more),
                            f"reduce_only: {why}; {'buy' if is_buy else 'sell'} {self._qty(s, working + more)} "
                            f"(with working orders) would not reduce the position {self._qty(s, pos) if pos else 0}")
