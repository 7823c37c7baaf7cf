"""The audit trail of control actions: every kill-switch activation/release, every
instrument halt/resume (manual or circuit breaker), every venue connectivity change.

Records are derived from events inside the OMS listener, so a journal replay
rebuilds the same trail (with the same sequence numbers). The storage layer
persists them by subscribing (`AuditLog.subscribe(fn)`), or from the events
themselves (`RiskStateChanged`, `TradingStateChanged`, `VenueStatusChanged`).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import asdict, dataclass
from typing import Callable

log = logging.getLogger("fixvenue.risk.audit")


@dataclass(slots=True)
class AuditRecord:
    seq: int            # venue sequence number of the event that recorded the action
    ts: int             # ns since the epoch (the command's timestamp)
    action: str         # kill_switch.activate | kill_switch.release | halt | resume | circuit_breaker.halt |
                        # circuit_breaker.reopen | venue.down | venue.up
    scope: str          # global | account | session | instrument | venue
    target: str
    state: str          # resulting state (ACTIVE / REDUCING / HALTED / OPEN / CLOSED / UP / DOWN)
    reason: str
    who: str            # operator / API key id / "risk" for automatic actions
    trigger: str        # manual | daily_loss | margin_call | reject_storm | venue_loss | circuit_breaker | scheduler
    cancelled: int = 0  # working orders cancelled by the action

    def to_dict(self) -> dict:
        return asdict(self)


class AuditLog:
    def __init__(self, maxlen: int = 100_000) -> None:
        self._records: deque[AuditRecord] = deque(maxlen=maxlen)
        self._subscribers: list[Callable[[AuditRecord], None]] = []

    def subscribe(self, fn: Callable[[AuditRecord], None]) -> None:
        self._subscribers.append(fn)

    def append(self, rec: AuditRecord) -> None:
        self._records.append(rec)
        log.info("risk audit: %s %s %s -> %s by %s (%s): %s", rec.action, rec.scope, rec.target or "*", rec.state,
                 rec.who, rec.trigger, rec.reason)
        for fn in self._subscribers:
            try:
                fn(rec)
            except Exception:  # a broken sink must not break the core
                log.exception("audit subscriber %r failed", fn)

    def last(self) -> AuditRecord | None:
        return self._records[-1] if self._records else None

    def records(self, limit: int | None = None) -> list[dict]:
        recs = list(self._records)
        if limit is not None:
            recs = recs[-limit:]
        return [r.to_dict() for r in recs]

    def __len__(self) -> int:
        return len(self._records)
