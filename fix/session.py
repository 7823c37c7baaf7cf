"""The FIX session layer as a sans-IO state machine (in the style of h11 / wsproto).

`Session` never touches a socket or a timer. Feed it bytes with `receive_data()`,
pull what happened with `next_event()` until it returns `NEED_DATA`, send what
`data_to_send()` returns, and call `tick()` about once a second so heartbeats,
test requests and timeouts happen. Application messages go out with `send()`.

Behaviour follows the FIX session protocol as QuickFIX implements it (the acceptance
definitions under ../shared/fix-acceptance pin it down): logon with CompID, SendingTime,
credential and sequence checks; heartbeats and TestRequest; gap detection with
ResendRequest and queueing of early messages; answering ResendRequests with
SequenceReset-GapFill for admin messages and PossDup copies of application messages;
both SequenceReset modes; MsgSeqNum too low -> Logout; PossDup/OrigSendingTime rules;
SendingTime accuracy; data-dictionary validation answered with Reject (35=3) and the
right SessionRejectReason; garbled messages dropped silently; Logout handshake.

Messages are processed lazily, one per `next_event()` call at most, so an application
that answers a message (in its handler) does so before the session looks at the next
one — replies leave in the order QuickFIX would send them.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from .codec import DATA_LENGTH_TAGS, Encoder, FrameReader, Message, decode, tag_bytes
from .config import SessionConfig
from .dictionary import ADMIN_MSG_TYPES, DataDictionary, load as load_dictionary
from .errors import (
    BUSINESS_REJECT_TEXT,
    REJECT_TEXT,
    GarbledMessage,
    LocalProtocolError,
    RejectLogon,
    StoreError,
    ValidationError,
)
from .store import MessageStore
from .timestamps import format_utc, parse_utc
from .validation import validate

log = logging.getLogger("fix.session")


# ---------------------------------------------------------------------------------------
# events


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()
"""`next_event()` returns this when it needs more bytes (or a `tick()`)."""


class Event:
    """Base class of session events."""


@dataclass(slots=True)
class LoggedOn(Event):
    """The logon handshake completed; application messages may flow."""

    session_id: tuple[str, str, str]
    reset: bool = False


@dataclass(slots=True)
class AppMessage(Event):
    """An in-sequence, validated application message for the application."""

    message: Message
    poss_dup: bool = False


@dataclass(slots=True)
class RejectReceived(Event):
    """The counterparty rejected one of our messages at session level (35=3)."""

    message: Message


@dataclass(slots=True)
class LoggedOut(Event):
    """A logged-on session ended (logout handshake, error or lost connection)."""

    reason: str


@dataclass(slots=True)
class CloseConnection(Event):
    """The transport must send what is pending and close the connection."""

    reason: str


ALWAYS_SENT = frozenset({b"A", b"5", b"2", b"4"})  # admin types sent even when not logged on
_TOO_LOW_TEXT = "MsgSeqNum too low, expecting {} but received {}"
_TEST_REQ_ID = b"TEST"

# reverse routing: header tag of the inbound message -> tag in our reject
_ROUTES = ((b"115", 128), (b"128", 115), (b"116", 129), (b"129", 116))
_LOCATION_ROUTES = ((b"144", 145), (b"145", 144))


def _int(v: bytes | None) -> int | None:
    if v is None:
        return None
    if v.isdigit() or (v[:1] == b"-" and v[1:].isdigit()):
        return int(v)
    return None


class Session:
    """One FIX session (our CompID <-> their CompID), across connections.

    Sequence numbers and sent messages live in `store`; everything about the current
    connection is reset by `connection_made()` / `connection_lost()`.
    """

    def __init__(
        self,
        config: SessionConfig,
        store: MessageStore,
        *,
        initiator: bool = False,
        dictionary: DataDictionary | None = None,
        clock: Callable[[], float] = time.time,
        logon_validator: Callable[[Message], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.initiator = initiator
        self.dd = dictionary or load_dictionary(config.begin_string)
        self.clock = clock
        self.logon_validator = logon_validator
        self.session_id = config.session_id
        self.begin_string = config.begin_string
        self._begin = config.begin_string.encode()
        self._ver = {"FIX.4.0": 40, "FIX.4.1": 41, "FIX.4.2": 42, "FIX.4.3": 43, "FIX.4.4": 44}.get(config.begin_string, 50)
        self._sender = config.sender_comp_id.encode()
        self._target = config.target_comp_id.encode()
        self.encoder = Encoder(config.begin_string, config.sender_comp_id, config.target_comp_id,
                               self.dd.header_tags, config.timestamp_precision)
        self._data_tags = self.dd.data_length_tags | DATA_LENGTH_TAGS
        self._out = bytearray()
        self._events: deque[Event] = deque()
        self._connected = False
        self._closed = True
        self._reset_connection_state()

    # -- connection lifecycle ---------------------------------------------------------
    def _reset_connection_state(self) -> None:
        now = self.clock()
        self._reader = FrameReader(self.config.max_message_size)
        self._received_logon = False
        self._sent_logon = False
        self._sent_logout = False
        self._received_reset = False
        self._sent_reset = False
        self._announced = False
        self._queue: dict[int, Message] = {}
        self._resend_range: tuple[int, int] | None = None
        self._test_requests = 0
        self._hb = self.config.heartbeat_interval
        self._last_sent = now
        self._last_received = now
        self._connected_at = now
        self._logon_sent_at = 0.0
        self._logout_sent_at = 0.0

    def connection_made(self) -> None:
        """A transport connected. An initiator queues its Logon immediately."""
        self._reset_connection_state()
        self._events.clear()
        self._out.clear()
        self._connected = True
        self._closed = False
        self._check_schedule(self.clock())
        if self.initiator and not self._closed:
            self._send_logon()

    def connection_lost(self) -> None:
        """The transport is gone (either side closed it)."""
        if not self._closed:
            self._disconnect("connection lost")
        self._connected = False

    @property
    def is_connected(self) -> bool:
        return self._connected and not self._closed

    @property
    def is_logged_on(self) -> bool:
        return self._received_logon and self._sent_logon and not self._closed

    @property
    def next_sender_seq(self) -> int:
        return self.store.next_sender_seq()

    @property
    def next_target_seq(self) -> int:
        return self.store.next_target_seq()

    @property
    def heartbeat_interval(self) -> int:
        return self._hb

    # -- sans-IO plumbing ------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Bytes from the counterparty (any split; frames are reassembled)."""
        if self._connected and not self._closed:
            self._reader.feed(data)

    def data_to_send(self) -> bytes:
        """Bytes to write to the counterparty now (empty if none)."""
        if not self._out:
            return b""
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_event(self) -> Event | _NeedData:
        """Process input until something happens; `NEED_DATA` when input is exhausted."""
        while True:
            if self._events:
                return self._events.popleft()
            if self._closed:
                return NEED_DATA
            if self._queue:
                expected = self.store.next_target_seq()
                queued = self._queue.pop(expected, None)
                if queued is not None:
                    mt = queued.values[2]
                    if mt == b"A" or mt == b"2":
                        self._incr_target()
                    else:
                        self._guarded(self._process, queued)
                    continue
            frame = self._reader.next_frame()
            if frame is None:
                return NEED_DATA
            self._guarded(self._on_frame, frame)

    def _guarded(self, fn, arg) -> None:
        """Bad input must never take the session down: a store failure disconnects (as in
        QuickFIX), any other unexpected error drops just that message and is logged."""
        try:
            fn(arg)
        except (OSError, StoreError) as exc:
            log.error("%s: message store failure: %s", self.config.key, exc)
            self._disconnect("message store failure")
        except Exception:
            log.exception("%s: unexpected error while processing a message; dropped", self.config.key)

    def tick(self) -> None:
        """Timers: heartbeats, test requests, logon/logout/heartbeat timeouts, schedule."""
        if self._closed or not self._connected:
            return
        now = self.clock()
        in_session = self._check_schedule(now)
        if self._closed:
            return
        if not self._received_logon:
            if self.initiator:
                if self._sent_logon and now - self._logon_sent_at >= self.config.logon_timeout:
                    self._disconnect("Timed out waiting for logon response")
            elif now - self._connected_at >= self.config.logon_timeout:
                self._disconnect("Timed out waiting for logon")
            return
        if self._sent_logout:
            # waiting for the logout answer: no heartbeats, just the timeout
            if now - self._logout_sent_at >= self.config.logout_timeout:
                self._disconnect("Timed out waiting for logout response")
            return
        hb = self._hb
        if not in_session:
            return
        if hb <= 0:
            return
        since_sent = now - self._last_sent
        since_received = now - self._last_received
        if since_sent < hb and since_received < hb:
            return
        if since_received >= 2.4 * hb:
            self._disconnect("Timed out waiting for heartbeat")
        elif since_received >= 1.2 * (self._test_requests + 1) * hb:
            self._send_admin(Message(b"1").append(112, _TEST_REQ_ID))
            self._test_requests += 1
        elif since_sent >= hb and self._test_requests == 0:
            self._send_admin(Message(b"0"))

    # -- application API ----------------------------------------------------------------------
    def send(self, msg: Message) -> int:
        """Send an application message; returns its MsgSeqNum.

        The message is persisted even when not logged on (QuickFIX semantics): the
        counterparty gets it through a ResendRequest after the next logon.
        """
        mt = msg.msg_type
        if mt is None:
            raise LocalProtocolError("message has no MsgType (35)")
        if mt in ADMIN_MSG_TYPES:
            raise LocalProtocolError(f"admin message 35={mt.decode()} cannot be sent by the application")
        return self._emit(msg)

    def logout(self, text: str = "") -> None:
        """Start the logout handshake (or just close if not logged on)."""
        if self._closed:
            return
        if self.is_logged_on and not self._sent_logout:
            self._send_logout(text)
        elif not self.is_logged_on:
            self._disconnect(text or "logout")

    def reject(self, ref: Message, reason: int, tag: int | None = None, text: str | None = None) -> None:
        """Answer `ref` with a session-level Reject (35=3)."""
        self._reject(ref, reason, tag_bytes(tag) if tag is not None else None, text, increment=False)

    def business_reject(self, ref: Message, reason: int, text: str | None = None,
                        ref_tag: int | None = None, ref_id: str | None = None) -> None:
        """Answer `ref` with a BusinessMessageReject (35=j)."""
        self._business_reject(ref, reason, text, tag_bytes(ref_tag) if ref_tag is not None else None, ref_id, increment=False)

    def reset_sequence_numbers(self) -> None:
        """Forget stored messages and restart both sequence numbers at 1."""
        self.store.reset()

    # -- frame handling ---------------------------------------------------------------------
    def _on_frame(self, frame: bytes) -> None:
        try:
            msg = decode(frame, self._data_tags)
        except GarbledMessage as exc:
            log.info("%s: dropped garbled message (%s)", self.config.key, exc)
            if b"\x0135=A\x01" in frame[:40]:
                self._disconnect("garbled logon")
            return
        self._process(msg)

    def _process(self, msg: Message) -> None:
        idx = msg._idx()
        mt = idx.get(b"35", b"")
        if b"49" not in idx or b"56" not in idx:
            missing = b"49" if b"49" not in idx else b"56"
            if self._ver >= 42 and not self.dd.is_admin(mt):
                self._business_reject(msg, 5, None, missing, None, increment=True)
            else:
                self._reject(msg, 1, missing)
                if mt == b"A":
                    self._disconnect("Required field missing from logon")
            return
        if idx.get(b"8") != self._begin:
            if mt == b"5":
                self._next_logout(msg)
            else:
                self._send_logout("Incorrect BeginString")
                self._incr_target()
            return
        try:
            validate(msg, self.dd)
        except ValidationError as exc:
            log.info("%s: message %s rejected: %s", self.config.key, idx.get(b"34"), exc)
            self._reject(msg, exc.reason, exc.tag_text)
            if mt == b"A" and not self.is_logged_on:
                self._disconnect("invalid logon")
            return
        if mt == b"A":
            self._next_logon(msg)
        elif mt == b"0":
            if self._verify(msg, True, True):
                self._incr_target()
        elif mt == b"1":
            if self._verify(msg, True, True):
                self._send_admin(Message(b"0").append(112, idx.get(b"112", b"")))
                self._incr_target()
        elif mt == b"4":
            self._next_sequence_reset(msg)
        elif mt == b"5":
            self._next_logout(msg)
        elif mt == b"2":
            self._next_resend_request(msg)
        elif mt == b"3":
            if self._verify(msg, False, True):
                self._events.append(RejectReceived(msg))
                self._incr_target()
        else:
            if self._verify(msg, True, True):
                self._events.append(AppMessage(msg, idx.get(b"43") == b"Y"))
                self._incr_target()

    # -- verification (QuickFIX's verify) -----------------------------------------------------
    def _valid_logon_state(self, mt: bytes) -> bool:
        if (mt == b"A" and self._sent_reset) or self._received_reset:
            return True
        if (mt == b"A" and not self._received_logon) or (mt != b"A" and self._received_logon):
            return True
        if mt == b"5" and self._sent_logon:
            return True
        if mt != b"5" and self._sent_logout:
            return True
        return mt == b"4" or mt == b"3"

    def _verify(self, msg: Message, check_high: bool = True, check_low: bool = True) -> bool:
        idx = msg._idx()
        mt = idx[b"35"]
        if not self._valid_logon_state(mt):
            self._disconnect("Logon state is not valid for message")
            return False
        now = self.clock()
        if self.config.check_latency:
            st = parse_utc(idx.get(b"52", b""))
            if st is None or abs(now - st) > self.config.max_latency:
                if not self._reject(msg, 10):
                    self._disconnect("SendingTime accuracy problem before logon")
                    return False
                self._send_logout()
                return False
        if idx[b"49"] != self._target or idx[b"56"] != self._sender:
            if not self._reject(msg, 9):
                self._disconnect("CompID problem before logon")
                return False
            self._send_logout()
            return False
        if check_high or check_low:
            seq = _int(idx.get(b"34"))
            if seq is None:
                self._disconnect("MsgSeqNum missing")
                return False
            expected = self.store.next_target_seq()
            if check_high and seq > expected:
                self._target_too_high(msg, seq, expected)
                return False
            if check_low and seq < expected:
                if idx.get(b"43") != b"Y":
                    text = _TOO_LOW_TEXT.format(expected, seq)
                    self._send_logout(text)
                    self._disconnect(text)
                    return False
                self._poss_dup_too_low(msg)
                return False
            if self._resend_range is not None and seq >= self._resend_range[1]:
                self._resend_range = None
        self._last_received = now
        self._test_requests = 0
        return True

    def _poss_dup_too_low(self, msg: Message) -> None:
        """A PossDup message we already have: ignore it, unless OrigSendingTime is wrong."""
        idx = msg._idx()
        if idx[b"35"] == b"4":
            return
        orig = idx.get(b"122")
        if orig is None:
            self._reject(msg, 1, b"122")
            return
        orig_t, sending_t = parse_utc(orig), parse_utc(idx.get(b"52", b""))
        if orig_t is not None and sending_t is not None and orig_t > sending_t:
            self._reject(msg, 10)
            self._send_logout()

    def _target_too_high(self, msg: Message, seq: int, expected: int) -> None:
        log.info("%s: MsgSeqNum too high, expecting %d but received %d", self.config.key, expected, seq)
        self._queue[seq] = msg
        rng = self._resend_range
        if rng is not None and seq >= rng[0]:
            return  # a ResendRequest covering this gap is already out
        m = Message(b"2").append(7, expected).append(16, 0 if self._ver >= 42 else seq - 1)
        self._send_admin(m)
        self._resend_range = (expected, seq - 1)

    # -- admin message handlers ---------------------------------------------------------------
    def _next_logon(self, msg: Message) -> None:
        idx = msg._idx()
        reset_flag = idx.get(b"141") == b"Y"
        self._received_reset = reset_flag
        if reset_flag and not self._sent_reset:
            self.store.reset()
        if self.initiator and not self._sent_logon and not reset_flag:
            self._disconnect("Received logon response before sending request")
            return
        if not self.initiator and self.config.reset_on_logon:
            self.store.reset()
        if not self._check_schedule(self.clock(), refuse_logon=True):
            return
        if not self._verify(msg, False, True):
            return
        if not self.initiator:
            failure = self._check_credentials(msg)
            if failure is not None:
                self._send_logout(failure)
                self._disconnect(failure)
                return
        hb = _int(idx.get(b"108"))
        if hb is None or hb < 0:
            self._send_logout("Invalid HeartBtInt")
            self._disconnect("Invalid HeartBtInt")
            return
        self._received_logon = True
        if not self.initiator or (self._received_reset and not self._sent_reset):
            self._hb = hb
            reply = Message(b"A").append(98, 0).append(108, hb)
            if self._received_reset:
                reply.append(141, b"Y")
            self._send_admin(reply)
            self._sent_logon = True
        self._sent_reset = False
        self._received_reset = False
        seq = _int(idx[b"34"]) or 0
        expected = self.store.next_target_seq()
        if seq > expected and not reset_flag:
            self._target_too_high(msg, seq, expected)
        else:
            self._incr_target()
        if self.is_logged_on and not self._announced:
            self._announced = True
            self._events.append(LoggedOn(self.session_id, reset_flag))

    def _check_credentials(self, msg: Message) -> str | None:
        cfg = self.config
        if cfg.username is not None and msg.get(553) != cfg.username.encode():
            return "Invalid username or password"
        if cfg.password is not None and msg.get(554) != cfg.password.get_secret_value().encode():
            return "Invalid username or password"
        if self.logon_validator is not None:
            try:
                self.logon_validator(msg)
            except RejectLogon as exc:
                return exc.text
            except Exception as exc:  # an application bug must not let the logon through
                log.exception("%s: logon validator failed", cfg.key)
                return f"Logon rejected: {type(exc).__name__}"
        return None

    def _next_logout(self, msg: Message) -> None:
        if not self._verify(msg, False, False):
            return
        if not self._sent_logout:
            self._send_logout()
        self._incr_target()
        if self.config.reset_on_logout:
            self.store.reset()
        self._disconnect("logout")

    def _next_sequence_reset(self, msg: Message) -> None:
        idx = msg._idx()
        gap_fill = idx.get(b"123") == b"Y"
        if not self._verify(msg, gap_fill, gap_fill):
            return
        new_seq = _int(idx.get(b"36"))
        if new_seq is None:
            return
        expected = self.store.next_target_seq()
        if new_seq > expected:
            self.store.set_next_target_seq(new_seq)
        elif new_seq < expected:
            self._reject(msg, 5)

    def _next_resend_request(self, msg: Message) -> None:
        if not self._verify(msg, False, False):
            return
        idx = msg._idx()
        begin, end = _int(idx.get(b"7")) or 0, _int(idx.get(b"16")) or 0
        next_sender = self.store.next_sender_seq()
        if (self._ver >= 42 and end == 0) or (self._ver <= 42 and end == 999999) or end >= next_sender:
            end = next_sender - 1
        if 1 <= begin <= end:
            self._retransmit(begin, end, next_sender)
        seq = _int(idx.get(b"34"))
        if seq == self.store.next_target_seq():
            self._incr_target()

    def _retransmit(self, begin: int, end: int, next_sender: int) -> None:
        gap_begin = 0
        current = begin
        last = 0
        for seq, raw in self.store.get_range(begin, end):
            try:
                stored = decode(raw, self._data_tags)
                mt = stored.values[2]
            except GarbledMessage:
                stored, mt = None, b"0"
            if current != seq and not gap_begin:
                gap_begin = current
            if mt in ADMIN_MSG_TYPES or stored is None:
                if not gap_begin:
                    gap_begin = seq
            else:
                if gap_begin:
                    self._gap_fill(gap_begin, seq)
                    gap_begin = 0
                self._resend_app(stored, seq)
            current = seq + 1
            last = seq
        if gap_begin or end > last:
            start = gap_begin or (last + 1 if last else begin)
            self._gap_fill(start, min(end + 1, next_sender) if end > last else last + 1)

    def _resend_app(self, stored: Message, seq: int) -> None:
        orig = stored.get(52) or format_utc(self.clock(), self.config.timestamp_precision)
        body = Message._parsed(stored.tags[2:-1], stored.values[2:-1], None)
        raw = self.encoder.encode(body, seq, self.clock(), [(43, b"Y"), (122, orig)])
        self._write(raw, stored.values[2])

    def _gap_fill(self, begin: int, new_seq: int) -> None:
        m = Message(b"4").append(36, new_seq).append(123, b"Y")
        now = self.clock()
        self._emit(m, seq=begin, extra_header=[(43, b"Y"), (122, format_utc(now, self.config.timestamp_precision))])

    # -- generating -------------------------------------------------------------------------------
    def _write(self, raw: bytes, mt: bytes) -> None:
        if self._connected and not self._closed and (mt in ALWAYS_SENT or self.is_logged_on):
            self._out += raw

    def _emit(self, msg: Message, seq: int | None = None, extra_header=None) -> int:
        now = self.clock()
        persist = seq is None
        if persist:
            seq = self.store.next_sender_seq()
        raw = self.encoder.encode(msg, seq, now, extra_header)
        if persist:
            self.store.save(seq, raw)
        self._last_sent = now
        self._write(raw, msg.msg_type or b"")
        return seq

    def _send_admin(self, msg: Message) -> int:
        return self._emit(msg)

    def _send_logon(self) -> None:
        cfg = self.config
        if cfg.reset_on_logon:
            self.store.reset()
        m = Message(b"A").append(98, 0).append(108, cfg.heartbeat_interval)
        reset = ((cfg.reset_on_logon or cfg.reset_on_logout or cfg.reset_on_disconnect)
                 and self.store.next_sender_seq() == 1 and self.store.next_target_seq() == 1)
        if reset:
            m.append(141, b"Y")
        if cfg.username is not None:
            m.append(553, cfg.username)
        if cfg.password is not None:
            m.append(554, cfg.password.get_secret_value())
        if reset and not self._received_reset:
            self.store.reset()
            self._sent_reset = True
        now = self.clock()
        self._last_received = now
        self._logon_sent_at = now
        self._test_requests = 0
        self._sent_logon = True
        self._send_admin(m)

    def _send_logout(self, text: str = "") -> None:
        m = Message(b"5")
        if text:
            m.append(58, text)
        self._send_admin(m)
        self._sent_logout = True
        self._logout_sent_at = self.clock()

    def _incr_target(self) -> None:
        self.store.set_next_target_seq(self.store.next_target_seq() + 1)

    def _reject(self, ref: Message, reason: int, tag_text: bytes | None = None, text: str | None = None,
                increment: bool = True) -> bool:
        """Session-level Reject in QuickFIX's shape; False if not logged on (nothing sent)."""
        idx = ref._idx()
        mt = idx.get(b"35", b"")
        seq_text = idx.get(b"34")
        fields: list[tuple[int, bytes]] = []
        if seq_text:
            fields.append((45, seq_text))
        if self._ver >= 42:
            if mt:
                fields.append((372, mt))
            if (self._ver == 42 and reason <= 11) or self._ver > 42:
                fields.append((373, b"%d" % reason))
        if increment and mt not in (b"A", b"4") and _int(seq_text) == self.store.next_target_seq():
            self._incr_target()
        reason_text = text or REJECT_TEXT.get(reason)
        with_tag = tag_text is not None and (reason == 0 or tag_text != b"0")
        if reason_text and with_tag:
            if self._ver >= 42:
                fields.append((371, tag_text))
                fields.append((58, reason_text.encode()))
            else:
                fields.append((58, f"{reason_text} ({tag_text.decode()})".encode()))
        elif reason_text:
            fields.append((58, reason_text.encode()))
        if not self._received_logon:
            log.info("%s: not sending reject while not logged on: %s", self.config.key, reason_text)
            return False
        m = Message(b"3")
        for tag, value in sorted(fields):
            m.append(tag, value)
        for src, dst in _ROUTES:
            v = idx.get(src)
            if v:
                m.append(dst, v)
        if self._ver >= 41:
            for src, dst in _LOCATION_ROUTES:
                v = idx.get(src)
                if v:
                    m.append(dst, v)
        self._send_admin(m)
        return True

    def _business_reject(self, ref: Message, reason: int, text: str | None, tag_text: bytes | None,
                         ref_id: str | None, increment: bool) -> None:
        idx = ref._idx()
        seq_text = idx.get(b"34", b"")
        fields: list[tuple[int, bytes]] = [(45, seq_text), (372, idx.get(b"35", b"")), (380, b"%d" % reason)]
        reason_text = text or BUSINESS_REJECT_TEXT.get(reason, "Other")
        if tag_text is not None:
            reason_text = f"{reason_text} ({tag_text.decode()})"
        fields.append((58, reason_text.encode()))
        if ref_id:
            fields.append((379, ref_id.encode()))
        if increment and _int(seq_text) == self.store.next_target_seq():
            self._incr_target()
        m = Message(b"j")
        for tag, value in sorted(fields):
            m.append(tag, value)
        self._emit(m)

    # -- ending -------------------------------------------------------------------------------------
    def _disconnect(self, reason: str) -> None:
        if self._closed:
            return
        log.info("%s: disconnecting: %s", self.config.key, reason)
        if self._announced:
            self._events.append(LoggedOut(reason))
        self._announced = False
        self._received_logon = self._sent_logon = self._sent_logout = False
        self._received_reset = self._sent_reset = False
        self._queue.clear()
        self._resend_range = None
        if self.config.reset_on_disconnect:
            self.store.reset()
        self._closed = True
        self._events.append(CloseConnection(reason))

    def _check_schedule(self, now: float, refuse_logon: bool = False) -> bool:
        """Apply the session schedule; False if the session is outside its window."""
        sched = self.config.schedule
        if sched is None:
            return True
        if sched.daily_reset and self.store.creation_time() < sched.session_start(now):
            if self.is_logged_on and not self._sent_logout:
                self._send_logout("Session reset")
            self.store.reset()
        if sched.is_in_session(now):
            return True
        if self.is_logged_on:
            if not self._sent_logout:
                self._send_logout("Outside session time")
        elif refuse_logon or not self._received_logon:
            self._disconnect("Outside session time")
        return False
