"""The sequencer: the thin asyncio shell around the OMS.

Every gateway hands its commands to one `Sequencer`. It stamps nothing and
decides nothing; it makes the core's two promises hold:

- **one order of events**: commands are processed one at a time, in arrival
  order, on the event loop's thread;
- **durable before acknowledged**: a command is appended to the journal before
  it is processed, and the events it caused are delivered to subscribers
  (gateways, which send them to clients) only after the journal has been
  committed. Commits are batched per event-loop turn (group commit), so
  durability costs throughput, not correctness.

Without a journal (tests, benchmarks of the bare engine) events are delivered
at the end of the loop turn all the same, so behaviour does not change when
durability is switched on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Protocol

from engine.commands import Command
from engine.events import Event
from engine.oms import OMS

log = logging.getLogger("fixvenue.sequencer")


class Journal(Protocol):
    def append(self, cmd: Command) -> None: ...

    def commit(self) -> None:
        """Make everything appended so far durable (fsync)."""


class Clock:
    """Wall-clock nanoseconds, never going backwards (commands carry it; the core never reads it)."""

    def __init__(self, source: Callable[[], int] = time.time_ns) -> None:
        self._source = source
        self._last = 0

    def __call__(self) -> int:
        t = self._source()
        if t <= self._last:
            t = self._last + 1
        self._last = t
        return t


class Sequencer:
    def __init__(self, oms: OMS, journal: Journal | None = None, clock: Clock | None = None) -> None:
        self.oms = oms
        self.journal = journal
        self.clock = clock or Clock()
        self._pending: list[Event] = []
        self._waiters: list[asyncio.Future] = []
        self._scheduled = False
        self._after: list[Callable[[], None]] = []
        self._subscribers: list[Callable[[list[Event]], None]] = []
        self.commands = 0
        self.flushes = 0

    def subscribe(self, fn: Callable[[list[Event]], None]) -> None:
        """`fn(events)` is called with each durable batch of events, in sequence order."""
        self._subscribers.append(fn)

    def unsubscribe(self, fn) -> None:
        if fn in self._subscribers:
            self._subscribers.remove(fn)

    def submit(self, cmd: Command) -> list[Event]:
        """Journal and process `cmd` now; its events are delivered at the end of this loop turn.

        The returned events are for the caller's bookkeeping; they must not be
        shown to a client before delivery (use `execute` to wait for it)."""
        if self.journal is not None:
            self.journal.append(cmd)
        events = self.oms.process(cmd)
        self.commands += 1
        self._pending.extend(events)
        self._schedule()
        return events

    async def execute(self, cmd: Command) -> list[Event]:
        """Submit and wait until the command's events are durable and delivered."""
        events = self.submit(cmd)
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        await fut
        return events

    def after_flush(self, fn: Callable[[], None]) -> None:
        """Run `fn()` right after the next durable flush (answers that are not events — order
        status, snapshots — must not overtake commands processed before them). With nothing
        pending it runs at the end of this loop turn all the same."""
        self._after.append(fn)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                # no loop (synchronous use, replay tools): flush right away
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if self.journal is not None:
            self.journal.commit()
        pending, self._pending = self._pending, []
        if pending:
            pending.extend(self.oms.collect_book_updates())
        waiters, self._waiters = self._waiters, []
        self.flushes += 1
        if pending:
            for fn in list(self._subscribers):
                try:
                    fn(pending)
                except Exception:  # a broken subscriber must not stop the venue or the others
                    log.exception("event subscriber %r failed", fn)
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        if self._after:
            after, self._after = self._after, []
            for fn in after:
                try:
                    fn()
                except Exception:
                    log.exception("after-flush callback %r failed", fn)
