"""Randomized: no order or replace the OMS accepted ever breached a limit it was subject to.

Hypothesis drives random flows (new limit / market / IOC orders, replaces, cancels,
the passage of time) from several accounts and sessions through the real OMS with
every check on and tight limits, so that all of them fire. After each command an
independent oracle — its own average-cost ledger built from the fills, the engine's
own open orders and book, exact fractions — recomputes what each accepted order or
replace was subject to at that moment and asserts it stayed within every limit
(to within the risk layer's 1e-8 rounding, in the permissive direction only).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from risk_fixtures import GTC, IOC, LIMIT, MARKET, NS, SYM, SYM2, Desk

from engine.commands import CancelOrder, NewOrder, ReplaceOrder, Tick
from engine.types import BUY, SELL, ExecType

NEW = int(ExecType.NEW)
TRADE = int(ExecType.TRADE)
REPLACED = int(ExecType.REPLACED)
EPS = Fraction(1, 10**6)   # USD: rounding of the e8 arithmetic, many times over

LIMITS = {
    "max_order_qty": "3", "max_order_notional": "150000", "price_collar_pct": "5", "collar_reference": "last",
    "max_open_orders": 4, "max_position_long": "5", "max_position_short": "4", "credit_limit": "300000",
    "initial_margin_pct": "40", "daily_loss_limit": "3000", "duplicate_window_ms": 200,
    "order_rate": {"count": 5, "per_seconds": 1}, "message_rate": {"count": 6, "per_seconds": 1},
    "session_order_rate": {"count": 6, "per_seconds": 1},
}
RISK = {
    "mark_interval_ms": 0,
    "defaults": LIMITS,
    "accounts": {"A": {"instruments": {SYM: {"max_order_qty": "2"}}},
                 "B": {"instruments": {SYM2: {"reduce_only": True}}},
                 "C": {"restricted_instruments": [SYM2]}},
}
REFS = {SYM: Decimal("50000"), SYM2: Decimal("3000")}
BAL = {"A": {"USD": Decimal("100000")}, "B": {"USD": Decimal("100000")}, "C": {"USD": Decimal("100000")},
       "MM": {"USD": Decimal("1000000")}}
ORIGINS = ("FIX:1", "FIX:2", "REST:k")
ACCTS = ("A", "B", "C", "MM")


class Oracle:
    """An independent ledger: positions, average cost, realized P&L, fees from the fills."""

    def __init__(self, d: Desk) -> None:
        self.d = d
        self.pos: dict = {}
        self.cost: dict = {}
        self.realized: dict = {}
        self.fees: dict = {}
        self.last: dict = {}
        self.accepted_new: dict = {}       # account -> [ts]
        self.session_new: dict = {}        # origin -> [ts]
        self.messages: dict = {}           # account -> [ts] (new + replaces accepted)
        self.recent: dict = {}             # (acct, sym, side, qty, price) -> ts

    def k(self, sym) -> Fraction:
        inst = self.d.insts[sym]
        return Fraction(inst.tick_size) * Fraction(inst.lot_size)

    def mark(self, sym) -> int:
        return self.last.get(sym) or self.d.px(REFS[sym], sym)

    def fill(self, ev) -> None:
        key = (ev.account, ev.symbol)
        q = ev.last_qty if ev.side == BUY else -ev.last_qty
        pos = self.pos.get(key, 0)
        cost = self.cost.get(key, Fraction(0))
        if pos == 0 or (pos > 0) == (q > 0):
            cost += q * ev.last_px
        else:
            closing = min(abs(q), abs(pos))
            avg = cost / pos
            sign = 1 if pos > 0 else -1
            self.realized[key] = self.realized.get(key, 0) + sign * closing * (ev.last_px - avg)
            cost -= avg * closing * sign
            rest = abs(q) - closing
            if rest:
                cost += (rest if q > 0 else -rest) * ev.last_px
        self.pos[key] = pos + q
        self.cost[key] = cost
        self.fees[ev.account] = self.fees.get(ev.account, 0) + Fraction(ev.fee_e8, 10**8)

    def working(self, acct, sym, side) -> int:
        return sum(o.leaves for o in self.d.oms.open_by_account[acct].values() if o.symbol == sym and o.side == side)

    def exposure(self, acct) -> Fraction:
        out = Fraction(0)
        for sym in (SYM, SYM2):
            m = self.mark(sym)
            work = self.working(acct, sym, BUY) + self.working(acct, sym, SELL)
            out += (abs(self.pos.get((acct, sym), 0)) + work) * m * self.k(sym)
        return out

    def pnl(self, acct) -> Fraction:
        out = -self.fees.get(acct, 0)
        for sym in (SYM, SYM2):
            key = (acct, sym)
            out += (self.realized.get(key, 0) + self.pos.get(key, 0) * self.mark(sym) - self.cost.get(key, 0)) \
                * self.k(sym)
        return out

    def reduces(self, acct, sym, side, more) -> bool:
        pos = self.pos.get((acct, sym), 0)
        if side == BUY:
            return pos < 0 and self.working(acct, sym, BUY) + more <= -pos
        return pos > 0 and self.working(acct, sym, SELL) + more <= pos

    def reference(self, sym) -> int:
        book = self.d.oms.books[sym]
        if book.last_px:
            return book.last_px
        if book.bids.prices and book.asks.prices:
            return (book.bids.prices[-1] + book.asks.prices[0]) // 2
        return self.d.px(REFS[sym], sym)


def lim(acct, sym, name):
    a = RISK["accounts"].get(acct, {})
    v = a.get("instruments", {}).get(sym, {}).get(name, a.get(name, LIMITS.get(name)))
    return v


def check_order(o: Oracle, acct, sym, side, qty, price, value_px, more, origin, ts, is_new, price_changed):
    """Assert an accepted new order (or replace adding `more` lots) respected every limit."""
    d = o.d
    inst = d.insts[sym]
    q = Fraction(inst.lot_size) * qty
    assert q <= Fraction(Decimal(lim(acct, sym, "max_order_qty"))), ("max_order_qty", acct, sym, q)
    assert value_px * qty * o.k(sym) <= Fraction(Decimal(LIMITS["max_order_notional"])), "max_order_notional"
    if price and price_changed:
        ref = o.reference(sym)
        assert abs(price - ref) * 100 <= ref * 5, ("price_collar", price, ref)
    if is_new:
        assert acct != "C" or sym != SYM2, "restricted"
        assert len(d.oms.open_by_account[acct]) < LIMITS["max_open_orders"], "max_open_orders"
    if more <= 0:
        return
    if acct == "B" and sym == SYM2:
        assert o.reduces(acct, sym, side, more), "reduce_only"
    pos = o.pos.get((acct, sym), 0)
    lot = Fraction(inst.lot_size)
    if side == BUY:
        assert (pos + o.working(acct, sym, BUY) + more) * lot <= Fraction(Decimal(LIMITS["max_position_long"]))
    else:
        assert (o.working(acct, sym, SELL) + more - pos) * lot <= Fraction(Decimal(LIMITS["max_position_short"]))
    if not o.reduces(acct, sym, side, more):
        exp = o.exposure(acct) + more * o.mark(sym) * o.k(sym)
        assert exp <= Fraction(Decimal(LIMITS["credit_limit"])) + EPS, ("credit_limit", exp)
        equity = Fraction(BAL[acct]["USD"]) + o.pnl(acct)
        assert exp * Fraction(40, 100) <= equity + EPS, ("margin", exp, equity)
        assert -o.pnl(acct) <= Fraction(Decimal(LIMITS["daily_loss_limit"])) + EPS, ("daily_loss", o.pnl(acct))


def gcra_ok(times: list[int], count: int, burst: int) -> bool:
    """Every run of accepted messages respects burst + elapsed / T (T = 1 s / count, rounded up)."""
    T = -(-NS // count)
    return all((j - i + 1) <= burst + (times[j] - times[i]) // T for i in range(len(times))
               for j in range(i, len(times)))


op = st.tuples(
    st.sampled_from(["new", "new", "new", "replace", "replace", "cancel", "time"]),
    st.sampled_from(ACCTS), st.sampled_from(ORIGINS), st.sampled_from([SYM, SYM, SYM2]),
    st.sampled_from([BUY, SELL]), st.integers(1, 30), st.integers(-70, 70), st.integers(0, 120),
    st.sampled_from(["limit", "limit", "limit", "ioc", "market"]), st.integers(0, 10_000),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=st.lists(op, min_size=60, max_size=300))
def test_no_accepted_order_breaches_a_limit_it_was_subject_to(ops):
    d = Desk(RISK, balances=BAL, refs=REFS)
    o = Oracle(d)
    live: list = []
    for kind, acct, origin, sym, side, qty10, off, dt_ms, ot, pick in ops:
        d.ts += dt_ms * 1_000_000 + 1
        ts = d.ts
        inst = d.insts[sym]
        tick = Fraction(inst.tick_size)
        base = o.reference(sym)
        step = max(1, base // 1000)                   # ~0.1% of the price per unit of offset
        if kind == "time":
            events = d.process(Tick(ts))
        elif kind == "new" or not live:
            qty = d.lots(Decimal(qty10) / 10, sym)
            price = max(1, base + off * step) if ot != "market" else 0
            cmd = NewOrder(ts, acct, d.clid(), sym, side, MARKET if ot == "market" else LIMIT,
                           IOC if ot == "ioc" else GTC, qty, price, origin=origin)
            book = d.oms.books[sym]
            opp = book.asks.prices if side == BUY else book.bids.prices
            value_px = price or ((opp[0] if side == BUY else opp[-1]) if opp else 0)
            pre_open = {a: len(p) for a, p in d.oms.open_by_account.items()}
            pre = (o.reference(sym), pre_open)
            # what the order was subject to is measured before it is processed
            snapshot_ok = []

            def verify():
                check_order(o, acct, sym, side, qty, price, value_px, qty, origin, ts, True, True)
            try:
                verify()
                snapshot_ok.append(True)
            except AssertionError as exc:
                snapshot_ok.append(exc)
            events = d.process(cmd)
            acc = [e for e in events if e.kind == "exec" and e.exec_type == NEW and e.cl_ord_id == cmd.cl_ord_id]
            if acc:
                assert snapshot_ok[0] is True, (snapshot_ok[0], cmd, pre)
                o.accepted_new.setdefault(acct, []).append(ts)
                o.session_new.setdefault(origin, []).append(ts)
                o.messages.setdefault(acct, []).append(ts)
                key = (acct, sym, side, qty, price)
                assert ts - o.recent.get(key, -10**18) >= 200_000_000, "duplicate_order"
                o.recent[key] = ts
                if price and acc[0].leaves:
                    live.append((acct, acc[0].order_id, sym, origin))
        elif kind == "replace":
            live[:] = [x for x in live if d.oms.orders[x[1]].is_open] or live
            acct, oid, sym, origin = live[pick % len(live)]
            ord_ = d.oms.orders[oid]
            if not ord_.is_open:
                continue
            inst = d.insts[sym]
            base = o.reference(sym)
            step = max(1, base // 1000)
            new_px = max(1, base + off * step) if qty10 % 2 else 0
            new_qty = d.lots(Decimal(qty10) / 10, sym) if qty10 % 3 == 0 else 0
            cmd = ReplaceOrder(ts, acct, d.clid(), order_id=oid, qty=new_qty, price=new_px, origin=origin)
            qty = new_qty or ord_.qty
            price = new_px or ord_.price
            more = qty - ord_.cum - ord_.leaves
            try:
                check_order(o, acct, sym, ord_.side, qty, price, price, more, origin, ts, False, price != ord_.price)
                ok = True
            except AssertionError as exc:
                ok = exc
            events = d.process(cmd)
            if any(e.kind == "exec" and e.exec_type == REPLACED and e.order_id == oid for e in events):
                assert ok is True, (ok, cmd)
                o.messages.setdefault(acct, []).append(ts)
        else:
            acct, oid, sym, origin = live[pick % len(live)]
            events = d.process(CancelOrder(ts, acct, d.clid(), order_id=oid, origin=origin))
        for e in events:
            if e.kind == "exec" and e.exec_type == TRADE:
                o.fill(e)
            elif e.kind == "trade":
                o.last[e.symbol] = e.price
        # the risk layer's own view agrees with the oracle's ledger
        for a in ACCTS:
            for s in (SYM, SYM2):
                assert d.risk.accounts[a].slots[s].pos == o.pos.get((a, s), 0)
    for acct, times in o.accepted_new.items():
        assert gcra_ok(times, 5, 5), ("order_rate account", acct)
    for origin, times in o.session_new.items():
        assert gcra_ok(times, 6, 6), ("order_rate session", origin)
    for acct, times in o.messages.items():
        assert gcra_ok(times, 6, 6), ("message_rate account", acct)
