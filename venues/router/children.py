"""Parent/child bookkeeping of routed orders, and their audit trail.

A client order the router claims (the *parent*, an ordinary engine `Order` the
OMS keeps) is executed by *child* orders: on an external venue, or on the
venue's own book under the routing account. The client only ever sees the
parent; this module holds what links the two and the arithmetic that turns
child executions into parent executions.

Fill accounting, in one rule. A child's filled quantity is learned from two
sources that can arrive in any order and overlap: individual fills (with the
venue's fill id) and order snapshots (submit answers, stream updates,
reconciliation) that carry the venue's cumulative filled quantity and average
price. Each source is kept as its own running total; what the parent has been
given is `cum`/`notional`, and it is topped up to whichever source is ahead:

    target = max(fills total, snapshot total)    (by quantity)
    delta  = target - cum                        (never negative, never past child qty)

so a fill reported twice, a snapshot that already includes fills still on
their way, or a fill arriving after the order's terminal snapshot, never
counts twice, and the parent's CumQty ends at the venue's figure. AvgPx stays
exact because notionals (ticks*lots) are summed, not prices.

Everything here is deterministic and plain data (the snapshot extension stores
it as JSON).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Iterator

INTERNAL = "internal"

# child states
PENDING = "pending"     # decided, not yet known to be at the venue (maybe not sent yet)
LIVE = "live"           # the venue holds it and it is working
UNKNOWN = "unknown"     # an answer was lost: the venue may or may not hold it
DONE = "done"           # terminal

# how a child ended: what happens to its unfilled quantity
END_FILLED = "filled"
END_FAILOVER = "failover"   # never at the venue (or cancelled for failover): routable again
END_OURS = "ours"           # cancelled at our request (parent cancel / replace)
END_DEAD = "dead"           # ended by the venue (IOC remainder, venue cancel, expiry): not re-routed

# why a cancel of a child was requested
CANCEL_PARENT = "parent"
CANCEL_VENUE_LOSS = "venue_loss"
CANCEL_FAILOVER = "failover"


class Child:
    __slots__ = (
        "child_id", "parent_id", "venue", "symbol", "side", "qty", "price", "ord_type", "tif", "state",
        "cum", "notional", "fill_sum", "fill_notional", "venue_filled", "venue_notional", "fill_ids",
        "venue_order_id", "internal_id", "cancel_requested", "cancel_kind", "end", "reason", "text",
        "created_ts", "updated_ts",
    )

    def __init__(self, child_id: str, parent_id: int, venue: str, symbol: str, side: int, qty: int, price: int,
                 ord_type: int, tif: int, ts: int) -> None:
        self.child_id = child_id
        self.parent_id = parent_id
        self.venue = venue
        self.symbol = symbol
        self.side = side
        self.qty = qty
        self.price = price
        self.ord_type = ord_type
        self.tif = tif
        self.state = PENDING
        self.cum = 0                 # lots passed on to the parent
        self.notional = 0            # ticks*lots passed on to the parent
        self.fill_sum = 0            # from individual fills
        self.fill_notional = 0
        self.venue_filled = 0        # from venue snapshots (cumulative)
        self.venue_notional = 0
        self.fill_ids: set[str] = set()
        self.venue_order_id = ""
        self.internal_id = 0         # engine order id of an internal child
        self.cancel_requested = False
        self.cancel_kind = ""
        self.end = ""
        self.reason = ""
        self.text = ""
        self.created_ts = ts
        self.updated_ts = ts

    @property
    def open(self) -> bool:
        return self.state != DONE

    @property
    def remaining(self) -> int:
        """Quantity this child may still fill (0 once done)."""
        return self.qty - self.cum if self.state != DONE else 0

    def absorb(self) -> tuple[int, int]:
        """Top `cum`/`notional` up to the most advanced source; returns (delta lots, delta notional)."""
        if self.fill_sum >= self.venue_filled:
            tq, tn = self.fill_sum, self.fill_notional
        else:
            tq, tn = self.venue_filled, self.venue_notional
        if tq > self.qty:            # a venue never fills more than asked; refuse to pass more on
            if tq:
                tn = tn * self.qty // tq
            tq = self.qty
        dq = tq - self.cum
        if dq <= 0:
            return 0, 0
        dn = tn - self.notional
        if dn <= 0:                  # rounding noise between the two sources: keep the price sane
            dn = dq * max(1, self.notional // self.cum if self.cum else self.price or 1)
        self.cum = tq
        self.notional += dn
        return dq, dn

    def to_state(self) -> list:
        return [getattr(self, n) if n != "fill_ids" else sorted(self.fill_ids) for n in self.__slots__]

    @classmethod
    def from_state(cls, row: list) -> "Child":
        c = cls.__new__(cls)
        for n, v in zip(cls.__slots__, row):
            setattr(c, n, set(v) if n == "fill_ids" else v)
        return c

    def view(self) -> dict:
        return {
            "child_id": self.child_id, "parent_id": self.parent_id, "venue": self.venue, "state": self.state,
            "qty": self.qty, "price": self.price, "cum": self.cum, "notional": self.notional,
            "venue_order_id": self.venue_order_id or None, "internal_order_id": self.internal_id or None,
            "cancel_requested": self.cancel_requested, "end": self.end or None, "reason": self.reason or None,
            "text": self.text or None,
        }


@dataclass
class PendingCancel:
    cl_ord_id: str          # the cancel request's client order id ("" = none: mass cancel, expiry, router)
    reason: str
    text: str
    origin: str
    expire: bool = False    # an expiry (EXPIRED instead of CANCELED)
    notify: bool = True     # answer a failure with a CancelReject (client cancels only)

    kind = "cancel"


@dataclass
class PendingReplace:
    cl_ord_id: str
    qty: int
    price: int
    origin: str
    orig_cl_ord_id: str

    kind = "replace"


@dataclass
class Parent:
    order: Any                              # the engine Order (owned by the OMS)
    policy: str
    plan_no: int = 0
    planning: bool = False
    children: list[Child] = field(default_factory=list)
    next_n: int = 1                         # number of the next child
    excluded: set[str] = field(default_factory=set)
    dead: int = 0                           # lots of children ended by their venue (not re-routed)
    acked: bool = False                     # NEW sent to the client
    pending: PendingCancel | PendingReplace | None = None
    last_reason: str = ""
    last_text: str = ""

    @property
    def order_id(self) -> int:
        return self.order.order_id

    def open_children(self) -> list[Child]:
        return [c for c in self.children if c.state != DONE]

    def in_flight(self) -> int:
        """Lots working (or in doubt) at children."""
        return sum(c.qty - c.cum for c in self.children if c.state != DONE)

    def routable(self) -> int:
        """Lots of the parent no child holds and no venue ended: what a new plan may route."""
        o = self.order
        return max(0, o.qty - o.cum - self.in_flight() - self.dead)

    def to_state(self) -> dict:
        pend = None
        if self.pending is not None:
            pend = [self.pending.kind, {k: v for k, v in self.pending.__dict__.items()}]
        return {"order_id": self.order.order_id, "policy": self.policy, "plan_no": self.plan_no,
                "planning": self.planning, "children": [c.child_id for c in self.children], "next_n": self.next_n,
                "excluded": sorted(self.excluded), "dead": self.dead, "acked": self.acked, "pending": pend,
                "last_reason": self.last_reason, "last_text": self.last_text}


class AuditTrail:
    """What happened to each routed order, parent and children, in order.

    Records are plain dicts: ts, order_id (parent), child_id (or None), venue,
    action, detail. Kept for open parents and for the most recent
    `keep_closed` closed ones (the SQL store's audit table keeps the journaled
    router commands for ever)."""

    def __init__(self, keep_closed: int = 5000) -> None:
        self.keep_closed = keep_closed
        self.by_order: dict[int, list[dict]] = {}
        self._closed: deque[int] = deque()

    def add(self, ts: int, order_id: int, action: str, child: Child | None = None, venue: str | None = None,
            **detail: Any) -> None:
        rec = {"ts": ts, "order_id": order_id, "child_id": child.child_id if child is not None else None,
               "venue": venue if venue is not None else (child.venue if child is not None else None),
               "action": action}
        if detail:
            rec["detail"] = detail
        self.by_order.setdefault(order_id, []).append(rec)

    def closed(self, order_id: int) -> None:
        self._closed.append(order_id)
        while len(self._closed) > self.keep_closed:
            self.by_order.pop(self._closed.popleft(), None)

    def of(self, order_id: int) -> list[dict]:
        return list(self.by_order.get(order_id, ()))

    def to_state(self) -> dict:
        return {"records": {str(k): v for k, v in self.by_order.items()}, "closed": list(self._closed)}

    def restore(self, state: dict) -> None:
        self.by_order = {int(k): v for k, v in (state.get("records") or {}).items()}
        self._closed = deque(state.get("closed") or ())


class ChildBook:
    """Open parents, their children, and the indexes the router needs (child id ->
    child, venue order id -> child). Closed parents move to a bounded history so
    queries about recent orders keep working."""

    def __init__(self, keep_closed: int = 5000) -> None:
        self.parents: dict[int, Parent] = {}
        self.children: dict[str, Child] = {}
        self.by_venue_id: dict[tuple[str, str], Child] = {}
        self.closed: OrderedDict[int, Parent] = OrderedDict()
        self.keep_closed = keep_closed
        self.internal_open = 0       # open internal children (the OMS listener skips work while 0)

    def add_parent(self, p: Parent) -> None:
        self.parents[p.order_id] = p

    def parent(self, order_id: int) -> Parent | None:
        p = self.parents.get(order_id)
        return p if p is not None else self.closed.get(order_id)

    def add_child(self, p: Parent, c: Child) -> None:
        p.children.append(c)
        self.children[c.child_id] = c
        if c.venue == INTERNAL:
            self.internal_open += 1

    def child_done(self, c: Child) -> None:
        if c.venue == INTERNAL:
            self.internal_open -= 1

    def set_venue_id(self, c: Child, venue_order_id: str) -> None:
        if venue_order_id and c.venue_order_id != venue_order_id:
            c.venue_order_id = venue_order_id
            self.by_venue_id[(c.venue, venue_order_id)] = c

    def close(self, p: Parent) -> None:
        self.parents.pop(p.order_id, None)
        self.closed[p.order_id] = p
        while len(self.closed) > self.keep_closed:
            _, old = self.closed.popitem(last=False)
            for c in old.children:
                self.children.pop(c.child_id, None)
                if c.venue_order_id:
                    self.by_venue_id.pop((c.venue, c.venue_order_id), None)

    def open_children(self, venue: str | None = None) -> Iterator[Child]:
        for p in list(self.parents.values()):
            for c in p.children:
                if c.state != DONE and (venue is None or c.venue == venue):
                    yield c

    # ------------------------------------------------------------------ snapshot

    def to_state(self) -> dict:
        kids = [c.to_state() for p in self.parents.values() for c in p.children]
        return {"slots": list(Child.__slots__), "parents": [p.to_state() for p in self.parents.values()],
                "children": kids}

    def restore(self, state: dict, orders: dict) -> list[Parent]:
        slots = state.get("slots") or []
        if list(slots) != list(Child.__slots__):
            raise ValueError("router snapshot was written by another version of the child record")
        kids = {row[0]: Child.from_state(row) for row in state.get("children") or ()}
        self.parents.clear()
        self.children.clear()
        self.by_venue_id.clear()
        self.closed.clear()
        self.internal_open = 0
        out = []
        for s in state.get("parents") or ():
            o = orders.get(s["order_id"])
            if o is None:
                continue
            p = Parent(o, s["policy"], s["plan_no"], s["planning"], [], s["next_n"], set(s["excluded"]), s["dead"],
                       s["acked"], None, s.get("last_reason", ""), s.get("last_text", ""))
            pend = s.get("pending")
            if pend:
                kind, data = pend
                p.pending = PendingCancel(**data) if kind == "cancel" else PendingReplace(**data)
            self.add_parent(p)
            for cid in s["children"]:
                c = kids[cid]
                self.add_child(p, c)
                if c.state == DONE:
                    self.child_done(c)
                if c.venue_order_id:
                    self.by_venue_id[(c.venue, c.venue_order_id)] = c
            out.append(p)
        return out
