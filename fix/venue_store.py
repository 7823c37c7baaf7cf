"""A FIX message store for the venue: FileStore's files, written once per event-loop turn.

Why it exists: `fix.store.FileStore` rewrites and renames its sequence-number file on every
message (about 200 us each on this project's disks, before any fsync), which caps a venue
session at a few thousand messages a second. The venue gateway sends ExecutionReports in
batches (one per sequencer flush), so this store keeps FileStore's on-disk format (the same
`<key>.messages` log and `<key>.seqnums` file, readable by `FileStore`) but

* appends message records to the buffered log without syncing each one,
* keeps the sequence numbers in a fixed-width record updated in place with one `pwrite`,
* makes both durable in `commit()`: flush (and fsync if asked) once per batch.

`commit()` is called by the gateway before it hands a batch to the sockets ("stored before
sent"), and is also scheduled with `loop.call_soon` the first time the store changes in a loop
turn, so admin traffic (heartbeats, logons) is committed within the same turn. Without a
running loop every change is committed at once. A process crash loses nothing that was
committed; with `fsync=False` (the default) a power failure can lose the last turn.

Requested from the FIX engine as a built-in mode of FileStore (see notes/README-fix.md).
"""

from __future__ import annotations

import asyncio
import os

from .store import FileStore

_RECORD = 96  # bytes of the fixed-width seqnums record ("<sender> <target> <created>" padded)


class GroupCommitFileStore(FileStore):
    """`FileStore` with group commit (see module docstring). Same constructor arguments."""

    def __init__(self, directory, key: str, fsync: bool = False) -> None:
        super().__init__(directory, key, fsync=fsync)
        self._seq_fd = os.open(self._seq_path, os.O_RDWR | os.O_CREAT, 0o644)
        self._dirty_log = False
        self._dirty_seq = False
        self._scheduled = False
        self._offset = self._log.seek(0, os.SEEK_END)   # tell() on a buffered file costs a syscall
        self.commits = 0
        if os.fstat(self._seq_fd).st_size != _RECORD:
            self._write_seqnums()

    # -- changes are buffered ----------------------------------------------------------------
    def _changed(self, log: bool) -> None:
        if log:
            self._dirty_log = True
        self._dirty_seq = True
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.commit()
            return
        self._scheduled = True
        loop.call_soon(self.commit)

    def set_next_sender_seq(self, seq: int) -> None:
        self._sender = seq
        self._changed(False)

    def set_next_target_seq(self, seq: int) -> None:
        self._target = seq
        self._changed(False)

    def save(self, seq: int, raw: bytes) -> None:
        head = b"%d %d\n" % (seq, len(raw))
        rec = head + raw + b"\n"
        self._log.write(rec)
        self._index[seq] = (self._offset + len(head), len(raw))
        self._offset += len(rec)
        self._sender = seq + 1
        self._changed(True)

    def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        self.commit()
        return super().get_range(begin, end)

    def reset(self) -> None:
        super().reset()  # truncates the log and writes the seqnums record (ours, via pwrite)
        self._offset = 0
        self._dirty_log = self._dirty_seq = False

    # -- durability ----------------------------------------------------------------------------
    def _write_seqnums(self) -> None:
        rec = f"{self._sender} {self._target} {self._created!r}".encode()
        os.pwrite(self._seq_fd, rec.ljust(_RECORD - 1) + b"\n", 0)
        if self.fsync:
            os.fsync(self._seq_fd)

    def commit(self) -> None:
        """Make every change so far durable (flush, and fsync when configured)."""
        self._scheduled = False
        if self._dirty_log:
            self._dirty_log = False
            self._sync(self._log)
        if self._dirty_seq:
            self._dirty_seq = False
            self._write_seqnums()
        self.commits += 1

    def close(self) -> None:
        try:
            self.commit()
        except (OSError, ValueError):
            pass
        super().close()
        try:
            os.close(self._seq_fd)
        except OSError:
            pass
