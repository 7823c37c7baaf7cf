"""The risk layer's own journaled commands and the events they cause.

Kill-switch activation and release, and an external venue's connectivity, are
commands like any order: they go through the sequencer, land in the journal and
are applied by handlers the risk controls register with the OMS. A restart that
replays the journal therefore comes back with the same kill-switch states (and
re-derives the automatic ones, which are deferred commands, never journaled).

Registering the command types at import time is what lets the journal decode
them: whoever replays a journal imports `risk` first (app/wiring_risk.py does).
"""

from __future__ import annotations

from engine.commands import Command, register_command_type
from engine.events import Event

ACTIVE, REDUCING, HALTED = 0, 1, 2
STATE_NAMES = ("ACTIVE", "REDUCING", "HALTED")
STATE_CODES = {n: i for i, n in enumerate(STATE_NAMES)}


@register_command_type
class KillSwitch(Command):
    """Activate (state HALTED or REDUCING) or release (state ACTIVE) the kill switch of one scope.

    scope: "global" (target ""), "account" (account id), "session" (a gateway
    session's origin, e.g. "FIX:CLIENT1"), "instrument" (symbol).
    trigger: "manual" for operator actions; automatic ones name their cause
    ("daily_loss", "margin_call", "reject_storm", "venue_loss")."""

    __slots__ = ("ts", "action", "scope", "target", "state", "reason", "who", "trigger", "origin")
    kind = "risk.kill_switch"

    def __init__(self, ts, action, scope, target, state, reason="", who="", trigger="manual", origin=""):
        self.ts = ts
        self.action = action          # "activate" | "release"
        self.scope = scope
        self.target = target
        self.state = state            # "HALTED" | "REDUCING" | "ACTIVE" (release)
        self.reason = reason
        self.who = who
        self.trigger = trigger
        self.origin = origin


@register_command_type
class VenueStatus(Command):
    """An external venue's connectivity changed (submitted by the router / venue adapters)."""

    __slots__ = ("ts", "venue", "connected", "reason", "origin")
    kind = "risk.venue_status"

    def __init__(self, ts, venue, connected, reason="", origin=""):
        self.ts = ts
        self.venue = venue
        self.connected = connected
        self.reason = reason
        self.origin = origin


class RiskStateChanged(Event):
    """A scope's trading state was set by the kill switch (manual or automatic).
    `cancelled` is filled in by the deferred mass cancel's MassCancelDone (same batch)."""

    __slots__ = ("seq", "ts", "scope", "target", "state", "previous", "trigger", "reason", "who", "origin")
    kind = "risk_state"

    def __init__(self, ts, scope, target, state, previous, trigger, reason, who, origin):
        self.seq = 0
        self.ts = ts
        self.scope = scope
        self.target = target
        self.state = state            # "ACTIVE" | "REDUCING" | "HALTED"
        self.previous = previous
        self.trigger = trigger
        self.reason = reason
        self.who = who
        self.origin = origin


class VenueStatusChanged(Event):
    __slots__ = ("seq", "ts", "venue", "connected", "reason", "origin")
    kind = "venue_status"

    def __init__(self, ts, venue, connected, reason, origin):
        self.seq = 0
        self.ts = ts
        self.venue = venue
        self.connected = connected
        self.reason = reason
        self.origin = origin
