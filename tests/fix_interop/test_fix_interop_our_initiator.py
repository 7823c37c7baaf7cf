"""Our initiator trades with the real QuickFIX engine as acceptor.

QuickFIX's SocketAcceptor (subprocess, kept on 127.0.0.1 by the bind shim) runs the
acceptance echo application and validates every message against its data dictionary,
so a malformed message from us would come back as a session Reject.  Our initiator
(``fix.transport.connect_initiator``) logs on as TW44 / TW42, sends orders (echoed), an
OrderCancelRequest (answered with BusinessMessageReject 380=3), and logs out.

Written against the API in fix/transport.py, fix/config.py and fix/codec.py as it
stands (``connect_initiator``, ``InitiatorConfig``, ``SessionConfig``, ``Application``,
``Message``).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from fix.codec import Message
from fix.config import InitiatorConfig, SessionConfig
from fix.transport import Application, SessionHandle, connect_initiator

WAIT = 10.0


class Recorder(Application):
    """Collects what QuickFIX sends us."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.rejects: list[Message] = []
        self.logons = 0
        self.logouts: list[str] = []

    def on_logon(self, session: SessionHandle) -> None:
        self.logons += 1

    def on_logout(self, session: SessionHandle, reason: str) -> None:
        self.logouts.append(reason)

    def on_message(self, session: SessionHandle, message: Message) -> None:
        self.messages.put_nowait(message)

    def on_reject(self, session: SessionHandle, message: Message) -> None:
        self.rejects.append(message)

    async def next(self) -> Message:
        return await asyncio.wait_for(self.messages.get(), WAIT)


def utc_now() -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())


def order(cl_ord_id: str) -> Message:
    return Message(
        b"D",
        [(11, cl_ord_id), (21, "1"), (38, "100"), (40, "2"), (44, "12.5"), (54, "1"), (55, "INTC"), (60, utc_now())],
    )


@pytest.mark.parametrize("begin, comp_id", [("FIX.4.4", "TW44"), ("FIX.4.2", "TW42")])
async def test_our_initiator_trades_with_quickfix_acceptor(begin, comp_id, quickfix_echo_acceptor):
    config = InitiatorConfig(
        host="127.0.0.1",
        port=quickfix_echo_acceptor.port,
        session=SessionConfig(
            begin_string=begin,
            sender_comp_id=comp_id,
            target_comp_id="ISLD",
            heartbeat_interval=30,
            reset_on_logon=True,
        ),
    )
    app = Recorder()
    handle = await connect_initiator(config, app, timeout=WAIT)
    try:
        assert handle.is_logged_on and app.logons == 1

        for i in (1, 2, 3):
            handle.send(order(f"OUR-{i}"))
        echoes = [await app.next() for _ in range(3)]
        assert [(e.msg_type, e.get(11), e.get(44), e.get(55)) for e in echoes] == [
            (b"D", f"OUR-{i}".encode(), b"12.5", b"INTC") for i in (1, 2, 3)
        ]

        cancel = Message(
            b"F", [(11, "OUR-C1"), (38, "100"), (41, "OUR-1"), (54, "1"), (55, "INTC"), (60, utc_now())]
        )
        cancel_seq = handle.send(cancel)
        answer = await app.next()
        assert answer.msg_type == b"j"
        assert (answer.get(45), answer.get(372), answer.get(380)) == (str(cancel_seq).encode(), b"F", b"3")

        # QuickFIX validated everything we sent: no session-level Reject came back, and
        # both sides counted exactly logon + 4 application messages each way.
        assert app.rejects == []
        assert handle.session.next_sender_seq == 6
        assert handle.session.next_target_seq == 6
    finally:
        await handle.close(timeout=WAIT)
    assert not handle.is_logged_on
    assert len(app.logouts) == 1
