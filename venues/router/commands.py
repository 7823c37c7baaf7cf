"""The router's own journaled commands.

Everything the smart order router learns from outside the deterministic core
— a routing decision made with live venue quotes, a venue's answer, a fill, a
lost connection — enters the OMS as one of these commands, through the
sequencer, so it is journaled before anything is acknowledged and a replay of
the journal reproduces every parent execution report exactly. The router's
handlers (venues/router/router.py) apply them; the asyncio side that talks to
the adapters (venues/router/dispatch.py) only *builds* them.

Quantities are lots and prices ticks (scaled integers), converted once at the
edge by the dispatcher; `notional` is the sum of ticks*lots of a child's fills,
so average prices stay exact integer ratios. Lists (not tuples) are used for
nested values because that is what a JSON journal gives back on replay.

`InternalChildEvent` is different: the router derives it from the OMS's own
events (a fill of an internal child on the book) and hands it to `oms.defer`,
so it is never journaled — a replay re-derives it.
"""

from __future__ import annotations

from engine.commands import Command, register_command_type

ORIGIN = "router"


@register_command_type
class RoutePlan(Command):
    """Where the unrouted part of a parent order goes: one leg per child order.

    legs: [[venue, child_id, qty_lots, price_ticks, ord_type, tif], ...]; venue "internal"
    is the venue's own book. An empty list ends the parent (nothing could take it)
    with `reason`/`text`. `plan_no` must match the parent's current plan number, so a
    plan computed before a replace or a cancel is ignored."""

    __slots__ = ("ts", "order_id", "plan_no", "legs", "reason", "text", "origin")
    kind = "route.plan"

    def __init__(self, ts, order_id, plan_no, legs, reason="", text="", origin=ORIGIN):
        self.ts = ts
        self.order_id = order_id
        self.plan_no = plan_no
        self.legs = legs
        self.reason = reason
        self.text = text
        self.origin = origin


@register_command_type
class ChildAck(Command):
    """A venue holds the child and it is working (submit answer, stream update or
    reconciliation); `filled`/`notional` are the venue's cumulative figures."""

    __slots__ = ("ts", "child_id", "venue_order_id", "filled", "notional", "status", "text", "origin")
    kind = "route.child_ack"

    def __init__(self, ts, child_id, venue_order_id="", filled=0, notional=0, status="new", text="", origin=ORIGIN):
        self.ts = ts
        self.child_id = child_id
        self.venue_order_id = venue_order_id
        self.filled = filled
        self.notional = notional
        self.status = status
        self.text = text
        self.origin = origin


@register_command_type
class ChildFill(Command):
    """One fill of an external child (`fill_id` is the venue's, unique per venue)."""

    __slots__ = ("ts", "child_id", "fill_id", "qty", "price", "liquidity", "venue_fee", "origin")
    kind = "route.child_fill"

    def __init__(self, ts, child_id, fill_id, qty, price, liquidity="T", venue_fee="", origin=ORIGIN):
        self.ts = ts
        self.child_id = child_id
        self.fill_id = fill_id
        self.qty = qty
        self.price = price
        self.liquidity = liquidity
        self.venue_fee = venue_fee     # the venue's own fee, "amount CCY" (audit only)
        self.origin = origin


@register_command_type
class ChildDone(Command):
    """An external child reached a terminal state at its venue (filled, cancelled,
    expired, or lost by the venue); `filled`/`notional` are its final figures."""

    __slots__ = ("ts", "child_id", "status", "filled", "notional", "reason", "text", "venue_order_id", "origin")
    kind = "route.child_done"

    def __init__(self, ts, child_id, status, filled=0, notional=0, reason="", text="", venue_order_id="",
                 origin=ORIGIN):
        self.ts = ts
        self.child_id = child_id
        self.status = status
        self.filled = filled
        self.notional = notional
        self.reason = reason
        self.text = text
        self.venue_order_id = venue_order_id
        self.origin = origin


@register_command_type
class ChildReject(Command):
    """The child never became an order at its venue (refused, not deliverable, or
    confirmed absent after a lost answer). With `failover` its quantity may be routed
    elsewhere."""

    __slots__ = ("ts", "child_id", "reason", "text", "failover", "origin")
    kind = "route.child_reject"

    def __init__(self, ts, child_id, reason, text="", failover=True, origin=ORIGIN):
        self.ts = ts
        self.child_id = child_id
        self.reason = reason
        self.text = text
        self.failover = failover
        self.origin = origin


@register_command_type
class ChildUnknown(Command):
    """The venue may or may not hold the child (no answer, reconciliation failed too).
    Its quantity stays in doubt — never re-routed — until reconciliation settles it."""

    __slots__ = ("ts", "child_id", "text", "origin")
    kind = "route.child_unknown"

    def __init__(self, ts, child_id, text="", origin=ORIGIN):
        self.ts = ts
        self.child_id = child_id
        self.text = text
        self.origin = origin


@register_command_type
class ChildCancelFailed(Command):
    """A venue refused to cancel a child that is still working (not 'too late')."""

    __slots__ = ("ts", "child_id", "reason", "text", "origin")
    kind = "route.child_cancel_failed"

    def __init__(self, ts, child_id, reason, text="", origin=ORIGIN):
        self.ts = ts
        self.child_id = child_id
        self.reason = reason
        self.text = text
        self.origin = origin


@register_command_type
class VenueState(Command):
    """An external venue was lost (`up` False) or is back (True)."""

    __slots__ = ("ts", "venue", "up", "reason", "origin")
    kind = "route.venue_state"

    def __init__(self, ts, venue, up, reason="", origin=ORIGIN):
        self.ts = ts
        self.venue = venue
        self.up = up
        self.reason = reason
        self.origin = origin


@register_command_type
class RouterControl(Command):
    """Stop ("halt") or restart ("resume") routing new orders."""

    __slots__ = ("ts", "action", "reason", "who", "origin")
    kind = "route.control"

    def __init__(self, ts, action, reason="", who="", origin=ORIGIN):
        self.ts = ts
        self.action = action
        self.reason = reason
        self.who = who
        self.origin = origin


@register_command_type
class InternalChildEvent(Command):
    """An execution of an internal child on the book, mirrored onto its parent.
    Derived from events by the router's OMS listener (oms.defer): never journaled."""

    __slots__ = ("ts", "child_id", "order_id", "exec_type", "status", "last_px", "last_qty", "liquidity",
                 "trade_id", "reason", "text")
    kind = "route.internal_event"

    def __init__(self, ts, child_id, order_id, exec_type, status, last_px=0, last_qty=0, liquidity="", trade_id=0,
                 reason="", text=""):
        self.ts = ts
        self.child_id = child_id
        self.order_id = order_id
        self.exec_type = exec_type
        self.status = status
        self.last_px = last_px
        self.last_qty = last_qty
        self.liquidity = liquidity
        self.trade_id = trade_id
        self.reason = reason
        self.text = text


ALL = (RoutePlan, ChildAck, ChildFill, ChildDone, ChildReject, ChildUnknown, ChildCancelFailed, VenueState,
       RouterControl, InternalChildEvent)
