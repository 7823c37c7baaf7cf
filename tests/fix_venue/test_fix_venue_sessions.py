"""Session behaviour of the venue: cancel on disconnect, sequence numbers across a restart,
halted and closed instruments, and the session status the REST admin endpoint shows.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import yaml

import fix_venue_support as support  # loaded by conftest.py
from fix_venue_support import RawClient, VenueProcess


async def test_dropping_without_logout_cancels_day_orders_only(client_factory):
    c = client_factory("CLIENT5")
    dc = client_factory("DROPCOPY")
    await c.logon()
    await dc.logon()
    c.new_order("cod-day", "BTC-USD", "1", "0.1", "1700", tif="0")
    c.new_order("cod-gtc", "BTC-USD", "1", "0.1", "1701", tif="1")
    await c.report("cod-day")
    await c.report("cod-gtc")
    await c.close()                                  # TCP gone, no Logout
    gone = await dc.expect("8", t11="cod-day", t150="4")
    assert gone[39] == "4" and "disconnect" in gone[58]
    # the GTC order survives; the reconnected session can ask for both
    c2 = client_factory("CLIENT5")
    await c2.logon()
    c2.send("H", [(11, "cod-gtc"), (54, "1"), (55, "BTC-USD")])
    assert (await c2.expect("8", t150="I"))[39] == "0"
    c2.send("H", [(11, "cod-day"), (54, "1"), (55, "BTC-USD")])
    assert (await c2.expect("8", t150="I"))[39] == "4"
    # a Logout handshake is not a disconnect: DAY orders stay
    c2.new_order("cod-day2", "BTC-USD", "1", "0.1", "1702", tif="0")
    await c2.report("cod-day2")
    await c2.logout()
    assert [m for m in await dc.quiet(0.5) if m.get(11) == "cod-day2" and m.get(150) == "4"] == []
    c3 = client_factory("CLIENT5")
    await c3.logon()
    c3.send("H", [(11, "cod-day2"), (54, "1"), (55, "BTC-USD")])
    assert (await c3.expect("8", t150="I"))[39] == "0"


async def test_admin_endpoint_lists_sessions(venue, client_factory):
    if support.rest_url(venue) is None:
        pytest.skip("the venue runs no REST gateway (api/ not wired), so there is no admin endpoint")
    c = client_factory("CLIENT8")
    await c.logon()
    status, body = await asyncio.to_thread(support.rest_call, venue, "GET", "/api/v1/admin/sessions")
    assert status == 200, body
    fix = body["data"]["fix"]
    # the admin router shows services["fix"].sessions() (a list) or .status() (a dict with "sessions")
    sessions = fix["sessions"] if isinstance(fix, dict) else fix
    by_id = {s["comp_id"]: s for s in sessions}
    assert set(by_id) >= {f"CLIENT{i}" for i in range(1, 9)} | {"CLIENT42", "DROPCOPY"}
    me = by_id["CLIENT8"]
    assert me["logged_on"] and me["connected"] and me["account"] == "DEMO8"
    assert me["peer"].startswith("127.0.0.1:") and me["next_target_seq"] == 2 and me["next_sender_seq"] >= 2
    assert not by_id["CLIENT7"]["logged_on"]
    assert by_id["DROPCOPY"]["role"] == "drop_copy"


async def test_halted_instrument_refuses_orders_and_tells_subscribers(venue, client_factory):
    if support.rest_url(venue) is None:
        pytest.skip("the venue runs no REST gateway (api/ not wired): nothing can halt an instrument")
    c = client_factory("CLIENT6")
    await c.logon()
    c.send("e", [(324, "halt-watch"), (55, "ETH-USD"), (263, "1")])
    assert (await c.expect("f", t324="halt-watch"))[326] == "17"
    status, body = await asyncio.to_thread(support.rest_call, venue, "POST", "/api/v1/admin/instruments/ETH-USD/halt",
                                           {"reason": "test halt"})
    assert status == 200, body
    try:
        assert (await c.expect("f", t324="halt-watch"))[326] == "2"
        c.new_order("halt-1", "ETH-USD", "1", "0.1", "30")
        er = await c.report("halt-1")
        assert (er[150], er[103]) == ("8", "2") and "halted" in er[58]
    finally:
        status, body = await asyncio.to_thread(support.rest_call, venue, "POST",
                                               "/api/v1/admin/instruments/ETH-USD/resume", {"reason": "test over"})
        assert status == 200, body
    assert (await c.expect("f", t324="halt-watch"))[326] == "17"
    c.new_order("halt-2", "ETH-USD", "1", "0.1", "30")
    assert (await c.report("halt-2"))[150] == "0"


def _config_with_closed_instrument(path) -> None:
    """The default config plus CLOSED-X, an instrument whose only trading day is not today."""
    cfg = yaml.safe_load((support.REPO / "config" / "venue.yaml").read_text())
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    other_day = days[(dt.datetime.now(dt.timezone.utc).weekday() + 3) % 7]
    inst = dict(cfg["instruments"][0], symbol="CLOSED-X", description="never open today",
                session={"open": "00:00", "close": "24:00", "days": [other_day]})
    cfg["instruments"].append(inst)
    cfg.pop("storage", None)            # the FIX stores are what this test restarts with
    for sess in cfg["fix"]["sessions"]:
        if sess["comp_id"] == "CLIENT2":
            sess["accounts"] = ["MM1"]  # CLIENT2 may also trade for MM1, naming it in Account (1)
    path.write_text(yaml.safe_dump(cfg))


async def test_restart_keeps_sequence_numbers_closed_instruments_refuse_extra_accounts_work(tmp_path):
    cfg = tmp_path / "venue.yaml"
    _config_with_closed_instrument(cfg)
    data = tmp_path / "data"
    v = await asyncio.to_thread(VenueProcess.start, data, cfg)
    try:
        c = RawClient(v.host, v.port, "CLIENT1")
        logon = await c.logon(reset=True)
        assert logon[34] == "1"
        c.new_order("rs-closed", "CLOSED-X", "1", "0.1", "100")
        er = await c.report("rs-closed")
        assert (er[150], er[103]) == ("8", "2") and "closed" in er[58]
        c.new_order("rs-1", "BTC-USD", "1", "0.1", "100")
        await c.report("rs-1")
        # a session configured for a second account uses it when named, and finds its orders
        c2 = RawClient(v.host, v.port, "CLIENT2")
        await c2.logon()
        c2.new_order("mm-1", "BTC-USD", "2", "0.1", "99000", extra=[(1, "MM1")])
        assert (await c2.report("mm-1"))[1] == "MM1"
        c2.cancel("mm-2", "mm-1", "BTC-USD", "2")
        gone = await c2.report("mm-2", t150="4")
        assert (gone[1], gone[41]) == ("MM1", "mm-1")
        c2.new_order("mm-3", "BTC-USD", "2", "0.1", "99000", extra=[(1, "DEMO3")])
        assert (await c2.report("mm-3"))[103] == "15"
        await c2.logout()
        await c.logout()
        next_out = c.seq
        last_in = max(int(m[34]) for m in c.received)
    finally:
        await asyncio.to_thread(v.stop)
    v = await asyncio.to_thread(VenueProcess.start, data, cfg)
    try:
        c = RawClient(v.host, v.port, "CLIENT1")
        logon = await c.logon(reset=False, seq=next_out)
        assert int(logon[34]) == last_in + 1           # the venue carried on where it stopped
        assert logon.get(141) is None
        assert [m for m in await c.quiet(0.3) if m.type in ("2", "5", "3")] == []   # no gap, no complaint
        c.send("H", [(11, "rs-1"), (54, "1"), (55, "BTC-USD")])
        st = await c.expect("8", t150="I")
        assert int(st[34]) == last_in + 2
        await c.logout()
    finally:
        await asyncio.to_thread(v.stop)
