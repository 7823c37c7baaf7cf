"""Instruments: the one place where decimal prices and quantities become ticks
and lots, and where fees are computed in integer 1e-8 units."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.instrument import Instrument, TradingSession, fee_to_decimal
from engine.reject import Reason, RejectError
from engine_fixtures import make_instruments

NS = 1_000_000_000


@pytest.fixture
def btc() -> Instrument:
    return make_instruments()[0]      # tick 0.01, lot 0.001, qty 0.001 .. 1


def reason_of(fn, *args, **kw) -> Reason:
    with pytest.raises(RejectError) as info:
        fn(*args, **kw)
    return info.value.reason


# --- prices ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("price, ticks", [("100.25", 10025), (Decimal("0.01"), 1), (100, 10000), (0.1, 10),
                                          ("1E+2", 10000), ("100.2500", 10025)])
def test_price_to_ticks(btc, price, ticks):
    assert btc.price_to_ticks(price) == ticks


@pytest.mark.parametrize("price", ["100.005", "0.001", "0", "-1", "-0.01", "abc", "", None, "NaN", "Infinity", "-inf"])
def test_price_to_ticks_refuses_off_tick_and_non_prices(btc, price):
    assert reason_of(btc.price_to_ticks, price) == Reason.INVALID_PRICE


def test_off_tick_reject_names_the_tick_size(btc):
    with pytest.raises(RejectError) as info:
        btc.price_to_ticks("100.005")
    assert info.value.details == {"price": "100.005", "tick_size": "0.01"}


def test_off_tick_price_with_many_digits_is_refused(btc):
    """Decimal division runs at 28 significant digits: 1e16 + 1e-13 divided by the tick
    rounds to a whole number of ticks unless the check is exact."""
    assert reason_of(btc.price_to_ticks, "10000000000000000.0000000000001") == Reason.INVALID_PRICE


def test_absurd_price_magnitude_is_refused(btc):
    """A 4-character price must not become a 52-digit tick count (nor, at '1e1000000',
    a million-digit int that stalls the single-threaded core for ~30 s)."""
    assert reason_of(btc.price_to_ticks, "1e50") == Reason.INVALID_PRICE


def test_offset_to_ticks(btc):
    assert btc.offset_to_ticks("0.05") == 5
    for bad in ("0", "-0.01", "0.001", "x"):
        assert reason_of(btc.offset_to_ticks, bad) == Reason.INVALID_PRICE


def test_ticks_to_price_round_trips(btc):
    for ticks in (1, 99, 10025, 10000, 123456789):
        assert btc.price_to_ticks(btc.ticks_to_price(ticks)) == ticks
    assert btc.ticks_to_price(10025) == Decimal("100.25")
    assert btc.ticks_to_price(0) == 0


# --- quantities ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("qty, lots", [("0.005", 5), ("1", 1000), ("0.001", 1), (Decimal("0.5"), 500)])
def test_qty_to_lots(btc, qty, lots):
    assert btc.qty_to_lots(qty) == lots


@pytest.mark.parametrize("qty", ["0.0005", "0", "-0.001", "1.001", "2", "x", "NaN"])
def test_qty_to_lots_refuses_off_lot_and_out_of_bounds(btc, qty):
    assert reason_of(btc.qty_to_lots, qty) == Reason.INVALID_QUANTITY


def test_qty_bounds_can_be_skipped_for_positions(btc):
    assert btc.qty_to_lots("2", check_bounds=False) == 2000
    assert reason_of(btc.qty_to_lots, "0.0005", check_bounds=False) == Reason.INVALID_QUANTITY


def test_lots_to_qty_round_trips(btc):
    for lots in (1, 5, 999, 1000):
        assert btc.qty_to_lots(btc.lots_to_qty(lots)) == lots
    assert btc.lots_to_qty(0) == 0


def test_instrument_shape_is_checked():
    base = dict(symbol="X", base="B", quote="Q")
    with pytest.raises(ValueError):
        Instrument(**base, tick_size=Decimal(0), lot_size=Decimal(1), min_qty=Decimal(1), max_qty=Decimal(2))
    with pytest.raises(ValueError):
        Instrument(**base, tick_size=Decimal(1), lot_size=Decimal("0.1"), min_qty=Decimal("0.15"), max_qty=Decimal(2))
    with pytest.raises(ValueError):
        Instrument(**base, tick_size=Decimal(1), lot_size=Decimal(1), min_qty=Decimal(3), max_qty=Decimal(2))
    inst = Instrument(**base, tick_size=Decimal("0.5"), lot_size=Decimal("0.1"), min_qty=Decimal("0.2"),
                      max_qty=Decimal(5))
    assert (inst.min_lots, inst.max_lots) == (2, 50)


# --- money ------------------------------------------------------------------------------------------------

def test_average_price_from_integer_notional(btc):
    assert btc.avg_price(100 * 2 + 101 * 2, 4) == Decimal("1.005")
    assert btc.avg_price(100 + 101 + 101, 3) == Decimal("1.006667")
    assert btc.avg_price(0, 0) == 0


def test_notional(btc):
    assert btc.notional(10025, 5) == Decimal("0.50125")


def test_fee_e8_is_exact_and_rounds_toward_zero(btc):
    assert btc.fee_e8(10000, 1000, 100) == 1_000_000          # 100 USD * 1 BTC * 1 bp = 0.01 USD
    assert btc.fee_e8(101, 3, 300) == 90                       # 90.9
    assert btc.fee_e8(101, 3, -50) == -15                      # -15.15: a rebate rounds toward zero too
    assert btc.fee_e8(101, 3, 0) == 0
    assert btc.fee_e8(1, 1, 1) == 0                            # 0.001
    big = btc.fee_e8(10**12, 10**6, 123)
    assert big == 10**12 * 10**6 * 123 // 1000                 # integers all the way, no float


def test_fee_e8_with_awkward_tick_and_lot_sizes():
    inst = Instrument("X", "B", "Q", Decimal("0.0003"), Decimal("0.07"), Decimal("0.07"), Decimal("7"))
    # fee = ticks * lots * ppm * 0.0003 * 0.07 * 1e8 / 1e6 = ticks * lots * ppm * 0.0021
    assert inst.fee_e8(1000, 10, 100) == 2100
    assert inst.fee_e8(7, 3, 11) == 0                          # 0.4851
    assert inst.fee_e8(7, 3, -1100) == -48                     # -48.51


def test_fee_to_decimal():
    assert fee_to_decimal(1_000_000) == Decimal("0.01")
    assert fee_to_decimal(-15) == Decimal("-0.00000015")
    assert fee_to_decimal(0) == 0


# --- sessions -----------------------------------------------------------------------------------------------

def _ns(*args) -> int:
    return int(dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp()) * NS


def test_24h_session_ends_at_the_next_midnight():
    s = TradingSession()
    assert s.session_end_after(_ns(2026, 1, 5, 10, 0)) == _ns(2026, 1, 6)
    assert s.session_end_after(_ns(2026, 1, 6)) == _ns(2026, 1, 7)     # strictly after
    assert s.is_open(_ns(2026, 1, 10, 3, 0))


def test_weekday_session_skips_the_weekend():
    s = TradingSession(open_s=9 * 3600, close_s=17 * 3600, weekdays=frozenset(range(5)))
    friday_evening = _ns(2026, 1, 9, 18, 0)
    assert s.session_end_after(friday_evening) == _ns(2026, 1, 12, 17, 0)
    assert s.session_end_after(_ns(2026, 1, 12, 8, 0)) == _ns(2026, 1, 12, 17, 0)
    assert s.is_open(_ns(2026, 1, 12, 9, 0)) and not s.is_open(_ns(2026, 1, 12, 17, 0))
    assert not s.is_open(_ns(2026, 1, 10, 12, 0))
