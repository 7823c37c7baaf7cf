"""Message stores: outbound messages and both sequence numbers, surviving restarts.

A session persists every message it sends (so it can answer ResendRequests) and its
next sender / next target sequence numbers. The interface is synchronous on purpose:
the sans-IO session calls it inline, exactly when a number changes, so a crash can
never leave a sent message unrecorded. Three implementations:

* `MemoryStore` - tests and throw-away sessions (the conformance server).
* `FileStore`   - an append-only message log plus a sequence-number file, fsync'd.
* `SqlStore`    - SQLAlchemy 2; SQLite by default, PostgreSQL via postgresql+psycopg://.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import StoreError


@runtime_checkable
class MessageStore(Protocol):
    """What a session needs from persistence (see module docstring)."""

    def next_sender_seq(self) -> int: ...
    def next_target_seq(self) -> int: ...
    def set_next_sender_seq(self, seq: int) -> None: ...
    def set_next_target_seq(self, seq: int) -> None: ...
    def save(self, seq: int, raw: bytes) -> None:
        """Record outbound message `seq` and set the next sender seq to seq + 1."""
    def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]: ...
    def reset(self) -> None:
        """Forget all messages, both sequence numbers back to 1, new creation time."""
    def creation_time(self) -> float: ...
    def close(self) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self._messages: dict[int, bytes] = {}
        self._sender = 1
        self._target = 1
        self._created = time.time()

    def next_sender_seq(self) -> int:
        return self._sender

    def next_target_seq(self) -> int:
        return self._target

    def set_next_sender_seq(self, seq: int) -> None:
        self._sender = seq

    def set_next_target_seq(self, seq: int) -> None:
        self._target = seq

    def save(self, seq: int, raw: bytes) -> None:
        self._messages[seq] = raw
        self._sender = seq + 1

    def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        m = self._messages
        if end - begin > len(m):
            return sorted((s, r) for s, r in m.items() if begin <= s <= end)
        return [(s, m[s]) for s in range(begin, end + 1) if s in m]

    def reset(self) -> None:
        self._messages.clear()
        self._sender = self._target = 1
        self._created = time.time()

    def creation_time(self) -> float:
        return self._created

    def close(self) -> None:
        pass


_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def session_key(begin_string: str, sender: str, target: str, qualifier: str = "") -> str:
    """A file-name-safe key for one session."""
    key = f"{begin_string}-{sender}-{target}" + (f"-{qualifier}" if qualifier else "")
    return _SAFE.sub("_", key)


class FileStore:
    """Append-only log `<key>.messages` + `<key>.seqnums`, each write fsync'd.

    Log records are ``<seq> <length>\\n<raw bytes>\\n``; the index is rebuilt on open. A torn
    last record (crash mid-write) is ignored and truncated away on the next write.
    The seqnums file is replaced atomically (write temp, fsync, rename).
    """

    def __init__(self, directory: str | os.PathLike, key: str, fsync: bool = True) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.fsync = fsync
        self._log_path = self.dir / f"{key}.messages"
        self._seq_path = self.dir / f"{key}.seqnums"
        self._index: dict[int, tuple[int, int]] = {}  # seq -> (offset, length)
        self._sender = 1
        self._target = 1
        self._created = time.time()
        self._load()
        self._log = open(self._log_path, "ab+")
        self._log.truncate(self._valid_end)
        self._log.seek(0, os.SEEK_END)

    def _load(self) -> None:
        if self._seq_path.exists():
            try:
                parts = self._seq_path.read_text().split()
                self._sender, self._target = int(parts[0]), int(parts[1])
                if len(parts) > 2:
                    self._created = float(parts[2])
            except (ValueError, IndexError, OSError) as exc:
                raise StoreError(f"corrupt sequence file {self._seq_path}: {exc}") from exc
        self._valid_end = 0
        if not self._log_path.exists():
            return
        data = self._log_path.read_bytes()
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            try:
                seq_text, len_text = data[pos:nl].split(b" ")
                seq, length = int(seq_text), int(len_text)
            except ValueError:
                break
            start = nl + 1
            if start + length + 1 > len(data) or data[start + length : start + length + 1] != b"\n":
                break
            self._index[seq] = (start, length)
            pos = start + length + 1
            self._valid_end = pos

    def _sync(self, f) -> None:
        f.flush()
        if self.fsync:
            os.fsync(f.fileno())

    def _write_seqnums(self) -> None:
        tmp = self._seq_path.with_suffix(".seqnums.tmp")
        with open(tmp, "w") as f:
            f.write(f"{self._sender} {self._target} {self._created!r}\n")
            self._sync(f)
        os.replace(tmp, self._seq_path)

    def next_sender_seq(self) -> int:
        return self._sender

    def next_target_seq(self) -> int:
        return self._target

    def set_next_sender_seq(self, seq: int) -> None:
        self._sender = seq
        self._write_seqnums()

    def set_next_target_seq(self, seq: int) -> None:
        self._target = seq
        self._write_seqnums()

    def save(self, seq: int, raw: bytes) -> None:
        f = self._log
        offset = f.tell()
        head = b"%d %d\n" % (seq, len(raw))
        f.write(head + raw + b"\n")
        self._sync(f)
        self._index[seq] = (offset + len(head), len(raw))
        self._sender = seq + 1
        self._write_seqnums()

    def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        out = []
        with open(self._log_path, "rb") as f:
            for seq in sorted(s for s in self._index if begin <= s <= end):
                off, length = self._index[seq]
                f.seek(off)
                out.append((seq, f.read(length)))
        return out

    def reset(self) -> None:
        self._log.truncate(0)
        self._log.seek(0)
        self._sync(self._log)
        self._index.clear()
        self._sender = self._target = 1
        self._created = time.time()
        self._write_seqnums()

    def creation_time(self) -> float:
        return self._created

    def close(self) -> None:
        try:
            self._log.close()
        except OSError:
            pass


class SqlStore:
    """SQLAlchemy 2 store: tables fix_session_state and fix_messages, one row per message.

    Works with any SQLAlchemy URL; tested with SQLite and written for PostgreSQL
    (postgresql+psycopg://...). Each change is its own committed transaction.
    """

    def __init__(self, url: str, key: str, engine=None) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self.key = key
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else sa.create_engine(url, future=True)
        self._lock = threading.Lock()
        md = sa.MetaData()
        self.state = sa.Table(
            "fix_session_state", md,
            sa.Column("session_key", sa.String(200), primary_key=True),
            sa.Column("next_sender_seq", sa.BigInteger, nullable=False),
            sa.Column("next_target_seq", sa.BigInteger, nullable=False),
            sa.Column("creation_time", sa.Float, nullable=False),
        )
        self.messages = sa.Table(
            "fix_messages", md,
            sa.Column("session_key", sa.String(200), primary_key=True),
            sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("raw", sa.LargeBinary, nullable=False),
        )
        md.create_all(self.engine)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(self.state).where(self.state.c.session_key == key)).first()
            if row is None:
                now = time.time()
                conn.execute(self.state.insert().values(session_key=key, next_sender_seq=1, next_target_seq=1, creation_time=now))
                self._sender, self._target, self._created = 1, 1, now
            else:
                self._sender, self._target, self._created = int(row.next_sender_seq), int(row.next_target_seq), float(row.creation_time)

    def _update(self, conn, **values) -> None:
        conn.execute(self.state.update().where(self.state.c.session_key == self.key).values(**values))

    def next_sender_seq(self) -> int:
        return self._sender

    def next_target_seq(self) -> int:
        return self._target

    def set_next_sender_seq(self, seq: int) -> None:
        with self._lock, self.engine.begin() as conn:
            self._update(conn, next_sender_seq=seq)
        self._sender = seq

    def set_next_target_seq(self, seq: int) -> None:
        with self._lock, self.engine.begin() as conn:
            self._update(conn, next_target_seq=seq)
        self._target = seq

    def save(self, seq: int, raw: bytes) -> None:
        sa = self._sa
        m = self.messages
        with self._lock, self.engine.begin() as conn:
            conn.execute(m.delete().where(sa.and_(m.c.session_key == self.key, m.c.seq == seq)))
            conn.execute(m.insert().values(session_key=self.key, seq=seq, raw=raw))
            self._update(conn, next_sender_seq=seq + 1)
        self._sender = seq + 1

    def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        sa = self._sa
        m = self.messages
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(m.c.seq, m.c.raw)
                .where(sa.and_(m.c.session_key == self.key, m.c.seq >= begin, m.c.seq <= end))
                .order_by(m.c.seq)
            ).all()
        return [(int(r.seq), bytes(r.raw)) for r in rows]

    def reset(self) -> None:
        now = time.time()
        with self._lock, self.engine.begin() as conn:
            conn.execute(self.messages.delete().where(self.messages.c.session_key == self.key))
            self._update(conn, next_sender_seq=1, next_target_seq=1, creation_time=now)
        self._sender = self._target = 1
        self._created = now

    def creation_time(self) -> float:
        return self._created

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()
