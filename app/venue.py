"""The composition root: one venue process built from a validated config.

`Venue` owns the OMS, the sequencer and the list of components (gateways,
stores, schedulers) and starts them on one asyncio event loop. Each part of
the venue contributes its components through a `wire(venue)` function in its
own `app/wiring_*.py` module, so adding a gateway does not mean editing the
core of the process.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from app.config import VenueConfig
from engine.commands import SetTradingState, Tick
from engine.oms import OMS
from engine.sequencer import Clock, Sequencer
from engine.types import TradingState

log = logging.getLogger("fixvenue")

# wiring modules, in start order (stores before gateways); each exposes wire(venue)
WIRING = ["app.wiring_store", "app.wiring_risk", "app.wiring_routing", "app.wiring_fix", "app.wiring_rest"]


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def describe(self) -> str: ...


@dataclass
class Venue:
    config: VenueConfig
    config_path: str
    overrides: dict[str, Any] = field(default_factory=dict)   # CLI overrides, e.g. ports
    oms: OMS = None  # type: ignore[assignment]
    sequencer: Sequencer = None  # type: ignore[assignment]
    components: list = field(default_factory=list)
    services: dict[str, Any] = field(default_factory=dict)    # shared objects by name (risk, store, router...)
    _tasks: list = field(default_factory=list)
    _stopping: asyncio.Event | None = None

    def __post_init__(self) -> None:
        self.instruments = {i.symbol: i for i in self.config.build_instruments()}
        self.oms = OMS(self.instruments.values(), self.config.build_accounts())
        self.clock = Clock()
        self.sequencer = Sequencer(self.oms, clock=self.clock)

    def add(self, component) -> None:
        self.components.append(component)

    def wire(self) -> None:
        for mod in WIRING:
            importlib.import_module(mod).wire(self)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        started = []
        try:
            for c in self.components:
                await c.start()
                started.append(c)
        except BaseException:
            # a part that cannot start (e.g. a busy port) stops the ones already running
            for c in reversed(started):
                try:
                    await c.stop()
                except Exception:
                    log.exception("stopping %s failed", getattr(c, "name", c))
            raise
        self._tasks.append(asyncio.create_task(self._clock_task(), name="venue-clock"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for c in reversed(self.components):
            try:
                await c.stop()
            except Exception:
                log.exception("stopping %s failed", getattr(c, "name", c))
        self.sequencer.flush()

    async def _clock_task(self) -> None:
        """Once a second: expire DAY/GTD orders and open/close instruments on their schedule."""
        while True:
            await asyncio.sleep(1.0)
            self.tick()

    def tick(self) -> None:
        now = self.clock()
        self.sequencer.submit(Tick(now))
        for sym, inst in self.instruments.items():
            book = self.oms.books[sym]
            should_open = inst.session.is_open(now)
            if book.state == TradingState.CLOSED and should_open:
                self.sequencer.submit(SetTradingState(self.clock(), sym, int(TradingState.OPEN), "session open", "scheduler"))
            elif book.state == TradingState.OPEN and not should_open:
                self.sequencer.submit(SetTradingState(self.clock(), sym, int(TradingState.CLOSED), "session closed", "scheduler"))

    def summary(self) -> list[str]:
        lines = [f"venue {self.config.venue.name!r} from {self.config_path}"]
        lines.append("instruments: " + ", ".join(
            f"{s} ({i.asset_class}, tick {i.tick_size}, lot {i.lot_size})" for s, i in self.instruments.items()))
        lines.append(f"accounts: {', '.join(self.oms.accounts)}")
        for c in self.components:
            lines.append(f"{c.name}: {c.describe()}")
        return lines

    async def run_forever(self, ready: Callable[[list[str]], None] | None = None) -> None:
        await self.start()
        # instruments outside their trading session start closed
        self.tick()
        if ready:
            ready(self.summary())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._stopping.set)
            except (NotImplementedError, RuntimeError):
                pass
        try:
            await self._stopping.wait()
        finally:
            await self.stop()

    def request_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
