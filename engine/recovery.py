"""Crash recovery: the newest usable snapshot + a replay of the journal after it.

The same function rebuilds the venue at start-up (app/wiring_store.py), offline
(`fixvenue replay`) and in the restart benchmark, so what is measured is what runs.

Choosing the snapshot: newest first, skipping any that is unreadable (a damaged
file falls back to the one before it) or — when `max_event_seq` is given — any
that is ahead of the SQL store (the store is fed the events of the replayed
tail, so recovery must start at or before the store's last event). With no
usable snapshot the whole journal is replayed.

Replay calls `oms.process` for each command exactly as the live sequencer did,
so OMS listeners and handlers (risk positions, circuit breakers, deferred
commands) see the same events again; after each journal record (one group
commit = one live flush) market-data bookkeeping is collected as the live
sequencer does, so even the per-book market-data sequence comes back equal.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from engine.commands import Command
from engine.events import Event
from engine.journal import JournalError, JournalReader, TornTail
from engine.oms import OMS
from engine.snapshot import SnapshotError, SnapshotExtension, SnapshotInfo, SnapshotStore, restore

log = logging.getLogger("fixvenue.recovery")


class RecoveryError(Exception):
    """The journal and snapshots cannot be combined into a state (needs an operator)."""


@dataclass
class RecoveryReport:
    snapshot: SnapshotInfo | None = None
    snapshot_s: float = 0.0
    start_index: int = 0
    end_index: int = 0
    commands_replayed: int = 0
    replay_s: float = 0.0
    command_errors: int = 0
    event_seq: int = 0
    torn: TornTail | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return self.snapshot_s + self.replay_s

    def summary(self) -> str:
        if self.snapshot is None and not self.commands_replayed:
            return "fresh start (empty journal)"
        parts = []
        if self.snapshot is not None:
            parts.append(f"snapshot @ command {self.snapshot.journal_pos:,} loaded in {self.snapshot_s:.2f} s")
        parts.append(f"{self.commands_replayed:,} commands replayed in {self.replay_s:.2f} s")
        if self.command_errors:
            parts.append(f"{self.command_errors} raised (as they did live)")
        parts.append(f"event seq {self.event_seq:,}")
        return "recovered: " + ", ".join(parts)


def choose_snapshot(store: SnapshotStore, journal_first: int, journal_end: int,
                    max_event_seq: int | None, report: RecoveryReport) -> tuple[SnapshotInfo, dict] | None:
    infos = list(reversed(store.list()))
    for strict in (True, False):
        if not strict and (journal_first == 0 or max_event_seq is None):
            return None  # the whole journal is there: replay it rather than skip the store's gap
        for info in infos:
            if strict and max_event_seq is not None and info.event_seq > max_event_seq:
                continue
            if info.journal_pos > journal_end:
                report.warnings.append(f"snapshot {info.path.name} is ahead of the journal (ends at command "
                                       f"{journal_end}); ignored")
                continue
            if info.journal_pos < journal_first:
                continue
            try:
                return info, store.load(info)
            except SnapshotError as exc:
                report.warnings.append(f"{exc}; trying an older snapshot")
        if strict and max_event_seq is not None and journal_first > 0:
            report.warnings.append(
                f"no snapshot at or before the SQL store's last event {max_event_seq} and the journal before "
                f"command {journal_first} was removed: the store will miss the events in between")
    return None


def recover(
    oms: OMS,
    journal_dir: Path | str,
    snapshot_dir: Path | str | None = None,
    *,
    extensions: Mapping[str, SnapshotExtension] | None = None,
    use_snapshot: bool = True,
    max_event_seq: int | None = None,
    on_events: Callable[[list[Event]], None] | None = None,
    on_commands: Callable[[int, list[Command]], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    until: int | None = None,
) -> RecoveryReport:
    """Rebuild `oms` (freshly built from the configuration) from disk.

    `on_events(events)` gets the events of every replayed command and
    `on_commands(first_index, commands)` every replayed journal record — the
    SQL store catches up with them. `progress(done, total)` is told as
    commands replay. `until` stops before that command index (offline
    inspection of an earlier state; snapshots after it are not used). Read-only: the journal is not modified (FileJournal.open
    truncates a torn tail; tools that only look do not)."""
    report = RecoveryReport()
    reader = JournalReader(journal_dir)
    first = reader.first_index
    end = reader.scan_end()
    report.torn = reader.torn
    if until is not None:
        end = min(end, until)
    start = first
    t0 = time.perf_counter()
    if use_snapshot and snapshot_dir is not None:
        chosen = choose_snapshot(SnapshotStore(snapshot_dir), first, end, max_event_seq, report)
        if chosen is not None:
            info, snap = chosen
            try:
                report.warnings.extend(restore(oms, snap, extensions))
            except SnapshotError as exc:
                raise RecoveryError(str(exc)) from None
            report.snapshot = info
            start = info.journal_pos
    if start > 0 and report.snapshot is None and first > 0:
        raise RecoveryError(f"the journal in {journal_dir} starts at command {first} and no snapshot covers the "
                            f"commands before it")
    report.snapshot_s = time.perf_counter() - t0
    report.start_index = start
    total = max(0, end - start)
    t1 = time.perf_counter()
    done = 0
    errors = 0
    process = oms.process
    collect = oms.collect_book_updates
    try:
        for first_index, cmds in reader.batches(start):
            if until is not None and first_index + len(cmds) > until:
                cmds = cmds[: max(0, until - first_index)]
                if not cmds:
                    break
            if on_events is None:
                for cmd in cmds:
                    try:
                        process(cmd)
                    except Exception:
                        errors += 1
                        log.exception("replayed command %r raised (it did so live too)", cmd)
            else:
                for cmd in cmds:
                    try:
                        evs = process(cmd)
                    except Exception:
                        errors += 1
                        log.exception("replayed command %r raised (it did so live too)", cmd)
                        continue
                    if evs:
                        on_events(evs)
            collect()
            if on_commands is not None:
                on_commands(first_index, cmds)
            done += len(cmds)
            if progress is not None:
                progress(done, total)
    except JournalError as exc:
        raise RecoveryError(str(exc)) from exc
    report.replay_s = time.perf_counter() - t1
    report.commands_replayed = done
    report.command_errors = errors
    report.end_index = reader.end_index if until is None else min(reader.end_index, until)
    report.event_seq = oms.seq
    for w in report.warnings:
        log.warning("recovery: %s", w)
    return report
