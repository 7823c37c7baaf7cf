"""Malformed and unsupported application messages: each gets the answer the FIX spec asks for
(session Reject from validation, BusinessMessageReject, or an ExecutionReport reject), and the
session keeps trading afterwards. Raw frames are built by hand, not by any FIX engine.
"""

from __future__ import annotations

import fix_venue_support as support  # loaded by conftest.py
from fix_venue_support import frame, utc_now


def _header(c, msg_type: str, seq: int) -> list:
    return [(8, c.begin), (35, msg_type), (49, c.comp_id), (56, support.VENUE_COMP_ID), (34, seq), (52, utc_now())]


async def _still_trades(c, clid: str) -> None:
    c.new_order(clid, "ETH-USD", "1", "0.01", "20")
    await c.report(clid, t150="0")


async def test_invalid_messages_get_session_rejects(client_factory):
    c = client_factory("CLIENT3")
    await c.logon()
    cases = [
        # fields after the header, expected (373, 371)
        ([(55, "ETH-USD"), (54, "1"), (38, "1"), (40, "2"), (44, "20"), (60, utc_now())], ("1", "11")),  # no ClOrdID
        ([(11, "m-2"), (55, "ETH-USD"), (54, "Z"), (38, "1"), (40, "2"), (44, "20"), (60, utc_now())], ("5", "54")),
        ([(11, "m-3"), (55, "ETH-USD"), (54, "1"), (38, "lots"), (40, "2"), (44, "20"), (60, utc_now())], ("6", "38")),
        ([(11, "m-4"), (55, "ETH-USD"), (54, "1"), (38, "1"), (40, "2"), (44, "20"), (60, utc_now()), (4999, "x")],
         ("0", "4999")),    # a tag no dictionary defines
        ([(11, "m-4b"), (55, "ETH-USD"), (54, "1"), (38, "1"), (40, "2"), (44, "20"), (60, utc_now()), (262, "x")],
         ("2", "262")),     # MDReqID: defined, but not in a NewOrderSingle
        ([(11, "m-5"), (55, "ETH-USD"), (54, "1"), (54, "1"), (38, "1"), (40, "2"), (60, utc_now())], ("13", "54")),
    ]
    for fields, (reason, tag) in cases:
        seq = c.seq
        c.send_raw(frame(_header(c, "D", seq) + fields))
        c.seq += 1
        rej = await c.expect("3", t45=str(seq))
        assert (rej[373], rej.get(371)) == (reason, tag), rej
    # an undefined MsgType
    seq = c.seq
    c.send_raw(frame(_header(c, "ZZ", seq) + [(11, "x")]))
    c.seq += 1
    assert (await c.expect("3", t45=str(seq)))[373] == "11"
    # a garbled frame (bad checksum) is dropped silently, the sequence carries on
    bad = frame(_header(c, "D", c.seq) + [(11, "m-6")])
    c.send_raw(bad[:-4] + b"000\x01")
    assert await c.quiet(0.3) == []
    await _still_trades(c, "m-ok")


async def test_well_formed_but_unsupported_messages(client_factory):
    c = client_factory("CLIENT4")
    await c.logon()
    # a message type the venue does not serve: BusinessMessageReject 380=3
    seq = c.send("c", [(320, "sd-1"), (321, "3")])
    bmr = await c.expect("j", t45=str(seq))
    assert (bmr[380], bmr[372]) == ("3", "c")
    # valid FIX, unsupported order characteristic: an ExecutionReport reject with a reason
    c.new_order("m-pq", "ETH-USD", "1", "0.01", "20", ord_type="D")
    er = await c.report("m-pq")
    assert (er[150], er[103]) == ("8", "11") and "OrdType" in er[58]
    # unknown symbol in a market data request: MarketDataRequestReject
    c.send("V", [(262, "md-x"), (263, "1"), (264, "1"), (267, "1"), (269, "0"), (146, "1"), (55, "NOPE")])
    y = await c.expect("Y", t262="md-x")
    assert y[281] == "0"
    # unknown symbol in a security status request: BusinessMessageReject 380=2
    seq = c.send("e", [(324, "ss-x"), (55, "NOPE"), (263, "0")])
    assert (await c.expect("j", t45=str(seq)))[380] == "2"
    await _still_trades(c, "m-ok2")


async def test_fix42_session_rejects_messages_its_version_lacks(client_factory):
    c = client_factory("CLIENT42", "FIX.4.2")
    await c.logon()
    seq = c.send("q", [(11, "mc"), (530, "7"), (60, utc_now())])
    rej = await c.expect("3", t45=str(seq))
    assert rej[373] == "11"
    await _still_trades(c, "m42-ok")


async def test_drop_copy_session_is_read_only(client_factory):
    dc = client_factory("DROPCOPY")
    await dc.logon()
    seq = dc.new_order("dc-1", "ETH-USD", "1", "0.01", "20")
    bmr = await dc.expect("j", t45=str(seq))
    assert bmr[380] == "6" and "read-only" in bmr[58]
    seq = dc.send("H", [(11, "dc-1"), (54, "1"), (55, "ETH-USD")])
    assert (await dc.expect("j", t45=str(seq)))[380] == "6"
