"""OANDA translation without I/O: symbols, units, order bodies, rejects, transactions."""

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from venues.adapter import (
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
    TimeInForce,
    VenueDisconnected,
    VenueFill,
    VenueOrderRequest,
    VenueOrderUpdate,
    VenueRateLimited,
    VenueReject,
)
from venues.oanda.instruments import InstrumentMap, fmt_decimal, from_units, to_units
from venues.oanda.rejects import ORDER_CANCEL_REASONS, TRANSACTION_REJECT_REASONS, cancel_reject_code, map_reason
from venues.oanda.translate import TransactionTranslator, error_from_v20, order_body, replace_body

# The documented v20 TransactionRejectReason values the brief names explicitly
NAMED = {
    "INSUFFICIENT_MARGIN": RejectCode.INSUFFICIENT_BALANCE,
    "UNITS_INVALID": RejectCode.INVALID_QUANTITY,
    "PRICE_INVALID": RejectCode.INVALID_PRICE,
    "INSTRUMENT_UNKNOWN": RejectCode.UNKNOWN_SYMBOL,
    "CLIENT_ORDER_ID_ALREADY_EXISTS": RejectCode.DUPLICATE_ORDER,
    "ACCOUNT_NOT_ACTIVE": RejectCode.ACCOUNT_LOCKED,
    "MARKET_HALTED": RejectCode.MARKET_HALTED,
    "INSTRUMENT_NOT_TRADEABLE": RejectCode.MARKET_HALTED,
    "ORDER_DOESNT_EXIST": RejectCode.ORDER_NOT_FOUND,
    "UNITS_PRECISION_EXCEEDED": RejectCode.INVALID_QUANTITY,
    "PRICE_PRECISION_EXCEEDED": RejectCode.INVALID_PRICE,
    "TIME_IN_FORCE_INVALID": RejectCode.INVALID_TIME_IN_FORCE,
    "TAKE_PROFIT_ON_FILL_PRICE_INVALID": RejectCode.INVALID_TAKE_PROFIT,
    "STOP_LOSS_ON_FILL_PRICE_INVALID": RejectCode.INVALID_STOP_LOSS,
    "PRICE_DISTANCE_INVALID": RejectCode.INVALID_STOP,
    "PENDING_ORDERS_ALLOWED_EXCEEDED": RejectCode.LIMIT_EXCEEDED,
    "INTERNAL_SERVER_ERROR": RejectCode.VENUE_ERROR,
    "INSUFFICIENT_LIQUIDITY": RejectCode.INSUFFICIENT_LIQUIDITY,
}


def test_instrument_mapping_both_ways_and_aliases():
    m = InstrumentMap({"XAU/USD.spot": "XAU_USD"})
    assert m.to_oanda("EUR/USD") == "EUR_USD"
    assert m.from_oanda("EUR_USD") == "EUR/USD"
    assert m.to_oanda("XAU/USD.spot") == "XAU_USD" and m.from_oanda("XAU_USD") == "XAU/USD.spot"
    with pytest.raises(VenueReject) as exc:
        m.to_oanda("eurusd")
    assert exc.value.code is RejectCode.UNKNOWN_SYMBOL


def test_units_carry_the_side_in_their_sign():
    assert to_units(Side.BUY, D("100")) == "100"
    assert to_units(Side.SELL, D("2500.0")) == "-2500"
    assert from_units("-2500") == (Side.SELL, D(2500))
    assert from_units("10") == (Side.BUY, D(10))
    assert fmt_decimal(D("1E+3")) == "1000" and fmt_decimal(D("1.10000")) == "1.1"
    with pytest.raises(VenueReject):
        to_units(Side.BUY, D(0))


def test_every_documented_reason_has_an_entry():
    assert len(TRANSACTION_REJECT_REASONS) == 198  # the whole v20 TransactionRejectReason list
    assert len(ORDER_CANCEL_REASONS) == 65  # the whole v20 OrderCancelReason list
    assert all(isinstance(code, RejectCode) for code in TRANSACTION_REJECT_REASONS.values())
    for reason, code in NAMED.items():
        assert map_reason(reason) is code, reason
    assert map_reason("SOMETHING_NEW") is RejectCode.VENUE_ERROR
    assert cancel_reject_code("CLIENT_REQUEST") is None
    assert cancel_reject_code("LINKED_TRADE_CLOSED") is None
    assert cancel_reject_code("MARKET_HALTED") is RejectCode.MARKET_HALTED


def _req(**kw):
    base = dict(client_order_id="c1", symbol="EUR/USD", side=Side.BUY, order_type=OrderType.MARKET, quantity=D(100))
    base.update(kw)
    return VenueOrderRequest(**base)


def test_order_bodies_per_type():
    m = InstrumentMap()
    market = order_body(_req(take_profit_price=D("1.2"), stop_loss_price=D("1.0")), m)["order"]
    assert market == {
        "clientExtensions": {"id": "c1"}, "instrument": "EUR_USD", "units": "100", "positionFill": "DEFAULT",
        "type": "MARKET", "timeInForce": "FOK",
        "takeProfitOnFill": {"price": "1.2", "timeInForce": "GTC", "clientExtensions": {"id": "c1.tp"}},
        "stopLossOnFill": {"price": "1", "timeInForce": "GTC", "clientExtensions": {"id": "c1.sl"}},
    }
    limit = order_body(_req(order_type=OrderType.LIMIT, side=Side.SELL, price=D("1.105")), m)["order"]
    assert (limit["type"], limit["units"], limit["price"], limit["timeInForce"]) == ("LIMIT", "-100", "1.105", "GTC")
    stop = order_body(_req(order_type=OrderType.STOP_LIMIT, stop_price=D("1.11"), price=D("1.112")), m)["order"]
    assert (stop["type"], stop["price"], stop["priceBound"]) == ("STOP", "1.11", "1.112")
    mit = order_body(_req(order_type=OrderType.MARKET_IF_TOUCHED, stop_price=D("1.09"),
                          time_in_force=TimeInForce.DAY), m)["order"]
    assert (mit["type"], mit["price"], mit["timeInForce"]) == ("MARKET_IF_TOUCHED", "1.09", "GFD")
    trail = order_body(_req(order_type=OrderType.TRAILING_STOP, trade_id="42", trailing_distance=D("0.001")),
                       m)["order"]
    assert trail == {"clientExtensions": {"id": "c1"}, "type": "TRAILING_STOP_LOSS", "tradeID": "42",
                     "distance": "0.001", "timeInForce": "GTC"}
    gtd = order_body(_req(order_type=OrderType.LIMIT, price=D(1), time_in_force=TimeInForce.GTD,
                          expire_time=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)), m)["order"]
    assert gtd["gtdTime"] == "2030-01-02T03:04:05.000000Z"


@pytest.mark.parametrize(
    "kw,code",
    [
        (dict(order_type=OrderType.LIMIT), RejectCode.INVALID_PRICE),
        (dict(order_type=OrderType.STOP), RejectCode.INVALID_STOP),
        (dict(order_type=OrderType.TRAILING_STOP, trailing_distance=D(1)), RejectCode.INVALID_ORDER),
        (dict(time_in_force=TimeInForce.GTD), RejectCode.INVALID_TIME_IN_FORCE),
        (dict(order_type=OrderType.STOP, stop_price=D(1), time_in_force=TimeInForce.IOC),
         RejectCode.INVALID_TIME_IN_FORCE),
        (dict(client_order_id="has space"), RejectCode.INVALID_ORDER),
        (dict(client_order_id="@at"), RejectCode.INVALID_ORDER),
        (dict(quantity=D(-1)), RejectCode.INVALID_QUANTITY),
        (dict(order_type=OrderType.LIMIT, price=D(0)), RejectCode.INVALID_PRICE),
    ],
)
def test_order_bodies_refuse_what_oanda_cannot_do(kw, code):
    with pytest.raises(VenueReject) as exc:
        order_body(_req(**kw), InstrumentMap())
    assert exc.value.code is code


def test_replace_body_keeps_the_order_and_changes_fields():
    current = {"id": "7", "type": "STOP", "instrument": "EUR_USD", "units": "-500", "price": "1.09000",
               "timeInForce": "GTC", "positionFill": "DEFAULT", "state": "PENDING",
               "clientExtensions": {"id": "old", "tag": "t"}}
    body = replace_body(current, "new", quantity=D(800), price=D("1.0890"), stop_price=D("1.0895"))["order"]
    assert body["units"] == "-800" and body["price"] == "1.0895" and body["priceBound"] == "1.089"
    assert body["clientExtensions"] == {"id": "new", "tag": "t"} and "state" not in body and "id" not in body
    with pytest.raises(VenueReject):
        replace_body({**current, "type": "LIMIT"}, "new", quantity=None, price=None, stop_price=D(1))


def test_errors_from_v20_answers():
    reject = json.dumps({"orderRejectTransaction": {"type": "MARKET_ORDER_REJECT", "rejectReason": "INSUFFICIENT_MARGIN"},
                         "errorCode": "INSUFFICIENT_MARGIN", "errorMessage": "Insufficient margin"})
    err = error_from_v20(400, reject, client_order_id="c1")
    assert isinstance(err, VenueReject) and err.code is RejectCode.INSUFFICIENT_BALANCE
    assert err.venue_code == "INSUFFICIENT_MARGIN" and err.client_order_id == "c1"
    missing = error_from_v20(404, json.dumps({"errorCode": "NO_SUCH_ORDER", "errorMessage": "nope"}))
    assert missing.code is RejectCode.ORDER_NOT_FOUND
    assert error_from_v20(401, '{"errorMessage": "bad token"}').code is RejectCode.AUTH_FAILED
    limited = error_from_v20(429, "{}", headers={"Retry-After": "3"})
    assert isinstance(limited, VenueRateLimited) and limited.retry_after == 3.0
    assert isinstance(error_from_v20(503, "down"), VenueDisconnected)
    assert error_from_v20(400, "not json").code is RejectCode.INVALID_ORDER


def _tx(tid, ttype, batch=None, **fields):
    return {"id": str(tid), "type": ttype, "batchID": str(batch or tid), "time": "2024-05-01T10:00:00.123456789Z",
            **fields}


def test_translator_statuses_from_transactions():
    tr = TransactionTranslator(InstrumentMap(), fee_currency="USD")
    created = tr.apply(_tx(1, "MARKET_ORDER", instrument="EUR_USD", units="5000", timeInForce="IOC",
                           clientExtensions={"id": "m"}))
    assert created[0].order.status is OrderStatus.NEW and created[0].order.updated_at.microsecond == 123456
    fill, update = tr.apply(_tx(2, "ORDER_FILL", batch=1, orderID="1", instrument="EUR_USD", units="2000",
                                price="1.1", fullVWAP="1.1", commission="0.5", tradeOpened={"tradeID": "2", "units": "2000"}))
    assert isinstance(fill, VenueFill) and fill.quantity == D(2000) and fill.fee == D("0.5")
    assert fill.client_order_id == "m" and fill.trade_id == "2" and fill.fee_currency == "USD"
    assert update.order.status is OrderStatus.EXPIRED and update.order.filled_quantity == D(2000)  # IOC partial

    tr.apply(_tx(3, "MARKET_ORDER", instrument="EUR_USD", units="1", clientExtensions={"id": "h"}))
    (halted,) = tr.apply(_tx(4, "ORDER_CANCEL", batch=3, orderID="3", reason="MARKET_HALTED"))
    assert halted.order.status is OrderStatus.REJECTED and halted.order.reject_code is RejectCode.MARKET_HALTED

    tr.apply(_tx(5, "STOP_ORDER", instrument="EUR_USD", units="1", price="1.2", priceBound="1.21"))
    (later,) = tr.apply(_tx(6, "ORDER_CANCEL", orderID="5", reason="BOUNDS_VIOLATION"))
    assert later.order.status is OrderStatus.CANCELLED and later.order.reject_code is RejectCode.INVALID_PRICE
    assert later.order.order_type is OrderType.STOP_LIMIT

    tr.apply(_tx(7, "LIMIT_ORDER", instrument="EUR_USD", units="-3", price="1.3", clientExtensions={"id": "l"}))
    (replaced,) = tr.apply(_tx(8, "ORDER_CANCEL", orderID="7", reason="CLIENT_REQUEST_REPLACED", replacedByOrderID="9"))
    assert replaced.order.status is OrderStatus.REPLACED and replaced.order.replaced_by == "9"

    (tp,) = tr.apply(_tx(10, "TAKE_PROFIT_ORDER", tradeID="2", price="1.2", clientExtensions={"id": "m.tp"}))
    assert (tp.order.side, tp.order.quantity, tp.order.symbol) == (Side.SELL, D(2000), "EUR/USD")

    (rej,) = tr.apply(_tx(11, "LIMIT_ORDER_REJECT", instrument="EUR_USD", units="10", rejectReason="PRICE_INVALID",
                          clientExtensions={"id": "bad"}))
    assert rej.order.status is OrderStatus.REJECTED and rej.order.reject_code is RejectCode.INVALID_PRICE
    assert rej.order.client_order_id == "bad" and rej.order.venue_order_id is None
    assert tr.apply(_tx(12, "DAILY_FINANCING")) == []
    assert all(isinstance(e, VenueOrderUpdate) for e in created)


def test_gtd_in_the_past_is_still_sent():
    # the adapter does not second-guess the venue's clock; OANDA answers TIME_IN_FORCE_GTD_TIMESTAMP_IN_PAST
    past = datetime.now(timezone.utc) - timedelta(days=1)
    body = order_body(_req(order_type=OrderType.LIMIT, price=D(1), time_in_force=TimeInForce.GTD, expire_time=past),
                      InstrumentMap())
    assert body["order"]["gtdTime"].endswith("Z")
