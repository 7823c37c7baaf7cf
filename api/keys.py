"""API keys and the check of a signed request.

`KeyStore.verify` is the whole authentication decision — key known, timestamp
fresh, signature right, not a replay — in one function with typed failures, so
the HTTP dependency and the WebSocket handshake share it.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from api.envelope import UNAUTHORIZED, ApiError
from api.settings import RestSettings, Role
from api.signing import ReplayGuard, signature


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    secret: bytes
    account: str | None
    role: Role
    rate: float
    burst: int

    @property
    def origin(self) -> str:
        """The command origin of everything this key does (journal, drop copy)."""
        return f"REST:{self.key_id}"


class KeyStore:
    def __init__(self, keys: list[ApiKey], window_s: float, clock_ms=lambda: time.time_ns() // 1_000_000) -> None:
        self._keys = {k.key_id: k for k in keys}
        self.window_ms = int(window_s * 1000)
        self.replays = ReplayGuard(self.window_ms)
        self._clock_ms = clock_ms

    @classmethod
    def from_settings(cls, settings: RestSettings) -> "KeyStore":
        keys = []
        for k in settings.keys:
            lim = settings.limit_for(k)
            keys.append(ApiKey(k.id, k.resolve_secret().encode(), k.account, k.role, lim.rate, lim.burst))
        return cls(keys, settings.signature_window_s)

    def get(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def __iter__(self):
        return iter(self._keys.values())

    def verify(self, key_id: str | None, timestamp: str | None, sig: str | None, method: str, target: str,
               body: bytes) -> ApiKey:
        if not key_id or not timestamp or not sig:
            raise ApiError(401, UNAUTHORIZED, "signed request required: X-API-Key, X-API-Timestamp, X-API-Signature")
        key = self._keys.get(key_id)
        if key is None:
            raise ApiError(401, UNAUTHORIZED, "unknown API key")
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
            raise ApiError(401, UNAUTHORIZED, "X-API-Timestamp must be milliseconds since the Unix epoch")
        now = self._clock_ms()
        ts = int(timestamp)
        if abs(now - ts) > self.window_ms:
            raise ApiError(401, UNAUTHORIZED, "stale timestamp: outside the signature window",
                           {"server_time_ms": now, "window_ms": self.window_ms})
        expected = signature(key.secret, timestamp, method, target, body)
        if not sig.isascii() or not hmac.compare_digest(expected, sig.lower()):
            raise ApiError(401, UNAUTHORIZED, "bad signature",
                           {"signed": "timestamp + METHOD + path?query + body"})
        if not self.replays.first_use(expected, now):
            raise ApiError(401, UNAUTHORIZED, "replayed request: this signature was already used")
        return key
