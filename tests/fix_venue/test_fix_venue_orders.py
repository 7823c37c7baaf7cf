"""Order entry over FIX against a running `fixvenue run`: every order type and TIF, rejects with
reasons, cancel / replace / status / mass cancel / mass status, FIX 4.2 and 4.4.

Each test works in its own price band of BTC-USD / ETH-USD (the venue is shared by the module),
so resting orders of one test never trade with another's.
"""

from __future__ import annotations

import asyncio

import fix_venue_support as support  # loaded by conftest.py

REQUIRED_ER_TAGS = (37, 11, 17, 150, 39, 1, 55, 54, 38, 40, 59, 151, 14, 6, 60)


async def test_limit_order_is_acknowledged_with_a_complete_execution_report(client_factory):
    c = client_factory("CLIENT1")
    await c.logon()
    c.new_order("ord-ack-1", "BTC-USD", "1", "0.25", "1001.5")
    er = await c.report("ord-ack-1")
    for tag in REQUIRED_ER_TAGS:
        assert er.get(tag) is not None, f"tag {tag} missing in {er}"
    assert (er[150], er[39], er[1], er[55], er[54], er[38], er[44], er[151], er[14], er[6]) == (
        "0", "0", "DEMO1", "BTC-USD", "1", "0.25", "1001.5", "0.25", "0", "0")
    assert er[37].isdigit() and er[17].isdigit()
    c.new_order("ord-ack-2", "BTC-USD", "1", "0.25", "1001.5")
    er2 = await c.report("ord-ack-2")
    assert er2[17] != er[17] and er2[37] != er[37]


async def test_every_order_type_and_time_in_force_is_accepted(client_factory):
    c = client_factory("CLIENT2")
    await c.logon()
    band = "2000"
    cases = {
        "ot-limit-day": dict(price=band, tif="0"),
        "ot-limit-gtc": dict(price=band, tif="1"),
        "ot-gtd-time": dict(price=band, tif="6", extra=[(126, "20991231-23:00:00")]),
        "ot-gtd-date": dict(price=band, tif="6", extra=[(432, "20991231")]),
        "ot-stop": dict(ord_type="3", tif="1", extra=[(99, "90000")]),
        "ot-stop-limit": dict(ord_type="4", price="90001", tif="1", extra=[(99, "90000")]),
        "ot-mit": dict(ord_type="J", tif="1", extra=[(99, "1500")]),
        "ot-trail-amount": dict(ord_type="P", tif="1", extra=[(211, "100"), (836, "0")]),
        "ot-trail-bps": dict(ord_type="P", tif="1", extra=[(211, "50"), (836, "1")]),
        "ot-trail-ticks": dict(ord_type="P", tif="1", extra=[(211, "25"), (836, "2")]),
        "ot-iceberg": dict(price=band, tif="1", extra=[(111, "0.01")]),
        "ot-hidden": dict(price=band, tif="1", extra=[(111, "0")]),
        "ot-post-only": dict(price=band, tif="1", extra=[(18, "6")]),
        "ot-min-qty": dict(price=band, tif="1", extra=[(110, "0.02")]),
    }
    for clid, kw in cases.items():
        c.new_order(clid, "BTC-USD", "2" if kw.get("ord_type") in ("3", "4", "P") else "1", "0.05", **kw)
    for clid in cases:
        er = await c.report(clid)
        assert (er[150], er[39]) == ("0", "0"), f"{clid}: {er}"
    # immediate orders with nothing to trade against: acknowledged, then the remainder is cancelled
    c.new_order("ot-ioc", "ETH-USD", "1", "0.5", "5", tif="3")
    c.new_order("ot-fok", "ETH-USD", "1", "0.5", "5", tif="4")
    c.new_order("ot-market", "ETH-USD", "1", "0.5", ord_type="1", tif="3")
    ioc = await c.report("ot-ioc", t150="4")
    assert ioc[39] == "4" and ioc[151] == "0" and ioc.get(58)
    fok = await c.report("ot-fok", t150="4")
    assert fok[14] == "0"
    mkt = await c.report("ot-market")
    assert mkt[39] in ("4", "8") and "liquidity" in mkt.get(58, "")


async def test_every_bad_order_is_answered_with_a_reason(client_factory):
    c = client_factory("CLIENT3")
    await c.logon()
    cases = [
        # clid, fields, OrdRejReason, words in Text
        ("bad-sym", dict(symbol="NOPE-USD", qty="1", price="10"), "1", "unknown symbol"),
        ("bad-lot", dict(qty="0.0015", price="3000"), "13", "lot size"),
        ("bad-max", dict(qty="1001", price="3000"), "13", "outside"),
        ("bad-zero", dict(qty="0", price="3000"), "13", "positive"),
        ("bad-tick", dict(qty="0.01", price="3000.001"), "99", "tick size"),
        ("bad-neg-px", dict(qty="0.01", price="-5"), "99", "positive"),
        ("bad-combo", dict(qty="0.01", ord_type="1", tif="1", extra=[(18, "6")]), "11", "post-only"),
        ("bad-tif", dict(qty="0.01", price="3000", tif="2"), "11", "TimeInForce"),
        ("bad-inst", dict(qty="0.01", price="3000", extra=[(18, "G")]), "11", "ExecInst"),
        ("bad-side", dict(qty="0.01", price="3000", side="5"), "11", "Side"),
        ("bad-gtd", dict(qty="0.01", price="3000", tif="6"), "11", "expire"),
        ("bad-past", dict(qty="0.01", price="3000", tif="6", extra=[(126, "20200101-00:00:00")]), "99", "past"),
        ("bad-nopx", dict(qty="0.01", tif="1"), "99", "needs a price"),
        ("bad-stop", dict(qty="0.01", ord_type="3"), "99", "stop"),
        ("bad-floor", dict(qty="0.01", price="3000", extra=[(111, "0.05")]), "13", "display"),
    ]
    for clid, kw, _, _ in cases:
        kw = dict(kw)
        symbol = kw.pop("symbol", "ETH-USD")
        side = kw.pop("side", "1")
        qty = kw.pop("qty")
        c.new_order(clid, symbol, side, qty, **kw)
    for clid, kw, reason, words in cases:
        er = await c.report(clid)
        assert (er[150], er[39]) == ("8", "8"), f"{clid}: {er}"
        assert er.get(103) == reason, f"{clid}: {er}"
        assert words.lower() in er.get(58, "").lower(), f"{clid}: {er}"
        assert er[55] == kw.get("symbol", "ETH-USD") and er[38] == kw["qty"]
    # a ClOrdID already used by this account
    c.new_order("dup-1", "ETH-USD", "1", "0.01", "3000")
    await c.report("dup-1", t150="0")
    c.new_order("dup-1", "ETH-USD", "1", "0.01", "3000")
    dup = await c.report("dup-1", t150="8")
    assert dup[103] == "6"
    # the session is still in business after all of that
    c.new_order("after-bad", "ETH-USD", "1", "0.01", "3000")
    await c.report("after-bad", t150="0")
    # a possible duplicate (43=Y) of an order the venue already has: its status, not a reject
    c.send("D", [(11, "after-bad"), (55, "ETH-USD"), (54, "1"), (38, "0.01"), (40, "2"), (44, "3000"), (59, "1"),
                 (60, support.utc_now())], header=[(43, "Y"), (122, support.utc_now())])
    again = await c.report("after-bad")
    assert (again[150], again[39]) == ("I", "0")


async def test_cancel_replace_and_their_rejects(client_factory):
    c = client_factory("CLIENT4")
    await c.logon()
    c.new_order("cr-1", "ETH-USD", "1", "1", "3100")
    new = await c.report("cr-1", t150="0")
    # quantity down: replaced, same OrderID, OrigClOrdID echoed
    c.replace("cr-2", "cr-1", "ETH-USD", "1", "0.6", "3100")
    rep = await c.report("cr-2", t150="5")
    assert (rep[41], rep[37], rep[38], rep[151], rep[39]) == ("cr-1", new[37], "0.6", "0.6", "0")
    # price change by OrderID, with the chain's latest ClOrdID
    c.replace("cr-3", "cr-2", "ETH-USD", "1", "0.6", "3101.5", extra=[(37, new[37])])
    rep = await c.report("cr-3", t150="5")
    assert rep[44] == "3101.5"
    # off-tick replace: refused, order unchanged
    c.replace("cr-4", "cr-3", "ETH-USD", "1", "0.6", "3101.555")
    rej = await c.expect("9", t11="cr-4")
    assert (rej[434], rej[102], rej[41], rej[39]) == ("2", "99", "cr-3", "0")
    assert "tick" in rej[58]
    # side mismatch and type change are refused
    c.replace("cr-5", "cr-3", "ETH-USD", "2", "0.6", "3101.5")
    assert "Side" in (await c.expect("9", t11="cr-5"))[58]
    c.replace("cr-6", "cr-3", "ETH-USD", "1", "0.6", ord_type="1")
    assert "OrdType" in (await c.expect("9", t11="cr-6"))[58]
    # duplicate ClOrdID on a cancel
    c.new_order("cr-other", "ETH-USD", "1", "0.1", "3100")
    await c.report("cr-other", t150="0")
    c.cancel("cr-other", "cr-3", "ETH-USD", "1")
    dup = await c.expect("9", t41="cr-3")
    assert dup[102] == "6" and dup[434] == "1"
    # cancel: done; cancelling again is too late; unknown order is unknown
    c.cancel("cr-7", "cr-3", "ETH-USD", "1")
    can = await c.report("cr-7", t150="4")
    assert (can[39], can[41], can[151]) == ("4", "cr-3", "0")
    c.cancel("cr-8", "cr-7", "ETH-USD", "1")
    late = await c.expect("9", t11="cr-8")
    assert (late[102], late[39]) == ("0", "4")
    c.cancel("cr-9", "never-sent", "ETH-USD", "1")
    unknown = await c.expect("9", t11="cr-9")
    assert (unknown[102], unknown[37], unknown[39]) == ("1", "NONE", "8")


async def test_order_status_request(client_factory):
    c = client_factory("CLIENT5")
    await c.logon()
    c.new_order("st-1", "BTC-USD", "1", "0.3", "1200")
    er = await c.report("st-1")
    c.send("H", [(11, "st-1"), (54, "1"), (55, "BTC-USD"), (790, "q1")])
    st = await c.expect("8", t150="I")
    assert (st[37], st[11], st[39], st[38], st[151], st[790]) == (er[37], "st-1", "0", "0.3", "0.3", "q1")
    c.send("H", [(37, er[37]), (11, "whatever"), (54, "1"), (55, "BTC-USD")])
    st = await c.expect("8", t150="I")
    assert st[11] == "st-1"
    c.send("H", [(11, "st-unknown"), (54, "1"), (55, "BTC-USD")])
    un = await c.expect("8", t150="I")
    assert (un[39], un[103], un[11]) == ("8", "5", "st-unknown")


async def test_mass_cancel_and_mass_status(client_factory):
    c = client_factory("CLIENT6")
    await c.logon()
    for i, (sym, px) in enumerate([("BTC-USD", "1300"), ("BTC-USD", "1301"), ("ETH-USD", "10"), ("ETH-USD", "11")]):
        c.new_order(f"mc-{i}", sym, "1", "0.01", px)
        await c.report(f"mc-{i}", t150="0")
    c.send("AF", [(584, "ms-1"), (585, "7")])
    reports = await c.collect("8", 4, t584="ms-1")
    assert sorted(r[11] for r in reports) == ["mc-0", "mc-1", "mc-2", "mc-3"]
    assert all(r[150] == "I" and r[911] == "4" for r in reports)
    assert [r[912] for r in reports] == ["N", "N", "N", "Y"]
    c.send("AF", [(584, "ms-2"), (585, "1"), (55, "ETH-USD")])
    eth = await c.collect("8", 2, t584="ms-2")
    assert {r[11] for r in eth} == {"mc-2", "mc-3"}
    # mass cancel for one symbol, then everything
    c.send("q", [(11, "mcr-1"), (530, "1"), (55, "BTC-USD"), (60, support.utc_now())])
    cancelled = {(await c.expect("8", t150="4"))[11] for _ in range(2)}
    assert cancelled == {"mc-0", "mc-1"}
    r1 = await c.expect("r", t11="mcr-1")      # after the cancels it reports
    assert (r1[530], r1[531], r1[533]) == ("1", "1", "2")
    c.send("q", [(11, "mcr-2"), (530, "1"), (55, "NOPE"), (60, support.utc_now())])
    bad = await c.expect("r", t11="mcr-2")
    assert (bad[531], bad[532]) == ("0", "1")
    c.send("q", [(11, "mcr-3"), (530, "7"), (60, support.utc_now())])
    r3 = await c.expect("r", t11="mcr-3")
    assert (r3[531], r3[533]) == ("7", "2")
    c.send("AF", [(584, "ms-3"), (585, "7")])
    none = await c.expect("8", t584="ms-3")
    assert (none[911], none[912], none[37]) == ("0", "Y", "NONE")


async def test_fix42_client_trades_with_a_fix44_client(client_factory):
    c42 = client_factory("CLIENT42", "FIX.4.2")
    c44 = client_factory("CLIENT7")
    await c42.logon()
    await c44.logon()
    c42.new_order("f42-1", "ETH-USD", "2", "2", "4100")
    ack = await c42.report("f42-1")
    assert (ack[20], ack[150], ack[39], ack[1]) == ("0", "0", "0", "DEMO42")
    c44.new_order("f44-1", "ETH-USD", "1", "0.5", "4100", tif="3")
    part = await c42.report("f42-1", t39="1")
    assert (part[20], part[150], part[32], part[31], part[14], part[151]) == ("0", "1", "0.5", "4100", "0.5", "1.5")
    assert part.get(851) is None           # a 4.4 tag a 4.2 dictionary rejects
    taker = await c44.report("f44-1", t150="F")
    assert (taker[39], taker[851]) == ("2", "2")
    c44.new_order("f44-2", "ETH-USD", "1", "1.5", "4100", tif="3")
    fill = await c42.report("f42-1", t39="2")
    assert (fill[150], fill[14], fill[6]) == ("2", "2", "4100")
    c42.send("H", [(11, "f42-1"), (54, "2"), (55, "ETH-USD")])
    st = await c42.expect("8", t20="3")
    assert (st[150], st[39]) == ("2", "2")
    c42.new_order("f42-mit", "ETH-USD", "1", "0.1", ord_type="J", extra=[(99, "4000")])
    # OrdType J does not exist in FIX 4.2: the session layer rejects it (373=5)
    rej = await c42.expect("3")
    assert rej[373] == "5" and rej[371] == "40"
    await asyncio.sleep(0)
