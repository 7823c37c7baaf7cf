"""The real QuickFIX engine (quickfix-ssl) as an institutional client of the venue.

Run as a subprocess (a C++ exception in the binding would abort the whole process):

    python quickfix_client.py CONFIG REPORT_JSON

CONFIG is a QuickFIX settings file with two initiator sessions, CLIENT1 (FIX.4.4) and
CLIENT42 (FIX.4.2), both with UseDataDictionary=Y, so QuickFIX itself validates everything
the venue sends and answers anything invalid with a session Reject (which the test looks for).
The scenario trades between the two sessions and exercises every message type the venue
serves; each wait is bounded and the report names the steps that completed.

`patched_fix44_dictionary(src, dst)` writes a copy of QuickFIX's FIX44.xml that knows
MinPriceIncrement (969) in SecurityList entries — what notes/README-fix.md tells clients to do.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

SESSIONS = {"CLIENT1": "FIX.4.4", "CLIENT42": "FIX.4.2"}
SPEC = {"FIX.4.4": "FIX44.xml", "FIX.4.2": "FIX42.xml"}
VENUE = "FIXVENUE"


def patched_fix44_dictionary(src: Path, dst: Path) -> Path:
    text = src.read_text()
    if "name='MinPriceIncrement'" not in text and 'name="MinPriceIncrement"' not in text:
        text = text.replace(" <fields>\n", " <fields>\n  <field number='969' name='MinPriceIncrement' type='FLOAT' />\n", 1)
        start = text.find("<component name='SecListGrp'>")
        end = text.find("   </group>", start)
        if start < 0 or end < 0:
            raise ValueError("unexpected FIX44.xml layout (SecListGrp)")
        # appended as the group's last member: the first member (Symbol) stays the delimiter
        text = text[:end] + "    <field name='MinPriceIncrement' required='N' />\n" + text[end:]
    dst.write_text(text)
    return dst


def settings_text(port: int, dictionaries: dict[str, Path], workdir: Path) -> str:
    lines = ["[DEFAULT]", "ConnectionType=initiator", "SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}",
             "StartTime=00:00:00", "EndTime=00:00:00", "HeartBtInt=30", "ReconnectInterval=60", "ResetOnLogon=Y",
             "UseDataDictionary=Y", "LogonTimeout=10", "LogoutTimeout=5", f"FileLogPath={workdir / 'log'}", ""]
    for comp, begin in SESSIONS.items():
        lines += ["[SESSION]", f"BeginString={begin}", f"SenderCompID={comp}", f"TargetCompID={VENUE}",
                  f"DataDictionary={dictionaries[begin]}", ""]
    return "\n".join(lines)


def now() -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())


def run(cfg_path: str, report_path: str) -> int:
    import quickfix as fix

    events: list[dict] = []
    cond = threading.Condition()

    def record(cb: str, sid=None, m=None) -> None:
        with cond:
            events.append({"cb": cb, "session": sid.getSenderCompID().getValue() if sid else "",
                           "msg": m.toString().replace("\x01", "|") if m is not None else ""})
            cond.notify_all()

    class Client(fix.Application):
        def onCreate(self, sid):  # noqa: N802
            pass

        def onLogon(self, sid):  # noqa: N802
            record("onLogon", sid)

        def onLogout(self, sid):  # noqa: N802
            record("onLogout", sid)

        def toAdmin(self, m, sid):  # noqa: N802
            record("toAdmin", sid, m)

        def fromAdmin(self, m, sid):  # noqa: N802
            record("fromAdmin", sid, m)

        def toApp(self, m, sid):  # noqa: N802
            record("toApp", sid, m)

        def fromApp(self, m, sid):  # noqa: N802
            record("fromApp", sid, m)

    def fields(text: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in text.strip("|").split("|"):
            t, _, v = item.partition("=")
            out.setdefault(t, v)
        return out

    def wait(session: str, pred, timeout: float = 10.0) -> dict | None:
        deadline = time.monotonic() + timeout
        with cond:
            while True:
                for ev in events:
                    if ev["cb"] == "fromApp" and ev["session"] == session:
                        f = fields(ev["msg"])
                        if pred(f):
                            return f
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                cond.wait(left)

    def msg(msg_type: str, pairs: list, groups: list | None = None):
        m = fix.Message()
        m.getHeader().setField(35, msg_type)
        for t, v in pairs:
            m.setField(t, str(v))
        for count_tag, delim, entries in groups or []:
            for entry in entries:
                g = fix.Group(count_tag, delim)
                for t, v in entry:
                    g.setField(t, str(v))
                m.addGroup(g)
        return m

    sid44 = fix.SessionID("FIX.4.4", "CLIENT1", VENUE)
    sid42 = fix.SessionID("FIX.4.2", "CLIENT42", VENUE)
    steps: dict[str, bool] = {}

    def step(name: str, ok) -> None:
        steps[name] = bool(ok)

    settings = fix.SessionSettings(cfg_path)
    initiator = fix.SocketInitiator(Client(), fix.MemoryStoreFactory(), settings, fix.FileLogFactory(settings))
    initiator.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with cond:
                on = {ev["session"] for ev in events if ev["cb"] == "onLogon"}
            if on >= set(SESSIONS):
                break
            time.sleep(0.05)
        step("logon", on >= set(SESSIONS))

        send = fix.Session.sendToTarget
        send(msg("x", [(320, "qf-sl"), (559, "4")]), sid44)
        y = wait("CLIENT1", lambda f: f.get("35") == "y" and f.get("320") == "qf-sl")
        step("security_list", y is not None and y.get("560") == "0" and "969" in y)

        send(msg("V", [(262, "qf-md"), (263, "1"), (264, "5")],
                 [(267, 269, [[(269, "0")], [(269, "1")], [(269, "2")]]), (146, 55, [[(55, "ETH-USD")]])]), sid44)
        step("md_snapshot", wait("CLIENT1", lambda f: f.get("35") == "W" and f.get("262") == "qf-md") is not None)

        send(msg("D", [(11, "qf42-1"), (21, "1"), (55, "ETH-USD"), (54, "2"), (38, "0.4"), (40, "2"), (44, "3333"),
                       (59, "1"), (60, now())]), sid42)
        ack = wait("CLIENT42", lambda f: f.get("35") == "8" and f.get("11") == "qf42-1")
        step("fix42_ack", ack is not None and ack.get("150") == "0" and ack.get("20") == "0")

        send(msg("D", [(11, "qf44-1"), (55, "ETH-USD"), (54, "1"), (38, "1"), (40, "2"), (44, "3333"), (59, "1"),
                       (60, now())]), sid44)
        fill44 = wait("CLIENT1", lambda f: f.get("35") == "8" and f.get("11") == "qf44-1" and f.get("150") == "F")
        step("fix44_partial_fill", fill44 is not None and fill44.get("39") == "1" and fill44.get("32") == "0.4")
        fill42 = wait("CLIENT42", lambda f: f.get("35") == "8" and f.get("11") == "qf42-1" and f.get("150") == "2")
        step("fix42_fill", fill42 is not None and fill42.get("39") == "2" and fill42.get("20") == "0")
        inc = wait("CLIENT1", lambda f: f.get("35") == "X" and f.get("262") == "qf-md")
        step("md_incremental", inc is not None)

        send(msg("G", [(11, "qf44-2"), (41, "qf44-1"), (55, "ETH-USD"), (54, "1"), (38, "0.8"), (40, "2"),
                       (44, "3332"), (60, now())]), sid44)
        rep = wait("CLIENT1", lambda f: f.get("35") == "8" and f.get("11") == "qf44-2" and f.get("150") == "5")
        step("replace", rep is not None and rep.get("151") == "0.4" and rep.get("44") == "3332")

        send(msg("H", [(11, "qf44-2"), (54, "1"), (55, "ETH-USD")]), sid44)
        st = wait("CLIENT1", lambda f: f.get("35") == "8" and f.get("150") == "I")
        step("status", st is not None and st.get("39") == "1")

        send(msg("F", [(11, "qf44-3"), (41, "qf44-2"), (55, "ETH-USD"), (54, "1"), (60, now())]), sid44)
        can = wait("CLIENT1", lambda f: f.get("35") == "8" and f.get("11") == "qf44-3")
        step("cancel", can is not None and can.get("150") == "4")

        send(msg("F", [(11, "qf44-4"), (41, "nope"), (55, "ETH-USD"), (54, "1"), (60, now())]), sid44)
        cxr = wait("CLIENT1", lambda f: f.get("35") == "9" and f.get("11") == "qf44-4")
        step("cancel_reject", cxr is not None and cxr.get("102") == "1")

        send(msg("q", [(11, "qf-mc"), (530, "7"), (60, now())]), sid44)
        step("mass_cancel", wait("CLIENT1", lambda f: f.get("35") == "r" and f.get("11") == "qf-mc") is not None)

        send(msg("D", [(11, "qf44-bad"), (55, "NOPE"), (54, "1"), (38, "1"), (40, "2"), (44, "1"), (59, "1"),
                       (60, now())]), sid44)
        bad = wait("CLIENT1", lambda f: f.get("35") == "8" and f.get("11") == "qf44-bad")
        step("reject", bad is not None and bad.get("150") == "8" and bad.get("103") == "1")

        send(msg("e", [(324, "qf-ss"), (55, "ETH-USD"), (263, "0")]), sid42)
        ss = wait("CLIENT42", lambda f: f.get("35") == "f" and f.get("324") == "qf-ss")
        step("security_status_42", ss is not None and ss.get("326") == "17")

        send(msg("D", [(11, "qf42-bad"), (21, "1"), (55, "ETH-USD"), (54, "1"), (38, "0.0001"), (40, "2"),
                       (44, "3000"), (59, "1"), (60, now())]), sid42)
        bad42 = wait("CLIENT42", lambda f: f.get("35") == "8" and f.get("11") == "qf42-bad")
        step("reject_42", bad42 is not None and bad42.get("150") == "8" and bad42.get("103") == "0")

        for sid in (sid44, sid42):
            fix.Session.lookupSession(sid).logout("done")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with cond:
                off = {ev["session"] for ev in events if ev["cb"] == "onLogout"}
            if off >= set(SESSIONS):
                break
            time.sleep(0.05)
        step("logout", off >= set(SESSIONS))
    finally:
        initiator.stop(True)
        with cond:
            Path(report_path).write_text(json.dumps({"steps": steps, "events": events}, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(run(sys.argv[1], sys.argv[2]))
