"""Start and watch ``fixvenue conformance-server`` (our acceptor + acceptance echo app).

The server runs as a subprocess of the test session, exactly as a user would start it
(``python -m app.cli conformance-server --port N``), so the suite tests the shipped
command, not an in-process shortcut.  Readiness is "something LISTENs on the port"
(read from /proc/net/tcp, so no probe connection disturbs the acceptor), bounded in
time; if the process dies the tests get its exit code and the tail of its output.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

# Loaded by the conftests under this unique name before this module (see conftest.py).
from fix_quickfix_peer import free_port, listening_addresses

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
COMMAND_MODULE = "app.commands.conformance_server"


class ServerError(RuntimeError):
    """The conformance server could not be started."""


def command_available() -> bool:
    return importlib.util.find_spec(COMMAND_MODULE) is not None


class EngineServer:
    """One ``fixvenue conformance-server`` process; restartable if it dies."""

    def __init__(self, workdir: Path, extra_args: list[str] | None = None) -> None:
        self.workdir = workdir
        self.extra_args = list(extra_args or [])
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0
        self._lock = threading.Lock()
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.starts}.log"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.port = free_port()
        cmd = [sys.executable, "-m", "app.cli", "conformance-server", "--port", str(self.port), *self.extra_args]
        self._log = open(self.log_path, "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"`{' '.join(cmd[2:])}` exited with {self.process.returncode} before listening:\n"
                    + self.output_tail()
                )
            if self._is_listening():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"conformance server not listening on {self.port} within {START_TIMEOUT} s:\n{self.output_tail()}")

    def _is_listening(self) -> bool:
        if Path("/proc/net/tcp").exists():
            return bool(listening_addresses(self.port))
        try:  # no /proc: fall back to a probe connection
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def listening_addresses(self) -> list[str]:
        return listening_addresses(self.port)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> tuple[int, str]:
        """(port, note); restarts the server if it has died, noting why in ``note``."""
        with self._lock:
            if self.alive():
                return self.port, ""
            note = ""
            if self.process is not None:
                note = (
                    f"conformance server had exited with code {self.process.returncode}; restarted. "
                    f"Its last output:\n{self.output_tail()}"
                )
                self._close_log()
            self.start()
            return self.port, note

    def output_tail(self, limit: int = 3000) -> str:
        try:
            data = self.log_path.read_bytes()[-limit:]
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        self._close_log()


def server_args() -> list[str]:
    """Extra arguments: bind to loopback explicitly when the command offers --host."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "app.cli", "conformance-server", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except subprocess.TimeoutExpired:
        return []
    return ["--host", "127.0.0.1"] if "--host" in out else []


def start_for_tests(workdir: Path) -> EngineServer:
    """Start the server for a pytest fixture: skip if the command does not exist yet,
    fail (with its output) if it exists but does not come up."""
    import pytest

    if not command_available():
        pytest.skip("app/commands/conformance_server.py (`fixvenue conformance-server`) is not built yet")
    server = EngineServer(workdir, server_args())
    try:
        server.start()
    except ServerError as exc:
        pytest.fail(str(exc))
    return server
