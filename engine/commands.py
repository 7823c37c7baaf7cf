"""Commands: everything that can change the venue's state.

Gateways (FIX, REST, router, admin, the scheduler) translate what they receive
into these and hand them to the OMS. Every command carries its own timestamp
`ts` (ns since the epoch), assigned once at the edge: the core never reads a
clock, so replaying the journal of commands reproduces every event exactly.

Prices and quantities are scaled integers (ticks, lots); `Instrument` converts.
`to_record()` / `from_record()` give a plain JSON-able form for the journal.
"""

from __future__ import annotations


class Command:
    __slots__ = ()
    kind = "command"

    def to_record(self) -> dict:
        rec = {"kind": self.kind}
        for name in self.__slots__:
            v = getattr(self, name)
            rec[name] = v
        return rec

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({inner})"


class NewOrder(Command):
    __slots__ = (
        "ts", "account", "cl_ord_id", "symbol", "side", "ord_type", "tif", "qty", "price",
        "stop_px", "display_qty", "hidden", "post_only", "min_qty", "expire_ts",
        "trail_ticks", "trail_ppm", "stp", "origin", "reduce_only",
    )
    kind = "new"

    def __init__(self, ts, account, cl_ord_id, symbol, side, ord_type, tif, qty, price=0, stop_px=0,
                 display_qty=0, hidden=False, post_only=False, min_qty=0, expire_ts=0,
                 trail_ticks=0, trail_ppm=0, stp=None, origin="", reduce_only=False):
        self.ts = ts
        self.account = account
        self.cl_ord_id = cl_ord_id
        self.symbol = symbol
        self.side = side
        self.ord_type = ord_type
        self.tif = tif
        self.qty = qty
        self.price = price
        self.stop_px = stop_px
        self.display_qty = display_qty
        self.hidden = hidden
        self.post_only = post_only
        self.min_qty = min_qty
        self.expire_ts = expire_ts
        self.trail_ticks = trail_ticks
        self.trail_ppm = trail_ppm
        self.stp = stp
        self.origin = origin
        self.reduce_only = reduce_only


class CancelOrder(Command):
    """Cancel by `order_id`, or by the order's current client order id `orig_cl_ord_id`."""

    __slots__ = ("ts", "account", "cl_ord_id", "orig_cl_ord_id", "order_id", "origin", "reason")
    kind = "cancel"

    def __init__(self, ts, account, cl_ord_id="", orig_cl_ord_id="", order_id=0, origin="", reason="CLIENT_REQUEST"):
        self.ts = ts
        self.account = account
        self.cl_ord_id = cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.order_id = order_id
        self.origin = origin
        self.reason = reason


class ReplaceOrder(Command):
    """Cancel/replace: new quantity (total, lots) and/or price/stop price; 0 = unchanged."""

    __slots__ = ("ts", "account", "cl_ord_id", "orig_cl_ord_id", "order_id", "qty", "price", "stop_px", "origin")
    kind = "replace"

    def __init__(self, ts, account, cl_ord_id, orig_cl_ord_id="", order_id=0, qty=0, price=0, stop_px=0, origin=""):
        self.ts = ts
        self.account = account
        self.cl_ord_id = cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.order_id = order_id
        self.qty = qty
        self.price = price
        self.stop_px = stop_px
        self.origin = origin


class MassCancel(Command):
    """Cancel every open order matching the filters (None = any). account None = all accounts."""

    __slots__ = ("ts", "account", "symbol", "side", "origin", "cl_ord_id", "reason", "scope_origin", "tif")
    kind = "mass_cancel"

    def __init__(self, ts, account=None, symbol=None, side=None, origin="", cl_ord_id="", reason="MASS_CANCEL",
                 scope_origin=None, tif=None):
        self.ts = ts
        self.account = account
        self.symbol = symbol
        self.side = side
        self.origin = origin            # who asked
        self.cl_ord_id = cl_ord_id
        self.reason = reason
        self.scope_origin = scope_origin  # only orders entered by this session (cancel on disconnect)
        self.tif = tif                    # only orders with this TimeInForce (e.g. DAY on disconnect)


class SetTradingState(Command):
    __slots__ = ("ts", "symbol", "state", "reason", "origin")
    kind = "trading_state"

    def __init__(self, ts, symbol, state, reason="", origin=""):
        self.ts = ts
        self.symbol = symbol
        self.state = state
        self.reason = reason
        self.origin = origin


class Tick(Command):
    """The passage of time: expires DAY/GTD orders whose time has come."""

    __slots__ = ("ts",)
    kind = "tick"

    def __init__(self, ts):
        self.ts = ts


class RejectNew(Command):
    """An order refused at the edge (conversion, validation, risk): recorded through the
    OMS so it gets an execution report, a sequence number and a journal entry like any other."""

    __slots__ = ("ts", "account", "cl_ord_id", "symbol", "side", "ord_type", "qty", "price", "reason", "text", "origin")
    kind = "reject_new"

    def __init__(self, ts, account, cl_ord_id, symbol, side, reason, text, ord_type=2, qty=0, price=0, origin=""):
        self.ts = ts
        self.account = account
        self.cl_ord_id = cl_ord_id
        self.symbol = symbol
        self.side = side
        self.ord_type = ord_type
        self.qty = qty
        self.price = price
        self.reason = reason
        self.text = text
        self.origin = origin


class RejectCancel(Command):
    """A cancel or replace refused at the edge (e.g. a replace price off the tick): recorded
    through the OMS so the CancelReject gets a sequence number and a journal entry."""

    __slots__ = ("ts", "account", "cl_ord_id", "orig_cl_ord_id", "order_id", "is_replace", "reason", "text", "origin")
    kind = "reject_cancel"

    def __init__(self, ts, account, cl_ord_id, orig_cl_ord_id, order_id, is_replace, reason, text, origin=""):
        self.ts = ts
        self.account = account
        self.cl_ord_id = cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.order_id = order_id
        self.is_replace = is_replace
        self.reason = reason
        self.text = text
        self.origin = origin


COMMAND_TYPES: dict[str, type[Command]] = {
    c.kind: c for c in (NewOrder, CancelOrder, ReplaceOrder, MassCancel, SetTradingState, Tick, RejectNew, RejectCancel)
}


def register_command_type(cls: type[Command]) -> type[Command]:
    """Let another layer (risk controls, the router) define journaled commands of its own."""
    existing = COMMAND_TYPES.get(cls.kind)
    if existing is not None and existing is not cls:
        raise ValueError(f"command kind {cls.kind!r} is already registered by {existing.__name__}")
    COMMAND_TYPES[cls.kind] = cls
    return cls


def command_from_record(rec: dict) -> Command:
    cls = COMMAND_TYPES[rec["kind"]]
    obj = cls.__new__(cls)
    defaults = _defaults(cls)
    for name in cls.__slots__:
        # fields added later default to their constructor default (old journals stay readable)
        setattr(obj, name, rec[name] if name in rec else defaults[name])
    return obj


def _defaults(cls) -> dict:
    import inspect
    return {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}
