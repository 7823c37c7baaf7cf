"""Pure translation between venue-neutral values and OANDA v20 JSON (no I/O).

* `order_body` / `replace_body` - our requests to v20 order specs.
* `TransactionTranslator` - v20 transactions (stream, sinceid, REST answers) to
  `VenueOrderUpdate` / `VenueFill` events, keeping only the order and trade facts
  needed to give each update a full snapshot. Submit answers are replayed
  through a throwaway translator, so one code path decides every status.
* `error_from_v20` - an HTTP error answer to one of our typed errors.

Status rules (OANDA fills pending orders all-or-none):
PENDING / TRIGGERED -> NEW; a fill -> FILLED, except a MARKET order filled for fewer
units than asked (IOC) -> EXPIRED with the partial quantity; ORDER_CANCEL ->
REPLACED (CLIENT_REQUEST_REPLACED), EXPIRED (TIME_IN_FORCE_EXPIRED), CANCELLED
(client request, linked trade closed) or, when the cancel reason is a venue
refusal (market halted, no margin, no liquidity, bounds), REJECTED with our code if
it happened in the create's own batch (the order never worked), else CANCELLED
carrying that code (a working order the venue took down later).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
import re

from venues.adapter import (
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
    TimeInForce,
    VenueDisconnected,
    VenueError,
    VenueEvent,
    VenueFill,
    VenueOrder,
    VenueOrderRequest,
    VenueOrderUpdate,
    VenueRateLimited,
    VenueReject,
)
from venues.oanda.instruments import InstrumentMap, fmt_decimal, from_units, to_decimal, to_units
from venues.oanda.rejects import cancel_reject_code, map_reason

VENUE = "oanda"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,120}$")
_ENTRY_TX = {"MARKET_ORDER": "MARKET", "LIMIT_ORDER": "LIMIT", "STOP_ORDER": "STOP",
             "MARKET_IF_TOUCHED_ORDER": "MARKET_IF_TOUCHED"}
_DEPENDENT_TX = {"TAKE_PROFIT_ORDER": "TAKE_PROFIT", "STOP_LOSS_ORDER": "STOP_LOSS",
                 "TRAILING_STOP_LOSS_ORDER": "TRAILING_STOP_LOSS"}
_TIF_TO_OANDA = {TimeInForce.GTC: "GTC", TimeInForce.GTD: "GTD", TimeInForce.DAY: "GFD",
                 TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_TIF_FROM_OANDA = {"GTC": TimeInForce.GTC, "GTD": TimeInForce.GTD, "GFD": TimeInForce.DAY,
                   "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
TP_SUFFIX, SL_SUFFIX, TS_SUFFIX = ".tp", ".sl", ".ts"


# =========================================================================== requests
def check_client_id(client_order_id: str) -> None:
    if not isinstance(client_order_id, str) or not _CLIENT_ID.match(client_order_id):
        raise VenueReject(RejectCode.INVALID_ORDER,
                          f"client order id must match {_CLIENT_ID.pattern}: {client_order_id!r}",
                          venue=VENUE, client_order_id=str(client_order_id))


def rfc3339(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    text = raw[:-1] if raw.endswith("Z") else raw
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.fromtimestamp(float(raw), tz=timezone.utc)
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def order_body(req: VenueOrderRequest, instruments: InstrumentMap) -> dict[str, Any]:
    """The v20 order spec for a new order; rejects what OANDA cannot express."""
    check_client_id(req.client_order_id)

    def bad(code: RejectCode, why: str) -> VenueReject:
        return VenueReject(code, why, venue=VENUE, client_order_id=req.client_order_id)

    t = req.order_type
    order: dict[str, Any] = {"clientExtensions": {"id": req.client_order_id}}
    if t is OrderType.TRAILING_STOP:
        if not req.trade_id:
            raise bad(RejectCode.INVALID_ORDER, "an OANDA trailing stop protects an open trade: trade_id is required")
        if req.trailing_distance is None or req.trailing_distance <= 0:
            raise bad(RejectCode.INVALID_STOP, "trailing_distance must be positive")
        order.update(type="TRAILING_STOP_LOSS", tradeID=str(req.trade_id), distance=fmt_decimal(req.trailing_distance))
        order["timeInForce"] = _pending_tif(req, bad)
        _gtd(order, req, bad)
        return {"order": order}
    order["instrument"] = instruments.to_oanda(req.symbol)
    order["units"] = to_units(req.side, req.quantity)
    order["positionFill"] = "DEFAULT"
    if t is OrderType.MARKET:
        order["type"] = "MARKET"
        if req.time_in_force in (TimeInForce.GTC, TimeInForce.FOK):
            order["timeInForce"] = "FOK"
        elif req.time_in_force is TimeInForce.IOC:
            order["timeInForce"] = "IOC"
        else:
            raise bad(RejectCode.INVALID_TIME_IN_FORCE, f"market orders are FOK or IOC, not {req.time_in_force.value}")
        if req.price is not None:
            order["priceBound"] = _price(req.price, bad, RejectCode.INVALID_PRICE)
    elif t is OrderType.LIMIT:
        if req.price is None:
            raise bad(RejectCode.INVALID_PRICE, "a limit order needs a price")
        order.update(type="LIMIT", price=_price(req.price, bad, RejectCode.INVALID_PRICE))
        order["timeInForce"] = _TIF_TO_OANDA[req.time_in_force]
    elif t in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.MARKET_IF_TOUCHED):
        if req.stop_price is None:
            raise bad(RejectCode.INVALID_STOP, f"a {t.value} order needs a stop_price (its trigger)")
        order["type"] = "MARKET_IF_TOUCHED" if t is OrderType.MARKET_IF_TOUCHED else "STOP"
        order["price"] = _price(req.stop_price, bad, RejectCode.INVALID_STOP)
        if t is OrderType.STOP_LIMIT:
            if req.price is None:
                raise bad(RejectCode.INVALID_PRICE, "a stop-limit order needs a limit price")
            order["priceBound"] = _price(req.price, bad, RejectCode.INVALID_PRICE)
        elif req.price is not None:
            order["priceBound"] = _price(req.price, bad, RejectCode.INVALID_PRICE)
        order["timeInForce"] = _pending_tif(req, bad)
    else:  # pragma: no cover - enum is closed
        raise bad(RejectCode.UNSUPPORTED_ORDER_TYPE, f"{t.value} is not supported on OANDA")
    _gtd(order, req, bad)
    cid = req.client_order_id
    if req.take_profit_price is not None:
        order["takeProfitOnFill"] = {"price": _price(req.take_profit_price, bad, RejectCode.INVALID_TAKE_PROFIT),
                                     "timeInForce": "GTC", "clientExtensions": {"id": cid + TP_SUFFIX}}
    if req.stop_loss_price is not None:
        order["stopLossOnFill"] = {"price": _price(req.stop_loss_price, bad, RejectCode.INVALID_STOP_LOSS),
                                   "timeInForce": "GTC", "clientExtensions": {"id": cid + SL_SUFFIX}}
    if req.trailing_stop_loss_distance is not None:
        order["trailingStopLossOnFill"] = {
            "distance": _price(req.trailing_stop_loss_distance, bad, RejectCode.INVALID_STOP_LOSS),
            "timeInForce": "GTC", "clientExtensions": {"id": cid + TS_SUFFIX}}
    return {"order": order}


def _price(value: Decimal, bad, code: RejectCode) -> str:
    if not value.is_finite() or value <= 0:
        raise bad(code, f"price must be positive, got {value}")
    return fmt_decimal(value)


def _pending_tif(req: VenueOrderRequest, bad) -> str:
    if req.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        raise bad(RejectCode.INVALID_TIME_IN_FORCE, f"{req.order_type.value} orders rest: GTC, GTD or DAY")
    return _TIF_TO_OANDA[req.time_in_force]


def _gtd(order: dict[str, Any], req: VenueOrderRequest, bad) -> None:
    if req.time_in_force is TimeInForce.GTD:
        if req.expire_time is None:
            raise bad(RejectCode.INVALID_TIME_IN_FORCE, "GTD needs expire_time")
        order["gtdTime"] = rfc3339(req.expire_time)


def replace_body(current: dict[str, Any], new_client_order_id: str, *, quantity: Decimal | None,
                 price: Decimal | None, stop_price: Decimal | None) -> dict[str, Any]:
    """A v20 replacement spec: the current order with the changed fields."""
    check_client_id(new_client_order_id)

    def bad(code: RejectCode, why: str) -> VenueReject:
        return VenueReject(code, why, venue=VENUE, client_order_id=new_client_order_id)

    otype = current.get("type")
    ext = dict(current.get("clientExtensions") or {})
    ext["id"] = new_client_order_id
    keep = ("type", "instrument", "units", "price", "priceBound", "timeInForce", "gtdTime", "positionFill",
            "triggerCondition", "takeProfitOnFill", "stopLossOnFill", "trailingStopLossOnFill", "tradeID",
            "distance")
    order = {k: current[k] for k in keep if k in current}
    order["clientExtensions"] = ext
    if quantity is not None:
        if otype in ("TAKE_PROFIT", "STOP_LOSS", "TRAILING_STOP_LOSS"):
            raise bad(RejectCode.INVALID_QUANTITY, f"{otype} orders close their trade; quantity cannot change")
        side, _ = from_units(current["units"])
        order["units"] = to_units(side, quantity)
    if otype == "LIMIT" or otype == "TAKE_PROFIT":
        if stop_price is not None:
            raise bad(RejectCode.INVALID_STOP, f"{otype} orders have no stop price")
        if price is not None:
            order["price"] = _price(price, bad, RejectCode.INVALID_PRICE)
    elif otype in ("STOP", "MARKET_IF_TOUCHED", "STOP_LOSS"):
        if stop_price is not None:
            order["price"] = _price(stop_price, bad, RejectCode.INVALID_STOP)
        if price is not None:
            if otype == "STOP_LOSS":
                order["price"] = _price(price, bad, RejectCode.INVALID_STOP)
            else:
                order["priceBound"] = _price(price, bad, RejectCode.INVALID_PRICE)
    elif otype == "TRAILING_STOP_LOSS":
        if price is not None or stop_price is not None:
            raise bad(RejectCode.INVALID_ORDER, "a trailing stop is replaced by distance, which replace() does not carry")
    else:
        raise bad(RejectCode.UNSUPPORTED_ORDER_TYPE, f"{otype} orders cannot be replaced")
    return {"order": order}


# =========================================================================== errors
def error_from_v20(status: int, text: str, *, headers: dict[str, str] | None = None,
                   client_order_id: str | None = None, default_retry: float | None = None) -> VenueError:
    """An oandapyV20 `V20Error` (HTTP status + body) as our typed error."""
    try:
        body = json.loads(text) if text else {}
    except (json.JSONDecodeError, TypeError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("errorMessage") or text or f"HTTP {status}")[:500]
    if status == 429:
        retry = _retry_after(headers) if headers else None
        return VenueRateLimited(f"OANDA rate limit: {message}", retry_after=retry if retry is not None else default_retry,
                                venue=VENUE, client_order_id=client_order_id)
    if status >= 500:
        return VenueDisconnected(f"OANDA HTTP {status}: {message}", venue=VENUE, client_order_id=client_order_id)
    reject_tx = body.get("orderRejectTransaction") or body.get("orderCancelRejectTransaction") or {}
    reason = reject_tx.get("rejectReason") or body.get("errorCode")
    if status in (401, 403):
        return VenueReject(RejectCode.AUTH_FAILED, message, venue=VENUE, venue_code=str(status),
                           client_order_id=client_order_id)
    if reason:
        code = map_reason(reason)
        if status == 404 and code is RejectCode.VENUE_ERROR:
            code = RejectCode.ORDER_NOT_FOUND
        return VenueReject(code, message, venue=VENUE, venue_code=reason, client_order_id=client_order_id)
    if status == 404:
        return VenueReject(RejectCode.ORDER_NOT_FOUND, message, venue=VENUE, venue_code="404",
                           client_order_id=client_order_id)
    return VenueReject(RejectCode.INVALID_ORDER, message, venue=VENUE, venue_code=str(status),
                       client_order_id=client_order_id)


def _retry_after(headers: dict[str, str]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


# =========================================================================== transactions
@dataclass
class _Tracked:
    order_id: str
    client_id: str | None
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    oanda_type: str
    price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce | None = None
    filled: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    status: OrderStatus = OrderStatus.NEW
    reject_code: RejectCode | None = None
    reason: str | None = None
    replaced_by: str | None = None
    trade_id: str | None = None
    updated: datetime | None = None
    batch: str | None = None  # batch of the create: a venue cancel in the same batch is a reject


@dataclass
class TradeFact:
    symbol: str
    units: Decimal  # signed, current


class TransactionTranslator:
    """Applies v20 transactions in id order and says what changed, as events."""

    def __init__(self, instruments: InstrumentMap, venue: str = VENUE, fee_currency: str | None = None,
                 keep: int = 20_000) -> None:
        self.instruments = instruments
        self.venue = venue
        self.fee_currency = fee_currency
        self.orders: dict[str, _Tracked] = {}
        self.trades: dict[str, TradeFact] = {}
        self._keep = keep

    # ---------------------------------------------------------------- snapshots
    def snapshot(self, t: _Tracked) -> VenueOrder:
        return VenueOrder(
            venue=self.venue,
            venue_order_id=t.order_id,
            client_order_id=t.client_id,
            symbol=t.symbol,
            side=t.side,
            order_type=t.order_type,
            quantity=t.quantity,
            status=t.status,
            filled_quantity=t.filled,
            avg_fill_price=(t.notional / t.filled) if t.filled else None,
            price=t.price,
            stop_price=t.stop_price,
            time_in_force=t.tif,
            reject_code=t.reject_code,
            reason=t.reason,
            replaced_by=t.replaced_by,
            trade_id=t.trade_id,
            updated_at=t.updated,
        )

    def order(self, order_id: str) -> VenueOrder | None:
        t = self.orders.get(order_id)
        return self.snapshot(t) if t else None

    # ---------------------------------------------------------------- apply
    def apply(self, tx: dict[str, Any]) -> list[VenueEvent]:
        ttype = tx.get("type", "")
        if ttype in _ENTRY_TX or ttype in _DEPENDENT_TX:
            return self._created(tx)
        if ttype.endswith("_ORDER_REJECT"):
            return self._rejected(tx)
        if ttype == "ORDER_FILL":
            return self._filled(tx)
        if ttype == "ORDER_CANCEL":
            return self._cancelled(tx)
        return []

    def _created(self, tx: dict[str, Any]) -> list[VenueEvent]:
        ttype = tx["type"]
        oanda_type = _ENTRY_TX.get(ttype) or _DEPENDENT_TX[ttype]
        cid = (tx.get("clientExtensions") or {}).get("id")
        price = to_decimal(tx.get("price"))
        bound = to_decimal(tx.get("priceBound"))
        if oanda_type in _DEPENDENT_TX.values():
            trade = self.trades.get(str(tx.get("tradeID")))
            symbol = trade.symbol if trade else ""
            units = -trade.units if trade else Decimal(0)
            side, qty = from_units(units)
            if oanda_type == "TAKE_PROFIT":
                otype, lim, stop = OrderType.LIMIT, price, None
            elif oanda_type == "STOP_LOSS":
                otype, lim, stop = OrderType.STOP, None, price
            else:
                otype, lim, stop = OrderType.TRAILING_STOP, None, None
        else:
            symbol = self.instruments.from_oanda(tx.get("instrument", ""))
            side, qty = from_units(tx.get("units", "0"))
            if oanda_type == "MARKET":
                otype, lim, stop = OrderType.MARKET, bound, None
            elif oanda_type == "LIMIT":
                otype, lim, stop = OrderType.LIMIT, price, None
            elif oanda_type == "STOP":
                otype = OrderType.STOP_LIMIT if bound is not None else OrderType.STOP
                lim, stop = bound, price
            else:
                otype, lim, stop = OrderType.MARKET_IF_TOUCHED, bound, price
        t = _Tracked(
            order_id=str(tx["id"]),
            client_id=cid,
            symbol=symbol,
            side=side,
            order_type=otype,
            quantity=qty,
            oanda_type=oanda_type,
            price=lim,
            stop_price=stop,
            tif=_TIF_FROM_OANDA.get(tx.get("timeInForce", "")),
            trade_id=str(tx["tradeID"]) if tx.get("tradeID") else None,
            updated=parse_time(tx.get("time")),
            batch=str(tx.get("batchID") or tx["id"]),
        )
        self.orders[t.order_id] = t
        self._prune()
        return [VenueOrderUpdate(self.snapshot(t))]

    def _rejected(self, tx: dict[str, Any]) -> list[VenueEvent]:
        reason = tx.get("rejectReason")
        if tx["type"] == "ORDER_CANCEL_REJECT":
            return []
        cid = (tx.get("clientExtensions") or {}).get("id")
        units = tx.get("units")
        side, qty = from_units(units) if units not in (None, "") and to_decimal(units) is not None else (Side.BUY, Decimal(0))
        oanda_type = tx["type"][: -len("_ORDER_REJECT")]
        otype = {"MARKET": OrderType.MARKET, "LIMIT": OrderType.LIMIT, "STOP": OrderType.STOP,
                 "MARKET_IF_TOUCHED": OrderType.MARKET_IF_TOUCHED, "TAKE_PROFIT": OrderType.LIMIT,
                 "STOP_LOSS": OrderType.STOP, "TRAILING_STOP_LOSS": OrderType.TRAILING_STOP}.get(oanda_type,
                                                                                              OrderType.MARKET)
        order = VenueOrder(
            venue=self.venue,
            venue_order_id=None,
            client_order_id=cid,
            symbol=self.instruments.from_oanda(tx.get("instrument", "")) if tx.get("instrument") else "",
            side=side,
            order_type=otype,
            quantity=qty,
            status=OrderStatus.REJECTED,
            price=to_decimal(tx.get("price")),
            reject_code=map_reason(reason),
            reason=reason,
            updated_at=parse_time(tx.get("time")),
        )
        return [VenueOrderUpdate(order)]

    def _filled(self, tx: dict[str, Any]) -> list[VenueEvent]:
        name = tx.get("instrument", "")
        symbol = self.instruments.from_oanda(name)
        side, qty = from_units(tx.get("units", "0"))
        price = to_decimal(tx.get("fullVWAP")) or to_decimal(tx.get("price")) or Decimal(0)
        when = parse_time(tx.get("time"))
        opened = tx.get("tradeOpened") or {}
        for closed in tx.get("tradesClosed") or []:
            self.trades.pop(str(closed.get("tradeID")), None)
        reduced = tx.get("tradeReduced")
        if reduced and str(reduced.get("tradeID")) in self.trades:
            self.trades[str(reduced["tradeID"])].units += to_decimal(reduced.get("units")) or Decimal(0)
        if opened.get("tradeID"):
            self.trades[str(opened["tradeID"])] = TradeFact(symbol, to_decimal(opened.get("units")) or Decimal(0))
        oid = str(tx.get("orderID"))
        t = self.orders.get(oid)
        if t is None:  # an order from before we were listening
            t = _Tracked(oid, tx.get("clientOrderID"), symbol, side, OrderType.MARKET, qty, "MARKET")
            self.orders[oid] = t
        t.filled += qty
        t.notional += qty * price
        if t.oanda_type == "MARKET" and t.filled < t.quantity:
            t.status = OrderStatus.EXPIRED  # IOC remainder is gone
        else:
            t.status = OrderStatus.FILLED
        if t.quantity == 0:  # dependents learn their size from the fill
            t.quantity = qty
        t.trade_id = str(opened["tradeID"]) if opened.get("tradeID") else t.trade_id
        t.updated = when
        fee = abs(to_decimal(tx.get("commission")) or Decimal(0)) + abs(
            to_decimal(tx.get("guaranteedExecutionFee")) or Decimal(0))
        fill = VenueFill(
            venue=self.venue,
            fill_id=str(tx["id"]),
            venue_order_id=oid,
            client_order_id=t.client_id or tx.get("clientOrderID"),
            symbol=symbol,
            side=side,
            quantity=qty,
            price=price,
            fee=fee,
            fee_currency=self.fee_currency,
            is_maker=False,
            trade_id=str(opened["tradeID"]) if opened.get("tradeID") else None,
            timestamp=when,
        )
        return [fill, VenueOrderUpdate(self.snapshot(t))]

    def _cancelled(self, tx: dict[str, Any]) -> list[VenueEvent]:
        oid = str(tx.get("orderID"))
        reason = tx.get("reason")
        t = self.orders.get(oid)
        if t is None:
            t = _Tracked(oid, tx.get("clientOrderID"), "", Side.BUY, OrderType.MARKET, Decimal(0), "UNKNOWN")
            self.orders[oid] = t
        code = cancel_reject_code(reason)
        if reason == "CLIENT_REQUEST_REPLACED" or reason == "DIVIDEND_ADJUSTMENT_REPLACED":
            t.status = OrderStatus.REPLACED
            t.replaced_by = str(tx["replacedByOrderID"]) if tx.get("replacedByOrderID") else None
        elif reason == "TIME_IN_FORCE_EXPIRED":
            t.status = OrderStatus.EXPIRED
        elif code is None:
            t.status = OrderStatus.CANCELLED
        else:
            immediate = t.batch is not None and str(tx.get("batchID")) == t.batch
            if t.filled:
                t.status = OrderStatus.EXPIRED
            else:
                t.status = OrderStatus.REJECTED if immediate else OrderStatus.CANCELLED
            t.reject_code = code
        t.reason = reason
        t.updated = parse_time(tx.get("time"))
        return [VenueOrderUpdate(self.snapshot(t))]

    def _prune(self) -> None:
        if len(self.orders) <= self._keep:
            return
        for oid in [o for o, t in self.orders.items() if t.status.is_terminal][: len(self.orders) - self._keep]:
            del self.orders[oid]


def order_from_transactions(txs: list[dict[str, Any] | None], instruments: InstrumentMap,
                            venue: str = VENUE, trades: dict[str, TradeFact] | None = None) -> VenueOrder | None:
    """The order that a REST answer's transactions (create, fill, cancel ...) leave behind."""
    translator = TransactionTranslator(instruments, venue)
    if trades:
        translator.trades.update(trades)
    created: str | None = None
    for tx in txs:
        if not tx:
            continue
        translator.apply(tx)
        if tx.get("type") in _ENTRY_TX or tx.get("type") in _DEPENDENT_TX:
            created = str(tx["id"])
    return translator.order(created) if created else None


def order_from_state(order: dict[str, Any], instruments: InstrumentMap, *, venue: str = VENUE,
                     fill_tx: dict[str, Any] | None = None, cancel_tx: dict[str, Any] | None = None,
                     trade: TradeFact | None = None) -> VenueOrder:
    """A VenueOrder from a v20 Order object (GET /orders/{spec}) plus its fill / cancel transactions."""
    oanda_type = order.get("type", "")
    create = dict(order)
    create["type"] = f"{oanda_type}_ORDER"
    create.setdefault("time", order.get("createTime"))
    trades = {str(order["tradeID"]): trade} if trade is not None and order.get("tradeID") else None
    snap = order_from_transactions([create, fill_tx, cancel_tx], instruments, venue, trades)
    assert snap is not None
    state = order.get("state")
    if state == "FILLED" and fill_tx is None:
        snap = replace(snap, status=OrderStatus.FILLED, filled_quantity=snap.quantity)
    elif state == "CANCELLED" and cancel_tx is None:
        status = OrderStatus.REPLACED if order.get("replacedByOrderID") else OrderStatus.CANCELLED
        snap = replace(snap, status=status, replaced_by=order.get("replacedByOrderID"))
    return replace(snap, raw=order)
