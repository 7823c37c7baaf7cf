"""fixvenue's own FIX engine: codec, dictionaries, validation, a sans-IO session, asyncio transports.

Layers (each usable alone)
--------------------------
``fix.codec``
    ``decode(frame) -> Message`` (BodyLength/CheckSum verified, raises ``GarbledMessage``),
    ``FrameReader(max_message_size)`` (``feed(bytes)``, ``next_frame() -> bytes | None``),
    ``Message(msg_type=None, fields=None)`` with ``append(tag, value)``, ``extend(pairs)``,
    ``set``, ``remove``, ``get(tag) -> bytes | None``, ``get_str``, ``get_int``,
    ``get_decimal``, ``get_all``, ``fields() -> [(int, bytes)]``, ``msg_type``,
    ``group(count_tag, group_def) -> [Message]`` (lazy), ``Encoder(...).encode(msg, seq, now)``,
    ``encode_fields(pairs) -> bytes``.
``fix.dictionary``
    ``load("FIX.4.2" | "FIX.4.4") -> DataDictionary`` from ``config/fix/*.json`` (located as
    ``Path(fix.__file__).parent.parent / "config" / "fix"``); ``dd.field(tag)``, ``dd.tag(name)``,
    ``dd.message(msg_type)``, ``dd.group(msg_type, count_tag)``. The JSON is produced by
    ``python -m fix.tools.convert_dictionary ../shared/fix-spec/FIX42.xml ...``.
``fix.validation``
    ``validate(msg, dd)`` raises ``ValidationError(reason, tag)`` in QuickFIX's check order
    (373 codes 0, 1, 2, 4, 5, 6, 11, 13, 14, 16).
``fix.session``
    ``Session(config, store, *, initiator=False, dictionary=None, clock=time.time,
    logon_validator=None)``: sans-IO. ``connection_made()``, ``receive_data(bytes)``,
    ``next_event() -> Event | NEED_DATA``, ``data_to_send() -> bytes``, ``tick()``,
    ``connection_lost()``; application side ``send(msg) -> seq``, ``reject(ref, reason, tag,
    text)``, ``business_reject(ref, reason, text, ref_tag, ref_id)``, ``logout(text)``.
    Events: ``LoggedOn``, ``AppMessage(message, poss_dup)``, ``RejectReceived``,
    ``LoggedOut(reason)``, ``CloseConnection(reason)``.
``fix.store``
    ``MessageStore`` protocol; ``MemoryStore()``, ``FileStore(dir, key, fsync=True)``,
    ``SqlStore(url, key)`` (SQLAlchemy 2: sqlite:///..., postgresql+psycopg://...).
``fix.config``
    pydantic models ``SessionConfig``, ``ScheduleConfig``, ``StoreConfig``, ``TLSConfig``,
    ``AcceptorConfig``, ``InitiatorConfig``.
``fix.transport``
    ``Application`` (override ``on_logon(session)``, ``on_logout(session, reason)``,
    ``on_message(session, message)``, ``on_reject(session, message)``,
    ``validate_logon(session_id, message)``; sync or async), ``SessionHandle``
    (``send``, ``reject``, ``business_reject``, ``logout``, ``close``, ``wait_logged_on``,
    ``wait_closed``, ``session_id``, ``is_logged_on``), ``Acceptor(AcceptorConfig, app)``
    (``start()``, ``port``, ``handles``, ``stop()``, async context manager) and
    ``async connect_initiator(InitiatorConfig, app, store=None) -> SessionHandle``.
    In ``on_message`` raise ``UnsupportedMessageType``, ``BusinessReject(reason, text)`` or
    ``SessionReject(reason, tag, text)`` to reject; any other exception is logged and
    answered with BusinessMessageReject 380=0 - it never kills the session.
``fix.conformance``
    ``EchoApplication`` and ``acceptor_config()`` for the QuickFIX acceptance suite
    (``fixvenue conformance-server``).

Errors (``fix.errors``): ``FixError`` > ``LocalProtocolError`` (our misuse),
``RemoteProtocolError`` > ``GarbledMessage``, ``ValidationError``, ``UnsupportedVersion``;
``ConfigError``, ``StoreError``; application rejects ``UnsupportedMessageType``,
``BusinessReject``, ``SessionReject``, ``RejectLogon``.

Minimal venue-side use::

    class Gateway(Application):
        async def on_message(self, session, msg):
            if msg.msg_type != b"D":
                raise UnsupportedMessageType()
            session.send(Message("8", [(37, "1"), (11, msg.get(11)), ...]))

    acceptor = await Acceptor(AcceptorConfig(port=9878, sessions=[...]), Gateway()).start()
"""

from .codec import Encoder, FrameReader, Message, decode, encode_fields
from .errors import (
    BusinessReject,
    ConfigError,
    FixError,
    GarbledMessage,
    LocalProtocolError,
    RejectLogon,
    RemoteProtocolError,
    SessionReject,
    UnsupportedMessageType,
    ValidationError,
)

__all__ = [
    "Encoder",
    "FrameReader",
    "Message",
    "decode",
    "encode_fields",
    "BusinessReject",
    "ConfigError",
    "FixError",
    "GarbledMessage",
    "LocalProtocolError",
    "RejectLogon",
    "RemoteProtocolError",
    "SessionReject",
    "UnsupportedMessageType",
    "ValidationError",
]
