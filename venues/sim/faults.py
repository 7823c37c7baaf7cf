"""Fault injection shared by the venue simulators.

Tests (and the admin API `POST /_sim/faults`) queue faults; each fault fires on
the next `count` requests that match its method and path substring. The kinds
are the failures an adapter must survive:

* ``reject``      - the venue refuses the order with `reason` (the simulator's
                    order handler consumes these, since the reject shape is venue-specific)
* ``timeout``     - the venue ACCEPTS and processes the request, then holds the
                    response for `delay` seconds (past the client's timeout)
* ``rate_limit``  - HTTP 429 with a Retry-After header; nothing is processed
* ``disconnect``  - the TCP connection is dropped without a response; with
                    ``before=False`` (default) the request is processed first, so the
                    venue has the order but the client never hears about it
* ``error``       - an HTTP `status` (default 500) with the venue's error body;
                    nothing is processed
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("reject", "timeout", "rate_limit", "disconnect", "error")


@dataclass
class Fault:
    kind: str
    count: int = 1
    method: str | None = "POST"  # None matches any method
    path: str | None = None  # substring of the request path; None matches any path
    delay: float = 5.0  # timeout: how long to hold the response
    retry_after: float = 1.0  # rate_limit: Retry-After seconds
    reason: str | None = None  # reject: venue reason (OANDA rejectReason, Binance "CODE:msg")
    status: int = 500  # error: HTTP status
    before: bool = False  # disconnect: drop before processing instead of after

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        if self.count < 1:
            raise ValueError("count must be >= 1")
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or self.path in path

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Fault":
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultPlan:
    """The queue of pending faults plus an always-on latency."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self._faults: list[Fault] = []
        self.fired: list[tuple[str, str, str]] = []  # (kind, method, path) log for tests

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def take(self, kinds: set[str] | frozenset[str], method: str, path: str) -> Fault | None:
        """Consume one firing of the first matching fault of one of `kinds`."""
        for fault in self._faults:
            if fault.kind in kinds and fault.matches(method, path):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                self.fired.append((fault.kind, method, path))
                return fault
        return None
