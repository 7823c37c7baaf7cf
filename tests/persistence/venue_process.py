"""A real `fixvenue run` in a subprocess, and a signed REST client for it (crash tests).

The venue is started exactly as an operator starts it (`python -m app.cli run
--data-dir TMP --rest-port 0 --fix-port 0`); its REST address is read from the
start-up summary it prints. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import yaml

from api.signing import sign_request

ROOT = Path(__file__).resolve().parents[2]
REST_LINE = re.compile(r"REST (http://127\.0\.0\.1:\d+)/api/v1")


def write_config(path: Path, *, snapshot_every: int = 1000, snapshot_interval_s: float = 1.0,
                 database_url: str | None = None) -> Path:
    """The default venue config with test-friendly limits: high REST rate limits, frequent snapshots."""
    cfg = yaml.safe_load((ROOT / "config" / "venue.yaml").read_text())
    rest = cfg.setdefault("rest", {})
    rest["rate_limits"] = {"trader": {"rate": 100000, "burst": 100000},
                           "read_only": {"rate": 100000, "burst": 100000},
                           "admin": {"rate": 100000, "burst": 100000}}
    rest["public_rate_limit"] = {"rate": 100000, "burst": 100000}
    storage = cfg.setdefault("storage", {})
    storage.update({"snapshot_every_commands": snapshot_every, "snapshot_interval_s": snapshot_interval_s,
                    "sql_flush_interval_ms": 20})
    if database_url:
        storage["database_url"] = database_url
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def rest_keys(config_path: Path) -> dict[str, tuple[str, str]]:
    """account -> (key id, secret) of its trader key."""
    cfg = yaml.safe_load(config_path.read_text())
    return {k["account"]: (k["id"], k["secret"]) for k in cfg["rest"]["keys"]
            if k.get("role") == "trader" and k.get("account")}


class VenueProcess:
    def __init__(self, config: Path, data_dir: Path, env: dict | None = None) -> None:
        self.config = config
        self.data_dir = data_dir
        # the store is chosen by the config file (storage.database_url), not by the caller's environment
        self.env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        self.env.update(env or {})
        self.proc: subprocess.Popen | None = None
        self.base_url: str | None = None
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 60.0) -> "VenueProcess":
        self.lines = []
        self.base_url = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "run", "--config", str(self.config), "--data-dir", str(self.data_dir),
             "--rest-port", "0", "--fix-port", "0", "--log-level", "WARNING"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        ready = threading.Event()

        def read() -> None:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                m = REST_LINE.search(line)
                if m and self.base_url is None:
                    self.base_url = m.group(1)
                if "fixvenue is running" in line:
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(timeout) or self.proc.poll() is not None or self.base_url is None:
            out = "\n".join(self.lines[-40:])
            self.kill()
            raise RuntimeError(f"venue did not start (exit {self.proc.returncode}):\n{out}")
        return self

    def summary_line(self, prefix: str) -> str:
        return next((line for line in self.lines if line.startswith(prefix)), "")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM: graceful stop (final flush and snapshot)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError("venue did not stop on SIGTERM in time")
        if self._reader is not None:
            self._reader.join(timeout=5)
        return self.proc.returncode


class SignedClient:
    """Signs each request with the account's demo key (api/signing.py)."""

    def __init__(self, base_url: str, key_id: str, secret: str, client: httpx.AsyncClient) -> None:
        self.base_url = base_url
        self.key_id = key_id
        self.secret = secret
        self.http = client

    async def request(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        raw = json.dumps(body).encode() if body is not None else b""
        target = "/api/v1" + path
        headers = sign_request(self.key_id, self.secret, method, target, raw)
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await self.http.request(method, self.base_url + target, content=raw, headers=headers)


def wait_until(predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    raise TimeoutError("condition not met in time")
