"""The acceptance-suite echo application and its acceptor configuration.

QuickFIX's session-level acceptance definitions (../shared/fix-acceptance) script a
client against an acceptor whose SenderCompID is ISLD, with ResetOnLogon=Y and an
application that

* echoes every NewOrderSingle (35=D) and SecurityDefinition (35=d) back to the sender,
* ignores a PossResend (97=Y) NewOrderSingle whose ClOrdID it already saw in the
  current logon,
* answers any other application message with BusinessMessageReject (35=j, 380=3).

The echo keeps every field of the received message except the ones the session
rewrites (8, 9, 10, 34, 49, 52, 56; PossDupFlag and OrigSendingTime are dropped as
QuickFIX's Session::send does), and writes the body in tag-number order with repeating
groups kept intact - the order QuickFIX's message objects serialise in.
"""

from __future__ import annotations

from .codec import Message
from .config import AcceptorConfig, SessionConfig, StoreConfig
from .dictionary import load as load_dictionary
from .errors import UnsupportedMessageType
from .transport import Application, SessionHandle
from .validation import body_units, layout

SENDER_COMP_ID = "ISLD"
COUNTERPARTIES = (("FIX.4.2", "TW42"), ("FIX.4.4", "TW44"))
ECHOED = (b"D", b"d")


def echo_message(msg: Message, begin_string: str) -> Message:
    """The echo of `msg`: same MsgType, same header extras, body in tag order."""
    dd = load_dictionary(begin_string)
    lay = layout(msg, dd)
    out = Message(msg.msg_type)
    for t, v in sorted(lay.header.fields, key=lambda tv: int(tv[0])):
        if t in (b"8", b"9", b"35", b"34", b"49", b"52", b"56", b"43", b"122"):
            continue
        out.append(int(t), v)
    for _tag, unit in body_units(lay):
        for t, v in unit:
            out.append(int(t), v)
    return out


class EchoApplication(Application):
    """See module docstring."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], set[bytes]] = {}

    def on_logon(self, session: SessionHandle) -> None:
        self._seen[session.session_id] = set()

    def on_logout(self, session: SessionHandle, reason: str) -> None:
        self._seen.pop(session.session_id, None)

    def on_message(self, session: SessionHandle, message: Message) -> None:
        mt = message.msg_type
        if mt not in ECHOED:
            raise UnsupportedMessageType()
        if mt == b"D":
            seen = self._seen.setdefault(session.session_id, set())
            cl_ord_id = message.get(11, b"")
            if message.get(97) == b"Y" and cl_ord_id in seen:
                return
            seen.add(cl_ord_id)
        session.send(echo_message(message, session.config.begin_string))


def acceptor_config(host: str = "127.0.0.1", port: int = 0) -> AcceptorConfig:
    """ISLD serving TW42 (FIX.4.2) and TW44 (FIX.4.4), ResetOnLogon=Y, in-memory stores."""
    sessions = [
        SessionConfig(begin_string=begin, sender_comp_id=SENDER_COMP_ID, target_comp_id=target,
                      heartbeat_interval=30, reset_on_logon=True, store=StoreConfig(kind="memory"))
        for begin, target in COUNTERPARTIES
    ]
    return AcceptorConfig(host=host, port=port, sessions=sessions)
