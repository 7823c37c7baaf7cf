"""Events: everything the core tells the world.

Each event is stamped with a venue-wide sequence number `seq` when the OMS
finishes the command that caused it. Execution reports carry a snapshot of the
order (quantities, status, average-price numerator) so a gateway can render
them later — after the journal's group commit — without reading mutable state.

`encode()` gives a canonical byte form; the determinism test compares it.
"""

from __future__ import annotations


class Event:
    __slots__ = ()
    kind = "event"

    def fields(self) -> tuple:
        return tuple(getattr(self, n) for n in self.__slots__)

    def encode(self) -> bytes:
        return (self.kind + repr(self.fields())).encode()

    def to_record(self) -> dict:
        rec = {"kind": self.kind}
        for n in self.__slots__:
            rec[n] = getattr(self, n)
        return rec

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({inner})"


class ExecReport(Event):
    """One transition of one order (FIX ExecutionReport semantics)."""

    __slots__ = (
        "seq", "ts", "exec_type", "order_id", "cl_ord_id", "orig_cl_ord_id", "account", "symbol",
        "side", "ord_type", "tif", "price", "stop_px", "qty", "leaves", "cum", "cum_notional",
        "status", "last_px", "last_qty", "fee_e8", "liquidity", "trade_id", "reason", "text", "origin",
    )
    kind = "exec"

    def __init__(self, ts, exec_type, o, orig_cl_ord_id="", last_px=0, last_qty=0, fee_e8=0,
                 liquidity="", trade_id=0, reason="", text=""):
        self.seq = 0
        self.ts = ts
        self.exec_type = exec_type
        self.order_id = o.order_id
        self.cl_ord_id = o.cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.account = o.account
        self.symbol = o.symbol
        self.side = o.side
        self.ord_type = o.ord_type
        self.tif = o.tif
        self.price = o.price
        ext = o.ext
        self.stop_px = ext.stop_px if ext is not None else 0
        self.qty = o.qty
        self.leaves = o.leaves
        self.cum = o.cum
        self.cum_notional = o.cum_notional
        self.status = o.status
        self.last_px = last_px
        self.last_qty = last_qty
        self.fee_e8 = fee_e8
        self.liquidity = liquidity    # "M" maker / "T" taker on trades
        self.trade_id = trade_id
        self.reason = reason          # engine.reject.Reason value on rejects/cancels/expiries
        self.text = text
        self.origin = o.origin


class Trade(Event):
    """A public trade print (at the resting order's price)."""

    __slots__ = (
        "seq", "ts", "trade_id", "symbol", "price", "qty", "aggressor_side",
        "maker_order_id", "taker_order_id", "maker_account", "taker_account",
    )
    kind = "trade"

    def __init__(self, ts, trade_id, symbol, price, qty, aggressor_side, maker_order_id, taker_order_id,
                 maker_account, taker_account):
        self.seq = 0
        self.ts = ts
        self.trade_id = trade_id
        self.symbol = symbol
        self.price = price
        self.qty = qty
        self.aggressor_side = aggressor_side
        self.maker_order_id = maker_order_id
        self.taker_order_id = taker_order_id
        self.maker_account = maker_account
        self.taker_account = taker_account


class CancelReject(Event):
    """A cancel or replace request that could not be carried out (FIX OrderCancelReject)."""

    __slots__ = ("seq", "ts", "account", "cl_ord_id", "orig_cl_ord_id", "order_id", "status",
                 "is_replace", "reason", "text", "origin", "symbol")
    kind = "cancel_reject"

    def __init__(self, ts, account, cl_ord_id, orig_cl_ord_id, order_id, status, is_replace, reason, text,
                 origin, symbol=""):
        self.seq = 0
        self.ts = ts
        self.account = account
        self.cl_ord_id = cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.order_id = order_id
        self.status = status          # OrdStatus of the order, or -1 when unknown
        self.is_replace = is_replace
        self.reason = reason
        self.text = text
        self.origin = origin
        self.symbol = symbol


class MassCancelDone(Event):
    __slots__ = ("seq", "ts", "account", "symbol", "side", "cl_ord_id", "origin", "cancelled", "reason")
    kind = "mass_cancel_done"

    def __init__(self, ts, account, symbol, side, cl_ord_id, origin, cancelled, reason):
        self.seq = 0
        self.ts = ts
        self.account = account
        self.symbol = symbol
        self.side = side
        self.cl_ord_id = cl_ord_id
        self.origin = origin
        self.cancelled = cancelled
        self.reason = reason


class TradingStateChanged(Event):
    __slots__ = ("seq", "ts", "symbol", "state", "reason", "origin")
    kind = "trading_state"

    def __init__(self, ts, symbol, state, reason, origin):
        self.seq = 0
        self.ts = ts
        self.symbol = symbol
        self.state = state
        self.reason = reason
        self.origin = origin


class BookUpdate(Event):
    """Price levels of one instrument that changed since its previous BookUpdate:
    ((side, price, qty, count), ...), bids best first then asks best first, with
    qty/count the level's current displayed total (0 = level gone). `seq` here is
    the instrument's own market-data sequence (1, 2, 3, ...), for gap detection."""

    __slots__ = ("seq", "ts", "symbol", "levels")
    kind = "book"

    def __init__(self, ts, symbol, levels):
        self.seq = 0
        self.ts = ts
        self.symbol = symbol
        self.levels = levels
