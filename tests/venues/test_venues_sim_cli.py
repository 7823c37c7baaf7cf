"""`fixvenue sim oanda|binance` as a real process: it prints where it listens and serves there."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from app.commands import sim as sim_command


def _start(*args: str) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; raise SystemExit(main())", "sim", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.strip().startswith("admin"):
            return proc, lines
    proc.kill()
    raise AssertionError(f"simulator did not start: {lines} {proc.stderr.read()}")


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize(
    "venue,path,headers,expect",
    [
        ("binance", "/api/v3/ping", {}, "{}"),
        ("oanda", "/v3/accounts", {"Authorization": "Bearer fixvenue-oanda-sim-token"}, "101-001-1000001-001"),
    ],
)
def test_sim_command_prints_its_address_and_serves(venue, path, headers, expect):
    proc, lines = _start(venue, "--port", "0")
    try:
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", lines[0]).group(1)
        assert any("secret" in line or "token" in line for line in lines)
        request = urllib.request.Request(url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=5) as response:
            assert expect in response.read().decode()
    finally:
        assert _stop(proc) == 0


def test_sim_command_refuses_non_loopback(capsys):
    parser = __import__("argparse").ArgumentParser()
    sim_command.add_arguments(parser)
    assert sim_command.run(parser.parse_args(["binance", "--host", "0.0.0.0"])) == 2
    assert "loopback" in capsys.readouterr().err
