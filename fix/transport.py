"""Thin asyncio transports around the sans-IO `Session`: an acceptor and an initiator.

The transport only moves bytes, runs a ticker, and turns session events into calls on
an `Application`. Application handlers may be plain functions or coroutines; each
message is handled to completion before the session looks at the next one, so answers
keep their order. An exception in application code is logged and answered with a
BusinessMessageReject (it never kills the session or the process); handlers can raise
`UnsupportedMessageType`, `BusinessReject` or `SessionReject` to choose the answer.

One acceptor port serves many sessions: the first message of a connection must be a
Logon, and its CompIDs (and BeginString) pick the session. A second connection for a
session that is already connected is refused.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any, Callable

from .codec import FrameReader, Message, decode
from .config import AcceptorConfig, InitiatorConfig, SessionConfig
from .errors import (
    BusinessReject,
    ConfigError,
    FixError,
    GarbledMessage,
    LocalProtocolError,
    RejectLogon,
    SessionReject,
    UnsupportedMessageType,
)
from .session import (
    NEED_DATA,
    AppMessage,
    CloseConnection,
    LoggedOn,
    LoggedOut,
    RejectReceived,
    Session,
)
from .store import MessageStore

log = logging.getLogger("fix.transport")

TICK_INTERVAL = 0.25
# A peer that stops reading must not make us buffer without bound: past this many unsent
# bytes the connection is dropped (the messages stay in the store for a later resend).
MAX_OUTBOUND_BUFFER = 16 << 20


class Application:
    """Callbacks from a FIX session. Override what you need; sync or async both work.

    * `on_logon(session)` / `on_logout(session, reason)` - session came up / went down.
    * `on_message(session, message)` - an application message, in sequence, validated.
      Raise `UnsupportedMessageType`, `BusinessReject(...)` or `SessionReject(...)` to
      reject it; any other exception is logged and answered with 35=j (380=0).
    * `on_reject(session, message)` - the counterparty sent a session Reject (35=3).
    * `validate_logon(session_id, message)` - synchronous; raise `RejectLogon(text)` to
      refuse a Logon (answered with Logout + disconnect).
    """

    def on_logon(self, session: "SessionHandle") -> Any:
        return None

    def on_logout(self, session: "SessionHandle", reason: str) -> Any:
        return None

    def on_message(self, session: "SessionHandle", message: Message) -> Any:
        raise UnsupportedMessageType()

    def on_reject(self, session: "SessionHandle", message: Message) -> Any:
        return None

    def validate_logon(self, session_id: tuple[str, str, str], message: Message) -> None:
        return None


async def _call(fn: Callable, *args) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class SessionHandle:
    """What the application holds to talk to one session (stable across reconnects)."""

    def __init__(self, session: Session, application: Application) -> None:
        self.session = session
        self.application = application
        self._conn: _Connection | None = None
        self._logged_on = asyncio.Event()
        self._closed = asyncio.Event()
        self._closed.set()
        self.task: asyncio.Task | None = None

    @property
    def session_id(self) -> tuple[str, str, str]:
        return self.session.session_id

    @property
    def config(self) -> SessionConfig:
        return self.session.config

    @property
    def is_logged_on(self) -> bool:
        return self.session.is_logged_on

    @property
    def dictionary(self):
        """The session's `fix.dictionary.DataDictionary` (e.g. for `message.group(...)`)."""
        return self.session.dd

    @property
    def peer(self) -> tuple | None:
        return self._conn.peer if self._conn is not None else None

    def send(self, message: Message) -> int:
        """Send an application message now; returns its MsgSeqNum (stored even if offline)."""
        seq = self.session.send(message)
        self._flush()
        return seq

    def reject(self, ref: Message, reason: int, tag: int | None = None, text: str | None = None) -> None:
        self.session.reject(ref, reason, tag, text)
        self._flush()

    def business_reject(self, ref: Message, reason: int, text: str | None = None,
                        ref_tag: int | None = None, ref_id: str | None = None) -> None:
        self.session.business_reject(ref, reason, text, ref_tag, ref_id)
        self._flush()

    def logout(self, text: str = "") -> None:
        """Begin the logout handshake; the connection closes when the peer answers or times out."""
        self.session.logout(text)
        self._flush()
        if self._conn is not None:
            self._conn.wake()

    async def wait_logged_on(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._logged_on.wait(), timeout)

    async def wait_closed(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._closed.wait(), timeout)

    async def close(self, timeout: float = 5.0) -> None:
        """Logout (if logged on) and wait for the connection to end."""
        if self._conn is None:
            return
        self.logout("")
        try:
            await self.wait_closed(timeout)
        except asyncio.TimeoutError:
            if self._conn is not None:
                self._conn.abort()
            await self.wait_closed(timeout)

    def _flush(self) -> None:
        if self._conn is not None:
            self._conn.flush()


class _Connection:
    """Runs one TCP connection of a session: read loop, ticker, event pump."""

    def __init__(self, handle: SessionHandle, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 initial: bytes = b"") -> None:
        self.handle = handle
        self.session = handle.session
        self.app = handle.application
        self.reader = reader
        self.writer = writer
        self.initial = initial
        self.peer = writer.get_extra_info("peername")
        self._lock = asyncio.Lock()
        self._closing = False
        self._wake = asyncio.Event()

    def flush(self) -> None:
        data = self.session.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)
            transport = self.writer.transport
            if transport is not None and transport.get_write_buffer_size() > MAX_OUTBOUND_BUFFER:
                log.warning("%s: peer is not reading (%d bytes unsent); dropping the connection",
                            self.session.config.key, transport.get_write_buffer_size())
                self.abort()

    def wake(self) -> None:
        self._wake.set()

    def abort(self) -> None:
        self._closing = True
        transport = self.writer.transport
        if transport is not None:
            transport.abort()

    async def run(self) -> None:
        handle = self.handle
        handle._conn = self
        handle._closed.clear()
        self.session.connection_made()
        self.flush()
        ticker = asyncio.create_task(self._ticker())
        try:
            if self.initial:
                self.session.receive_data(self.initial)
                await self._pump()
            while not self._closing:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.session.receive_data(data)
                await self._pump()
        except (ConnectionError, OSError) as exc:
            log.info("%s: connection error: %s", self.session.config.key, exc)
        finally:
            ticker.cancel()
            self.session.connection_lost()
            try:
                await self._pump()
            except Exception:  # pragma: no cover - application errors already logged
                log.exception("%s: error while closing", self.session.config.key)
            self.flush()
            self._close_writer()
            try:
                await asyncio.wait_for(self.writer.wait_closed(), 2.0)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                pass
            handle._conn = None
            handle._logged_on.clear()
            handle._closed.set()

    def _close_writer(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

    async def _ticker(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), TICK_INTERVAL)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            self.session.tick()
            self.flush()
            if not self._lock.locked():
                await self._pump()

    async def _pump(self) -> None:
        async with self._lock:
            session = self.session
            while True:
                ev = session.next_event()
                self.flush()
                if ev is NEED_DATA:
                    return
                if isinstance(ev, AppMessage):
                    await self._dispatch(ev.message)
                elif isinstance(ev, LoggedOn):
                    self.handle._logged_on.set()
                    await self._safe(self.app.on_logon, self.handle)
                elif isinstance(ev, LoggedOut):
                    await self._safe(self.app.on_logout, self.handle, ev.reason)
                elif isinstance(ev, RejectReceived):
                    await self._safe(self.app.on_reject, self.handle, ev.message)
                elif isinstance(ev, CloseConnection):
                    self._closing = True
                    self.flush()
                    self._close_writer()
                self.flush()

    async def _safe(self, fn: Callable, *args) -> None:
        try:
            await _call(fn, *args)
        except Exception:
            log.exception("%s: application callback %s failed", self.session.config.key, getattr(fn, "__name__", fn))

    async def _dispatch(self, msg: Message) -> None:
        session = self.session
        try:
            await _call(self.app.on_message, self.handle, msg)
        except UnsupportedMessageType:
            session.business_reject(msg, 3)
        except BusinessReject as exc:
            session.business_reject(msg, exc.reason, exc.text, exc.ref_tag, exc.ref_id)
        except SessionReject as exc:
            session.reject(msg, exc.reason, exc.tag, exc.text)
        except Exception:
            log.exception("%s: application failed on message %s", session.config.key, msg.get(34))
            try:
                session.business_reject(msg, 0, "Application error")
            except FixError:  # pragma: no cover
                log.exception("%s: could not reject", session.config.key)
        self.flush()


def _logon_validator(app: Application, session_id: tuple[str, str, str]) -> Callable[[Message], None]:
    def validate(msg: Message) -> None:
        app.validate_logon(session_id, msg)
    return validate


class Acceptor:
    """Serves every configured session on one port (optionally TLS)."""

    def __init__(self, config: AcceptorConfig, application: Application | Callable[[SessionConfig], Application],
                 store_factory: Callable[[SessionConfig], MessageStore] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.handles: dict[tuple[str, str, str], SessionHandle] = {}
        self._routes: dict[tuple[bytes, bytes, bytes], SessionHandle] = {}
        self._busy: set[tuple[str, str, str]] = set()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        for sc in config.sessions:
            app = application if isinstance(application, Application) else application(sc)
            store = store_factory(sc) if store_factory else sc.create_store()
            session = Session(sc, store, initiator=False, clock=clock,
                              logon_validator=_logon_validator(app, sc.session_id))
            handle = SessionHandle(session, app)
            self.handles[sc.session_id] = handle
            self._routes[(sc.begin_string.encode(), sc.sender_comp_id.encode(), sc.target_comp_id.encode())] = handle

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise LocalProtocolError("acceptor not started")
        return self._server.sockets[0].getsockname()[1]

    @property
    def host(self) -> str:
        return self._server.sockets[0].getsockname()[0] if self._server and self._server.sockets else self.config.host

    async def start(self) -> "Acceptor":
        ssl_ctx = self.config.tls.server_context() if self.config.tls else None
        self._server = await asyncio.start_server(self._on_client, self.config.host, self.config.port, ssl=ssl_ctx,
                                                  limit=self.config.max_message_size)
        return self

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        await self._server.serve_forever()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, log every session out, close all connections."""
        if self._server is not None:
            self._server.close()
        for handle in self.handles.values():
            if handle._conn is not None:
                handle.logout("Server shutting down")
        for handle in self.handles.values():
            if handle._conn is not None:
                try:
                    await handle.wait_closed(timeout)
                except asyncio.TimeoutError:
                    handle._conn.abort()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        for handle in self.handles.values():
            handle.session.store.close()

    async def __aenter__(self) -> "Acceptor":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve_client(reader, writer)
        except Exception:
            log.exception("acceptor: connection handler failed")
        finally:
            if task is not None:
                self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        frames = FrameReader(self.config.max_message_size)
        deadline = asyncio.get_running_loop().time() + self.config.logon_timeout
        frame = None
        while frame is None:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                log.info("acceptor: %s sent no logon in time", peer)
                return
            try:
                data = await asyncio.wait_for(reader.read(65536), remaining)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                return
            if not data:
                return
            frames.feed(data)
            frame = frames.next_frame()
        try:
            msg = decode(frame)
        except GarbledMessage as exc:
            log.info("acceptor: %s first message garbled: %s", peer, exc)
            return
        route = (msg.get(8) or b"", msg.get(56) or b"", msg.get(49) or b"")
        handle = self._routes.get(route)
        if handle is None:
            log.info("acceptor: %s unknown session %s", peer, route)
            return
        if msg.msg_type != b"A":
            log.info("acceptor: %s first message is not a Logon", peer)
            return
        sid = handle.session_id
        if sid in self._busy:
            log.info("acceptor: %s session %s already connected", peer, sid)
            return
        host = peer[0] if isinstance(peer, tuple) and peer else None
        if not handle.config.address_allowed(host):
            log.info("acceptor: %s not allowed for session %s", peer, sid)
            return
        self._busy.add(sid)
        try:
            conn = _Connection(handle, reader, writer, frame + frames.take_remaining())
            await conn.run()
        finally:
            self._busy.discard(sid)


async def connect_initiator(config: InitiatorConfig, application: Application, store: MessageStore | None = None,
                            *, timeout: float | None = None, clock: Callable[[], float] = time.time) -> SessionHandle:
    """Connect to a remote acceptor, log on, and return the session's handle.

    Raises `ConnectionError` if the logon does not complete (refused, timed out or the
    peer closed the connection). The connection runs in `handle.task`; use
    `await handle.close()` to log out.
    """
    sc = config.session
    session = Session(sc, store if store is not None else sc.create_store(), initiator=True, clock=clock,
                      logon_validator=_logon_validator(application, sc.session_id))
    handle = SessionHandle(session, application)
    ssl_ctx = config.tls.client_context() if config.tls else None
    server_hostname = (config.tls.server_hostname or config.host) if config.tls else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(config.host, config.port, ssl=ssl_ctx, server_hostname=server_hostname,
                                limit=sc.max_message_size),
        config.connect_timeout)
    conn = _Connection(handle, reader, writer)
    handle.task = asyncio.create_task(conn.run())
    wait = timeout if timeout is not None else sc.logon_timeout + 1.0
    logged_on = asyncio.create_task(handle._logged_on.wait())
    done, _ = await asyncio.wait({logged_on, handle.task}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    if logged_on not in done:
        logged_on.cancel()
        if not handle.task.done():
            conn.abort()
            await asyncio.gather(handle.task, return_exceptions=True)
        raise ConnectionError(f"FIX logon to {config.host}:{config.port} failed for {sc.session_id}")
    return handle


__all__ = ["Application", "SessionHandle", "Acceptor", "connect_initiator", "ConfigError", "RejectLogon"]
