"""`fixvenue run` serves REST and FIX from one process: real subprocess, real ports,
the README's signing helper script as the client, clean shutdown on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SIGN = ROOT / "api" / "sign_request.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tmp_path: Path, rest_port: int, fix_port: int) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run", "--rest-port", str(rest_port), "--fix-port", str(fix_port),
         "--data-dir", str(tmp_path / "data"), "--log-level", "WARNING"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "fixvenue is running" in line:
            return proc, lines
    proc.kill()
    raise AssertionError("venue did not start:\n" + "\n".join(lines))


def test_run_serves_rest_and_fix_in_one_process_and_stops_cleanly(tmp_path):
    rest_port, fix_port = free_port(), free_port()
    proc, lines = start(tmp_path, rest_port, fix_port)
    try:
        url = f"http://127.0.0.1:{rest_port}"
        assert any(f"REST {url}/api/v1" in ln and f"WebSocket ws://127.0.0.1:{rest_port}/ws" in ln for ln in lines)
        assert httpx.get(url + "/health", timeout=10).json()["success"] is True
        with socket.create_connection(("127.0.0.1", fix_port), timeout=5):
            pass                                            # the FIX acceptor listens in the same process
        # the documented, dependency-free signing helper places an order
        env = {**os.environ, "FIXVENUE_URL": url}
        body = json.dumps({"cl_ord_id": "readme-1", "symbol": "EUR-USD", "side": "buy", "quantity": "100000",
                           "price": "1.08"})
        r = subprocess.run([sys.executable, str(SIGN), "POST", "/api/v1/orders", body], env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.startswith("HTTP 201"), r.stdout + r.stderr
        r = subprocess.run([sys.executable, str(SIGN), "GET", "/api/v1/orders/readme-1"], env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and '"symbol": "EUR/USD"' in r.stdout
        hdr = subprocess.run([sys.executable, str(SIGN), "--headers", "GET", "/api/v1/account"], env=env,
                             capture_output=True, text=True, timeout=30)
        assert hdr.stdout.count("-H '") == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert rc == 0


def test_a_busy_rest_port_is_a_clean_start_up_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "app.cli", "run", "--rest-port", str(port), "--fix-port",
                            str(free_port()), "--data-dir", str(tmp_path / "data")],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "cannot start" in r.stderr and "Traceback" not in r.stderr
