"""Durability wiring: journal, snapshots, crash recovery and the SQL store.

`wire(venue)` opens the journal (taking its lock and cutting a torn tail) and
the SQL store (running the migrations) under the venue's data dir, and adds
the `storage` component. Because this module is wired first, its component
starts first: `start()` recovers the state — newest usable snapshot, then the
journal after it — once every other part has wired its OMS listeners, checks
and handlers (so the replay sees exactly what the live venue saw) and before
any gateway listens. Only then is the journal installed into the sequencer and
the SQL writer started.

Layout of `<data_dir>`: `journal/` (segments), `snapshots/`, `fixvenue.sqlite`
(unless DATABASE_URL / storage.database_url name another database).

Other layers keep state the snapshot must carry by registering an object with
`snapshot_state()` / `restore_state(state)` in
`venue.services["snapshot_extensions"][name]` during their own `wire()`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from app.config import ConfigError
from engine.journal import FileJournal, JournalError
from engine.recovery import RecoveryError, RecoveryReport, recover
from engine.snapshot import Capturer, SnapshotInfo, SnapshotStore
from engine.store.db import StoreError
from engine.store.settings import StorageSettings, database_url, load_section, redact

log = logging.getLogger("fixvenue.storage")


def data_dir_of(venue) -> Path:
    return Path(venue.overrides.get("data_dir") or venue.config.venue.data_dir)


class StorageComponent:
    name = "storage"

    def __init__(self, venue, settings: StorageSettings, data_dir: Path) -> None:
        self.venue = venue
        self.settings = settings
        self.data_dir = data_dir
        self.journal_dir = data_dir / "journal"
        self.snapshots = SnapshotStore(data_dir / "snapshots")
        self.extensions: dict = venue.services.setdefault("snapshot_extensions", {})
        self.journal: FileJournal | None = None
        self.url: str | None = None
        self.db: Any = None                 # sqlalchemy Engine
        self.sql: Any = None                # engine.store.writer.SqlStore
        self.writer: Any = None             # engine.store.writer.StoreWriter
        self.report: RecoveryReport | None = None
        self.last_snapshot: SnapshotInfo | None = None
        self.capturer = Capturer()          # copies only what changed since the last snapshot
        self.capture_s = 0.0                # how long the last snapshot paused matching
        self.snapshot_s = 0.0
        self._last_snap_pos = 0
        self._last_snap_time = time.monotonic()
        self._snap_lock: asyncio.Lock | None = None
        self._task: asyncio.Task | None = None
        self._started = False

    # ------------------------------------------------------------------ opening (wire time)

    def open(self) -> None:
        s = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if s.journal:
            self.journal = FileJournal.open(self.journal_dir, fsync=s.fsync)
            self.journal.on_failure.append(self._journal_failed)
        if s.sql:
            from engine.store.db import migrate, open_database
            from engine.store.writer import SqlStore, StoreWriter

            self.url = database_url(s, self.data_dir)
            self.db = open_database(self.url)
            migrate(self.db)
            balances = {a.id: dict(a.balances) for a in self.venue.config.accounts}
            self.sql = SqlStore(self.db, self.venue.instruments, balances)
            self.sql.load()
            self.writer = StoreWriter(self.sql, batch_max=s.sql_batch_max,
                                      flush_interval_s=s.sql_flush_interval_ms / 1000)

    def _journal_failed(self, exc: BaseException) -> None:
        log.critical("the journal cannot be written (%s): stopping the venue — nothing more can be acknowledged", exc)
        self.venue.request_stop()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        venue = self.venue
        self._snap_lock = asyncio.Lock()
        if self.journal is not None:
            self._recover()
            venue.sequencer.journal = self.journal
            # commands keep increasing timestamps across restarts even if the wall clock stepped back
            clock = venue.clock
            if getattr(clock, "_last", 0) < venue.oms.now:
                clock._last = venue.oms.now
        if self.writer is not None:
            venue.sequencer.subscribe(self.writer.feed_events)
            if self.journal is not None:
                self.journal.on_commit.append(self.writer.feed_commands)
            await self.writer.start()
        if self.journal is not None:
            self._last_snap_pos = self.last_snapshot.journal_pos if self.last_snapshot else 0
            self._last_snap_time = time.monotonic()
            self._task = asyncio.create_task(self._snapshot_loop(), name="snapshots")
        self._started = True

    def _recover(self) -> None:
        sql = self.sql
        writer = self.writer
        on_events = on_commands = None
        if writer is not None:
            watermark = sql.last_event_seq
            next_index = sql.next_journal_index

            def on_events(evs, feed=writer.feed_events):
                if evs[-1].seq > watermark:
                    feed([e for e in evs if e.seq > watermark or e.kind == "book"])

            def on_commands(first, cmds, feed=writer.feed_commands):
                if first + len(cmds) > next_index:
                    feed(first, cmds)

        last_logged = [time.monotonic()]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last_logged[0] >= 2.0:
                last_logged[0] = now
                log.info("recovery: %d / %d commands replayed", done, total)

        try:
            self.report = recover(
                self.venue.oms, self.journal_dir, self.snapshots.directory, extensions=self.extensions,
                max_event_seq=sql.last_event_seq if sql is not None else None,
                on_events=on_events, on_commands=on_commands, progress=progress)
        except RecoveryError:
            raise
        if self.journal.torn is not None:
            self.report.torn = self.journal.torn
        if self.report.end_index != self.journal.next_index:
            raise RecoveryError(f"recovery ended at command {self.report.end_index} but the journal continues at "
                                f"{self.journal.next_index}")
        self.last_snapshot = self.report.snapshot
        log.info("%s", self.report.summary())

    async def stop(self) -> None:
        if not self._started:
            self._close()
            return
        self._started = False
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        try:
            if self.journal is not None and self.journal.failed is None:
                self.venue.sequencer.flush()
                if self.journal.next_index != self._last_snap_pos:
                    await self.snapshot_now()
        except Exception:
            log.exception("final snapshot failed (the journal has everything; the next start replays it)")
        if self.writer is not None:
            await self.writer.stop()
            self.venue.sequencer.unsubscribe(self.writer.feed_events)
        self._close()

    def _close(self) -> None:
        if self.journal is not None:
            try:
                self.journal.close()
            except JournalError:
                log.exception("closing the journal failed")
            # the closed journal stays installed: a command submitted after this point is refused
            # loudly (JournalClosed) instead of being processed without a journal
        if self.db is not None:
            self.db.dispose()

    # ------------------------------------------------------------------ snapshots

    async def _snapshot_loop(self) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(1.0)
            j = self.journal
            new = j.next_index - self._last_snap_pos
            if new <= 0:
                continue
            if new >= s.snapshot_every_commands or time.monotonic() - self._last_snap_time >= s.snapshot_interval_s:
                try:
                    await self.snapshot_now()
                except Exception:
                    log.exception("snapshot failed; will retry (the journal keeps everything)")
                    self._last_snap_time = time.monotonic()

    async def snapshot_now(self) -> SnapshotInfo:
        """Snapshot the venue at the current journal position.

        The state is copied on the event loop between two loop turns (after a
        sequencer flush, so the cut is at a group-commit boundary); the journal
        starts a new segment there; the file is written in a worker thread and
        published only once the SQL store holds every event before the cut, so
        a restart from it never leaves a hole in the store."""
        async with self._snap_lock:
            venue = self.venue
            t0 = time.perf_counter()
            venue.sequencer.flush()
            pos = self.journal.next_index
            snap = self.capturer.capture(venue.oms, pos, self.extensions)
            self.journal.rotate()
            capture_s = self.capture_s = time.perf_counter() - t0
            if self.writer is not None:
                await self.writer.drain()
                await asyncio.get_running_loop().run_in_executor(
                    self.writer._executor, self.sql.mark, snap["event_seq"], pos)
            info = await asyncio.get_running_loop().run_in_executor(None, self.snapshots.write, snap)
            self.snapshots.prune(self.settings.keep_snapshots)
            if self.settings.prune_journal:
                kept = self.snapshots.list()
                if kept:
                    self.journal.prune(kept[0].journal_pos)
            self.last_snapshot = info
            self._last_snap_pos = pos
            self._last_snap_time = time.monotonic()
            self.snapshot_s = time.perf_counter() - t0
            log.info("snapshot at command %d (%d orders): state copied in %.3f s (matching paused), written in %.2f s",
                     pos, len(snap["orders"]), capture_s, self.snapshot_s)
            return info

    @property
    def ready(self) -> bool:
        """Started, the journal writable and the SQL writer not failing (the REST /ready probe)."""
        if not self._started:
            return False
        if self.journal is not None and not self.journal.ready:
            return False
        return self.writer is None or self.writer.error is None

    # ------------------------------------------------------------------ describe

    def describe(self) -> str:
        parts = []
        if self.journal is not None:
            parts.append(f"journal {self.journal_dir} ({'fsync' if self.settings.fsync else 'no fsync'} group commit)")
            if self.report is not None:
                parts.append(self.report.summary())
                if self.report.torn is not None:
                    parts.append(f"cut a torn tail of {self.report.torn.discarded} bytes")
        else:
            parts.append("journal OFF (nothing survives a restart)")
        if self.sql is not None:
            parts.append(f"SQL store {redact(self.url)} (at event seq {self.sql.last_event_seq:,})")
        return "; ".join(parts)


def wire(venue) -> StorageComponent:
    raw = venue.config.storage or {}
    try:
        settings = load_section(raw, venue.config)
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise ConfigError(venue.config_path, "storage", str(exc).splitlines()[0]) from None
    comp = StorageComponent(venue, settings, data_dir_of(venue))
    try:
        comp.open()
    except (JournalError, StoreError, OSError) as exc:
        # a locked data dir, an unreachable database...: one clear line, no traceback (fixvenue run exits 2)
        comp._close()
        raise ConfigError(venue.config_path, "storage", f"cannot open the venue's storage: {exc}") from None
    venue.services["storage"] = comp
    venue.services["store"] = comp
    if comp.journal is not None:
        venue.services["journal"] = comp.journal
    if comp.db is not None:
        venue.services["sql_engine"] = comp.db
    venue.add(comp)
    return comp
