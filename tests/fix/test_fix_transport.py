"""asyncio acceptor and initiator over real TCP on 127.0.0.1 (and TLS)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess

import pytest

from fix.codec import FrameReader, Message, decode, encode_fields
from fix.config import AcceptorConfig, InitiatorConfig, SessionConfig, TLSConfig
from fix.conformance import EchoApplication, acceptor_config, echo_message
from fix.errors import BusinessReject
from fix.timestamps import format_utc
from fix.transport import Acceptor, Application, connect_initiator

import time

TIMEOUT = 10.0


class Recorder(Application):
    def __init__(self) -> None:
        self.messages: asyncio.Queue = asyncio.Queue()
        self.logons = 0
        self.logouts: list[str] = []

    def on_logon(self, session):
        self.logons += 1

    async def on_logout(self, session, reason):
        self.logouts.append(reason)

    async def on_message(self, session, message):
        await self.messages.put(message)


class VenueApp(Application):
    """Echoes orders; raises on symbol CRASH; rejects symbol BAD as a business reject."""

    def on_message(self, session, message):
        sym = message.get(55)
        if sym == b"CRASH":
            raise RuntimeError("application bug")
        if sym == b"BAD":
            raise BusinessReject(2, "Unknown security")
        session.send(Message("8", [(37, "O1"), (17, "E1"), (150, "0"), (39, "0"), (55, sym), (54, "1"),
                                   (151, "1"), (14, "0"), (6, "0"), (11, message.get(11))]))


def order(cl: str, sym: str = "EUR/USD") -> Message:
    return Message("D", [(11, cl), (21, "1"), (55, sym), (54, "1"), (60, format_utc(time.time(), 0)), (40, "1"), (38, "100")])


def venue_config(**kw) -> AcceptorConfig:
    sessions = [SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT", **kw),
                SessionConfig(sender_comp_id="VENUE", target_comp_id="OTHER")]
    return AcceptorConfig(host="127.0.0.1", port=0, sessions=sessions)


def client_config(port: int, target_comp: str = "VENUE", sender: str = "CLIENT", tls: TLSConfig | None = None, **kw) -> InitiatorConfig:
    return InitiatorConfig(host="127.0.0.1", port=port, tls=tls,
                           session=SessionConfig(sender_comp_id=sender, target_comp_id=target_comp, heartbeat_interval=5,
                                                 logon_timeout=3, **kw))


async def test_initiator_logs_on_exchanges_messages_and_logs_out():
    async with Acceptor(venue_config(), VenueApp()) as acc:
        app = Recorder()
        handle = await connect_initiator(client_config(acc.port), app, timeout=TIMEOUT)
        assert handle.is_logged_on and app.logons == 1
        handle.send(order("C1"))
        er = await asyncio.wait_for(app.messages.get(), TIMEOUT)
        assert er.msg_type == b"8" and er.get(11) == b"C1"
        await handle.close(TIMEOUT)
        assert app.logouts and not handle.is_logged_on


async def test_application_exception_answered_with_business_reject_and_session_survives():
    async with Acceptor(venue_config(), VenueApp()) as acc:
        app = Recorder()
        handle = await connect_initiator(client_config(acc.port), app, timeout=TIMEOUT)
        handle.send(order("C1", "CRASH"))
        bmr = await asyncio.wait_for(app.messages.get(), TIMEOUT)
        assert bmr.msg_type == b"j" and bmr.get(380) == b"0" and bmr.get(45) == b"2"
        handle.send(order("C2", "BAD"))
        bmr = await asyncio.wait_for(app.messages.get(), TIMEOUT)
        assert bmr.get(380) == b"2" and bmr.get(58) == b"Unknown security"
        handle.send(order("C3"))
        er = await asyncio.wait_for(app.messages.get(), TIMEOUT)
        assert er.get(11) == b"C3"
        await handle.close(TIMEOUT)


async def test_second_connection_for_same_session_is_refused():
    async with Acceptor(venue_config(), VenueApp()) as acc:
        first = await connect_initiator(client_config(acc.port), Recorder(), timeout=TIMEOUT)
        with pytest.raises(ConnectionError):
            await connect_initiator(client_config(acc.port), Recorder(), timeout=TIMEOUT)
        assert first.is_logged_on
        # a different session on the same port still works
        other = await connect_initiator(client_config(acc.port, sender="OTHER"), Recorder(), timeout=TIMEOUT)
        assert other.is_logged_on
        await first.close(TIMEOUT)
        await other.close(TIMEOUT)


async def test_unknown_comp_id_and_disallowed_address_are_refused():
    async with Acceptor(venue_config(allowed_addresses=["10.0.0.0/8"]), VenueApp()) as acc:
        with pytest.raises(ConnectionError):
            await connect_initiator(client_config(acc.port, sender="NOBODY"), Recorder(), timeout=TIMEOUT)
        with pytest.raises(ConnectionError):
            await connect_initiator(client_config(acc.port), Recorder(), timeout=TIMEOUT)  # 127.0.0.1 not allowed


async def _raw_exchange(port: int, payload: bytes, read_for: float = 1.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    data = b""
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), read_for)
            if not chunk:
                break
            data += chunk
    except asyncio.TimeoutError:
        pass
    writer.close()
    return data


async def test_bad_input_does_not_disturb_other_sessions():
    cfg = venue_config(max_message_size=4096)
    async with Acceptor(cfg, VenueApp()) as acc:
        good = await connect_initiator(client_config(acc.port, sender="OTHER"), Recorder(), timeout=TIMEOUT)
        # garbage, an endless message and an oversized one on other connections
        await _raw_exchange(acc.port, b"\x00\xff" * 5000, 0.3)
        await _raw_exchange(acc.port, b"8=FIX.4.4\x019=99999999\x0135=A\x01" + b"x" * 200_000, 0.3)
        logon = encode_fields([(8, "FIX.4.4"), (35, "A"), (34, 1), (49, "CLIENT"), (52, format_utc(time.time(), 0)),
                               (56, "VENUE"), (98, 0), (108, 30)])
        reply = await _raw_exchange(acc.port, logon + b"8=FIX.4.4\x019=100000\x0135=D\x01" + b"y" * 10_000, 0.5)
        r = FrameReader()
        r.feed(reply)
        assert decode(r.next_frame()).msg_type == b"A"  # logged on despite the junk that followed
        assert good.is_logged_on
        app = good.application
        good.send(order("STILL"))
        # OTHER's orders are echoed by VenueApp
        er = await asyncio.wait_for(app.messages.get(), TIMEOUT)
        assert er.get(11) == b"STILL"
        await good.close(TIMEOUT)


def _self_signed(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("TLS test needs the openssl command to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


async def test_tls_acceptor_and_initiator(tmp_path):
    cert, key = _self_signed(tmp_path)
    cfg = venue_config()
    cfg.tls = TLSConfig(cert_file=cert, key_file=key)
    async with Acceptor(cfg, VenueApp()) as acc:
        app = Recorder()
        tls = TLSConfig(ca_file=cert, server_hostname="localhost")
        handle = await connect_initiator(client_config(acc.port, tls=tls), app, timeout=TIMEOUT)
        handle.send(order("TLS1"))
        er = await asyncio.wait_for(app.messages.get(), TIMEOUT)
        assert er.get(11) == b"TLS1"
        await handle.close(TIMEOUT)


async def test_conformance_acceptor_echo_and_business_reject():
    async with Acceptor(acceptor_config(), EchoApplication()) as acc:
        app = Recorder()
        handle = await connect_initiator(client_config(acc.port, target_comp="ISLD", sender="TW44", reset_on_logon=True),
                                         app, timeout=TIMEOUT)
        handle.send(order("E1"))
        echo = await asyncio.wait_for(app.messages.get(), TIMEOUT)
        assert echo.msg_type == b"D" and echo.get(11) == b"E1" and echo.get(49) == b"ISLD"
        handle.send(Message("8", [(37, "x"), (17, "y"), (150, "0"), (39, "0"), (55, "X"), (54, "1"),
                                  (151, "1"), (14, "0"), (6, "0")]))
        bmr = await asyncio.wait_for(app.messages.get(), TIMEOUT)
        assert bmr.msg_type == b"j" and bmr.get(380) == b"3"
        await handle.close(TIMEOUT)


def test_echo_message_sorts_body_and_keeps_groups_and_header_extras():
    raw = encode_fields([(8, "FIX.4.2"), (35, "D"), (49, "TW42"), (34, 3), (56, "ISLD"), (52, "20231114-22:13:20"),
                         (97, "Y"), (43, "Y"), (122, "20231114-22:13:19"), (40, "1"), (386, 2), (336, "A"), (336, "B"),
                         (11, "id"), (55, "MSFT")])
    echo = echo_message(decode(raw), "FIX.4.2")
    assert [t for t, _ in echo.fields()] == [35, 97, 11, 40, 55, 386, 336, 336]


def test_conformance_server_prints_where_it_listens():
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "conformance-server", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        line = proc.stdout.readline().decode()
        assert f"127.0.0.1:{port}" in line and "TW42" in line and "TW44" in line
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
