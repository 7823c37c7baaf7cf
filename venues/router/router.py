"""The smart order router's deterministic core: `engine.oms.OrderRouter`.

The OMS asks `claims()` for every accepted new order (after its own checks and
the pre-trade risk checks: a routed order is risk-checked like any other). A
claimed order — the *parent* — stays the OMS's order (identity, queries, open
index, the client's execution reports), but its executions come from here:

    NewOrder ──► accept(): PENDING_NEW; a `venue` policy picks its child at once
                 (first venue of the chain that is up and has not refused it);
                 best_price / split need quotes: a "plan" intent, answered by
    RoutePlan ─► children (internal ones placed on the book at once, as orders of
                 the routing account; external ones as "submit" intents)
    ChildAck / ChildFill / ChildDone / ChildReject / InternalChildEvent
               ─► NEW, TRADE (CumQty/AvgPx aggregated over the children),
                  FILLED / CANCELED / REJECTED of the parent
    cancel / replace / mass cancel / expiry of the parent
               ─► PENDING_CANCEL / PENDING_REPLACE, the children are cancelled,
                  then CANCELED / EXPIRED, or REPLACED and routed again

Everything here runs inside `OMS.process`: no clock, no I/O, no randomness.
Whatever comes from outside (live quotes that decide a plan, venue answers,
fills, connection losses) arrives as one of the router's journaled commands
(venues/router/commands.py), so replaying the journal rebuilds the same
parents, children and events. Work for the outside world — plan this parent,
submit or cancel that child — is put in `outbox` as *intents* only while a
dispatcher is attached (`attach`): a replay records none, and the dispatcher,
once started, reconciles every unfinished child with its venue instead.

Why internal children are orders of a routing account (default "ROUTER"):
the internal part of a split or best-price order must queue and match on the
book like any order, and its execution reports must not reach the client
(who sees only the parent). An order of a separate account gives exactly that
with no change to the engine: the router listens to that account's execution
reports (an OMS listener) and mirrors them onto the parent through a deferred
`InternalChildEvent`, which a replay re-derives. Internal children carry
self-trade mode NONE so two clients' routed orders can meet on the book.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Callable

from engine.commands import CancelOrder, Command, MassCancel, NewOrder, ReplaceOrder, Tick
from engine.events import CancelReject, ExecReport
from engine.reject import Reason
from engine.types import ExecType, OrdStatus, OrdType, StpMode, TimeInForce
from venues.router.children import (
    CANCEL_FAILOVER,
    CANCEL_PARENT,
    CANCEL_VENUE_LOSS,
    DONE,
    END_DEAD,
    END_FAILOVER,
    END_FILLED,
    END_OURS,
    INTERNAL,
    LIVE,
    PENDING,
    UNKNOWN,
    AuditTrail,
    Child,
    ChildBook,
    Parent,
    PendingCancel,
    PendingReplace,
)
from venues.router.commands import (
    ChildAck,
    ChildCancelFailed,
    ChildDone,
    ChildFill,
    ChildReject,
    ChildUnknown,
    InternalChildEvent,
    RouterControl,
    RoutePlan,
    VenueState,
)
from venues.router.policy import RoutingSettings

log = logging.getLogger("fixvenue.router")

INTERNAL_ORIGIN = "ROUTER"

_MARKET = int(OrdType.MARKET)
_LIMIT = int(OrdType.LIMIT)
_GTC = int(TimeInForce.GTC)
_IOC = int(TimeInForce.IOC)
_FOK = int(TimeInForce.FOK)
_X_NEW = int(ExecType.NEW)
_X_TRADE = int(ExecType.TRADE)
_X_CANCELED = int(ExecType.CANCELED)
_X_EXPIRED = int(ExecType.EXPIRED)
_X_REJECTED = int(ExecType.REJECTED)
_X_REPLACED = int(ExecType.REPLACED)
_X_PENDING_NEW = int(ExecType.PENDING_NEW)
_X_PENDING_CANCEL = int(ExecType.PENDING_CANCEL)
_X_PENDING_REPLACE = int(ExecType.PENDING_REPLACE)
_S_NEW = int(OrdStatus.NEW)
_S_PARTIAL = int(OrdStatus.PARTIALLY_FILLED)
_S_FILLED = int(OrdStatus.FILLED)
_S_CANCELED = int(OrdStatus.CANCELED)
_S_EXPIRED = int(OrdStatus.EXPIRED)
_S_REJECTED = int(OrdStatus.REJECTED)
_S_PENDING_NEW = int(OrdStatus.PENDING_NEW)
_S_PENDING_CANCEL = int(OrdStatus.PENDING_CANCEL)
_S_PENDING_REPLACE = int(OrdStatus.PENDING_REPLACE)
_TERMINAL = {_S_FILLED, _S_CANCELED, _S_EXPIRED, _S_REJECTED, int(OrdStatus.DONE_FOR_DAY)}
_REASONS = set(Reason._value2member_map_)


def child_tif(parent_tif: int) -> int:
    """Children work GTC unless the parent is immediate; DAY/GTD parents expire through
    the OMS's own expiry, which cancels their children."""
    return parent_tif if parent_tif in (_IOC, _FOK) else _GTC


class SmartOrderRouter:
    """Implements engine.oms.OrderRouter; see the module docstring."""

    def __init__(self, oms, settings: RoutingSettings, *,
                 venue_status_hook: Callable[[int, str, bool, str], Command | None] | None = None) -> None:
        self.oms = oms
        self.settings = settings
        self.account = settings.account
        self.policies = {sym: settings.policy_for(sym) for sym in oms.instruments}
        self.routed_symbols = frozenset(s for s, p in self.policies.items() if p.policy != "internal")
        self.unrouted_accounts = frozenset([settings.account, *settings.internal_accounts])
        self.fee_ppm = {name: v.taker_fee_ppm for name, v in settings.venues.items()}
        self.book = ChildBook()
        self.audit = AuditTrail()
        self.venue_log: deque[dict] = deque(maxlen=1000)
        self.halted = False
        self.halt_reason = ""
        self.venue_up: dict[str, bool] = {name: True for name in settings.venues}
        self.venue_status_hook = venue_status_hook
        self.outbox: list[tuple] = []
        self._wake: Callable[[], None] | None = None
        self._installed = False

    # ------------------------------------------------------------------ wiring

    def install(self) -> "SmartOrderRouter":
        if self._installed:
            return self
        oms = self.oms
        oms.router = self
        for cls, fn in ((RoutePlan, self._on_plan), (ChildAck, self._on_ack), (ChildFill, self._on_fill),
                        (ChildDone, self._on_done), (ChildReject, self._on_reject), (ChildUnknown, self._on_unknown),
                        (ChildCancelFailed, self._on_cancel_failed), (VenueState, self._on_venue_state),
                        (RouterControl, self._on_control), (InternalChildEvent, self._on_internal)):
            oms.register_handler(cls, fn)
        oms.listeners.append(self.on_events)
        self._installed = True
        return self

    def attach(self, wake: Callable[[], None]) -> None:
        """A dispatcher is live: record intents from now on and call `wake()` when there are some."""
        self.outbox.clear()
        self._wake = wake

    def detach(self) -> None:
        self._wake = None
        self.outbox.clear()

    def _intent(self, item: tuple) -> None:
        if self._wake is not None:
            self.outbox.append(item)
            self._wake()

    # ------------------------------------------------------------------ OrderRouter protocol

    def claims(self, cmd: NewOrder, order, oms) -> bool:
        return cmd.symbol in self.routed_symbols and cmd.account not in self.unrouted_accounts

    def accept(self, o, cmd: NewOrder, out: list) -> None:
        p = Parent(o, self.policies[o.symbol].policy)
        self.book.add_parent(p)
        ts = cmd.ts
        self.audit.add(ts, o.order_id, "accepted", policy=p.policy, qty=o.qty, price=o.price, origin=o.origin)
        if self.halted:
            self._reject_parent(p, ts, out, Reason.VENUE_UNAVAILABLE.value,
                                f"routing is halted{': ' + self.halt_reason if self.halt_reason else ''}")
            return
        why = _unroutable(cmd)
        if why:
            self._reject_parent(p, ts, out, Reason.INVALID_ORDER.value, why)
            return
        o.status = _S_PENDING_NEW
        out.append(ExecReport(ts, _X_PENDING_NEW, o))
        self._plan(p, ts, out)

    def cancel(self, o, cmd: Command, out: list) -> None:
        p = self.book.parents.get(o.order_id)
        ts = cmd.ts
        if p is None:   # not ours any more (cannot happen: the OMS drops finished orders from routed)
            return
        if isinstance(cmd, Tick):
            pend = PendingCancel("", Reason.EXPIRED.value, "expired", "", expire=True, notify=False)
        elif isinstance(cmd, MassCancel):
            reason = cmd.reason if cmd.reason in _REASONS else Reason.MASS_CANCEL.value
            pend = PendingCancel("", reason, reason.lower().replace("_", " "), cmd.origin, notify=False)
        else:
            reason = cmd.reason if cmd.reason in _REASONS else Reason.CLIENT_REQUEST.value
            text = "cancelled" if reason == Reason.CLIENT_REQUEST.value else reason.lower().replace("_", " ")
            pend = PendingCancel(cmd.cl_ord_id or "", reason, text, cmd.origin)
        cur = p.pending
        if isinstance(cur, PendingCancel):
            if pend.notify:
                self._cancel_reject(ts, o, pend.cl_ord_id, o.cl_ord_id, False, Reason.ORDER_NOT_OPEN.value,
                                    "a cancel is already pending", pend.origin, out)
                self._unregister(o, pend.cl_ord_id)
            return
        if isinstance(cur, PendingReplace):
            self._cancel_reject(ts, o, cur.cl_ord_id, cur.orig_cl_ord_id, True, Reason.ORDER_NOT_OPEN.value,
                                "superseded by a cancel", cur.origin, out)
            self._unregister(o, cur.cl_ord_id)
        p.pending = pend
        p.planning = False
        self.audit.add(ts, o.order_id, "cancel_requested", reason=pend.reason, cl_ord_id=pend.cl_ord_id or None)
        if not p.open_children():
            self._finish_cancel(p, pend, ts, out)
            return
        o.status = _S_PENDING_CANCEL
        ev = ExecReport(ts, _X_PENDING_CANCEL, o)
        if pend.cl_ord_id and pend.cl_ord_id != o.cl_ord_id:
            ev.cl_ord_id = pend.cl_ord_id
            ev.orig_cl_ord_id = o.cl_ord_id
        out.append(ev)
        self._cancel_children(p, ts, CANCEL_PARENT, cmd)

    def replace(self, o, cmd: ReplaceOrder, out: list) -> None:
        p = self.book.parents.get(o.order_id)
        ts = cmd.ts
        if p is None:
            return
        new_clid = cmd.cl_ord_id or o.cl_ord_id
        if p.pending is not None:
            self._cancel_reject(ts, o, new_clid, o.cl_ord_id, True, Reason.ORDER_NOT_OPEN.value,
                                "a cancel or replace is already pending", cmd.origin, out)
            self._unregister(o, new_clid)
            return
        qty = cmd.qty or o.qty
        price = cmd.price or o.price
        self.audit.add(ts, o.order_id, "replace_requested", qty=qty, price=price, cl_ord_id=new_clid)
        if not p.open_children():
            orig = o.cl_ord_id
            o.cl_ord_id = new_clid
            o.qty = qty
            o.price = price
            o.leaves = qty - o.cum
            p.dead = 0
            p.excluded.clear()
            o.status = self._status(p)
            out.append(ExecReport(ts, _X_REPLACED, o, orig_cl_ord_id=orig if orig != new_clid else ""))
            if p.routable() > 0:
                self._plan(p, ts, out)
            return
        p.pending = PendingReplace(new_clid, qty, price, cmd.origin, o.cl_ord_id)
        p.planning = False
        o.status = _S_PENDING_REPLACE
        ev = ExecReport(ts, _X_PENDING_REPLACE, o)
        if new_clid != o.cl_ord_id:
            ev.cl_ord_id = new_clid
            ev.orig_cl_ord_id = o.cl_ord_id
        out.append(ev)
        self._cancel_children(p, ts, CANCEL_PARENT)

    # ------------------------------------------------------------------ command handlers

    def _on_plan(self, cmd: RoutePlan, out: list) -> None:
        p = self.book.parents.get(cmd.order_id)
        ts = cmd.ts
        if p is None or not p.planning or p.plan_no != cmd.plan_no or p.order.status in _TERMINAL:
            if p is not None:
                self.audit.add(ts, cmd.order_id, "plan_ignored", plan_no=cmd.plan_no)
            return
        p.planning = False
        self._place(p, cmd.legs, ts, out, cmd.reason, cmd.text, cmd.plan_no)

    def _place(self, p: Parent, legs: list, ts: int, out: list, reason: str, text: str, plan_no: int) -> None:
        """Create the children of a plan (internal ones go on the book at once)."""
        o = p.order
        left = p.routable()
        p.next_n += len(legs)
        placed = []
        for leg in legs:
            venue, cid, qty, price, ord_type, tif = leg
            if left <= 0:
                break
            if qty <= 0 or cid in self.book.children or (venue != INTERNAL and venue not in self.venue_up):
                continue
            qty = min(qty, left)
            left -= qty
            c = Child(cid, o.order_id, venue, o.symbol, o.side, qty, price, ord_type, tif, ts)
            self.book.add_child(p, c)
            placed.append(c)
        self.audit.add(ts, o.order_id, "plan", plan_no=plan_no,
                       legs=[[c.venue, c.child_id, c.qty] for c in placed], note=text or None)
        if not placed:
            p.dead += p.routable()
            text = text or "no venue could take the order"
            if p.last_reason:   # venues refused it before: their reason says more than "none left"
                p.last_text = f"{p.last_text}; {text}"
            else:
                p.last_reason = reason or Reason.VENUE_UNAVAILABLE.value
                p.last_text = text
            self._settle(p, ts, out)
            return
        for c in placed:
            self.audit.add(ts, o.order_id, "child_new", c, qty=c.qty, price=c.price)
            if c.venue == INTERNAL:
                self.oms.defer(NewOrder(ts, self.account, c.child_id, c.symbol, c.side, c.ord_type, c.tif, c.qty,
                                        c.price if c.ord_type == _LIMIT else 0, stp=int(StpMode.NONE),
                                        origin=INTERNAL_ORIGIN))
            else:
                self._intent(("submit", c.child_id))

    def _child(self, child_id: str) -> tuple[Child | None, Parent | None]:
        c = self.book.children.get(child_id)
        if c is None:
            return None, None
        return c, self.book.parents.get(c.parent_id)

    def _on_ack(self, cmd: ChildAck, out: list) -> None:
        c, p = self._child(cmd.child_id)
        if c is None or c.state == DONE or p is None:
            return
        self.book.set_venue_id(c, cmd.venue_order_id)
        if c.state != LIVE:
            c.state = LIVE
            self.audit.add(cmd.ts, p.order_id, "child_ack", c, venue_order_id=cmd.venue_order_id or None)
        c.updated_ts = cmd.ts
        self._ensure_acked(p, cmd.ts, out)
        self._venue_figures(c, cmd.filled, cmd.notional)
        self._absorb(p, c, cmd.ts, out, "", 0)
        if c.cum >= c.qty:
            self._end_child(p, c, END_FILLED, cmd.ts, out)

    def _on_fill(self, cmd: ChildFill, out: list) -> None:
        c, p = self._child(cmd.child_id)
        if c is None or cmd.fill_id in c.fill_ids or cmd.qty <= 0:
            return
        c.fill_ids.add(cmd.fill_id)
        c.fill_sum += cmd.qty
        c.fill_notional += cmd.qty * cmd.price
        c.updated_ts = cmd.ts
        if p is None or p.order.status in _TERMINAL:
            self.audit.add(cmd.ts, c.parent_id, "late_fill", c, fill_id=cmd.fill_id, qty=cmd.qty, price=cmd.price)
            if p is not None:
                self._absorb(p, c, cmd.ts, out, cmd.liquidity, 0)
            return
        if c.state in (PENDING, UNKNOWN):
            c.state = LIVE
        self._ensure_acked(p, cmd.ts, out)
        self.audit.add(cmd.ts, p.order_id, "child_fill", c, fill_id=cmd.fill_id, qty=cmd.qty, price=cmd.price,
                       venue_fee=cmd.venue_fee or None)
        self._absorb(p, c, cmd.ts, out, cmd.liquidity, 0)
        if c.state != DONE and c.cum >= c.qty:
            self._end_child(p, c, END_FILLED, cmd.ts, out)

    def _on_done(self, cmd: ChildDone, out: list) -> None:
        c, p = self._child(cmd.child_id)
        if c is None or c.state == DONE or p is None:
            return
        self.book.set_venue_id(c, cmd.venue_order_id)
        self._venue_figures(c, cmd.filled, cmd.notional)
        if c.state == LIVE or c.venue_filled or c.fill_sum:
            self._ensure_acked(p, cmd.ts, out)
        self._absorb(p, c, cmd.ts, out, "", 0)
        c.reason = cmd.reason
        c.text = cmd.text
        if c.cum >= c.qty:
            end = END_FILLED
        else:
            end = self._end_class(c, END_DEAD)
            if cmd.status == "rejected" and not c.cancel_requested:
                end = END_FAILOVER
        self._end_child(p, c, end, cmd.ts, out, status=cmd.status)

    def _on_reject(self, cmd: ChildReject, out: list) -> None:
        c, p = self._child(cmd.child_id)
        if c is None or c.state == DONE or p is None:
            return
        c.reason = cmd.reason
        c.text = cmd.text
        self._end_child(p, c, self._end_class(c, END_FAILOVER if cmd.failover else END_DEAD), cmd.ts, out,
                        status="rejected")

    def _on_unknown(self, cmd: ChildUnknown, out: list) -> None:
        c, p = self._child(cmd.child_id)
        if c is None or c.state == DONE:
            return
        if c.state != LIVE:
            c.state = UNKNOWN
        c.text = cmd.text
        self.audit.add(cmd.ts, c.parent_id, "child_unknown", c, text=cmd.text)

    def _on_cancel_failed(self, cmd: ChildCancelFailed, out: list) -> None:
        c, p = self._child(cmd.child_id)
        if c is None or c.state == DONE or p is None:
            return
        c.cancel_requested = False
        c.cancel_kind = ""
        o = p.order
        ts = cmd.ts
        self.audit.add(ts, o.order_id, "child_cancel_failed", c, reason=cmd.reason, text=cmd.text)
        pend = p.pending
        if isinstance(pend, PendingCancel):
            if pend.notify:
                self._cancel_reject(ts, o, pend.cl_ord_id, o.cl_ord_id, False, cmd.reason or Reason.VENUE_REJECT.value,
                                    f"venue {c.venue} refused the cancel: {cmd.text}", pend.origin, out)
                self._unregister(o, pend.cl_ord_id)
            p.pending = None
        elif isinstance(pend, PendingReplace):
            self._cancel_reject(ts, o, pend.cl_ord_id, pend.orig_cl_ord_id, True,
                                cmd.reason or Reason.VENUE_REJECT.value,
                                f"venue {c.venue} refused the cancel: {cmd.text}", pend.origin, out)
            self._unregister(o, pend.cl_ord_id)
            p.pending = None
        else:
            return
        if o.status not in _TERMINAL:
            o.status = self._status(p)
            self._settle(p, ts, out)

    def _on_venue_state(self, cmd: VenueState, out: list) -> None:
        venue = cmd.venue
        if venue not in self.venue_up:
            return
        up = bool(cmd.up)
        prev = self.venue_up[venue]
        self.venue_up[venue] = up
        self.venue_log.append({"ts": cmd.ts, "venue": venue, "up": up, "reason": cmd.reason})
        if self.venue_status_hook is not None and up != prev:
            follow = self.venue_status_hook(cmd.ts, venue, up, cmd.reason)
            if follow is not None:
                self.oms.defer(follow)
        action = self.settings.on_venue_loss
        if up or prev is False or action == "keep":
            return
        kind = CANCEL_FAILOVER if action == "failover" else CANCEL_VENUE_LOSS
        for c in list(self.book.open_children(venue)):
            if c.cancel_requested:
                continue
            c.cancel_requested = True
            c.cancel_kind = kind
            self.audit.add(cmd.ts, c.parent_id, "child_cancel_requested", c, why=f"venue lost ({action})")
            self._intent(("cancel", c.child_id))

    def _on_control(self, cmd: RouterControl, out: list) -> None:
        if cmd.action == "halt":
            self.halted = True
            self.halt_reason = cmd.reason or ""
        elif cmd.action == "resume":
            self.halted = False
            self.halt_reason = ""
        else:
            return
        self.venue_log.append({"ts": cmd.ts, "venue": None, "action": cmd.action, "reason": cmd.reason,
                               "who": cmd.who})

    def _on_internal(self, cmd: InternalChildEvent, out: list) -> None:
        c, p = self._child(cmd.child_id)
        if c is None or c.state == DONE or p is None:
            return
        ts = cmd.ts
        if not c.internal_id:
            c.internal_id = cmd.order_id
        et = cmd.exec_type
        c.updated_ts = ts
        if et == _X_NEW:
            c.state = LIVE
            self._ensure_acked(p, ts, out)
            self.audit.add(ts, p.order_id, "child_ack", c, internal_order_id=cmd.order_id)
        elif et == _X_TRADE:
            c.state = LIVE
            self._ensure_acked(p, ts, out)
            c.fill_sum += cmd.last_qty
            c.fill_notional += cmd.last_qty * cmd.last_px
            self.audit.add(ts, p.order_id, "child_fill", c, trade_id=cmd.trade_id, qty=cmd.last_qty,
                           price=cmd.last_px)
            self._absorb(p, c, ts, out, cmd.liquidity, cmd.trade_id)
        st = cmd.status
        if st == _S_FILLED or c.cum >= c.qty:
            self._end_child(p, c, END_FILLED, ts, out, status="filled")
        elif st in (_S_CANCELED, _S_EXPIRED):
            c.reason, c.text = cmd.reason, cmd.text
            self._end_child(p, c, self._end_class(c, END_DEAD), ts, out, status="cancelled")
        elif st == _S_REJECTED:
            c.reason, c.text = cmd.reason, cmd.text
            self._end_child(p, c, self._end_class(c, END_FAILOVER), ts, out, status="rejected")

    # ------------------------------------------------------------------ the OMS listener

    def on_events(self, events: list) -> None:
        """Mirror executions of internal children (orders of the routing account)."""
        if not self.book.internal_open:
            return
        acct = self.account
        kids = self.book.children
        defer = self.oms.defer
        for ev in events:
            if ev.__class__ is ExecReport and ev.account == acct:
                c = kids.get(ev.cl_ord_id)
                if c is not None and c.state != DONE:
                    defer(InternalChildEvent(ev.ts, c.child_id, ev.order_id, ev.exec_type, ev.status, ev.last_px,
                                             ev.last_qty, ev.liquidity, ev.trade_id, ev.reason, ev.text))

    # ------------------------------------------------------------------ parent bookkeeping

    def _plan(self, p: Parent, ts: int, out: list) -> None:
        """Route what the parent still has to route. A `venue` policy needs no market data:
        its child is decided here and now (one journal commit less on the way to the
        venue); the others need quotes, so the dispatcher plans and journals a RoutePlan."""
        p.plan_no += 1
        pol = self.policies[p.order.symbol]
        if pol.policy == "venue":
            p.planning = False
            o = p.order
            left = [v for v in pol.chain() if v not in p.excluded]
            chain = [v for v in left if v == INTERNAL or self.venue_up.get(v)]
            qty = p.routable()
            if self.halted or not chain or qty <= 0:
                down = [v for v in left if v not in chain]
                why = "routing is halted" if self.halted else \
                    "no venue available" + (f"; down: {', '.join(down)}" if down else "")
                self._place(p, [], ts, out, Reason.VENUE_UNAVAILABLE.value, why, p.plan_no)
                return
            leg = [chain[0], self.child_id(o, p.next_n), qty, o.price if o.ord_type == _LIMIT else 0, o.ord_type,
                   child_tif(o.tif)]
            self._place(p, [leg], ts, out, "", "", p.plan_no)
            return
        p.planning = True
        self._intent(("plan", p.order_id, p.plan_no))

    def child_id(self, o, n: int) -> str:
        """A child's client order id: unique per venue account across restarts (the parent's
        entry time, from the journal, tells two venue runs that reuse order ids apart)."""
        cid = f"{self.settings.child_prefix}-{_base36(o.ts)}-{o.order_id}-{n}"
        if len(cid) > 36:
            cid = f"{self.settings.child_prefix}-{_base36(o.ts)[-6:]}-{o.order_id}-{n}"[-36:]
        return cid

    def _status(self, p: Parent) -> int:
        pend = p.pending
        if pend is not None:
            return _S_PENDING_CANCEL if pend.kind == "cancel" else _S_PENDING_REPLACE
        o = p.order
        if o.cum >= o.qty:
            return _S_FILLED
        if o.cum:
            return _S_PARTIAL
        return _S_NEW if p.acked else _S_PENDING_NEW

    def _ensure_acked(self, p: Parent, ts: int, out: list) -> None:
        if p.acked:
            return
        p.acked = True
        o = p.order
        if p.pending is None and o.status not in _TERMINAL:
            o.status = _S_PARTIAL if o.cum else _S_NEW
            out.append(ExecReport(ts, _X_NEW, o))

    @staticmethod
    def _venue_figures(c: Child, filled: int, notional: int) -> None:
        if filled > c.venue_filled:
            c.venue_filled = filled
            c.venue_notional = notional

    def _absorb(self, p: Parent, c: Child, ts: int, out: list, liquidity: str, trade_id: int) -> None:
        dq, dn = c.absorb()
        if not dq:
            return
        o = p.order
        room = o.qty - o.cum
        if room <= 0 or o.status in _TERMINAL:
            self.audit.add(ts, o.order_id, "overfill", c, lots=dq)
            log.error("router: child %s filled %d lots beyond parent %d", c.child_id, dq, o.order_id)
            return
        if dq > room:
            self.audit.add(ts, o.order_id, "overfill", c, lots=dq - room)
            log.error("router: child %s filled %d lots beyond parent %d", c.child_id, dq - room, o.order_id)
            dn = dn * room // dq
            dq = room
        o.cum += dq
        o.cum_notional += dn
        o.leaves = o.qty - o.cum
        px = (2 * dn + dq) // (2 * dq)
        liq = liquidity if liquidity in ("M", "T") else "T"
        oms = self.oms
        rate = oms.maker_fee(o.account) if liq == "M" else oms.taker_fee(o.account)
        fee = oms.instruments[o.symbol].fee_e8(dn, 1, rate)
        o.status = self._status(p)
        out.append(ExecReport(ts, _X_TRADE, o, last_px=px, last_qty=dq, fee_e8=fee, liquidity=liq,
                              trade_id=trade_id, text=f"routed to {c.venue}"))
        if o.cum >= o.qty:
            self._filled(p, ts, out)

    def _filled(self, p: Parent, ts: int, out: list) -> None:
        o = p.order
        o.status = _S_FILLED
        o.leaves = 0
        pend = p.pending
        if isinstance(pend, PendingCancel) and pend.notify:
            self._cancel_reject(ts, o, pend.cl_ord_id, o.cl_ord_id, False, Reason.ORDER_NOT_OPEN.value,
                                "the order filled before the cancel completed", pend.origin, out)
            self._unregister(o, pend.cl_ord_id)
        elif isinstance(pend, PendingReplace):
            self._cancel_reject(ts, o, pend.cl_ord_id, pend.orig_cl_ord_id, True, Reason.ORDER_NOT_OPEN.value,
                                "the order filled before the replace completed", pend.origin, out)
            self._unregister(o, pend.cl_ord_id)
        p.pending = None
        p.planning = False
        self.oms.order_done(o)
        self.audit.add(ts, o.order_id, "filled", cum=o.cum, notional=o.cum_notional)
        self._cancel_children(p, ts, CANCEL_PARENT)   # children that can no longer fill anything
        self._close_if_done(p)

    def _end_class(self, c: Child, default: str) -> str:
        if c.cancel_requested:
            return {CANCEL_PARENT: END_OURS, CANCEL_VENUE_LOSS: END_DEAD, CANCEL_FAILOVER: END_FAILOVER}.get(
                c.cancel_kind, END_OURS)
        return default

    def _end_child(self, p: Parent, c: Child, end: str, ts: int, out: list, status: str = "") -> None:
        if c.state == DONE:
            return
        c.state = DONE
        c.end = end
        c.updated_ts = ts
        self.book.child_done(c)
        unfilled = c.qty - c.cum
        self.audit.add(ts, p.order_id, "child_done", c, end=end, status=status or None, cum=c.cum,
                       reason=c.reason or None, text=c.text or None)
        if unfilled > 0:
            if end == END_DEAD:
                p.dead += unfilled
                p.last_reason = c.reason or _dead_reason(c, status)
                p.last_text = c.text or f"{c.venue}: {status or 'ended'}"
            elif end == END_FAILOVER:
                p.excluded.add(c.venue)
                p.last_reason = c.reason or Reason.VENUE_REJECT.value
                p.last_text = f"{c.venue}: {c.text or 'refused'}"
        o = p.order
        if o.status in _TERMINAL:
            self._close_if_done(p)
            return
        if p.pending is None and not p.planning and end in (END_FAILOVER, END_OURS) and p.routable() > 0:
            self._plan(p, ts, out)
        self._settle(p, ts, out)

    def _settle(self, p: Parent, ts: int, out: list) -> None:
        """Decide the parent's fate once nothing is working for it any more."""
        o = p.order
        if o.status in _TERMINAL:
            self._close_if_done(p)
            return
        if p.planning or p.open_children():
            return
        if o.cum >= o.qty:
            self._filled(p, ts, out)
            return
        pend = p.pending
        if isinstance(pend, PendingCancel):
            self._finish_cancel(p, pend, ts, out)
        elif isinstance(pend, PendingReplace):
            self._apply_replace(p, pend, ts, out)
        elif p.routable() > 0:
            self._plan(p, ts, out)
        elif not p.acked and not o.cum:
            self._reject_parent(p, ts, out, p.last_reason or Reason.VENUE_REJECT.value,
                                p.last_text or "no venue accepted the order")
        else:
            self._finish(p, ts, out, _S_CANCELED, _X_CANCELED, p.last_reason or Reason.VENUE_REJECT.value,
                         p.last_text or "the venues ended the order")

    def _apply_replace(self, p: Parent, pend: PendingReplace, ts: int, out: list) -> None:
        o = p.order
        p.pending = None
        if pend.qty <= o.cum:
            self._cancel_reject(ts, o, pend.cl_ord_id, pend.orig_cl_ord_id, True,
                                Reason.REPLACE_QTY_BELOW_FILLED.value,
                                "new quantity is not above the filled quantity", pend.origin, out)
            self._unregister(o, pend.cl_ord_id)
            o.status = self._status(p)
        else:
            orig = o.cl_ord_id
            o.cl_ord_id = pend.cl_ord_id
            o.qty = pend.qty
            o.price = pend.price
            o.leaves = o.qty - o.cum
            p.dead = 0
            p.excluded.clear()
            o.status = self._status(p)
            out.append(ExecReport(ts, _X_REPLACED, o, orig_cl_ord_id=orig if orig != o.cl_ord_id else ""))
            self.audit.add(ts, o.order_id, "replaced", qty=o.qty, price=o.price, cl_ord_id=o.cl_ord_id)
        if p.routable() > 0:
            self._plan(p, ts, out)
        else:
            self._settle(p, ts, out)

    def _finish_cancel(self, p: Parent, pend: PendingCancel, ts: int, out: list) -> None:
        if pend.expire:
            self._finish(p, ts, out, _S_EXPIRED, _X_EXPIRED, pend.reason, pend.text)
        else:
            self._finish(p, ts, out, _S_CANCELED, _X_CANCELED, pend.reason, pend.text, pend.cl_ord_id)

    def _finish(self, p: Parent, ts: int, out: list, status: int, exec_type: int, reason: str, text: str,
                cl_ord_id: str = "") -> None:
        o = p.order
        orig = ""
        if cl_ord_id and cl_ord_id != o.cl_ord_id:
            orig = o.cl_ord_id
            o.cl_ord_id = cl_ord_id
        o.leaves = 0
        o.status = status
        p.pending = None
        p.planning = False
        out.append(ExecReport(ts, exec_type, o, orig_cl_ord_id=orig, reason=reason, text=text))
        self.oms.order_done(o)
        self.audit.add(ts, o.order_id, "done", status=int(status), reason=reason, cum=o.cum)
        self._close_if_done(p)

    def _reject_parent(self, p: Parent, ts: int, out: list, reason: str, text: str) -> None:
        o = p.order
        o.leaves = 0
        o.status = _S_REJECTED
        p.pending = None
        p.planning = False
        out.append(ExecReport(ts, _X_REJECTED, o, reason=reason, text=text))
        self.oms.order_done(o)
        # like the OMS's own rejects: a rejected client order id may be used again
        self._unregister(o, o.cl_ord_id, force=True)
        self.audit.add(ts, o.order_id, "rejected", reason=reason, text=text)
        self._close_if_done(p)

    def _close_if_done(self, p: Parent) -> None:
        if p.order_id in self.book.parents and not p.open_children():
            self.book.close(p)
            self.audit.closed(p.order_id)

    def _cancel_children(self, p: Parent, ts: int, kind: str, cmd: Command | None = None) -> None:
        for c in p.open_children():
            if c.cancel_requested or c.cum >= c.qty:
                continue
            c.cancel_requested = True
            c.cancel_kind = kind
            self.audit.add(ts, p.order_id, "child_cancel_requested", c)
            if c.venue == INTERNAL:
                if isinstance(cmd, MassCancel) and _mass_covers(cmd, c, self.account):
                    continue   # the same mass cancel ends it
                self.oms.defer(CancelOrder(ts, self.account, orig_cl_ord_id=c.child_id, origin=INTERNAL_ORIGIN))
            else:
                self._intent(("cancel", c.child_id))

    def _cancel_reject(self, ts, o, clid, orig, is_replace, reason, text, origin, out) -> None:
        out.append(CancelReject(ts, o.account, clid, orig, o.order_id, o.status, is_replace, reason, text, origin,
                                o.symbol))

    def _unregister(self, o, clid: str, force: bool = False) -> None:
        """Free a client order id the OMS registered for a request we turned down."""
        if not clid or (clid == o.cl_ord_id and not force):
            return
        d = self.oms.by_clid.get(o.account)
        if d is not None and d.get(clid) is o:
            del d[clid]

    # ------------------------------------------------------------------ control and queries

    def control_command(self, action: str, ts: int, reason: str = "", who: str = "") -> RouterControl:
        if action not in ("halt", "resume"):
            raise ValueError("action must be 'halt' or 'resume'")
        return RouterControl(ts, action, reason, who)

    def policy_for(self, symbol: str):
        return self.policies.get(symbol)

    def parent(self, order_id: int) -> Parent | None:
        return self.book.parent(order_id)

    def children_of(self, order_id: int) -> list[dict]:
        p = self.book.parent(order_id)
        return [c.view() for c in p.children] if p is not None else []

    def parent_of(self, child_id: str) -> int | None:
        c = self.book.children.get(child_id)
        return c.parent_id if c is not None else None

    def audit_of(self, order_id: int) -> list[dict]:
        return self.audit.of(order_id)

    def status(self) -> dict:
        by_venue: dict[str, int] = {}
        for c in self.book.open_children():
            by_venue[c.venue] = by_venue.get(c.venue, 0) + 1
        return {"halted": self.halted, "halt_reason": self.halt_reason or None, "venues_up": dict(self.venue_up),
                "open_parents": len(self.book.parents), "open_children": by_venue,
                "routed_symbols": sorted(self.routed_symbols)}

    # ------------------------------------------------------------------ snapshot extension

    def snapshot_state(self) -> dict:
        return {"book": self.book.to_state(), "audit": self.audit.to_state(), "halted": self.halted,
                "halt_reason": self.halt_reason, "venue_up": dict(self.venue_up),
                "venue_log": list(self.venue_log)}

    def restore_state(self, state: dict) -> None:
        parents = self.book.restore(state.get("book") or {}, self.oms.orders)
        self.audit.restore(state.get("audit") or {})
        self.halted = bool(state.get("halted"))
        self.halt_reason = state.get("halt_reason") or ""
        for v, up in (state.get("venue_up") or {}).items():
            if v in self.venue_up:
                self.venue_up[v] = bool(up)
        self.venue_log = deque(state.get("venue_log") or (), maxlen=1000)
        for p in parents:   # the OMS's snapshot does not carry its routed index
            if p.order.status not in _TERMINAL:
                self.oms.routed[p.order_id] = p.order


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n > 0:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _unroutable(cmd: NewOrder) -> str:
    """Why an order cannot be routed ("" if it can): children are plain market or limit orders."""
    if cmd.ord_type not in (_MARKET, _LIMIT):
        return "only market and limit orders can be routed to external venues"
    if cmd.display_qty or cmd.hidden or cmd.post_only or cmd.min_qty:
        return "iceberg, hidden, post-only and minimum-quantity orders cannot be routed"
    return ""


def _dead_reason(c: Child, status: str) -> str:
    if c.tif in (_IOC, _FOK) or c.ord_type == _MARKET:
        return Reason.IOC_REMAINDER.value
    if status == "expired":
        return Reason.EXPIRED.value
    return Reason.VENUE_REJECT.value


def _mass_covers(cmd: MassCancel, c: Child, account: str) -> bool:
    return (cmd.account in (None, account) and cmd.symbol in (None, c.symbol) and cmd.side in (None, c.side)
            and cmd.scope_origin in (None, INTERNAL_ORIGIN) and cmd.tif in (None, c.tif))
