"""HMAC-SHA256 request signing: the string a client signs, and the replay guard.

A request carries three headers:

    X-API-Key:        the key id
    X-API-Timestamp:  milliseconds since the Unix epoch (UTC)
    X-API-Signature:  hex(HMAC-SHA256(secret, timestamp + METHOD + target + body))

where `target` is the request target exactly as sent on the wire: the
percent-encoded path plus `?query` when there is a query string
(e.g. `/api/v1/orders?symbol=EUR%2FUSD`), and `body` the raw body bytes (empty
for GET/DELETE). Signing the bytes as sent means no canonicalisation rules to
get wrong on either side.

A timestamp further than the window from the server clock is refused (stale),
and a signature already seen inside the window is refused (replayed), so a
captured request cannot be sent again. Two identical requests in the same
millisecond look like a replay: clients use a strictly increasing timestamp
(`sign_request` below does).

This module is pure (no framework imports) so tests, the benchmark and the
documentation's helper script use the very same function as the server.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque

KEY_HEADER = "X-API-Key"
TIMESTAMP_HEADER = "X-API-Timestamp"
SIGNATURE_HEADER = "X-API-Signature"


def signature(secret: bytes | str, timestamp: str | int, method: str, target: str, body: bytes = b"") -> str:
    if isinstance(secret, str):
        secret = secret.encode()
    msg = f"{timestamp}{method.upper()}{target}".encode() + body
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


class _MonotonicMs:
    """Milliseconds that never repeat within this process (distinct signatures)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            t = time.time_ns() // 1_000_000
            if t <= self._last:
                t = self._last + 1
            self._last = t
            return t


next_timestamp = _MonotonicMs()


def sign_request(key_id: str, secret: str, method: str, target: str, body: bytes = b"",
                 timestamp: int | None = None) -> dict[str, str]:
    """The three auth headers for one request."""
    ts = str(timestamp if timestamp is not None else next_timestamp())
    return {KEY_HEADER: key_id, TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: signature(secret, ts, method, target, body)}


class ReplayGuard:
    """Remembers signatures for as long as their timestamps are acceptable.

    Memory is bounded by the rate limits: a key can only get so many valid
    requests into one window."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self._seen: set[str] = set()
        self._order: deque[tuple[int, str]] = deque()

    def first_use(self, sig: str, now_ms: int) -> bool:
        """True the first time `sig` is seen inside the window; False for a replay."""
        order = self._order
        horizon = now_ms - 2 * self.window_ms   # a timestamp may be up to one window in the future
        while order and order[0][0] < horizon:
            self._seen.discard(order.popleft()[1])
        if sig in self._seen:
            return False
        self._seen.add(sig)
        order.append((now_ms, sig))
        return True

    def __len__(self) -> int:
        return len(self._seen)
