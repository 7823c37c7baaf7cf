"""Test support for the venue over FIX: a running `fixvenue run` and a raw FIX client.

* `VenueProcess.start(data_dir)` runs `python -m app.cli run --fix-port 0 --rest-port 0
  --data-dir DIR` in a subprocess (the real command, with whatever the venue wires) and reads
  the FIX port from its start-up summary ("FIX acceptor on 127.0.0.1:PORT").
* `RawClient` is a deliberately independent FIX client: simplefix encodes and parses, so the
  venue is checked against a codec that is not its own. It answers TestRequests, keeps every
  message it receives, and can send raw bytes (malformed messages).

Every wait is bounded by a timeout; nothing here listens on a socket.
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import simplefix

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
WAIT = 10.0
VENUE_COMP_ID = "FIXVENUE"
_PORT_RE = re.compile(r"FIX acceptor on ([0-9.]+):(\d+)")


# ----------------------------------------------------------------------------- the venue


@dataclass
class VenueProcess:
    process: subprocess.Popen
    host: str
    port: int
    data_dir: Path
    log_path: Path
    summary: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, data_dir: Path, config: Path | None = None, extra: list[str] | None = None) -> "VenueProcess":
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = data_dir / "venue.log"
        args = [sys.executable, "-m", "app.cli", "run", "--fix-port", "0", "--rest-port", "0",
                "--data-dir", str(data_dir), "--log-level", "INFO"]
        if config is not None:
            args += ["--config", str(config)]
        args += extra or []
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("DATABASE_URL", None)
        err = open(log_path, "w")
        proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=err, env=env)
        err.close()
        summary: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT
        host, port = None, None
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        pending = b""
        running = False
        while not running:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"venue did not start within {START_TIMEOUT} s: {summary}")
            if proc.poll() is not None:
                raise RuntimeError(f"venue exited with {proc.returncode}: {log_path.read_text()[-3000:]}")
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                continue
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                summary.append(line)
                m = _PORT_RE.search(line)
                if m:
                    host, port = m.group(1), int(m.group(2))
                if "fixvenue is running" in line:
                    running = True
        if port is None:
            proc.kill()
            raise RuntimeError(f"venue started without a FIX acceptor: {summary}")
        return cls(proc, host, port, data_dir, log_path, summary)

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-5000:]
        except OSError:
            return ""


# ----------------------------------------------------------------------------- messages


def utc_now() -> str:
    t = time.time()
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(t)) + ".%03d" % (int(t * 1000) % 1000)


class Msg:
    """A received message: fields by tag (first occurrence) and all pairs in order."""

    def __init__(self, fm: simplefix.FixMessage, raw: bytes) -> None:
        self.pairs = [(int(t), v.decode(errors="replace")) for t, v in fm.pairs]
        self.raw = raw
        self.fields: dict[int, str] = {}
        for t, v in self.pairs:
            self.fields.setdefault(t, v)

    def __getitem__(self, tag: int) -> str:
        return self.fields[tag]

    def get(self, tag: int, default=None):
        return self.fields.get(tag, default)

    def all(self, tag: int) -> list[str]:
        return [v for t, v in self.pairs if t == tag]

    @property
    def type(self) -> str:
        return self.fields.get(35, "")

    def __repr__(self) -> str:
        return "|".join(f"{t}={v}" for t, v in self.pairs)


def group_entries(msg: Msg, count_tag: int, delimiter: int) -> list[dict[int, str]]:
    """Entries of a flat repeating group (no nesting), split at the delimiter tag."""
    out: list[dict[int, str]] = []
    started = False
    for t, v in msg.pairs:
        if t == count_tag:
            started = True
            continue
        if not started:
            continue
        if t == delimiter:
            out.append({})
        if t == 10:
            break
        if out:
            out[-1][t] = v
    return out


def frame(fields: list[tuple[int, str | bytes]]) -> bytes:
    """Encode (tag, value) pairs as a complete frame (8 first), computing 9 and 10, without validation."""
    begin = None
    body = b""
    for t, v in fields:
        vb = v if isinstance(v, bytes) else str(v).encode()
        if t == 8:
            begin = vb
            continue
        body += b"%d=%s\x01" % (t, vb)
    head = b"8=%s\x019=%d\x01" % (begin, len(body))
    data = head + body
    return data + b"10=%03d\x01" % (sum(data) % 256)


# ----------------------------------------------------------------------------- the client


class RawClient:
    """A minimal FIX initiator on simplefix (see module docstring)."""

    def __init__(self, host: str, port: int, comp_id: str, begin: str = "FIX.4.4") -> None:
        self.host = host
        self.port = port
        self.comp_id = comp_id
        self.begin = begin
        self.seq = 1
        self.received: list[Msg] = []
        self._cursor = 0
        self._parser = simplefix.FixParser()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None
        self._new = asyncio.Event()
        self.closed = asyncio.Event()

    # -- connection -------------------------------------------------------------------
    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), WAIT)
        self.closed.clear()
        self._task = asyncio.create_task(self._read_loop())

    async def logon(self, reset: bool = True, heartbeat: int = 30, seq: int | None = None) -> Msg:
        if self._writer is None:
            await self.connect()
        if reset:
            self.seq = 1
        if seq is not None:
            self.seq = seq
        fields = [(98, "0"), (108, str(heartbeat))]
        if reset:
            fields.append((141, "Y"))
        self.send("A", fields)
        return await self.expect("A")

    async def logout(self) -> None:
        if self._writer is None:
            return
        self.send("5", [])
        try:
            await asyncio.wait_for(self.closed.wait(), WAIT)
        except asyncio.TimeoutError:
            pass
        await self.close()

    async def close(self) -> None:
        """Drop the TCP connection (no Logout)."""
        if self._writer is not None:
            w = self._writer
            self._writer = None
            w.close()
            try:
                await asyncio.wait_for(w.wait_closed(), WAIT)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                pass
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.closed.set()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                self._parser.append_buffer(data)
                while True:
                    fm = self._parser.get_message()
                    if fm is None:
                        break
                    m = Msg(fm, fm.encode(raw=True))
                    self.received.append(m)
                    if m.type == "1":
                        self.send("0", [(112, m.get(112, ""))])
                    self._new.set()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self.closed.set()
            self._new.set()

    # -- sending ----------------------------------------------------------------------
    def encode(self, msg_type: str, fields: list[tuple[int, object]], seq: int | None = None,
               header: list[tuple[int, object]] | None = None) -> bytes:
        fm = simplefix.FixMessage()
        fm.append_pair(8, self.begin, header=True)
        fm.append_pair(35, msg_type, header=True)
        fm.append_pair(49, self.comp_id, header=True)
        fm.append_pair(56, VENUE_COMP_ID, header=True)
        fm.append_pair(34, str(self.seq if seq is None else seq), header=True)
        fm.append_pair(52, utc_now(), header=True)
        for t, v in header or []:
            fm.append_pair(t, v, header=True)
        for t, v in fields:
            fm.append_pair(t, v if isinstance(v, (bytes, str)) else str(v))
        return fm.encode()

    def send(self, msg_type: str, fields: list[tuple[int, object]], header=None) -> int:
        seq = self.seq
        self.send_raw(self.encode(msg_type, fields, header=header))
        self.seq += 1
        return seq

    def send_raw(self, data: bytes) -> None:
        assert self._writer is not None, "not connected"
        self._writer.write(data)

    # -- receiving --------------------------------------------------------------------
    def mark(self) -> int:
        return len(self.received)

    async def wait_for(self, pred, timeout: float = WAIT, start: int | None = None) -> Msg:
        """The first message from `start` (default: after the last one returned) matching `pred`."""
        deadline = time.monotonic() + timeout
        pos = self._cursor if start is None else start
        while True:
            while pos < len(self.received):
                m = self.received[pos]
                pos += 1
                if pred(m):
                    if start is None:
                        self._cursor = pos
                    return m
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                tail = "\n  ".join(repr(m) for m in self.received[-12:])
                raise AssertionError(f"{self.comp_id}: no matching message within {timeout} s; last received:\n  {tail}")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), min(remaining, 0.5))
            except asyncio.TimeoutError:
                pass

    async def expect(self, msg_type: str, timeout: float = WAIT, **tags) -> Msg:
        want = {int(k.lstrip("t")): str(v) for k, v in tags.items()}
        return await self.wait_for(lambda m: m.type == msg_type and all(m.get(t) == v for t, v in want.items()),
                                   timeout)

    async def collect(self, msg_type: str, n: int, timeout: float = WAIT, **tags) -> list[Msg]:
        return [await self.expect(msg_type, timeout, **tags) for _ in range(n)]

    async def quiet(self, seconds: float = 0.3) -> list[Msg]:
        """Everything that arrives within `seconds` (to show that nothing more comes)."""
        start = len(self.received)
        await asyncio.sleep(seconds)
        return [m for m in self.received[start:] if m.type not in ("0", "1")]

    # -- order helpers ----------------------------------------------------------------
    def new_order(self, cl_ord_id: str, symbol: str, side: str, qty, price=None, ord_type: str = "2",
                  tif: str = "1", extra: list[tuple[int, object]] | None = None) -> int:
        fields: list[tuple[int, object]] = [(11, cl_ord_id), (55, symbol), (54, side), (38, qty), (40, ord_type),
                                            (59, tif), (60, utc_now())]
        if self.begin == "FIX.4.2":
            fields.append((21, "1"))
        if price is not None:
            fields.append((44, price))
        fields += extra or []
        return self.send("D", fields)

    def cancel(self, cl_ord_id: str, orig: str, symbol: str, side: str, extra=None) -> int:
        fields: list[tuple[int, object]] = [(11, cl_ord_id), (41, orig), (55, symbol), (54, side), (60, utc_now())]
        fields += extra or []
        return self.send("F", fields)

    def replace(self, cl_ord_id: str, orig: str, symbol: str, side: str, qty, price=None, ord_type: str = "2",
                extra=None) -> int:
        fields: list[tuple[int, object]] = [(11, cl_ord_id), (41, orig), (55, symbol), (54, side), (38, qty),
                                            (40, ord_type), (60, utc_now())]
        if self.begin == "FIX.4.2":
            fields.append((21, "1"))
        if price is not None:
            fields.append((44, price))
        fields += extra or []
        return self.send("G", fields)

    async def report(self, cl_ord_id: str, timeout: float = WAIT, **tags) -> Msg:
        return await self.expect("8", timeout, t11=cl_ord_id, **tags)


# ----------------------------------------------------------------------------- REST admin (for halts, status)

_REST_RE = re.compile(r"REST (http://[0-9.]+:\d+)/api/v1")
ADMIN_KEY = ("admin", "demo-admin-secret-not-for-production")


def rest_url(venue: VenueProcess) -> str | None:
    for line in venue.summary:
        m = _REST_RE.search(line)
        if m:
            return m.group(1)
    return None


def rest_call(venue: VenueProcess, method: str, target: str, body: dict | None = None,
              key: tuple[str, str] = ADMIN_KEY) -> tuple[int, dict]:
    """A signed REST request (HMAC-SHA256 of timestamp + METHOD + target + body, api/signing.py)."""
    import hashlib
    import hmac
    import json
    import urllib.error
    import urllib.request

    base = rest_url(venue)
    if base is None:
        raise RuntimeError("the venue runs no REST gateway")
    data = json.dumps(body).encode() if body is not None else b""
    ts = str(time.time_ns() // 1_000_000)
    sig = hmac.new(key[1].encode(), ts.encode() + method.encode() + target.encode() + data, hashlib.sha256).hexdigest()
    headers = {"X-API-Key": key[0], "X-API-Timestamp": ts, "X-API-Signature": sig}
    if data:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + target, data=data or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=WAIT) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
