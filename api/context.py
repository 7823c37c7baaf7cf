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

    def listen(self) -> None:
        """The tape as an OMS listener: call before any journal replay so it is rebuilt."""
        if self.tape not in self.oms.listeners:
            self.oms.listeners.append(self.tape)

    def subscribe(self) -> None:
        """Durable events to the WebSocket hub and the metrics."""
        self._subscribers = (self.hub.on_events, EventMetrics())
        for fn in self._subscribers:
            self.sequencer.subscribe(fn)

    def unsubscribe(self) -> None:
        for fn in getattr(self, "_subscribers", ()):
            self.sequencer.unsubscribe(fn)
        self._subscribers = ()

    async def durable(self) -> None:
        """Return once everything processed so far is durable: an answer that is not an
        event of its own (an idempotent retry) must not overtake the commands before it."""
        fut = asyncio.get_running_loop().create_future()
        self.sequencer.after_flush(lambda: fut.done() or fut.set_result(None))
        await fut

    @property
    def risk(self) -> Any:
        """The risk service (positions, balances, kill switch) when risk/ is wired in."""
        return self.services.get("risk")
