"""Pure translation between venue-neutral values and ccxt's unified structures.

ccxt hands numbers over as floats; they become `Decimal` through `str()` (the
shortest repr), which is exact for the decimal strings exchanges send. Requests
are checked against the market's precision BEFORE sending, because ccxt would
otherwise silently truncate a quantity or round a price.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from venues.adapter import (
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
    TimeInForce,
    VenueFill,
    VenueOrder,
    VenueOrderRequest,
    VenueReject,
)

_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
# exchange-native order types (order['info']['type']) that say more than ccxt's market/limit
_NATIVE_TYPES = {
    "STOP_LOSS": OrderType.STOP,
    "STOP_MARKET": OrderType.STOP,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
    "STOP": OrderType.STOP_LIMIT,
    "TAKE_PROFIT": OrderType.MARKET_IF_TOUCHED,
    "TAKE_PROFIT_MARKET": OrderType.MARKET_IF_TOUCHED,
    "TAKE_PROFIT_LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
}
_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "GTD": TimeInForce.GTD,
        "PO": TimeInForce.GTC}


def rebase_urls(api_urls: Any, base: str) -> Any:
    """Every URL in a ccxt ``urls['api']`` table moved onto `base`, paths kept."""
    base = base.rstrip("/")
    if isinstance(api_urls, str):
        parts = urlsplit(api_urls.replace("{hostname}", "host"))
        return base + parts.path if parts.scheme else api_urls
    if isinstance(api_urls, dict):
        return {k: rebase_urls(v, base) for k, v in api_urls.items()}
    return api_urls


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        return None
    return out if out.is_finite() else None


def ms_time(ms: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def check_client_id(client_order_id: str, pattern: str, venue: str) -> None:
    if not isinstance(client_order_id, str) or not re.match(pattern, client_order_id):
        raise VenueReject(RejectCode.INVALID_ORDER, f"client order id must match {pattern}: {client_order_id!r}",
                          venue=venue, client_order_id=str(client_order_id))


def order_args(req: VenueOrderRequest, client_id_param: str, venue: str) -> tuple[str, Decimal | None, dict[str, Any]]:
    """(ccxt type, limit price, params) for a request; refuses what ccxt cannot express uniformly."""

    def bad(code: RejectCode, why: str) -> VenueReject:
        return VenueReject(code, why, venue=venue, client_order_id=req.client_order_id)

    if req.take_profit_price is not None or req.stop_loss_price is not None or req.trailing_stop_loss_distance:
        raise bad(RejectCode.UNSUPPORTED_ORDER_TYPE, "take-profit / stop-loss on fill is not supported on CCXT venues")
    if req.quantity <= 0:
        raise bad(RejectCode.INVALID_QUANTITY, "quantity must be positive")
    params: dict[str, Any] = {client_id_param: req.client_order_id}
    t, tif = req.order_type, req.time_in_force
    if t is OrderType.TRAILING_STOP:
        raise bad(RejectCode.UNSUPPORTED_ORDER_TYPE, "trailing stops are not supported on CCXT venues")
    if t in (OrderType.MARKET, OrderType.STOP, OrderType.MARKET_IF_TOUCHED):
        if tif not in (TimeInForce.GTC, TimeInForce.IOC):
            raise bad(RejectCode.INVALID_TIME_IN_FORCE, f"{t.value} orders execute immediately; {tif.value} is not possible")
        if t is OrderType.MARKET:
            return "market", None, params  # a market price bound is not expressible here
        if req.stop_price is None:
            raise bad(RejectCode.INVALID_STOP, f"a {t.value} order needs a stop_price")
        params["triggerPrice" if t is OrderType.STOP else "takeProfitPrice"] = req.stop_price
        return "market", None, params
    if tif not in (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK):
        raise bad(RejectCode.INVALID_TIME_IN_FORCE, f"{tif.value} is not supported on CCXT venues")
    if req.price is None:
        raise bad(RejectCode.INVALID_PRICE, f"a {t.value} order needs a price")
    params["timeInForce"] = tif.name
    if t is OrderType.STOP_LIMIT:
        if req.stop_price is None:
            raise bad(RejectCode.INVALID_STOP, "a stop-limit order needs a stop_price")
        params["triggerPrice"] = req.stop_price
    return "limit", req.price, params


def order_type_of(order: dict[str, Any]) -> OrderType:
    native = str((order.get("info") or {}).get("type") or "").upper()
    if native in _NATIVE_TYPES:
        return _NATIVE_TYPES[native]
    trigger = order.get("triggerPrice") or order.get("stopPrice")
    if order.get("type") == "market":
        return OrderType.STOP if trigger else OrderType.MARKET
    return OrderType.STOP_LIMIT if trigger else OrderType.LIMIT


def to_venue_order(order: dict[str, Any], *, venue: str, symbol: str, client_order_id: str | None,
                   order_type: OrderType | None = None) -> VenueOrder:
    filled = dec(order.get("filled")) or Decimal(0)
    amount = dec(order.get("amount")) or Decimal(0)
    status = _STATUS.get(str(order.get("status") or "open").lower())
    if status is None:
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW
    average = dec(order.get("average"))
    if average is None and filled > 0:
        cost = dec(order.get("cost"))
        average = cost / filled if cost else None
    price = dec(order.get("price"))
    side = Side.BUY if str(order.get("side")).lower() == "buy" else Side.SELL
    tif = _TIF.get(str(order.get("timeInForce") or "").upper())
    otype = order_type or order_type_of(order)
    return VenueOrder(
        venue=venue,
        venue_order_id=str(order["id"]) if order.get("id") is not None else None,
        client_order_id=client_order_id or order.get("clientOrderId"),
        symbol=symbol,
        side=side,
        order_type=otype,
        quantity=amount,
        status=status,
        filled_quantity=filled,
        avg_fill_price=average,
        price=price if price else None,
        stop_price=dec(order.get("triggerPrice") or order.get("stopPrice")) or None,
        time_in_force=tif,
        updated_at=ms_time(order.get("lastUpdateTimestamp") or order.get("lastTradeTimestamp") or order.get("timestamp")),
        raw=order.get("info") or {},
    )


def to_venue_fill(trade: dict[str, Any], *, venue: str, symbol: str, client_order_id: str | None) -> VenueFill:
    fee = trade.get("fee") or {}
    return VenueFill(
        venue=venue,
        fill_id=str(trade.get("id")),
        venue_order_id=str(trade["order"]) if trade.get("order") is not None else None,
        client_order_id=client_order_id,
        symbol=symbol,
        side=Side.BUY if str(trade.get("side")).lower() == "buy" else Side.SELL,
        quantity=dec(trade.get("amount")) or Decimal(0),
        price=dec(trade.get("price")) or Decimal(0),
        fee=dec(fee.get("cost")) or Decimal(0),
        fee_currency=fee.get("currency"),
        is_maker=(trade.get("takerOrMaker") == "maker") if trade.get("takerOrMaker") else None,
        timestamp=ms_time(trade.get("timestamp")),
    )
