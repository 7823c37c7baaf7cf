"""What the REST/WebSocket gateway is built on, gathered in one object.

`ApiContext` holds references to the venue's parts (OMS for queries, sequencer
for commands, instruments, the shared `services` dict where risk, FIX and the
store appear) plus the gateway's own state (keys, limits, tape, WebSocket hub).
The FastAPI app keeps it in `app.state.ctx`; dependencies hand it to routes.
It is built by app/wiring_rest.py, or directly by tests and tools.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from api.hub import Hub
from api.keys import KeyStore
from api.limits import RateLimiter
from api.metrics import EventMetrics
from api.settings import RestSettings
from api.symbols import SymbolResolver
from api.tape import Tape
from api.trading import OrderDesk
from engine.instrument import Instrument
from engine.oms import OMS
from engine.sequencer import Sequencer


class DurableMark:
    """Tracks the highest venue sequence number delivered (= durable) by the sequencer,
    so a request that only reads (an idempotent retry) can still answer only after
    what it reports is durable — without submitting a command of its own."""

    def __init__(self, oms: OMS) -> None:
        self.oms = oms
        self.delivered = oms.seq
        self._waiters: list[tuple[int, asyncio.Future]] = []

    def on_events(self, events: list) -> None:
        top = self.delivered
        for ev in events:
            if ev.kind != "book" and ev.seq > top:
                top = ev.seq
        self.delivered = top
        if self._waiters:
            still = []
            for target, fut in self._waiters:
                if target <= top:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    still.append((target, fut))
            self._waiters = still

    def reset(self) -> None:
        """Everything processed so far is durable (called at start, after any journal replay)."""
        self.delivered = max(self.delivered, self.oms.seq)

    async def wait(self, timeout: float = 2.0) -> None:
        target = self.oms.seq
        if target <= self.delivered:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((target, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass


@dataclass
class ApiContext:
    settings: RestSettings
    oms: OMS
    sequencer: Sequencer
    instruments: dict[str, Instrument]
    services: dict[str, Any]
    keys: KeyStore
    tape: Tape
    clock: Callable[[], int]
    symbols: SymbolResolver = None  # type: ignore[assignment]
    limiter: RateLimiter = field(default_factory=RateLimiter)
    durable: DurableMark = None  # type: ignore[assignment]
    desk: Any = None                 # api.trading.OrderDesk
    hub: Any = None                  # api.hub.Hub
    account_names: dict[str, str] = field(default_factory=dict)
    starting_balances: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    url: str = ""                    # where the server listens, once it does
    serving: bool = False
    started_s: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.symbols is None:
            self.symbols = SymbolResolver(self.instruments)
        if self.durable is None:
            self.durable = DurableMark(self.oms)
        if self.desk is None:
            self.desk = OrderDesk(self)
        if self.hub is None:
            self.hub = Hub(self)

    @classmethod
    def for_venue(cls, venue: Any, settings: RestSettings) -> "ApiContext":
        """Build the context from an app.venue.Venue (duck-typed: api/ does not import app/)."""
        cfg = venue.config
        tape = Tape(venue.instruments, venue.oms.accounts)
        return cls(
            settings=settings, oms=venue.oms, sequencer=venue.sequencer, instruments=venue.instruments,
            services=venue.services, keys=KeyStore.from_settings(settings), tape=tape, clock=venue.clock,
            account_names={a.id: a.name for a in cfg.accounts},
            starting_balances={a.id: dict(a.balances) for a in cfg.accounts},
        )

    def attach(self) -> None:
        """Start listening to the venue: the tape as an OMS listener (replay-safe), the
        hub, metrics and the durability mark as sequencer subscribers (durable events)."""
        if self.tape not in self.oms.listeners:
            self.oms.listeners.append(self.tape)
        self._metrics = EventMetrics()
        for fn in (self.durable.on_events, self.hub.on_events, self._metrics):
            self.sequencer.subscribe(fn)

    def detach(self) -> None:
        for fn in (self.durable.on_events, self.hub.on_events, getattr(self, "_metrics", None)):
            if fn is not None:
                self.sequencer.unsubscribe(fn)
        if self.tape in self.oms.listeners:
            self.oms.listeners.remove(self.tape)

    @property
    def risk(self) -> Any:
        """The risk service (positions, balances, kill switch) when risk/ is wired in."""
        return self.services.get("risk")
