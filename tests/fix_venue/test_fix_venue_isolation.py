"""One account can never see, change or cancel another account's orders over FIX.

CLIENT1 (DEMO1) rests an order; CLIENT2 (DEMO2) tries everything it can name — the ClOrdID,
the OrderID, Account (1) = DEMO1 — and is told "unknown order" each time, while the order
stays untouched and CLIENT1 hears nothing.
"""

from __future__ import annotations

import fix_venue_support as support  # loaded by conftest.py


async def test_another_session_cannot_touch_or_see_an_order(client_factory):
    owner = client_factory("CLIENT1")
    other = client_factory("CLIENT2")
    await owner.logon()
    await other.logon()
    owner.new_order("iso-1", "BTC-USD", "1", "0.1", "1500")
    ack = await owner.report("iso-1")
    oid = ack[37]

    other.cancel("x-1", "iso-1", "BTC-USD", "1")
    r = await other.expect("9", t11="x-1")
    assert (r[102], r[37]) == ("1", "NONE")
    other.send("F", [(11, "x-2"), (41, "whatever"), (37, oid), (55, "BTC-USD"), (54, "1"), (60, support.utc_now())])
    assert (await other.expect("9", t11="x-2"))[102] == "1"
    other.cancel("x-3", "iso-1", "BTC-USD", "1", extra=[(1, "DEMO1")])
    r = await other.expect("9", t11="x-3")
    assert r[102] == "1" and "DEMO1" in r[58]
    other.replace("x-4", "iso-1", "BTC-USD", "1", "0.2", "1500")
    assert (await other.expect("9", t11="x-4"))[434] == "2"
    other.replace("x-5", "iso-1", "BTC-USD", "1", "0.2", "1500", extra=[(37, oid)])
    assert (await other.expect("9", t11="x-5"))[102] == "1"
    other.send("H", [(11, "iso-1"), (54, "1"), (55, "BTC-USD")])
    st = await other.expect("8", t150="I")
    assert (st[39], st[103]) == ("8", "5")
    other.send("H", [(37, oid), (11, "iso-1"), (54, "1"), (55, "BTC-USD"), (1, "DEMO1")])
    st = await other.expect("8", t150="I")
    assert st[39] == "8" and st.get(38) is None
    other.new_order("x-6", "BTC-USD", "2", "0.1", "90000", extra=[(1, "DEMO1")])
    rej = await other.report("x-6")
    assert (rej[150], rej[103], rej[1]) == ("8", "15", "DEMO2")
    other.send("AF", [(584, "x-ms"), (585, "7")])
    mine = await other.expect("8", t584="x-ms")
    assert (mine[911], mine.get(11), mine[37]) == ("0", None, "NONE")     # DEMO2 has no open orders
    other.send("q", [(11, "x-mc"), (530, "7"), (60, support.utc_now())])
    await other.expect("r", t11="x-mc")

    # the owner's order is untouched and the owner heard nothing about any of it
    owner.send("H", [(11, "iso-1"), (54, "1"), (55, "BTC-USD")])
    st = await owner.expect("8", t150="I")
    assert (st[39], st[151], st[44], st[37]) == ("0", "0.1", "1500", oid)
    assert [m for m in owner.received if m.type in ("8", "9") and m.get(11, "").startswith("x-")] == []
