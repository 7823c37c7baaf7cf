"""A real venue for the REST/WebSocket tests: the whole `fixvenue run` wiring
(storage, risk, FIX, REST — whatever app/venue.py wires) on free loopback
ports and a temporary data dir, served from a background thread's own event
loop so tests can use plain blocking clients (httpx, websockets.sync) and
schemathesis against it.

`SignedClient` signs every request the way a real client must (the API's own
`api.signing.signature`, over the target httpx actually sends).

Risk: app/wiring_risk.py publishes `services["risk"]`; `LiveVenue(risk=False)`
removes it from the services (the controls stay installed in the OMS) to
exercise the gateway's fallbacks for a venue without the risk layer.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from api.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, next_timestamp, signature
from app.config import DEFAULT_CONFIG, parse_config

DEFAULT_RAW = yaml.safe_load(DEFAULT_CONFIG.read_text())
KEYS = {k["id"]: k for k in DEFAULT_RAW["rest"]["keys"]}


def key(key_id: str) -> tuple[str, str]:
    return key_id, KEYS[key_id]["secret"]


def venue_config(tmp: Path, rest: dict | None = None, **sections: Any) -> dict:
    raw = copy.deepcopy(DEFAULT_RAW)
    raw["venue"]["data_dir"] = str(tmp / "data")
    # generous limits: the tests exercise behaviour, rate limiting has its own test
    raw["rest"]["rate_limits"] = {r: {"rate": 100_000, "burst": 100_000} for r in ("trader", "read_only", "admin")}
    raw["rest"]["public_rate_limit"] = {"rate": 100_000, "burst": 100_000}
    for k, v in (rest or {}).items():
        raw["rest"][k] = v
    for k, v in sections.items():
        raw[k] = v
    # every instrument trades around the clock in tests (AAPL has US hours by default)
    for inst in raw["instruments"]:
        inst["session"] = {"open": "00:00", "close": "24:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
    return raw


class LiveVenue:
    """`with LiveVenue(tmp) as v:` -> v.url, v.ws_url, v.venue (the app.venue.Venue)."""

    def __init__(self, tmp: Path, rest: dict | None = None, *, risk: bool = True, **sections: Any) -> None:
        self.raw = venue_config(tmp, rest, **sections)
        self.with_risk = risk
        self.tmp = tmp
        self.venue = None
        self.url = ""
        self.ws_url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="live-venue", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        from app.venue import Venue

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        cfg = parse_config(self.raw, "<test config>")
        venue = Venue(cfg, "<test config>", {"rest_port": 0, "fix_port": 0, "host": "127.0.0.1",
                                              "data_dir": str(self.tmp / "data")})
        venue.wire()
        if not self.with_risk:
            venue.services.pop("risk", None)
        await venue.start()
        venue.tick()
        self.venue = venue
        rest = venue.services["rest"]
        self.url = rest.url
        self.ws_url = rest.url.replace("http://", "ws://") + "/ws"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await venue.stop()

    def __enter__(self) -> "LiveVenue":
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("venue did not start within 60 s")
        if self._error is not None:
            raise RuntimeError(f"venue failed to start: {self._error!r}") from self._error
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def call(self, fn, *args):
        """Run `fn(*args)` on the venue's loop thread (to read engine state consistently)."""
        done = threading.Event()
        box: list = []

        def run():
            try:
                box.append(("ok", fn(*args)))
            except BaseException as exc:
                box.append(("err", exc))
            done.set()

        self._loop.call_soon_threadsafe(run)
        if not done.wait(10):
            raise TimeoutError("venue loop did not answer")
        kind, val = box[0]
        if kind == "err":
            raise val
        return val

    def client(self, key_id: str | None = None, **kw) -> "SignedClient":
        if key_id is None:
            return SignedClient(self.url, None, None, **kw)
        kid, secret = key(key_id)
        return SignedClient(self.url, kid, secret, **kw)


class SignedClient:
    """httpx.Client that signs each request with an API key (or sends it unsigned)."""

    def __init__(self, base_url: str, key_id: str | None, secret: str | None, timeout: float = 10.0) -> None:
        self.key_id = key_id
        self.secret = secret
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def build(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
              content: bytes | None = None, headers: dict | None = None, sign: bool = True) -> httpx.Request:
        body = content if content is not None else (orjson.dumps(json) if json is not None else b"")
        hdrs = dict(headers or {})
        if body and "content-type" not in {k.lower() for k in hdrs}:
            hdrs["Content-Type"] = "application/json"
        req = self.http.build_request(method, path, params=params, content=body or None, headers=hdrs)
        if sign and self.key_id:
            ts = str(next_timestamp())
            target = req.url.raw_path.decode("ascii")
            req.headers[KEY_HEADER] = self.key_id
            req.headers[TIMESTAMP_HEADER] = ts
            req.headers[SIGNATURE_HEADER] = signature(self.secret, ts, method, target, body)
        return req

    def request(self, method: str, path: str, **kw) -> httpx.Response:
        return self.http.send(self.build(method, path, **kw))

    def get(self, path: str, **kw) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw) -> httpx.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw) -> httpx.Response:
        return self.request("DELETE", path, **kw)


def data(resp: httpx.Response) -> Any:
    body = resp.json()
    assert body["success"] is True, body
    assert isinstance(body["timestamp"], str)
    return body["data"]


def err(resp: httpx.Response, status: int, code: str) -> dict:
    body = resp.json()
    assert resp.status_code == status, (resp.status_code, body)
    assert body["success"] is False, body
    assert body["error"]["code"] == code, body
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]
