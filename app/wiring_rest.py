"""Wiring of the REST/WebSocket gateway: FastAPI under uvicorn, inside the venue's
own process and event loop (the same loop as the OMS, the sequencer and the FIX
acceptor — no threads, no second process).

uvicorn runs as a task (`Server.serve()`); we bind the listening socket
ourselves, so a port already in use is an OSError at start-up (which
`fixvenue run` reports) rather than uvicorn's sys.exit, and port 0 gives a free
port whose number `describe()` prints. Signals stay the venue's: uvicorn's own
signal capture is switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn
from pydantic import ValidationError

from api.app import BodyLimit, create_app
from api.fastlane import OrderEntryLane
from api.context import ApiContext
from api.settings import RestSettings, load_rest_section
from app.config import ConfigError

log = logging.getLogger("fixvenue.rest")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the venue owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every keep-alive answer (headers and body are two writes) waits
    # ~40 ms for the client's delayed ACK (Nagle). NODELAY on the listener is inherited too.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class RestGateway:
    name = "rest"

    def __init__(self, venue, settings: RestSettings, host: str, port: int) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.ctx = ApiContext.for_venue(venue, settings)
        self.ctx.listen()          # the tape sees every command from now on (journal replay included)
        self.app = create_app(self.ctx)
        # what uvicorn serves: the FastAPI app, behind the order-entry lane unless switched off
        self.asgi = BodyLimit(OrderEntryLane(self.app, self.ctx)) if settings.fast_order_entry else self.app
        self.server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ready(self) -> bool:
        return self.ctx.serving

    async def start(self) -> None:
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self.ctx.subscribe()
        config = uvicorn.Config(
            self.asgi, lifespan="off", log_level="warning", access_log=False, http="httptools",
            ws="websockets-sansio", ws_max_size=self.settings.websocket.max_message_bytes,
            ws_per_message_deflate=False, timeout_graceful_shutdown=3, server_header=False,
        )
        self.server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self.server.serve(sockets=[sock]), name="rest-gateway")
        for _ in range(1000):
            if self.server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if not self.server.started:
            exc = self._task.exception() if self._task.done() else None
            raise OSError(f"REST gateway did not start on {self.url}: {exc!r}")
        self.ctx.url = self.url
        self.ctx.serving = True

    async def stop(self) -> None:
        self.ctx.serving = False
        await self.ctx.hub.close_all()
        if self.server is not None and self._task is not None:
            self.server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5.0)
            except asyncio.TimeoutError:
                self.server.force_exit = True
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
            except BaseException:
                pass
        self.ctx.unsubscribe()

    def describe(self) -> str:
        ws = self.url.replace("http://", "ws://", 1)
        n = sum(1 for _ in self.ctx.keys)
        docs = f", docs {self.url}/docs" if self.settings.docs else ""
        return f"REST {self.url}/api/v1{docs}, WebSocket {ws}/ws, metrics {self.url}/metrics ({n} API keys)"


def wire(venue) -> None:
    raw = venue.config.rest or {}
    try:
        settings = load_rest_section(raw, venue.config)
        for k in settings.keys:
            k.resolve_secret()          # a missing secret_env variable stops start-up here
    except (ValueError, ValidationError) as exc:
        msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(venue.config_path, "rest", msg.removeprefix("Value error, ")) from None
    host = venue.overrides.get("host") or settings.host
    port = venue.overrides.get("rest_port")
    gateway = RestGateway(venue, settings, host, settings.port if port is None else int(port))
    venue.add(gateway)
    venue.services["rest"] = gateway
    # candles, fills and fallback positions survive a restart from a snapshot
    venue.services.setdefault("snapshot_extensions", {})["rest_tape"] = gateway.ctx.tape
