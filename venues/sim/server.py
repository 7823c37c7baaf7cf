"""The aiohttp shell shared by the venue simulators.

A simulator subclasses `SimServer`, adds its venue routes in `venue_routes()`
and its own admin routes in `admin_routes()`. This base provides:

* loopback-only binding (anything but 127.0.0.1 / ::1 / localhost is refused),
  port 0 for a free port, `async with` start/stop;
* the fault middleware (`venues.sim.faults`): latency, 429, 5xx, accepted-then-
  delayed responses and dropped connections, applied to venue routes only;
* a request log (`requests`) so tests can prove what the client library sent;
* admin routes under ``/_sim``: ``GET/POST/DELETE /_sim/faults``,
  ``GET /_sim/requests``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections import deque
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from venues.sim.faults import Fault, FaultPlan

_MIDDLEWARE_KINDS = frozenset({"timeout", "rate_limit", "disconnect", "error"})


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"simulators bind to loopback only, not {host!r}")


class SimServer:
    """Base class: lifecycle, fault injection and admin plumbing."""

    venue_name = "sim"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0,
                 faults: Iterable[Fault] = ()) -> None:
        check_loopback(host)
        self.host = host
        self.port = port
        self.faults = FaultPlan(latency)
        for fault in faults:
            self.faults.add(fault)
        self.requests: deque[tuple[str, str]] = deque(maxlen=10_000)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ hooks
    def venue_routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def admin_routes(self) -> list[web.RouteDef]:
        return []

    def error_response(self, status: int, message: str) -> web.Response:
        """The venue's shape for a plain HTTP error (override per venue)."""
        return web.json_response({"error": message}, status=status)

    def rate_limit_response(self, retry_after: float) -> web.Response:
        resp = self.error_response(429, "Too many requests")
        resp.headers["Retry-After"] = _fmt_seconds(retry_after)
        return resp

    async def on_start(self) -> None:
        """Called once the socket is bound (background tasks start here)."""

    async def on_stop(self) -> None:
        """Called before the server shuts down (streams end here)."""

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 20)
        app.add_routes(self.venue_routes())
        app.add_routes(
            [
                web.get("/_sim/faults", self._get_faults),
                web.post("/_sim/faults", self._post_fault),
                web.delete("/_sim/faults", self._delete_faults),
                web.get("/_sim/requests", self._get_requests),
            ]
            + self.admin_routes()
        )
        self._closing.clear()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # the bound asyncio server; port 0 resolves here
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await self.on_start()
        return self.base_url

    async def stop(self) -> None:
        self._closing.set()
        await self.on_stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "SimServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True if the full time passed."""
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
            return False
        except asyncio.TimeoutError:
            return True

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    # ------------------------------------------------------------------ middleware
    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        if request.path.startswith("/_sim/"):
            return await handler(request)
        self.requests.append((request.method, request.path_qs))
        if self.faults.latency > 0:
            await self.sleep(self.faults.latency)
        fault = self.faults.take(_MIDDLEWARE_KINDS, request.method, request.path)
        if fault is None:
            return await handler(request)
        if fault.kind == "rate_limit":
            return self.rate_limit_response(fault.retry_after)
        if fault.kind == "error":
            return self.error_response(fault.status, "Internal server error (injected)")
        if fault.kind == "disconnect" and fault.before:
            drop_connection(request)
            return web.Response(status=500)  # never reaches the client
        response = await handler(request)  # the venue processes (accepts) the request
        if fault.kind == "disconnect":
            drop_connection(request)
            return web.Response(status=500)
        # timeout: answer only after the client has given up
        await self.sleep(fault.delay)
        return response

    # ------------------------------------------------------------------ admin
    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"latency": self.faults.latency, "faults": [f.to_json() for f in self.faults.pending()]}
        )

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            if "latency" in data and len(data) == 1:
                self.faults.latency = float(data["latency"])
                return web.json_response({"latency": self.faults.latency})
            fault = Fault.from_json(data)
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.faults.add(fault)
        return web.json_response(fault.to_json(), status=201)

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"faults": []})

    async def _get_requests(self, request: web.Request) -> web.Response:
        return web.json_response([{"method": m, "path": p} for m, p in self.requests])


def drop_connection(request: web.Request) -> None:
    """Abort the TCP connection under `request` (the client sees a reset, no answer)."""
    transport = request.transport
    if transport is not None:
        transport.abort()


def _fmt_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
