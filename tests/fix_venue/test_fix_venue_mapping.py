"""FIX <-> engine mapping without sockets: what the venue sends must be valid FIX 4.2 / 4.4.

Every message the gateway renders (execution reports for every kind of transition, cancel
rejects, mass cancel reports, market data, security list/status) is encoded with a session
header and validated against the same data dictionaries a QuickFIX counterparty uses
(required tags, tags allowed in the message, enum values, formats). Inbound, each order type
and attribute of a NewOrderSingle lands in the engine's OrderRequest as documented.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.commands import CancelOrder, MassCancel, NewOrder, RejectNew, ReplaceOrder, SetTradingState, Tick
from engine.events import BookUpdate, CancelReject, ExecReport, MassCancelDone, Trade, TradingStateChanged
from engine.instrument import Instrument
from engine.oms import OMS, AccountSpec
from engine.reject import Reason, RejectError
from engine.types import StpMode
from fix.codec import Encoder, Message, decode, encode_fields
from fix.mapping import (
    Dialect,
    Echo,
    Formats,
    cancel_reject_event,
    event_report,
    exec_report,
    mass_cancel_report,
    parse_new_order,
    parse_replace,
)
from fix.marketdata import MarketDataHub, MarketDataReject
from fix.refdata import ReferenceData
from fix.validation import validate

VERSIONS = ["FIX.4.2", "FIX.4.4"]
T0 = int(dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000
SYM = "BTC-USD"


def instruments():
    return {SYM: Instrument(SYM, "BTC", "USD", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("100"),
                            description="Bitcoin")}


def make_oms():
    return OMS(instruments().values(), [AccountSpec("A", -50, 200), AccountSpec("B", 100, 300),
                                        AccountSpec("DEC", stp_mode=int(StpMode.DECREMENT_AND_CANCEL))])


def valid(msg: Message, begin: str) -> Message:
    """Encode as the venue would, parse back, validate against the version's dictionary."""
    d = Dialect(begin)
    raw = Encoder(begin, "FIXVENUE", "CLIENT", d.dd.header_tags).encode(msg, 7, 1_767_607_200.0)
    parsed = decode(raw)
    validate(parsed, d.dd)
    return parsed


def scenario_events() -> list:
    """A run through the engine that produces every kind of event the gateway renders."""
    oms = make_oms()
    ts = T0
    out = []

    def run(cmd):
        out.extend(oms.process(cmd))

    run(NewOrder(ts + 1, "A", "a1", SYM, 1, 2, 1, 500, 6_500_000))                   # new, rests
    run(NewOrder(ts + 2, "B", "b1", SYM, 2, 2, 1, 200, 6_499_900))                   # trades (partial for a1)
    run(ReplaceOrder(ts + 3, "A", "a1r", "a1", 0, 400, 6_500_000))                   # replaced
    run(CancelOrder(ts + 4, "A", "a1c", "a1r"))                                      # cancelled
    run(CancelOrder(ts + 5, "A", "zz", "nope"))                                      # cancel reject
    run(NewOrder(ts + 6, "A", "a2", SYM, 1, 2, 1, 100, 0))                           # rejected by the engine
    run(RejectNew(ts + 7, "A", "a3", "NOPE", 1, Reason.UNKNOWN_SYMBOL.value, "unknown symbol"))
    run(NewOrder(ts + 8, "A", "stop", SYM, 1, 3, 1, 100, 0, 6_500_100))             # stop, waits
    run(NewOrder(ts + 9, "B", "b2", SYM, 2, 2, 1, 100, 6_500_100))
    run(NewOrder(ts + 10, "A", "a4", SYM, 1, 2, 1, 100, 6_500_100))                  # trades -> triggers stop
    run(NewOrder(ts + 11, "DEC", "d1", SYM, 2, 2, 1, 300, 6_600_000))
    run(NewOrder(ts + 12, "DEC", "d2", SYM, 1, 2, 1, 100, 6_600_000))                # STP restatement
    run(NewOrder(ts + 13, "B", "gtd", SYM, 2, 2, 6, 100, 7_000_000, expire_ts=ts + 20))
    run(Tick(ts + 30))                                                               # expired
    run(MassCancel(ts + 31, "DEC", None, None, "FIX:X", "mc1"))
    run(SetTradingState(ts + 32, SYM, 2))
    out.extend(oms.collect_book_updates())
    return out


EVENTS = scenario_events()


def test_scenario_covers_every_transition():
    kinds = {e.exec_type for e in EVENTS if isinstance(e, ExecReport)}
    assert kinds >= {0, 4, 5, 8, 12, 13, 15, 16}
    assert any(isinstance(e, CancelReject) for e in EVENTS)
    assert any(isinstance(e, MassCancelDone) for e in EVENTS)
    assert any(isinstance(e, TradingStateChanged) for e in EVENTS)


@pytest.mark.parametrize("begin", VERSIONS)
def test_every_execution_report_is_valid_fix(begin):
    d = Dialect(begin)
    fmt = Formats(instruments()[SYM])
    seen_types = set()
    for ev in EVENTS:
        if not isinstance(ev, ExecReport):
            continue
        f = fmt if ev.symbol == SYM else None
        echo = Echo(b"NOPE", b"1", b"5", b"1.5", b"2", b"1") if ev.symbol != SYM else None
        m = valid(event_report(ev, f, d, echo), begin)
        seen_types.add(m.get(150))
        assert m.get(17) == b"%d" % ev.seq
        assert m.get(37) == b"%d" % ev.order_id
        if begin == "FIX.4.2":
            assert m.get(20) == b"0"
            assert m.get(150) != b"F"
        else:
            assert m.get(20) is None
    if begin == "FIX.4.2":
        assert {b"1", b"2"} <= seen_types
    else:
        assert b"F" in seen_types


@pytest.mark.parametrize("begin", VERSIONS)
def test_trade_reports_carry_last_fill_commission_and_average(begin):
    d = Dialect(begin)
    fmt = Formats(instruments()[SYM])
    trades = [e for e in EVENTS if isinstance(e, ExecReport) and e.exec_type == 15 and e.cl_ord_id in ("a1", "b1")]
    maker = next(e for e in trades if e.liquidity == "M")
    taker = next(e for e in trades if e.liquidity == "T")
    m = valid(event_report(maker, fmt, d), begin)
    assert (m.get(31), m.get(32), m.get(6), m.get(14), m.get(151)) == (b"65000", b"0.2", b"65000", b"0.2", b"0.3")
    assert m.get(12) == b"-0.65" and m.get(13) == b"3"       # maker rebate: -0.5 bps of 13000
    assert m.get(39) == b"1"
    t = valid(event_report(taker, fmt, d), begin)
    assert t.get(12) == b"3.9" and t.get(39) == b"2"          # taker (B) pays 3 bps of 13000; filled
    if begin == "FIX.4.4":
        assert (m.get(851), t.get(851)) == (b"1", b"2")
        assert m.get(150) == b"F"
    else:
        assert m.get(851) is None
        assert (m.get(150), t.get(150)) == (b"1", b"2")


@pytest.mark.parametrize("begin", VERSIONS)
def test_rejects_carry_an_ord_rej_reason_the_version_knows(begin):
    d = Dialect(begin)
    fmt = Formats(instruments()[SYM])
    rej = [e for e in EVENTS if isinstance(e, ExecReport) and e.exec_type == 8]
    assert rej
    for ev in rej:
        m = valid(event_report(ev, fmt if ev.symbol == SYM else None, d,
                               Echo(b"NOPE", b"1", b"5", None, b"2", None) if ev.symbol != SYM else None), begin)
        assert m.get(39) == b"8" and m.get(58)
        assert m.get(103) in d.dd.field(103).values
    unknown = next(e for e in rej if e.symbol == "NOPE")
    m = valid(event_report(unknown, None, d, Echo(b"NOPE", b"1", b"5", None, b"2", None)), begin)
    assert (m.get(103), m.get(55), m.get(38)) == (b"1", b"NOPE", b"5")
    # codes a version lacks fall back to its generic one (4.2 has no 11/13/15/99)
    assert d.ord_rej_reason(Reason.INVALID_ORDER.value) == (b"0" if begin == "FIX.4.2" else b"11")
    assert d.ord_rej_reason(Reason.INVALID_QUANTITY.value) == (b"0" if begin == "FIX.4.2" else b"13")
    assert d.ord_rej_reason(Reason.DUPLICATE_ORDER.value) == b"6"
    assert d.ord_rej_reason(Reason.MARKET_HALTED.value) == b"2"


@pytest.mark.parametrize("begin", VERSIONS)
def test_cancel_rejects_and_mass_cancel_reports(begin):
    d = Dialect(begin)
    cr = next(e for e in EVENTS if isinstance(e, CancelReject))
    m = valid(cancel_reject_event(cr, d), begin)
    assert (m.get(37), m.get(11), m.get(41), m.get(102), m.get(434), m.get(39)) == (
        b"NONE", b"zz", b"nope", b"1", b"1", b"8")
    assert d.cxl_rej_reason(Reason.ORDER_NOT_OPEN.value) == b"0"
    assert d.cxl_rej_reason(Reason.DUPLICATE_ORDER.value) == (b"2" if begin == "FIX.4.2" else b"6")
    if begin == "FIX.4.4":
        r = valid(mass_cancel_report(d, report_id=b"MC1", cl_ord_id=b"mc1", request_type=b"7", accepted=True,
                                     affected=3, ts=T0), begin)
        assert (r.get(530), r.get(531), r.get(533)) == (b"7", b"7", b"3")
        r = valid(mass_cancel_report(d, report_id=b"MC2", cl_ord_id=b"mc2", request_type=b"1", accepted=False,
                                     reject_reason=b"1", symbol=b"NOPE", ts=T0), begin)
        assert (r.get(531), r.get(532)) == (b"0", b"1")


@pytest.mark.parametrize("begin", VERSIONS)
def test_order_status_answers(begin):
    d = Dialect(begin)
    oms = make_oms()
    oms.process(NewOrder(T0, "A", "s1", SYM, 1, 2, 1, 500, 6_500_000))
    o = oms.get_by_clid("A", "s1")
    m = valid(exec_report(o, Formats(instruments()[SYM]), d, b"S-1", 17, transact_ns=T0 + 5), begin)
    if begin == "FIX.4.4":
        assert m.get(150) == b"I"
    else:
        assert (m.get(20), m.get(150)) == (b"3", b"0")
    assert (m.get(39), m.get(151), m.get(38), m.get(44)) == (b"0", b"0.5", b"0.5", b"65000")


def _msg(begin: str, msg_type: str, fields: list) -> Message:
    return decode(encode_fields([(8, begin), (35, msg_type), (34, 2), (49, "C"), (52, "20260105-10:00:00"),
                                 (56, "FIXVENUE"), *fields]))


def _order(begin: str, **tags) -> Message:
    base = {11: "c1", 55: SYM, 54: "1", 38: "0.5", 40: "2", 44: "65000", 59: "1", 60: "20260105-10:00:00"}
    base.update({int(k[1:]): v for k, v in tags.items()})
    fields = [(t, v) for t, v in base.items() if v is not None]
    if begin == "FIX.4.2":
        fields.append((21, "1"))
    return _msg(begin, "D", fields)


@pytest.mark.parametrize("begin", VERSIONS)
def test_new_order_single_maps_every_order_type_and_attribute(begin):
    d = Dialect(begin)
    inst = instruments()

    def parse(**tags):
        return parse_new_order(_order(begin, **tags), "A", "FIX:C", inst, d)

    r = parse()
    assert (r.order_type, r.time_in_force, r.price, r.quantity, r.side) == ("limit", "gtc", Decimal("65000"),
                                                                           Decimal("0.5"), "buy")
    assert parse(t40="1", t44=None, t59="3").order_type == "market"
    assert parse(t40="3", t44=None, t99="64000").stop_price == Decimal("64000")
    r = parse(t40="4", t99="64000")
    assert (r.order_type, r.price, r.stop_price) == ("stop_limit", Decimal("65000"), Decimal("64000"))
    assert parse(t59=None).time_in_force == "day"          # FIX default
    assert parse(t59="4").time_in_force == "fok"
    assert parse(t18="6").post_only is True
    r = parse(t111="0.1")
    assert (r.display_qty, r.hidden) == (Decimal("0.1"), False)
    assert parse(t111="0").hidden is True
    assert parse(t110="0.2").min_qty == Decimal("0.2")
    r = parse(t59="6", t126="20260106-12:00:00")
    assert r.expire_ts == int(dt.datetime(2026, 1, 6, 12, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000
    r = parse(t59="6", t432="20260106")
    assert r.expire_ts == int(dt.datetime(2026, 1, 7, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000
    r = parse(t40="P", t44=None, t211="50")
    assert (r.order_type, r.trail_amount, r.trail_percent) == ("trailing_stop", Decimal("50"), None)
    if begin == "FIX.4.4":
        assert parse(t40="J", t44=None, t99="66000").order_type == "market_if_touched"
        r = parse(t40="P", t44=None, t211="25", t836="1")
        assert (r.trail_amount, r.trail_percent) == (None, Decimal("0.25"))   # 25 bps = 0.25 %
        r = parse(t40="P", t44=None, t211="7", t836="2")
        assert r.trail_amount == Decimal("0.07")                                # 7 ticks of 0.01
        r = parse(t40="P", t44=None, t211="-5", t18="a")
        assert r.trail_amount == Decimal("5")


@pytest.mark.parametrize("begin", VERSIONS)
@pytest.mark.parametrize("tags, reason", [
    ({"t54": "5"}, Reason.INVALID_ORDER),            # sell short
    ({"t40": "D"}, Reason.INVALID_ORDER),            # previously quoted
    ({"t59": "2"}, Reason.INVALID_ORDER),            # at the opening
    ({"t18": "G"}, Reason.INVALID_ORDER),            # all or none
    ({"t38": None}, Reason.INVALID_QUANTITY),
    ({"t55": None}, Reason.UNKNOWN_SYMBOL),
    ({"t111": "-1"}, Reason.INVALID_QUANTITY),
])
def test_unsupported_characteristics_are_refused_with_a_reason(begin, tags, reason):
    if begin == "FIX.4.2" and tags.get("t40") == "D":
        tags = {"t40": "6"}  # 4.2 has no 'D'; 'with or without' is just as unsupported
    with pytest.raises(RejectError) as exc:
        parse_new_order(_order(begin, **tags), "A", "FIX:C", instruments(), Dialect(begin))
    assert exc.value.reason == reason
    assert exc.value.text


def test_replace_maps_quantity_price_and_order_id():
    m = _msg("FIX.4.4", "G", [(11, "c2"), (41, "c1"), (37, "42"), (55, SYM), (54, "1"), (38, "0.7"), (40, "2"),
                              (44, "65001.5"), (60, "20260105-10:00:00")])
    r = parse_replace(m, "A", "FIX:C")
    assert (r.cl_ord_id, r.orig_cl_ord_id, r.order_id, r.quantity, r.price) == (
        "c2", "c1", 42, Decimal("0.7"), Decimal("65001.5"))


# ----------------------------------------------------------------------------- market data


def _md_request(begin, req_id, kind, depth, types, symbols, update=None):
    fields = [(262, req_id), (263, kind), (264, depth)]
    if update is not None:
        fields.append((265, update))
    fields.append((267, len(types)))
    fields += [(269, t) for t in types]
    fields.append((146, len(symbols)))
    fields += [(55, s) for s in symbols]
    return _msg(begin, "V", fields)


def _entries(msg: Message) -> list[dict]:
    out = []
    started = False
    for t, v in msg.fields():
        if t == 268:
            started = True
            continue
        if started and t in (279, 269) and (not out or t in out[-1] or (t == 269 and 279 not in out[-1])):
            if t == 279 or not out or 269 in out[-1]:
                out.append({})
        if started and t != 10:
            out[-1][t] = v
    return out


@pytest.mark.parametrize("begin", VERSIONS)
def test_market_data_snapshot_then_incremental_changes_in_order(begin):
    d = Dialect(begin)
    oms = make_oms()
    hub = MarketDataHub(oms, {SYM: Formats(instruments()[SYM])})
    for i, px in enumerate((6_500_000, 6_499_900, 6_499_800)):
        oms.process(NewOrder(T0 + i, "A", f"b{i}", SYM, 1, 2, 1, 100, px))
    oms.process(NewOrder(T0 + 5, "B", "s0", SYM, 2, 2, 1, 200, 6_500_500))
    oms.collect_book_updates()
    sub = hub.request("route", _md_request(begin, "md1", "1", 2, ["0", "1", "2"], [SYM]), d)
    (snap,) = [valid(m, begin) for m in hub.snapshot(sub, subscribe=True)]
    e = _entries(snap)
    assert [(x[269], x[270], x[271]) for x in e] == [(b"0", b"65000", b"0.1"), (b"0", b"64999", b"0.1"),
                                                     (b"1", b"65005", b"0.2")]
    # the best bid trades away: 65000 leaves the top-2 window and 64998 enters it
    evs = oms.process(NewOrder(T0 + 10, "B", "s1", SYM, 2, 2, 3, 100, 6_500_000))
    evs += oms.collect_book_updates()
    for ev in evs:
        if isinstance(ev, BookUpdate):
            hub.on_book(ev)
        elif isinstance(ev, Trade):
            hub.on_trade(ev)
    ((route, x),) = hub.flush()
    assert route == "route"
    x = valid(x, begin)
    e = _entries(x)
    assert [(v.get(279), v.get(269), v.get(270)) for v in e] == [
        (b"0", b"2", b"65000"),     # the trade first
        (b"2", b"0", b"65000"),     # then deletes
        (b"0", b"0", b"64998"),     # then new levels
    ]
    assert x.get(262) == b"md1" and x.get(268) == b"3"
    assert hub.flush() == ()        # nothing new, nothing sent


@pytest.mark.parametrize("begin", VERSIONS)
def test_market_data_requests_that_cannot_be_served(begin):
    d = Dialect(begin)
    hub = MarketDataHub(make_oms(), {SYM: Formats(instruments()[SYM])})
    cases = [
        (_md_request(begin, "r1", "1", 0, ["0"], ["NOPE"]), b"0"),
        (_md_request(begin, "r2", "1", 0, ["7"], [SYM]), b"8"),
    ]
    for msg, code in cases:
        with pytest.raises(MarketDataReject) as exc:
            hub.request("route", msg, d)
        y = valid(exc.value.message(), begin)
        assert y.get(281) == code
    hub.request("route", _md_request(begin, "dup", "1", 1, ["0"], [SYM]), d)
    with pytest.raises(MarketDataReject) as exc:
        hub.request("route", _md_request(begin, "dup", "1", 1, ["0"], [SYM]), d)
    assert exc.value.code == b"1"
    assert hub.request("route", _md_request(begin, "dup", "2", 1, ["0"], [SYM]), d) is None   # unsubscribed


@pytest.mark.parametrize("begin", VERSIONS)
def test_security_status_and_list(begin):
    d = Dialect(begin)
    oms = make_oms()
    ref = ReferenceData(oms, instruments())
    e = _msg(begin, "e", [(324, "st1"), (55, SYM), (263, "1")])
    (f,) = ref.security_status("route", e, d)
    assert valid(f, begin).get(326) == b"17"
    evs = oms.process(SetTradingState(T0, SYM, 2))
    ((route, f2),) = ref.on_state(evs[0])
    assert valid(f2, begin).get(326) == b"2" and f2.get(324) == b"st1"
    if begin == "FIX.4.4":
        x = _msg(begin, "x", [(320, "sl1"), (559, "4")])
        (y,) = ref.security_list("route", x, d, with_tick_size=False)
        y = valid(y, begin)
        assert (y.get(560), y.get(146), y.get(55), y.get(561), y.get(562)) == (b"0", b"1", SYM.encode(), b"0.001", b"0.001")
        assert b"tick_size=0.01" in y.get(58) and b"state=halted" in y.get(58)
        (y,) = ref.security_list("route", x, d, with_tick_size=True)
        assert y.get(969) == b"0.01"
