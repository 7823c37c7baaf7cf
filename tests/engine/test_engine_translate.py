"""The shared translation between outside units and the core's integers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.instrument import Instrument
from engine.reject import Reason, RejectError
from engine.translate import OrderRequest, ReplaceRequest, exec_view, new_order_command, replace_command
from engine.oms import OMS, AccountSpec

BTC = Instrument("BTC-USD", "BTC", "USD", Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"), Decimal("100"))
INSTR = {"BTC-USD": BTC}


def req(**kw) -> OrderRequest:
    base = dict(account="A", cl_ord_id="c1", symbol="BTC-USD", side="buy", quantity=Decimal("0.5"),
                order_type="limit", time_in_force="gtc", price=Decimal("65000.25"))
    base.update(kw)
    return OrderRequest(**base)


def test_limit_order_is_scaled_to_ticks_and_lots():
    cmd = new_order_command(req(), INSTR, 7)
    assert (cmd.price, cmd.qty, cmd.side, cmd.ts) == (6500025, 5000, 1, 7)


@pytest.mark.parametrize(
    "kw, reason",
    [
        (dict(symbol="DOGE-USD"), Reason.UNKNOWN_SYMBOL),
        (dict(price=Decimal("65000.255")), Reason.INVALID_PRICE),
        (dict(quantity=Decimal("0.00005")), Reason.INVALID_QUANTITY),
        (dict(quantity=Decimal("101")), Reason.INVALID_QUANTITY),
        (dict(side="short"), Reason.INVALID_ORDER),
        (dict(order_type="limit", price=None), Reason.INVALID_PRICE),
        (dict(order_type="market"), Reason.INVALID_ORDER),  # market with a price
        (dict(order_type="stop", price=None), Reason.INVALID_PRICE),  # stop without stop price
        (dict(order_type="trailing_stop", price=None), Reason.INVALID_ORDER),  # no offset
        (dict(price=Decimal("NaN")), Reason.INVALID_PRICE),
        (dict(price="abc"), Reason.INVALID_PRICE),
    ],
)
def test_bad_requests_name_their_reason(kw, reason):
    with pytest.raises(RejectError) as ei:
        new_order_command(req(**kw), INSTR, 1)
    assert ei.value.reason == reason
    assert ei.value.text


def test_trailing_percent_becomes_ppm():
    cmd = new_order_command(req(order_type="trailing_stop", price=None, trail_percent=Decimal("1.5")), INSTR, 1)
    assert cmd.trail_ppm == 15_000 and cmd.trail_ticks == 0


def test_replace_needs_a_change():
    with pytest.raises(RejectError):
        replace_command(ReplaceRequest("A", "c2", "c1"), BTC, 1)
    cmd = replace_command(ReplaceRequest("A", "c2", "c1", price=Decimal("1.5")), BTC, 1)
    assert cmd.price == 150 and cmd.qty == 0


def test_exec_view_renders_decimals_average_price_and_fee():
    oms = OMS([BTC], [AccountSpec("A", 100, 250), AccountSpec("B", 100, 250)])
    oms.process(new_order_command(req(account="A", side="sell", price=Decimal("100"), quantity=Decimal("1")), INSTR, 1))
    oms.process(new_order_command(req(account="A", cl_ord_id="c2", side="sell", price=Decimal("101"),
                                      quantity=Decimal("1")), INSTR, 2))
    evs = oms.process(new_order_command(req(account="B", side="buy", price=Decimal("101"), quantity=Decimal("2")), INSTR, 3))
    taker = [e for e in evs if e.kind == "exec" and e.account == "B"][-1]
    v = exec_view(taker, BTC)
    assert v["status"] == "filled" and v["cum_qty"] == Decimal("2")
    assert v["avg_price"] == Decimal("100.5")
    # 2.5 bps taker on 101 * 1 = 0.02525 USD
    assert v["fee"] == Decimal("0.02525") and v["fee_currency"] == "USD"
    assert v["last_price"] == Decimal("101")
