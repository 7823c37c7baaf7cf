"""An independent runner for the QuickFIX session-level acceptance definitions.

Each ``.def`` file scripts a client talking to an acceptor (grammar in
``../shared/README.md``).  This module parses a definition, plays it over real TCP
connections to 127.0.0.1, and checks every message the acceptor sends.

Why it is written from scratch and imports nothing of ``fix/``: it is the oracle the
engine is judged by.  If it shared the engine's codec, a framing or checksum bug would
be invisible to both.  Its correctness is established separately by running it
against the real QuickFIX engine (``test_fix_runner_selfcheck.py``).

Matching rules for an ``E`` line (the README's, made precise):

* The received bytes must be a well-formed FIX frame: ``8=`` first, ``9=`` second,
  ``35=`` third, ``10=`` last, and BodyLength and CheckSum both correct.  The framer
  checks this; a bad frame from the acceptor is a failure, never skipped over.
* Every expected tag must be received with the same value, and nothing else may be
  received (order of distinct tags is free, repeated tags keep their relative order).
  BodyLength (9) is not compared: it depends on timestamp widths.
* Tags with a pattern in ``fields.fmt`` (CheckSum, timestamps) are matched by that
  pattern instead of by value.  As in QuickFIX's reference runner the pattern need not
  cover the whole value; we accept only a sub-second fraction (``.sss``) beyond it, so
  ``122=...-hh:mm:ss.sss`` matches the seconds-only pattern, but garbage does not.
* Text (58) matches when it starts with the expected words (more may follow after a
  word break, e.g. a detail like ", field=11").

Usage as a command (handy while developing an engine)::

    python tests/fix_conformance/runner.py --port 9878 ../shared/fix-acceptance/fix44/*.def
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, NoReturn, Sequence

SOH = b"\x01"

#: Default bound for one ``E`` line.  Heartbeat/TestRequest definitions wait up to
#: 1.5 x HeartBtInt (6 s) after the previous message, so this leaves ample slack.
EXPECT_TIMEOUT = 15.0
#: Bound for ``eDISCONNECT`` (the README says "within about 10 s").
DISCONNECT_TIMEOUT = 12.0
CONNECT_TIMEOUT = 5.0

_CONN_PREFIX = re.compile(rb"^([IEie])(\d+),(.*)$", re.DOTALL)
_TIME_TOKEN = re.compile(rb"<TIME(?:([+-])(\d+))?>")
_FRACTION = re.compile(r"[.]\d{1,9}")


# --------------------------------------------------------------------------- errors


class DefinitionError(ValueError):
    """The ``.def`` file itself is malformed (a bug in the definition or the parser)."""


class FramingError(ValueError):
    """Bytes from the acceptor are not a well-formed FIX message."""


class AcceptanceFailure(AssertionError):
    """The acceptor did not behave as the definition requires.

    The message names the definition, the line, what was expected and what was
    received, followed by the recent transcript for context.
    """


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Step:
    """One executable line of a definition."""

    lineno: int
    action: str  # connect | disconnect | expect_disconnect | send | expect
    conn: int
    payload: bytes = b""  # message template for send/expect (may hold <TIME> tokens)
    source: bytes = b""  # the original line, for failure messages


@dataclass(frozen=True)
class Definition:
    path: Path
    steps: tuple[Step, ...]

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"


def parse_definition(path: str | Path) -> Definition:
    """Parse one ``.def`` file into steps; raise :class:`DefinitionError` on bad lines."""
    path = Path(path)
    steps: list[Step] = []
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        line = raw.rstrip(b"\r")
        if not line.strip() or line.startswith(b"#"):
            continue
        m = _CONN_PREFIX.match(line)
        if m:
            kind, conn, rest = m.group(1), int(m.group(2)), m.group(3)
        else:
            kind, conn, rest = line[:1], 1, line[1:]
        if kind in (b"i", b"e"):
            word = rest.strip()
            if kind == b"i" and word == b"CONNECT":
                action = "connect"
            elif kind == b"i" and word == b"DISCONNECT":
                action = "disconnect"
            elif kind == b"e" and word == b"DISCONNECT":
                action = "expect_disconnect"
            else:
                raise DefinitionError(f"{path}:{lineno}: unknown command {line!r}")
            steps.append(Step(lineno, action, conn, source=line))
        elif kind == b"I":
            steps.append(Step(lineno, "send", conn, rest, line))
        elif kind == b"E":
            if not rest.startswith(b"8="):
                raise DefinitionError(f"{path}:{lineno}: expected message must start with 8=")
            steps.append(Step(lineno, "expect", conn, rest, line))
        else:
            raise DefinitionError(f"{path}:{lineno}: unknown line kind {line[:20]!r}")
    return Definition(path, tuple(steps))


def load_field_formats(path: str | Path) -> dict[int, re.Pattern[str]]:
    """Read ``fields.fmt``: one ``tag=regex`` per line."""
    formats: dict[int, re.Pattern[str]] = {}
    for lineno, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tag, sep, pattern = line.partition("=")
        if not sep or not tag.isdigit():
            raise DefinitionError(f"{path}:{lineno}: expected tag=regex, got {line!r}")
        formats[int(tag)] = re.compile(pattern)
    return formats


# --------------------------------------------------------------------------- message text


def fix_time(now: _dt.datetime | None = None, shift: int = 0) -> bytes:
    """UTC time in FIX UTCTimestamp form with whole seconds, as the definitions use."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return (now + _dt.timedelta(seconds=shift)).strftime("%Y%m%d-%H:%M:%S").encode()


def substitute_times(template: bytes, now: _dt.datetime | None = None) -> bytes:
    """Replace ``<TIME>``, ``<TIME+n>``, ``<TIME-n>`` with the current UTC time (+/- n s)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)

    def repl(m: re.Match[bytes]) -> bytes:
        sign, num = m.group(1), m.group(2)
        shift = 0 if sign is None else int(num) * (1 if sign == b"+" else -1)
        return fix_time(now, shift)

    return _TIME_TOKEN.sub(repl, template)


def checksum(data: bytes) -> bytes:
    return b"%03d" % (sum(data) % 256)


def split_fields(message: bytes) -> list[tuple[bytes, bytes]]:
    """Split ``tag=value<SOH>...`` into pairs (a trailing SOH is optional)."""
    body = message[:-1] if message.endswith(SOH) else message
    if not body:
        return []
    out = []
    for item in body.split(SOH):
        tag, _, value = item.partition(b"=")
        out.append((tag, value))
    return out


def complete(message: bytes) -> bytes:
    """Add BodyLength (9) and CheckSum (10) when the definition left them out.

    A message that does not start with ``8=`` (deliberately malformed, e.g. the first
    three fields out of order) is sent exactly as written, and so are explicit 9/10
    values, even wrong ones: those are what the test is about.
    """
    if not message.startswith(b"8="):
        return message
    head_end = message.find(SOH)
    if head_end < 0:
        return message
    head, rest = message[: head_end + 1], message[head_end + 1 :]
    tags = [tag for tag, _ in split_fields(message)]
    has_length = b"9" in tags
    trailer = b""
    if tags and tags[-1] == b"10":
        cut = rest.rfind(b"10=")
        rest, trailer = rest[:cut], rest[cut:]
    if not has_length:
        head = head + b"9=%d" % len(rest) + SOH
    if not trailer:
        trailer = b"10=" + checksum(head + rest) + SOH
    return head + rest + trailer


def show(message: bytes) -> str:
    """Render a message for humans: SOH as ``|``, undecodable bytes escaped."""
    return message.replace(SOH, b"|").decode("latin-1")


# --------------------------------------------------------------------------- framing


class Framer:
    """Cut a byte stream into FIX messages using BodyLength, validating each frame."""

    _HEAD = re.compile(rb"8=([^\x01=]*)\x019=(\d{1,9})\x01")

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def next_message(self) -> bytes | None:
        """Return the next complete message, None if incomplete; raise FramingError."""
        buf = self._buf
        if not buf:
            return None
        if not buf.startswith(b"8="[: len(buf)]):
            raise FramingError(f"stream does not start with 8=: {show(bytes(buf[:80]))!r}")
        m = self._HEAD.match(buf)
        if m is None:
            # incomplete header, or malformed once enough bytes are here to tell
            if len(buf) > 64 or (SOH in buf and buf.count(SOH) >= 2):
                raise FramingError(f"bad 8=/9= header: {show(bytes(buf[:80]))!r}")
            return None
        body_start = m.end()
        body_end = body_start + int(m.group(2))
        if len(buf) < body_end + 7:  # 10=nnn<SOH>
            return None
        trailer = bytes(buf[body_end : body_end + 7])
        frame = bytes(buf[: body_end + 7])
        if not (trailer.startswith(b"10=") and trailer.endswith(SOH) and trailer[3:6].isdigit()):
            raise FramingError(
                f"BodyLength {int(m.group(2))} does not reach the CheckSum field: {show(frame)!r}"
            )
        if bytes(buf[body_end - 1 : body_end]) != SOH:
            raise FramingError(f"body does not end with SOH before CheckSum: {show(frame)!r}")
        if checksum(frame[:body_end]) != trailer[3:6]:
            raise FramingError(
                f"CheckSum {trailer[3:6].decode()} wrong (computed "
                f"{checksum(frame[:body_end]).decode()}): {show(frame)!r}"
            )
        if not frame[body_start:].startswith(b"35="):
            raise FramingError(f"third field is not MsgType (35): {show(frame)!r}")
        del buf[: body_end + 7]
        return frame


# --------------------------------------------------------------------------- matching


def _leading_words_match(expected: str, actual: str) -> bool:
    """``actual`` starts with the words of ``expected`` and may go on after a word break.

    "Required tag missing" matches "Required tag missing, field=11" and
    "Required tag missing: 11", not "Required tags missing".
    """
    if not actual.startswith(expected):
        return False
    return len(actual) == len(expected) or not actual[len(expected)].isalnum()


def _format_match(pattern: re.Pattern[str], value: str) -> bool:
    m = pattern.match(value)
    if m is None:
        return False
    rest = value[m.end() :]
    return rest == "" or _FRACTION.fullmatch(rest) is not None


def compare(expected: bytes, actual: bytes, formats: dict[int, re.Pattern[str]]) -> list[str]:
    """Differences between an expected (definition) and a received message; [] if equal."""
    problems: list[str] = []
    exp_fields = split_fields(expected)
    act_fields = split_fields(actual)
    exp: dict[bytes, list[bytes]] = {}
    act: dict[bytes, list[bytes]] = {}
    order: list[bytes] = []
    for tag, value in exp_fields:
        if tag not in exp and tag not in order:
            order.append(tag)
        exp.setdefault(tag, []).append(value)
    for tag, value in act_fields:
        if tag not in exp and tag not in order:
            order.append(tag)
        act.setdefault(tag, []).append(value)
    for tag in order:
        if tag == b"9":  # BodyLength: validated by the framer, value not compared
            continue
        want, got = exp.get(tag, []), act.get(tag, [])
        if tag == b"10" and not want:
            continue  # the definition omitted CheckSum; the framer verified it
        label = tag.decode("latin-1")
        if not got:
            problems.append(f"missing tag {label} (expected {label}={want[0].decode('latin-1')})")
            continue
        if not want:
            problems.append(f"unexpected tag {label}={got[0].decode('latin-1')}")
            continue
        if len(want) != len(got):
            problems.append(f"tag {label} appears {len(got)} times, expected {len(want)}")
            continue
        for w, g in zip(want, got):
            ws, gs = w.decode("latin-1"), g.decode("latin-1")
            pattern = formats.get(int(tag)) if tag.isdigit() else None
            if pattern is not None:
                ok = _format_match(pattern, gs)
                if not ok:
                    problems.append(f"tag {label}={gs!r} does not match format {pattern.pattern!r}")
            elif tag == b"58":
                if not _leading_words_match(ws, gs):
                    problems.append(f"tag 58 text {gs!r} does not start with {ws!r}")
            elif ws != gs:
                problems.append(f"tag {label}: expected {ws!r}, received {gs!r}")
    return problems


# --------------------------------------------------------------------------- execution


@dataclass
class _Connection:
    sock: socket.socket
    framer: Framer = field(default_factory=Framer)
    eof: bool = False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


@dataclass
class RunResult:
    definition: Definition
    transcript: list[str]
    elapsed: float


class _Play:
    """Executes one definition; keeps a transcript for failure messages."""

    def __init__(
        self,
        definition: Definition,
        host: str,
        port: int,
        formats: dict[int, re.Pattern[str]],
        expect_timeout: float,
        disconnect_timeout: float,
    ) -> None:
        self.d = definition
        self.host, self.port = host, port
        self.formats = formats
        self.expect_timeout = expect_timeout
        self.disconnect_timeout = disconnect_timeout
        self.conns: dict[int, _Connection] = {}
        self.transcript: list[str] = []

    # -- failure reporting
    def fail(self, step: Step, what: str) -> NoReturn:
        tail = "\n    ".join(self.transcript[-12:]) or "(nothing exchanged)"
        raise AcceptanceFailure(
            f"{self.d.name} line {step.lineno}: {what}\n"
            f"  definition line: {show(step.source)}\n"
            f"  transcript (last messages):\n    {tail}"
        )

    def log(self, conn: int, direction: str, text: str) -> None:
        self.transcript.append(f"[{conn}] {direction} {text}")

    # -- I/O helpers
    def _conn(self, step: Step) -> _Connection:
        c = self.conns.get(step.conn)
        if c is None:
            self.fail(step, f"connection {step.conn} is not open")
        return c

    def _read_message(self, c: _Connection, deadline: float) -> bytes | None:
        """Next framed message, or None on EOF; raises TimeoutError at the deadline."""
        while True:
            msg = c.framer.next_message()
            if msg is not None:
                return msg
            if c.eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([c.sock], [], [], remaining)
            if not ready:
                raise TimeoutError
            try:
                data = c.sock.recv(65536)
            except (ConnectionResetError, ConnectionAbortedError):
                data = b""
            if not data:
                c.eof = True
            else:
                c.framer.feed(data)

    # -- steps
    def run(self) -> None:
        try:
            for step in self.d.steps:
                getattr(self, "_" + step.action)(step)
        finally:
            for c in self.conns.values():
                c.close()
            self.conns.clear()

    def _connect(self, step: Step) -> None:
        if step.conn in self.conns:
            self.fail(step, f"connection {step.conn} is already open")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            self.fail(step, f"cannot connect to {self.host}:{self.port}: {exc}")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        self.conns[step.conn] = _Connection(sock)
        self.log(step.conn, "--", "connected")

    def _disconnect(self, step: Step) -> None:
        c = self._conn(step)
        c.close()
        del self.conns[step.conn]
        self.log(step.conn, "--", "client closed the connection")

    def _send(self, step: Step) -> None:
        c = self._conn(step)
        data = complete(substitute_times(step.payload))
        self.log(step.conn, ">>", show(data))
        try:
            c.sock.sendall(data)
        except OSError as exc:
            self.fail(step, f"send failed (acceptor closed the connection?): {exc}")

    def _expect(self, step: Step) -> None:
        c = self._conn(step)
        expected = substitute_times(step.payload)
        try:
            msg = self._read_message(c, time.monotonic() + self.expect_timeout)
        except TimeoutError:
            self.fail(
                step,
                f"no message within {self.expect_timeout:.0f} s\n  expected: {show(expected)}",
            )
        except FramingError as exc:
            self.fail(step, f"malformed message from acceptor: {exc}\n  expected: {show(expected)}")
        if msg is None:
            pending = c.framer.pending
            extra = f" (unframed bytes: {show(pending)!r})" if pending else ""
            self.fail(
                step,
                f"acceptor closed the connection{extra}\n  expected: {show(expected)}",
            )
        self.log(step.conn, "<<", show(msg))
        problems = compare(expected, msg, self.formats)
        if problems:
            self.fail(
                step,
                "message does not match: "
                + "; ".join(problems)
                + f"\n  expected: {show(expected)}\n  received: {show(msg)}",
            )

    def _expect_disconnect(self, step: Step) -> None:
        c = self._conn(step)
        try:
            msg = self._read_message(c, time.monotonic() + self.disconnect_timeout)
        except TimeoutError:
            self.fail(step, f"acceptor did not close the connection within {self.disconnect_timeout:.0f} s")
        except FramingError as exc:
            self.fail(step, f"expected a disconnect, received malformed data: {exc}")
        if msg is not None:
            self.log(step.conn, "<<", show(msg))
            self.fail(step, f"expected a disconnect, received: {show(msg)}")
        if c.framer.pending:
            self.fail(step, f"expected a clean disconnect, got partial data {show(c.framer.pending)!r}")
        c.close()
        del self.conns[step.conn]
        self.log(step.conn, "--", "acceptor closed the connection")


def run_definition(
    definition: Definition | str | Path,
    port: int,
    formats: dict[int, re.Pattern[str]],
    *,
    host: str = "127.0.0.1",
    expect_timeout: float = EXPECT_TIMEOUT,
    disconnect_timeout: float = DISCONNECT_TIMEOUT,
) -> RunResult:
    """Play one definition against the acceptor at host:port.

    Raises :class:`AcceptanceFailure` on the first mismatch; returns the transcript
    when the acceptor behaved exactly as the definition requires.
    """
    if not isinstance(definition, Definition):
        definition = parse_definition(definition)
    started = time.monotonic()
    play = _Play(definition, host, port, formats, expect_timeout, disconnect_timeout)
    play.run()
    return RunResult(definition, play.transcript, time.monotonic() - started)


def definition_files(root: str | Path, versions: Sequence[str] = ("fix42", "fix44")) -> list[Path]:
    root = Path(root)
    return [p for v in versions for p in sorted((root / v).glob("*.def"))]


@dataclass(frozen=True)
class Outcome:
    """The result of one definition: passed, or the failure text."""

    name: str
    passed: bool
    detail: str
    elapsed: float


def play(
    definition: Definition,
    port: int,
    formats: dict[int, re.Pattern[str]],
    *,
    expect_timeout: float = EXPECT_TIMEOUT,
    disconnect_timeout: float = DISCONNECT_TIMEOUT,
) -> Outcome:
    """Run one definition and capture pass/fail instead of raising."""
    started = time.monotonic()
    try:
        run_definition(
            definition, port, formats, expect_timeout=expect_timeout, disconnect_timeout=disconnect_timeout
        )
    except AcceptanceFailure as exc:
        return Outcome(definition.name, False, str(exc), time.monotonic() - started)
    return Outcome(definition.name, True, "", time.monotonic() - started)


def run_streams(
    streams: Sequence[Sequence[Definition]],
    run_one: Callable[[Definition], Outcome],
) -> dict[str, Outcome]:
    """Run several lists of definitions side by side, each list in order.

    Definitions for different sessions (FIX.4.2 as TW42, FIX.4.4 as TW44) do not share
    any state in a correct acceptor, so one stream per FIX version halves the wall
    time of the timer-bound definitions (heartbeats, test requests) without changing
    what each definition sees.  Within a stream order is kept: one session, one
    script at a time.
    """
    results: dict[str, Outcome] = {}
    lock = threading.Lock()

    def work(stream: Sequence[Definition]) -> None:
        for d in stream:
            try:
                outcome = run_one(d)
            except Exception as exc:  # a runner bug must still be reported per definition
                outcome = Outcome(d.name, False, f"runner error: {exc!r}", 0.0)
            with lock:
                results[d.name] = outcome

    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in streams if s]
    for t in threads:
        t.start()
    for t in threads:
        # every step of every definition is bounded, so this is too
        t.join()
    return results


def summarize(outcomes: dict[str, Outcome], title: str) -> str:
    """A short Markdown report: pass count, then each failure's first mismatch."""
    names = sorted(outcomes)
    failed = [n for n in names if not outcomes[n].passed]
    lines = [f"# {title}", "", f"{len(names) - len(failed)}/{len(names)} definitions pass.", ""]
    if failed:
        lines += ["## Failing definitions (first mismatch)", ""]
    for name in failed:
        detail = outcomes[name].detail.splitlines()
        head = detail[0] if detail else "(no detail)"
        extra = [d.strip() for d in detail[1:] if d.strip().startswith(("expected:", "received:"))]
        lines.append(f"- **{name}**: {head}")
        lines += [f"    - {d}" for d in extra]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run QuickFIX acceptance definitions against an acceptor.")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--fields", type=Path, default=None, help="fields.fmt (default: next to the defs)")
    ap.add_argument("defs", nargs="+", type=Path)
    args = ap.parse_args(list(argv) if argv is not None else None)
    fmt_path = args.fields or args.defs[0].resolve().parent.parent / "fields.fmt"
    formats = load_field_formats(fmt_path)
    failed = 0
    for path in args.defs:
        try:
            res = run_definition(path, args.port, formats)
            print(f"PASS {res.definition.name} ({res.elapsed:.1f} s)")
        except AcceptanceFailure as exc:
            failed += 1
            print(f"FAIL {exc}")
    print(f"{len(args.defs) - failed}/{len(args.defs)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
