"""The command journal: an append-only file of every command, in processing order.

The core is deterministic, so the journal of commands is the venue's state:
replaying it into a fresh OMS rebuilds every book, order and counter exactly.
`FileJournal` implements the sequencer's `Journal` protocol (`append(cmd)` /
`commit()`): `append` only queues the command object (the hot path pays ~50 ns),
and `commit` — called by the sequencer once per event-loop turn, before any
event of that turn is delivered — encodes the whole turn as ONE record, writes
it and fsyncs it (group commit). One fsync per loop turn is what makes
"durable before acknowledged" affordable.

On disk (`<dir>/<first index:020d>.fxj`, a new segment after each snapshot):

    segment header  b"FXJ1" | u64 first command index | u32 crc32(first 12 bytes)
    record          u32 payload length | u32 crc32(type..payload) | u8 type | u64 first index
                    | u32 command count | payload

Record types: SCHEMA (JSON {kind: [slot names]}: declares the positional layout
of every command kind before its first use in the segment, so old journals stay
readable when a command grows a field) and BATCH (JSON list of rows
`[kind, value, value, ...]`, one row per command of one group commit).

Command indexes are 0-based and gap-free over the whole journal; a snapshot
records how many commands it covers, so restart = snapshot + the commands at
and after that index.

A crash can leave the last record half written (a "torn tail"). Because events
are only delivered after a successful commit, such a record was never
acknowledged to anyone: the reader detects it (short read, bad length or CRC)
and `FileJournal.open` truncates it away. Damage anywhere else is not a torn
tail and raises `JournalCorrupt`.

JSON is the payload format on purpose: it is stable across Python versions,
safe to load (no code), readable with standard tools, and `json` encodes a
whole batch of tuples in C at about 1 us per command.
"""

from __future__ import annotations

import fcntl
import inspect
import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Callable, Iterator

from engine.commands import COMMAND_TYPES, Command

log = logging.getLogger("fixvenue.journal")

MAGIC = b"FXJ1"
SEGMENT_SUFFIX = ".fxj"
_SEG_HEAD = struct.Struct("<4sQ")            # magic, first index
_SEG_HEAD_LEN = _SEG_HEAD.size + 4           # + crc32
_REC_HEAD = struct.Struct("<IIBQI")          # length, crc32, type, first index, command count
_REC_HEAD_LEN = _REC_HEAD.size
_CRC_FROM = 8                                # the crc covers type, first index and payload
REC_SCHEMA = 1
REC_BATCH = 2
MAX_RECORD = 1 << 30                         # a length above this is damage, not data

_encoder = json.JSONEncoder(separators=(",", ":"))   # ensure_ascii: always encodable, even lone surrogates


class JournalError(Exception):
    """The journal cannot be written (I/O error, disk full, closed): the venue must stop taking commands."""


class JournalClosed(JournalError):
    pass


class JournalCorrupt(JournalError):
    """The journal is damaged somewhere other than its last record (needs an operator)."""

    def __init__(self, path: Path | str, offset: int, reason: str) -> None:
        self.path = str(path)
        self.offset = offset
        self.reason = reason
        super().__init__(f"journal {self.path} is damaged at byte {offset}: {reason}")


class JournalLocked(JournalError):
    """Another process has this journal open for writing."""


@dataclass(frozen=True)
class TornTail:
    """The unreadable end of the last segment: a record a crash interrupted."""

    path: str
    offset: int        # where the valid data ends
    discarded: int     # bytes after it


def segment_name(first_index: int) -> str:
    return f"{first_index:020d}{SEGMENT_SUFFIX}"


def list_segments(directory: Path | str) -> list[tuple[int, Path]]:
    """(first index, path) of every segment, in index order."""
    d = Path(directory)
    if not d.is_dir():
        return []
    out = []
    for p in d.iterdir():
        name = p.name
        if name.endswith(SEGMENT_SUFFIX) and name[: -len(SEGMENT_SUFFIX)].isdigit():
            out.append((int(name[: -len(SEGMENT_SUFFIX)]), p))
    out.sort()
    return out


def _segment_header(first_index: int) -> bytes:
    head = _SEG_HEAD.pack(MAGIC, first_index)
    return head + struct.pack("<I", zlib.crc32(head))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- codec


class _Codec:
    """Positional rows <-> command objects, one generated decoder per (kind, slot layout)."""

    def __init__(self) -> None:
        self._decoders: dict[tuple[str, tuple[str, ...]], Callable[[list], Command]] = {}

    @staticmethod
    def getter(cls: type[Command]) -> Callable[[Command], tuple]:
        # "kind" first: a class attribute, read through the instance, so the row is one C call
        return attrgetter("kind", *cls.__slots__)

    def decoder(self, kind: str, slots: tuple[str, ...]) -> Callable[[list], Command]:
        key = (kind, slots)
        fn = self._decoders.get(key)
        if fn is None:
            fn = self._decoders[key] = self._build(kind, slots)
        return fn

    @staticmethod
    def _build(kind: str, slots: tuple[str, ...]) -> Callable[[list], Command]:
        cls = COMMAND_TYPES.get(kind)
        if cls is None:
            raise KeyError(kind)
        current = tuple(cls.__slots__)
        if slots == current:
            # generated straight-line code: ~1 us per command instead of a setattr loop
            names = ", ".join(f"o.{n}" for n in current)
            src = (
                "def decode(row, new=object.__new__, cls=cls):\n"
                "    o = new(cls)\n"
                f"    {names}{',' if len(current) == 1 else ''} = row[1:]\n"
                "    return o\n"
            )
            ns: dict = {"cls": cls}
            exec(src, ns)  # noqa: S102 - code generated from the class's own slot names
            return ns["decode"]
        # the class changed since this journal was written: map by name, defaults for new fields
        defaults = {}
        try:
            for name, p in inspect.signature(cls.__init__).parameters.items():
                if p.default is not inspect.Parameter.empty:
                    defaults[name] = p.default
        except (TypeError, ValueError):
            pass
        missing = [n for n in current if n not in slots and n not in defaults]
        if missing:
            raise JournalError(f"journal rows of kind {kind!r} lack field(s) {missing} the current "
                               f"{cls.__name__} needs and has no default for")

        def decode(row, cls=cls, slots=slots, current=current, defaults=defaults):
            vals = dict(zip(slots, row[1:]))
            o = object.__new__(cls)
            for n in current:
                setattr(o, n, vals[n] if n in vals else defaults[n])
            return o

        return decode


# --------------------------------------------------------------------------- reading


class JournalReader:
    """Reads a journal directory (read-only: never truncates; see `FileJournal.open`).

    `batches(start)` yields (first index, [commands]) for every committed group
    at or after command index `start`; `commands(start)` flattens that.
    `scan_end()` finds where the journal ends by checking the framing of the
    last segment only (no decoding). After either, `end_index` is the index the
    next command would get and `torn` describes a torn tail, if any."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.segments = list_segments(self.directory)
        self.torn: TornTail | None = None
        self.end_index = self.segments[0][0] if self.segments else 0
        self.bytes_read = 0
        self._codec = _Codec()

    @property
    def first_index(self) -> int:
        return self.segments[0][0] if self.segments else 0

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for _, p in self.segments)

    def scan_end(self) -> int:
        """The index after the last committed command (checks the last segment's records)."""
        if not self.segments:
            self.end_index = 0
            return 0
        first, path = self.segments[-1]
        end = first
        for rtype, idx, count, _payload in self._records(path, first, last=True):
            end = idx + count
        self.end_index = end
        return end

    def commands(self, start: int = 0) -> Iterator[tuple[int, Command]]:
        for first, cmds in self.batches(start):
            for i, c in enumerate(cmds):
                yield first + i, c

    def batches(self, start: int | None = None) -> Iterator[tuple[int, list[Command]]]:
        segs = self.segments
        if start is None:
            start = self.first_index
        if segs and start < segs[0][0]:
            raise JournalError(f"journal {self.directory} starts at command {segs[0][0]}, "
                               f"cannot replay from {start} (earlier segments were removed)")
        expected = segs[0][0] if segs else 0
        self.end_index = expected
        for n, (seg_first, path) in enumerate(segs):
            last = n == len(segs) - 1
            nxt = segs[n + 1][0] if not last else None
            if nxt is not None and nxt <= start:
                expected = nxt   # wholly before the start: its end is the next segment's first index
                self.end_index = expected
                continue
            if seg_first != expected:
                raise JournalCorrupt(path, 0, f"segment starts at command {seg_first}, expected {expected} "
                                              f"(missing segment?)")
            expected = yield from self._decode_segment(path, seg_first, start, last)
            self.end_index = expected

    def _records(self, path: Path, seg_first: int, last: bool):
        """(type, first index, count, payload) of each intact record; a damaged end is a torn
        tail in the last segment and corruption anywhere else."""
        data = path.read_bytes()
        self.bytes_read += len(data)
        size = len(data)
        bad_head = None
        if size < _SEG_HEAD_LEN or data[:4] != MAGIC:
            bad_head = "bad segment header"
        else:
            (crc,) = struct.unpack_from("<I", data, _SEG_HEAD.size)
            _magic, first = _SEG_HEAD.unpack_from(data, 0)
            if crc != zlib.crc32(data[: _SEG_HEAD.size]) or first != seg_first:
                bad_head = "segment header does not match its name"
        if bad_head is not None:
            if last:
                # a segment whose header a crash interrupted: it holds nothing
                self.torn = TornTail(str(path), 0, size)
                return
            raise JournalCorrupt(path, 0, bad_head)
        expected = seg_first
        pos = _SEG_HEAD_LEN
        mv = memoryview(data)
        while pos < size:
            bad = None
            if size - pos < _REC_HEAD_LEN:
                bad = "short record header"
            else:
                length, crc, rtype, first_index, count = _REC_HEAD.unpack_from(data, pos)
                end = pos + _REC_HEAD_LEN + length
                if length > MAX_RECORD or end > size:
                    bad = "record runs past the end of the file"
                elif zlib.crc32(mv[pos + _CRC_FROM:end]) != crc:
                    bad = "checksum mismatch"
                elif rtype not in (REC_SCHEMA, REC_BATCH) or first_index != expected:
                    bad = f"unexpected record (type {rtype}, first index {first_index}, expected {expected})"
            if bad is not None:
                if last:
                    self.torn = TornTail(str(path), pos, size - pos)
                    return
                raise JournalCorrupt(path, pos, bad)
            yield rtype, first_index, (count if rtype == REC_BATCH else 0), mv[pos + _REC_HEAD_LEN:end]
            if rtype == REC_BATCH:
                expected = first_index + count
            pos = end

    def _decode_segment(self, path: Path, seg_first: int, start: int, last: bool):
        schema: dict[str, tuple[str, ...]] = {}
        decoders: dict[str, Callable] = {}
        expected = seg_first
        loads = json.loads
        for rtype, first_index, count, payload in self._records(path, seg_first, last):
            if rtype == REC_SCHEMA:
                for kind, slots in loads(bytes(payload)).items():
                    schema[kind] = tuple(slots)
                    decoders.pop(kind, None)
                continue
            expected = first_index + count
            if expected <= start:
                continue
            rows = loads(bytes(payload))
            if len(rows) != count:
                raise JournalCorrupt(path, 0, f"record at command {first_index} holds {len(rows)} commands, "
                                              f"its header says {count}")
            cmds = []
            append = cmds.append
            for row in rows:
                kind = row[0]
                dec = decoders.get(kind)
                if dec is None:
                    if kind not in schema:
                        raise JournalCorrupt(path, 0, f"command kind {kind!r} used before its schema record")
                    try:
                        dec = decoders[kind] = self._codec.decoder(kind, schema[kind])
                    except KeyError:
                        raise JournalError(f"journal holds commands of kind {kind!r} that no loaded module "
                                           f"registers (engine.commands.register_command_type)") from None
                append(dec(row))
            if first_index < start:
                cmds = cmds[start - first_index:]
                first_index = start
            yield first_index, cmds
        return expected


# --------------------------------------------------------------------------- writing


class FileJournal:
    """The writable journal (see module docstring). Use `FileJournal.open(dir)`.

    `on_commit` callbacks get (first index, commands) after each durable commit
    (the SQL store's audit log is fed this way). After an I/O error the journal
    is *failed*: every further append raises `JournalError`, so a venue whose
    journal cannot be written stops taking commands instead of acknowledging
    what it cannot keep (`on_failure` callbacks are told once)."""

    def __init__(self, directory: Path, next_index: int, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.fsync = fsync
        self.next_index = next_index          # index of the next appended command
        self.committed_index = next_index     # commands before this index are durable
        self.on_commit: list[Callable[[int, list[Command]], None]] = []
        self.on_failure: list[Callable[[BaseException], None]] = []
        self.commits = 0
        self.bytes_written = 0
        self.torn: TornTail | None = None
        self._pending: list[Command] = []
        self._getters: dict[type, Callable] = {}
        self._declared: set[str] = set()
        self._undeclared: dict[str, list[str]] = {}
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._failed: BaseException | None = None
        self.segment_first = next_index

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(cls, directory: Path | str, *, fsync: bool = True, lock: bool = True) -> "FileJournal":
        """Open (or create) the journal in `directory`: take the directory lock, check every
        segment, truncate a torn tail, and position at the end for appending."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        lock_fd = None
        if lock:
            lock_fd = os.open(d / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(lock_fd)
                raise JournalLocked(f"journal {d} is in use by another process") from None
        try:
            reader = JournalReader(d)
            reader.scan_end()
            j = cls(d, reader.end_index, fsync)
            j._lock_fd = lock_fd
            j.torn = reader.torn
            if reader.torn is not None:
                t = reader.torn
                log.warning("journal %s: discarding a torn tail of %d bytes at offset %d (a record a crash "
                            "interrupted; it was never acknowledged)", t.path, t.discarded, t.offset)
                if t.offset == 0:
                    os.unlink(t.path)
                else:
                    with open(t.path, "r+b") as f:
                        f.truncate(t.offset)
                        f.flush()
                        os.fsync(f.fileno())
            segs = list_segments(d)
            if segs:
                first, path = segs[-1]
                j._open_segment(path, first, create=False)
            else:
                j._open_segment(d / segment_name(j.next_index), j.next_index, create=True)
            return j
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise

    def _open_segment(self, path: Path, first: int, create: bool) -> None:
        if create:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            self._write_all(fd, _segment_header(first))
            if self.fsync:
                os.fsync(fd)
                _fsync_dir(self.directory)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._fd = fd
        self.segment_first = first
        # every kind is declared again in each segment, so a segment reads on its own
        self._declared = set()
        self._undeclared = {}
        self._getters = {}

    # ---------------------------------------------------------------- the Journal protocol

    def append(self, cmd: Command) -> None:
        if self._fd is None or self._failed is not None:
            self._refuse()
        if type(cmd) not in self._getters:
            self._getter_for(type(cmd))  # an unregistered class is refused before it is processed
        self._pending.append(cmd)
        self.next_index += 1

    def commit(self) -> None:
        """Write and fsync everything appended since the last commit, as one record."""
        pending = self._pending
        if not pending:
            return
        if self._fd is None or self._failed is not None:
            self._refuse()
        self._pending = []
        first = self.committed_index
        getters = self._getters
        try:
            rows = [getters[type(c)](c) for c in pending]
        except KeyError:
            rows = [self._getter_for(type(c))(c) for c in pending]
        buf = bytearray()
        if self._undeclared:
            buf += self._record(REC_SCHEMA, first, 0, _encoder.encode(self._undeclared).encode())
            self._declared.update(self._undeclared)
            self._undeclared = {}
        try:
            payload = _encoder.encode(rows).encode()
        except (TypeError, ValueError):
            payload = self._encode_slowly(rows)
        buf += self._record(REC_BATCH, first, len(pending), payload)
        try:
            self._write_all(self._fd, buf)
            if self.fsync:
                os.fdatasync(self._fd)
        except OSError as exc:
            self._fail(exc)
            raise JournalError(f"journal write failed: {exc}") from exc
        self.committed_index = first + len(pending)
        self.commits += 1
        self.bytes_written += len(buf)
        for fn in self.on_commit:
            try:
                fn(first, pending)
            except Exception:  # a listener must not undo durability
                log.exception("journal commit listener %r failed", fn)

    def _getter_for(self, cls: type) -> Callable:
        g = self._getters.get(cls)
        if g is None:
            kind = getattr(cls, "kind", None)
            if COMMAND_TYPES.get(kind) is not cls:
                raise JournalError(f"command class {cls.__name__} (kind {kind!r}) is not registered; "
                                   f"use engine.commands.register_command_type")
            g = self._getters[cls] = _Codec.getter(cls)
        kind = cls.kind
        if kind not in self._declared:
            und = dict(self._undeclared)
            und[kind] = list(cls.__slots__)
            self._undeclared = und
        return g

    def _encode_slowly(self, rows: list) -> bytes:
        """A command carried a value JSON cannot hold (a gateway bug): keep the venue up, record
        the value's string form and say so loudly — its replay may differ from the original."""
        def coerce(v):
            log.error("journal: command value %r of type %s is not JSON; recorded as %r",
                      v, type(v).__name__, str(v))
            return str(v)
        return json.dumps(rows, separators=(",", ":"), default=coerce).encode()

    @staticmethod
    def _record(rtype: int, first_index: int, count: int, payload: bytes) -> bytes:
        tail = struct.pack("<BQI", rtype, first_index, count) + payload
        return struct.pack("<II", len(payload), zlib.crc32(tail)) + tail

    @staticmethod
    def _write_all(fd: int, buf) -> None:
        mv = memoryview(buf)
        while mv:
            n = os.write(fd, mv)
            mv = mv[n:]

    # ---------------------------------------------------------------- segments / lifecycle

    def rotate(self) -> None:
        """Start a new segment at `next_index` (after a snapshot). Commits what is pending first."""
        self.commit()
        if self._fd is None:
            self._refuse()
        if self.next_index == self.segment_first:
            return  # the current segment is still empty
        os.close(self._fd)
        self._fd = None
        try:
            self._open_segment(self.directory / segment_name(self.next_index), self.next_index, create=True)
        except OSError as exc:
            self._fail(exc)
            raise JournalError(f"journal rotation failed: {exc}") from exc

    def segments(self) -> list[tuple[int, Path]]:
        return list_segments(self.directory)

    def prune(self, before_index: int) -> list[Path]:
        """Delete whole segments that end at or before `before_index` (covered by a snapshot)."""
        segs = list_segments(self.directory)
        removed = []
        for n in range(len(segs) - 1):
            nxt_first = segs[n + 1][0]
            if nxt_first <= before_index:
                segs[n][1].unlink()
                removed.append(segs[n][1])
        if removed:
            _fsync_dir(self.directory)
        return removed

    def _fail(self, exc: BaseException) -> None:
        if self._failed is None:
            self._failed = exc
            log.critical("journal %s failed: %s — no further commands can be accepted", self.directory, exc)
            for fn in self.on_failure:
                try:
                    fn(exc)
                except Exception:
                    log.exception("journal failure listener failed")

    def _refuse(self):
        if self._failed is not None:
            raise JournalError(f"journal is unusable after an earlier error: {self._failed}")
        raise JournalClosed("journal is closed")

    @property
    def failed(self) -> BaseException | None:
        return self._failed

    @property
    def ready(self) -> bool:
        """Open and writable (the REST /ready probe reads this)."""
        return self._fd is not None and self._failed is None

    @property
    def closed(self) -> bool:
        return self._fd is None

    def close(self) -> None:
        """Commit what is pending and release the files (idempotent)."""
        if self._fd is not None:
            try:
                if self._failed is None:
                    self.commit()
            finally:
                os.close(self._fd)
                self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "FileJournal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_commands(directory: Path | str, start: int = 0) -> Iterator[tuple[int, Command]]:
    """Every committed command at or after `start` as (index, command) — for tools and tests."""
    return JournalReader(directory).commands(start)
