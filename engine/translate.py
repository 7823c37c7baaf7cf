"""The one translation between the outside world's orders and the core's commands.

FIX and REST gateways (and the router) parse their own wire formats into an
`OrderRequest` / `ReplaceRequest` — plain names and `Decimal`s — and call
`new_order_command` / `replace_command`, which validate and scale them with the
instrument's rules. Execution reports go the other way through `exec_view`.
So there is exactly one place where "0.015 at tick 0.01" becomes a reject, and
the FIX and REST answers for the same mistake say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from engine.commands import NewOrder, ReplaceOrder
from engine.events import ExecReport
from engine.instrument import Instrument, fee_to_decimal
from engine.reject import Reason, RejectError
from engine.types import ExecType, OrdStatus, OrdType, Side, StpMode, TimeInForce

SIDES = {"buy": int(Side.BUY), "sell": int(Side.SELL)}
ORDER_TYPES = {
    "market": int(OrdType.MARKET),
    "limit": int(OrdType.LIMIT),
    "stop": int(OrdType.STOP),
    "stop_limit": int(OrdType.STOP_LIMIT),
    "market_if_touched": int(OrdType.MARKET_IF_TOUCHED),
    "trailing_stop": int(OrdType.TRAILING_STOP),
}
TIME_IN_FORCE = {"gtc": int(TimeInForce.GTC), "day": int(TimeInForce.DAY), "ioc": int(TimeInForce.IOC),
                 "fok": int(TimeInForce.FOK), "gtd": int(TimeInForce.GTD)}
STP_MODES = {"none": int(StpMode.NONE), "cancel_newest": int(StpMode.CANCEL_NEWEST),
             "cancel_oldest": int(StpMode.CANCEL_OLDEST), "cancel_both": int(StpMode.CANCEL_BOTH),
             "decrement_and_cancel": int(StpMode.DECREMENT_AND_CANCEL)}

SIDE_NAMES = {v: k for k, v in SIDES.items()}
ORDER_TYPE_NAMES = {v: k for k, v in ORDER_TYPES.items()}
TIF_NAMES = {v: k for k, v in TIME_IN_FORCE.items()}
STATUS_NAMES = {int(s): s.name.lower() for s in OrdStatus}
EXEC_TYPE_NAMES = {int(e): e.name.lower() for e in ExecType}


@dataclass(slots=True)
class OrderRequest:
    account: str
    cl_ord_id: str
    symbol: str
    side: str                      # "buy" | "sell"
    quantity: Decimal
    order_type: str = "limit"      # see ORDER_TYPES
    time_in_force: str = "gtc"     # see TIME_IN_FORCE
    price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    display_qty: Decimal | None = None
    hidden: bool = False
    post_only: bool = False
    min_qty: Decimal | None = None
    expire_ts: int = 0             # ns since the epoch (GTD)
    stp: str | None = None         # per-order self-trade mode override
    reduce_only: bool = False
    origin: str = ""


@dataclass(slots=True)
class ReplaceRequest:
    account: str
    cl_ord_id: str
    orig_cl_ord_id: str = ""
    order_id: int = 0
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    origin: str = ""


def _lookup(table: Mapping[str, int], value: str, what: str) -> int:
    v = table.get(str(value).lower())
    if v is None:
        raise RejectError(Reason.INVALID_ORDER, f"unsupported {what} {value!r}",
                          {what: str(value), "allowed": sorted(table)})
    return v


def instrument_for(instruments: Mapping[str, Instrument], symbol: str) -> Instrument:
    inst = instruments.get(symbol)
    if inst is None:
        raise RejectError(Reason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}", {"symbol": symbol})
    return inst


def new_order_command(req: OrderRequest, instruments: Mapping[str, Instrument], ts: int) -> NewOrder:
    """Validate and scale a request. Raises RejectError with the reason a client should see."""
    inst = instrument_for(instruments, req.symbol)
    side = _lookup(SIDES, req.side, "side")
    ot = _lookup(ORDER_TYPES, req.order_type, "order type")
    tif = _lookup(TIME_IN_FORCE, req.time_in_force, "time in force")
    qty = inst.qty_to_lots(req.quantity)
    price = 0
    if ot in (ORDER_TYPES["limit"], ORDER_TYPES["stop_limit"]):
        if req.price is None:
            raise RejectError(Reason.INVALID_PRICE, f"a {req.order_type} order needs a price")
        price = inst.price_to_ticks(req.price)
    elif req.price is not None:
        raise RejectError(Reason.INVALID_ORDER, f"a {req.order_type} order takes no price")
    stop_px = 0
    if ot in (ORDER_TYPES["stop"], ORDER_TYPES["stop_limit"], ORDER_TYPES["market_if_touched"]):
        if req.stop_price is None:
            raise RejectError(Reason.INVALID_PRICE, f"a {req.order_type} order needs a stop/trigger price")
        stop_px = inst.price_to_ticks(req.stop_price)
    elif req.stop_price is not None and ot != ORDER_TYPES["trailing_stop"]:
        raise RejectError(Reason.INVALID_ORDER, f"a {req.order_type} order takes no stop price")
    trail_ticks = trail_ppm = 0
    if ot == ORDER_TYPES["trailing_stop"]:
        if (req.trail_amount is None) == (req.trail_percent is None):
            raise RejectError(Reason.INVALID_ORDER, "a trailing stop needs exactly one of trail amount or trail percent")
        if req.trail_amount is not None:
            trail_ticks = inst.offset_to_ticks(req.trail_amount)
        else:
            pct = Decimal(str(req.trail_percent))
            if not (0 < pct < 100):
                raise RejectError(Reason.INVALID_ORDER, "trail percent must be between 0 and 100",
                                  {"trail_percent": str(pct)})
            trail_ppm = int(pct * 10_000)
        if req.stop_price is not None:
            stop_px = inst.price_to_ticks(req.stop_price)
    elif req.trail_amount is not None or req.trail_percent is not None:
        raise RejectError(Reason.INVALID_ORDER, "a trailing offset needs a trailing stop order")
    display = inst.qty_to_lots(req.display_qty, check_bounds=False) if req.display_qty else 0
    min_qty = inst.qty_to_lots(req.min_qty, check_bounds=False) if req.min_qty else 0
    stp = _lookup(STP_MODES, req.stp, "self-trade prevention mode") if req.stp else None
    return NewOrder(ts, req.account, req.cl_ord_id, req.symbol, side, ot, tif, qty, price, stop_px, display,
                    bool(req.hidden), bool(req.post_only), min_qty, int(req.expire_ts or 0), trail_ticks, trail_ppm,
                    stp, req.origin, bool(req.reduce_only))


def replace_command(req: ReplaceRequest, inst: Instrument, ts: int) -> ReplaceOrder:
    qty = inst.qty_to_lots(req.quantity) if req.quantity is not None else 0
    price = inst.price_to_ticks(req.price) if req.price is not None else 0
    stop_px = inst.price_to_ticks(req.stop_price) if req.stop_price is not None else 0
    if not (qty or price or stop_px):
        raise RejectError(Reason.INVALID_ORDER, "a replace must change quantity, price or stop price")
    return ReplaceOrder(ts, req.account, req.cl_ord_id, req.orig_cl_ord_id, req.order_id, qty, price, stop_px,
                        req.origin)


def exec_view(ev: ExecReport, inst: Instrument) -> dict:
    """An execution report in outside units (Decimals and names), for every gateway."""
    return {
        "seq": ev.seq,
        "ts": ev.ts,
        "exec_type": EXEC_TYPE_NAMES.get(ev.exec_type, str(ev.exec_type)),
        "order_id": ev.order_id,
        "cl_ord_id": ev.cl_ord_id,
        "orig_cl_ord_id": ev.orig_cl_ord_id or None,
        "account": ev.account,
        "symbol": ev.symbol,
        "side": SIDE_NAMES.get(ev.side),
        "order_type": ORDER_TYPE_NAMES.get(ev.ord_type),
        "time_in_force": TIF_NAMES.get(ev.tif),
        "price": inst.ticks_to_price(ev.price) if ev.price else None,
        "stop_price": inst.ticks_to_price(ev.stop_px) if ev.stop_px else None,
        "quantity": inst.lots_to_qty(ev.qty),
        "leaves_qty": inst.lots_to_qty(ev.leaves),
        "cum_qty": inst.lots_to_qty(ev.cum),
        "avg_price": inst.avg_price(ev.cum_notional, ev.cum) if ev.cum else None,
        "status": STATUS_NAMES.get(ev.status, str(ev.status)),
        "last_price": inst.ticks_to_price(ev.last_px) if ev.last_qty else None,
        "last_qty": inst.lots_to_qty(ev.last_qty) if ev.last_qty else None,
        "fee": fee_to_decimal(ev.fee_e8) if ev.last_qty else None,
        "fee_currency": inst.quote if ev.last_qty else None,
        "liquidity": {"M": "maker", "T": "taker"}.get(ev.liquidity),
        "trade_id": ev.trade_id or None,
        "reason": ev.reason or None,
        "text": ev.text or None,
    }


def order_view(o, inst: Instrument) -> dict:
    """The current state of an order (engine.order.Order) in outside units."""
    ext = o.ext
    return {
        "order_id": o.order_id,
        "cl_ord_id": o.cl_ord_id,
        "account": o.account,
        "symbol": o.symbol,
        "side": SIDE_NAMES.get(o.side),
        "order_type": ORDER_TYPE_NAMES.get(o.ord_type),
        "time_in_force": TIF_NAMES.get(o.tif),
        "price": inst.ticks_to_price(o.price) if o.price else None,
        "stop_price": inst.ticks_to_price(ext.stop_px) if ext is not None and ext.stop_px else None,
        "quantity": inst.lots_to_qty(o.qty),
        "leaves_qty": inst.lots_to_qty(o.leaves),
        "cum_qty": inst.lots_to_qty(o.cum),
        "avg_price": inst.avg_price(o.cum_notional, o.cum) if o.cum else None,
        "status": STATUS_NAMES.get(o.status, str(o.status)),
        "hidden": o.hidden,
        "post_only": o.post_only,
        "display_qty": inst.lots_to_qty(ext.display_qty) if ext is not None and ext.display_qty else None,
        "expire_ts": ext.expire_ts if ext is not None and ext.expire_ts else None,
        "created_ts": o.ts,
        "origin": o.origin,
    }
