"""Two FIX clients trade with each other while a market-data subscriber watches the book and the
trades, and the drop copy receives every execution report of both sides.
"""

from __future__ import annotations

from decimal import Decimal

import fix_venue_support as support  # loaded by conftest.py
from fix_venue_support import group_entries


def _md_request(c, req_id: str, kind: str, depth: int, types: list[str], symbols: list[str], update: str | None = None):
    fields = [(262, req_id), (263, kind), (264, depth)]
    if update is not None:
        fields.append((265, update))
    fields.append((267, len(types)))
    fields += [(269, t) for t in types]
    fields.append((146, len(symbols)))
    fields += [(55, s) for s in symbols]
    return c.send("V", fields)


def _levels(entries: list[dict], etype: str) -> list[tuple[str, str, str]]:
    return [(e[270], e[271], e.get(346, "")) for e in entries if e.get(269) == etype]


async def test_two_clients_trade_watched_by_market_data_and_drop_copy(client_factory):
    buyer = client_factory("CLIENT1")
    seller = client_factory("CLIENT2")
    watcher = client_factory("CLIENT3")
    dc = client_factory("DROPCOPY")
    for c in (buyer, seller, watcher, dc):
        await c.logon()

    # the book before the trade: two bid levels, one offer
    buyer.new_order("t-b1", "BTC-USD", "1", "0.5", "40000")
    buyer.new_order("t-b2", "BTC-USD", "1", "0.3", "39999")
    seller.new_order("t-s1", "BTC-USD", "2", "0.4", "40010")
    for c, clid in ((buyer, "t-b1"), (buyer, "t-b2"), (seller, "t-s1")):
        await c.report(clid, t150="0")

    _md_request(watcher, "w-inc", "1", 5, ["0", "1", "2"], ["BTC-USD"])
    snap = await watcher.expect("W", t262="w-inc")
    entries = group_entries(snap, 268, 269)
    assert snap[55] == "BTC-USD" and snap[268] == str(len(entries))
    bids = _levels(entries, "0")
    assert ("40000", "0.5", "1") in bids and ("39999", "0.3", "1") in bids
    assert [Decimal(p) for p, _, _ in bids] == sorted((Decimal(p) for p, _, _ in bids), reverse=True)
    assert ("40010", "0.4", "1") in _levels(entries, "1")
    _md_request(watcher, "w-snap", "0", 1, ["0", "1"], ["BTC-USD"])
    top = await watcher.expect("W", t262="w-snap")
    top_entries = group_entries(top, 268, 269)
    assert len(_levels(top_entries, "0")) == 1 and len(_levels(top_entries, "1")) <= 1

    # the seller sweeps the best bid and part of the next one
    seller.new_order("t-s2", "BTC-USD", "2", "0.6", "39999", tif="3")
    s_fills = [await seller.report("t-s2", t150="F") for _ in range(2)]
    assert [(f[31], f[32]) for f in s_fills] == [("40000", "0.5"), ("39999", "0.1")]
    assert s_fills[-1][39] == "2" and s_fills[-1][14] == "0.6" and s_fills[-1][851] == "2"
    assert s_fills[-1][6] == "39999.833333"      # (5 x 40000 + 39999) / 6 at price precision + 4
    b_fill = await buyer.report("t-b1", t150="F")
    assert (b_fill[39], b_fill[32], b_fill[851], b_fill[13]) == ("2", "0.5", "1", "3")
    b_part = await buyer.report("t-b2", t150="F")
    assert (b_part[39], b_part[151]) == ("1", "0.2")

    # the subscriber: trades first, then the book changes (deletes before changes)
    inc = await watcher.expect("X", t262="w-inc")
    entries = group_entries(inc, 268, 279)
    assert inc[268] == str(len(entries))
    trades = [(e[270], e[271]) for e in entries if e[269] == "2"]
    assert trades == [("40000", "0.5"), ("39999", "0.1")]
    book = [(e[279], e[269], e[270], e.get(271)) for e in entries if e[269] != "2"]
    assert book[0] == ("2", "0", "40000", None)
    assert ("1", "0", "39999", "0.2") in book
    assert all(e[55] == "BTC-USD" for e in entries)
    assert entries.index(next(e for e in entries if e[269] != "2")) == 2   # trades come first

    # the drop copy saw both sides: 3 + 1 acknowledgements and 4 fills, with both accounts
    want = {("t-b1", "0"), ("t-b2", "0"), ("t-s1", "0"), ("t-s2", "0"), ("t-b1", "F"), ("t-b2", "F")}
    got = set()
    while not want <= got:
        m = await dc.expect("8")
        got.add((m[11], m[150]))
    fills_dc = [m for m in dc.received if m.type == "8" and m.get(11) == "t-s2" and m.get(150) == "F"]
    assert len(fills_dc) == 2
    accounts = {m[1] for m in dc.received if m.type == "8"}
    assert {"DEMO1", "DEMO2"} <= accounts

    # unsubscribe: no more updates for that request
    _md_request(watcher, "w-inc", "2", 5, ["0", "1", "2"], ["BTC-USD"])
    n_before = len([m for m in watcher.received if m.type == "X"])
    buyer.new_order("t-b3", "BTC-USD", "1", "0.1", "39000")
    await buyer.report("t-b3")
    quiet = await watcher.quiet(0.4)
    assert [m for m in quiet if m.type == "X"] == []
    assert len([m for m in watcher.received if m.type == "X"]) == n_before


async def test_full_refresh_subscription_and_depth_window(client_factory):
    mm = client_factory("CLIENT5")
    watcher = client_factory("CLIENT6")
    await mm.logon()
    await watcher.logon()
    for i, px in enumerate(("500", "499", "498")):
        mm.new_order(f"fr-{i}", "ETH-USD", "1", "1", px)
        await mm.report(f"fr-{i}")
    _md_request(watcher, "fr", "1", 2, ["0"], ["ETH-USD"], update="0")
    w = await watcher.expect("W", t262="fr")
    assert [p for p, _, _ in _levels(group_entries(w, 268, 269), "0")][:2] == ["500", "499"]
    mm.cancel("fr-c", "fr-0", "ETH-USD", "1")
    await mm.report("fr-c", t150="4")
    w2 = await watcher.expect("W", t262="fr")
    assert [p for p, _, _ in _levels(group_entries(w2, 268, 269), "0")][:2] == ["499", "498"]


async def test_reference_data_security_list_and_status(client_factory):
    c = client_factory("CLIENT7")
    c42 = client_factory("CLIENT42", "FIX.4.2")
    await c.logon()
    await c42.logon()
    c.send("x", [(320, "sl-1"), (559, "4")])
    y = await c.expect("y", t320="sl-1")
    entries = {e[55]: e for e in group_entries(y, 146, 55)}
    assert y[560] == "0" and len(entries) == int(y[146]) >= 4
    btc = entries["BTC-USD"]
    assert (btc[969], btc[561], btc[562], btc[15]) == ("0.01", "0.0001", "0.0001", "USD")
    assert entries["EUR/USD"][969] == "0.00001"
    assert "state=" in btc[58]
    c.send("x", [(320, "sl-2"), (559, "0"), (55, "NOPE")])
    assert (await c.expect("y", t320="sl-2"))[560] == "2"
    c.send("e", [(324, "ss-1"), (55, "BTC-USD"), (263, "0")])
    f = await c.expect("f", t324="ss-1")
    assert f[326] == "17" and f[55] == "BTC-USD"
    c42.send("e", [(324, "ss-42"), (55, "ETH-USD"), (263, "0")])
    f42 = await c42.expect("f", t324="ss-42")
    assert f42[326] == "17"
