"""Snapshots: the whole OMS state at one journal position, so a restart does not
replay the journal from its beginning.

restart = load the newest usable snapshot + replay the journal from the
snapshot's `journal_pos` (see `engine/recovery.py`).

What a snapshot holds (everything `OMS.process` reads, captured through the
OMS's public attributes — the engine modules are not changed for this):

- every order ever accepted or rejected (`oms.orders`; terminal ones too, since
  queries and duplicate client-order-id checks need them) with its `OrderExt`;
- each book: trading state, last trade price, trigger bookkeeping, market-data
  sequence, and the resting orders of both sides in exact priority order
  (levels best first, FIFO inside a level, hidden orders where they sit), plus
  the waiting stop/touch orders in arrival order;
- client-order-id indexes, the open-order index, the orders claimed by the
  router (`oms.routed`; the router's own state is an extension), the counters (event seq,
  trade id, order id, last command time), the DAY/GTD expiry heap and the
  recent-trades ring;
- the state of registered **extensions**: any object with `snapshot_state()` /
  `restore_state(state)` (JSON-able state). State that other layers derive from
  events (risk: positions, kill switch) is rebuilt by replaying the journal
  tail through their OMS listeners — but the part before the snapshot is never
  replayed, so such a layer must register itself here (the venue's
  `services["snapshot_extensions"]` dict) or it restarts empty.

File: `snap-<journal_pos:020d>-<event_seq:020d>.fxs` =
b"FXS1" | u32 crc32(body) | u64 len(body) | body, where body is JSON lines: the
header object, then the orders in chunks (chunked so a big snapshot can be
encoded off the event loop without holding the GIL in one long call).
Written to a temporary file, fsynced, renamed, directory fsynced: a crash
leaves either the old set of snapshots or the new one, never half a file
under a snapshot name.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from collections import deque
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

from engine.events import Trade
from engine.oms import OMS
from engine.order import Order, OrderExt
from engine.types import TERMINAL_STATUSES

log = logging.getLogger("fixvenue.snapshot")

FORMAT = 1
MAGIC = b"FXS1"
_HEAD = struct.Struct("<4sIQ")
SUFFIX = ".fxs"
CHUNK = 20_000

# persisted Order fields (the links prev/next/level are rebuilt from the books; ext separately)
_LINKS = ("prev", "next", "level", "ext")
ORDER_FIELDS = tuple(n for n in Order.__slots__ if n not in _LINKS)
EXT_FIELDS = tuple(OrderExt.__slots__)
TRADE_FIELDS = tuple(Trade.__slots__)
# MatchingEngine slots that are structure (rebuilt) rather than values; every other slot — state,
# last price, trigger bookkeeping, market-data seq — is saved by name, so new engine fields are kept
_BOOK_STRUCTURE = frozenset({"instrument", "symbol", "bids", "asks", "stops", "oms"})

_order_row = attrgetter(*ORDER_FIELDS)
_ext_row = attrgetter(*EXT_FIELDS)
_trade_row = attrgetter(*TRADE_FIELDS)
_TRADE_ID = TRADE_FIELDS.index("trade_id")
_encoder = json.JSONEncoder(separators=(",", ":"))


class SnapshotError(Exception):
    """A snapshot that cannot be written, read, or applied to this venue's configuration."""


@runtime_checkable
class SnapshotExtension(Protocol):
    """State outside the OMS that must survive a restart (risk positions, kill switches...)."""

    def snapshot_state(self) -> Any:
        """A JSON-able copy of the state, taken between two commands."""

    def restore_state(self, state: Any) -> None:
        """Replace the state with one `snapshot_state()` returned (before the journal tail replays)."""


@dataclass(frozen=True)
class SnapshotInfo:
    path: Path
    journal_pos: int     # commands covered: replay starts at this journal index
    event_seq: int       # venue event seq after those commands


# --------------------------------------------------------------------------- capture / restore


def capture(oms: OMS, journal_pos: int, extensions: Mapping[str, SnapshotExtension] | None = None) -> dict:
    """A consistent copy of the OMS (and extensions) made of plain lists and ints.

    Must run between two commands (on the event-loop thread, after the
    sequencer's flush). The result shares nothing mutable with the OMS, so it
    can be encoded and written in another thread. (A full copy; the venue
    uses `Capturer`, which copies only what can have changed since its last
    capture.)"""
    return Capturer().capture(oms, journal_pos, extensions)


class Capturer:
    """Captures that re-read only what can have changed since the previous one.

    Finished orders never change again and client-order-id entries are only
    ever added, so after the first capture each next one copies the rows of the
    orders that were open last time, the orders and client order ids added
    since, and reuses the rest (lists are copied, never mutated, so an earlier
    capture still being written in another thread is unaffected). Matching is
    paused for O(open + new) instead of O(every order ever). Should the
    append-only assumption ever stop holding, the checks below notice and fall
    back to a full copy; the tests compare incremental and full captures."""

    def __init__(self) -> None:
        self._oms_id = None
        self._rows: list = []               # one row per order, in oms.orders order
        self._exts: dict[int, tuple] = {}   # order id -> (order id, *ext fields)
        self._open: list = []               # (row index, order) of the orders open at the last capture
        self._last_oid = None
        self._clids: dict[str, tuple[int, object, list, list]] = {}   # account -> (n, last key, clids, ids)
        self._trades: dict[str, tuple[list, int]] = {}                 # symbol -> (rows, last trade id)
        self.full_captures = 0

    def capture(self, oms: OMS, journal_pos: int, extensions: Mapping[str, SnapshotExtension] | None = None) -> dict:
        if oms._deferred:
            raise SnapshotError("cannot snapshot in the middle of a command (deferred commands pending)")
        if self._oms_id != id(oms):
            self.__init__()
            self._oms_id = id(oms)
        rows, exts = self._order_rows(oms)
        books = {}
        for sym, b in oms.books.items():
            books[sym] = {
                "values": {n: _plain(getattr(b, n), sym, n) for n in type(b).__slots__ if n not in _BOOK_STRUCTURE},
                "bids": [o.order_id for lv in b.bids.iter_levels() for o in lv.orders()],
                "asks": [o.order_id for lv in b.asks.iter_levels() for o in lv.orders()],
                "stops": list(b.stops),
            }
        ext_state = {}
        for name, ext in (extensions or {}).items():
            ext_state[name] = ext.snapshot_state()
        return {
            "format": FORMAT,
            "journal_pos": journal_pos,
            "event_seq": oms.seq,
            "counters": {"seq": oms.seq, "trade_seq": oms.trade_seq, "last_order_id": oms.last_order_id,
                         "now": oms.now},
            "order_fields": list(ORDER_FIELDS),
            "ext_fields": list(EXT_FIELDS),
            "trade_fields": list(TRADE_FIELDS),
            "order_exts": exts,
            # two parallel lists per account (client order ids, order ids): half the work of pairs
            "by_clid": {a: self._clid_lists(a, d) for a, d in oms.by_clid.items()},
            "open": {a: list(d) for a, d in oms.open_by_account.items()},
            "expiry": list(oms._expiry),
            # open orders claimed by the router (the router's own state is an extension)
            "routed": list(getattr(oms, "routed", ())),
            "books": books,
            "trades": {s: self._trade_rows(s, dq) for s, dq in oms.trades.items()},
            "extensions": ext_state,
            "orders": rows,
        }

    def _order_rows(self, oms: OMS) -> tuple[list, list]:
        orders = oms.orders
        n = len(self._rows)
        if n and (len(orders) < n or self._last_oid not in orders):
            n = 0   # not append-only after all: start over
        if n == 0:
            self.full_captures += 1
            rows: list = []
            exts: dict = {}
            open_: list = []
            new = orders.values()
        else:
            rows = self._rows[:]
            exts = dict(self._exts)
            open_ = []
            for i, o in self._open:
                rows[i] = _order_row(o)
                if o.ext is not None:
                    exts[o.order_id] = (o.order_id, *_ext_row(o.ext))
                if o.status not in TERMINAL_STATUSES:
                    open_.append((i, o))
            new = islice(orders.values(), n, None)
        i = len(rows)
        for o in new:
            rows.append(_order_row(o))
            if o.ext is not None:
                exts[o.order_id] = (o.order_id, *_ext_row(o.ext))
            if o.status not in TERMINAL_STATUSES:
                open_.append((i, o))
            i += 1
        self._rows = rows
        self._exts = exts
        self._open = open_
        self._last_oid = rows[-1][0] if rows else None
        return rows, list(exts.values())

    def _trade_rows(self, sym: str, dq) -> list:
        """The recent-trades ring only gains trades at its end (and drops old ones at its start)."""
        prev_rows, prev_last = self._trades.get(sym, ((), 0))
        new = []
        for t in reversed(dq):
            if t.trade_id <= prev_last:
                break
            new.append(t)
        keep = len(dq) - len(new)
        if keep > len(prev_rows) or (keep and prev_rows[-1][_TRADE_ID] != dq[keep - 1].trade_id):
            rows = [_trade_row(t) for t in dq]              # not what was expected: copy it all
        else:
            rows = list(prev_rows[len(prev_rows) - keep:]) if keep else []
            rows.extend(_trade_row(t) for t in reversed(new))
        self._trades[sym] = (rows, rows[-1][_TRADE_ID] if rows else 0)
        return rows

    def _clid_lists(self, account: str, d: dict) -> list:
        prev = self._clids.get(account)
        if prev is not None:
            n, last, clids, ids = prev
            if len(d) >= n and (n == 0 or last in d):
                if len(d) > n:
                    added = list(islice(d.items(), n, None))
                    clids = clids + [k for k, _ in added]
                    ids = ids + [o.order_id for _, o in added]
                self._clids[account] = (len(d), clids[-1] if clids else None, clids, ids)
                return [clids, ids]
        clids = list(d)
        ids = [o.order_id for o in d.values()]
        self._clids[account] = (len(d), clids[-1] if clids else None, clids, ids)
        return [clids, ids]


def _plain(v, sym: str, name: str):
    """A copy of a book value that JSON keeps exactly (ints, strings, lists of them)."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, (list, tuple)) and all(isinstance(x, int) for x in v):
        return list(v)
    raise SnapshotError(f"book {sym}: field {name!r} holds a {type(v).__name__}, which the snapshot cannot "
                        f"carry; engine/snapshot.py must learn it")


def _setter(cls, fields: tuple[str, ...]):
    """A fast constructor from a row of `fields` (generated, like journal decoders)."""
    slots = tuple(cls.__slots__)
    unknown = [f for f in fields if f not in slots]
    if unknown:
        raise SnapshotError(f"snapshot holds {cls.__name__} field(s) {unknown} this version does not know")
    rest = [n for n in slots if n not in fields]
    lines = ["def make(row, new=object.__new__, cls=cls):", "    o = new(cls)"]
    if fields:
        lines.append(f"    {', '.join('o.' + f for f in fields)}{',' if len(fields) == 1 else ''} = row")
    for n in rest:
        lines.append(f"    o.{n} = {_DEFAULTS.get((cls.__name__, n), 'None')}")
    lines.append("    return o")
    ns: dict = {"cls": cls}
    exec("\n".join(lines), ns)  # noqa: S102 - generated from the classes' own slot names
    return ns["make"]


# defaults for fields a (future) older snapshot lacks; links and ext are always rebuilt
_DEFAULTS = {("OrderExt", "triggered"): "False", ("Order", "visible"): "0"}


def restore(oms: OMS, snap: dict, extensions: Mapping[str, SnapshotExtension] | None = None) -> list[str]:
    """Load `snap` into a freshly built OMS (same instruments; accounts may have been added).

    Returns warnings (extension state missing or unused); raises SnapshotError
    when the snapshot cannot describe this venue (unknown format, instrument
    gone)."""
    if snap.get("format") != FORMAT:
        raise SnapshotError(f"snapshot format {snap.get('format')!r} is not supported (expected {FORMAT})")
    if oms.orders or oms.seq:
        raise SnapshotError("a snapshot can only be restored into a fresh OMS")
    warnings: list[str] = []
    missing = sorted(set(snap["books"]) - set(oms.books))
    if missing:
        raise SnapshotError(f"snapshot has books for instrument(s) {missing} that the configuration no longer "
                            f"defines; restore the instrument or replay the journal without this snapshot")
    make_order = _setter(Order, tuple(f for f in snap["order_fields"]))
    make_ext = _setter(OrderExt, tuple(snap["ext_fields"]))
    make_trade = _setter(Trade, tuple(snap["trade_fields"]))
    orders: dict[int, Order] = {}
    for row in snap["orders"]:
        o = make_order(row)
        orders[o.order_id] = o
    for row in snap["order_exts"]:
        orders[row[0]].ext = make_ext(row[1:])
    oms.orders = orders
    get = orders.__getitem__
    for acct, (clids, oids) in snap["by_clid"].items():
        oms.by_clid.setdefault(acct, {}).update(zip(clids, map(get, oids)))
    for acct, oids in snap["open"].items():
        oms.open_by_account.setdefault(acct, {}).update(zip(oids, map(get, oids)))
    oms._expiry = [tuple(x) for x in snap["expiry"]]
    routed = snap.get("routed") or []
    if routed:
        if not hasattr(oms, "routed"):
            raise SnapshotError("snapshot holds routed orders but this engine has no router extension point")
        oms.routed = {oid: orders[oid] for oid in routed}
    for sym, b in snap["books"].items():
        me = oms.books[sym]
        slots = type(me).__slots__
        for name, v in b["values"].items():
            if name not in slots:
                raise SnapshotError(f"snapshot holds book field {name!r} this engine version does not have")
            setattr(me, name, v)
        for side, oids in ((me.bids, b["bids"]), (me.asks, b["asks"])):
            add = side.add
            for oid in oids:
                add(orders[oid])
            side.dirty.clear()
        me.stops = {oid: orders[oid] for oid in b["stops"]}
    for sym, rows in snap["trades"].items():
        dq = oms.trades.get(sym)
        if dq is None:
            dq = oms.trades[sym] = deque(maxlen=10_000)
        dq.clear()
        dq.extend(make_trade(r) for r in rows)
    c = snap["counters"]
    oms.seq = c["seq"]
    oms.trade_seq = c["trade_seq"]
    oms.last_order_id = c["last_order_id"]
    oms.now = c["now"]
    exts = dict(extensions or {})
    saved = snap.get("extensions") or {}
    for name, ext in exts.items():
        if name in saved:
            ext.restore_state(saved[name])
        else:
            warnings.append(f"snapshot has no state for extension {name!r}: it starts empty at the snapshot "
                            f"position (command {snap['journal_pos']})")
    for name in saved:
        if name not in exts:
            warnings.append(f"snapshot state of extension {name!r} is not used (no such extension registered)")
    return warnings


def state_of(oms: OMS) -> dict:
    """The comparable state of an OMS (a capture without position or extensions)."""
    s = capture(oms, 0)
    del s["journal_pos"]
    del s["extensions"]
    return s


def state_digest(oms: OMS) -> str:
    """A short fingerprint of the whole OMS state: equal digests = identical venues."""
    import hashlib

    h = hashlib.sha256()
    for part in encode_parts(state_of(oms)):
        h.update(part)
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- encoding


def encode_parts(snap: dict) -> Iterable[bytes]:
    """The body as JSON lines: the header (everything but the orders), then order chunks."""
    head = {k: v for k, v in snap.items() if k != "orders"}
    head["order_chunks"] = (len(snap["orders"]) + CHUNK - 1) // CHUNK
    yield _encoder.encode(head).encode()
    orders = snap["orders"]
    for i in range(0, len(orders), CHUNK):
        yield b"\n" + _encoder.encode(orders[i:i + CHUNK]).encode()


def encode(snap: dict) -> bytes:
    body = b"".join(encode_parts(snap))
    return _HEAD.pack(MAGIC, zlib.crc32(body), len(body)) + body


def decode(data: bytes, where: str = "<snapshot>") -> dict:
    if len(data) < _HEAD.size:
        raise SnapshotError(f"{where}: too short to be a snapshot")
    magic, crc, n = _HEAD.unpack_from(data, 0)
    body = memoryview(data)[_HEAD.size:]
    if magic != MAGIC or n != len(body):
        raise SnapshotError(f"{where}: not a snapshot or truncated")
    if zlib.crc32(body) != crc:
        raise SnapshotError(f"{where}: checksum mismatch")
    lines = bytes(body).split(b"\n")
    try:
        snap = json.loads(lines[0])
        orders: list = []
        for line in lines[1:]:
            orders.extend(json.loads(line))
    except ValueError as exc:
        raise SnapshotError(f"{where}: unreadable body: {exc}") from None
    if len(lines) - 1 != snap.get("order_chunks"):
        raise SnapshotError(f"{where}: order chunks missing")
    snap["orders"] = orders
    return snap


# --------------------------------------------------------------------------- files


def snapshot_name(journal_pos: int, event_seq: int) -> str:
    return f"snap-{journal_pos:020d}-{event_seq:020d}{SUFFIX}"


class SnapshotStore:
    """The snapshot files of one venue (`<data_dir>/snapshots`)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def list(self) -> list[SnapshotInfo]:
        """Snapshots, oldest first."""
        if not self.directory.is_dir():
            return []
        out = []
        for p in self.directory.iterdir():
            name = p.name
            if not (name.startswith("snap-") and name.endswith(SUFFIX)):
                continue
            parts = name[len("snap-"):-len(SUFFIX)].split("-")
            if len(parts) == 2 and all(x.isdigit() for x in parts):
                out.append(SnapshotInfo(p, int(parts[0]), int(parts[1])))
        out.sort(key=lambda i: i.journal_pos)
        return out

    def write(self, snap: dict) -> SnapshotInfo:
        return self.write_parts(encode_parts(snap), snap["journal_pos"], snap["event_seq"])

    def write_parts(self, parts: Iterable[bytes], journal_pos: int, event_seq: int) -> SnapshotInfo:
        """Write atomically: temporary file, fsync, rename, fsync of the directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / snapshot_name(journal_pos, event_seq)
        tmp = self.directory / f".tmp-{final.name}-{os.getpid()}"
        crc = 0
        n = 0
        with open(tmp, "wb") as f:
            f.write(_HEAD.pack(MAGIC, 0, 0))
            for part in parts:
                f.write(part)
                crc = zlib.crc32(part, crc)
                n += len(part)
            f.seek(0)
            f.write(_HEAD.pack(MAGIC, crc, n))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return SnapshotInfo(final, journal_pos, event_seq)

    def load(self, info: SnapshotInfo) -> dict:
        try:
            data = info.path.read_bytes()
        except OSError as exc:
            raise SnapshotError(f"{info.path}: cannot read: {exc.strerror}") from None
        snap = decode(data, str(info.path))
        if snap.get("journal_pos") != info.journal_pos or snap.get("event_seq") != info.event_seq:
            raise SnapshotError(f"{info.path}: contents do not match the file name")
        return snap

    def prune(self, keep: int) -> list[Path]:
        """Keep the newest `keep` snapshots (and drop leftovers of interrupted writes)."""
        removed = []
        infos = self.list()
        for info in infos[: max(0, len(infos) - keep)]:
            info.path.unlink(missing_ok=True)
            removed.append(info.path)
        if self.directory.is_dir():
            for p in self.directory.glob(".tmp-snap-*"):
                pid = p.name.rsplit("-", 1)[-1]
                if pid != str(os.getpid()):
                    p.unlink(missing_ok=True)
                    removed.append(p)
        return removed
