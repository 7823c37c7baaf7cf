"""Kill-switch state: a trading state per scope, as NautilusTrader names them.

    ACTIVE    normal trading
    REDUCING  only orders that reduce a position (cancels always allowed)
    HALTED    no new orders or replaces; only cancels

Scopes are global, account, session (the command origin of a gateway
connection) and instrument. An order is subject to the strictest state among
the global state, its account's, its session's and its instrument's.

The state is changed only by `KillSwitch` commands (journaled when manual,
deferred when automatic), applied by `KillSwitchState.apply`, so a replay of
the journal restores it. `any_active` lets the pre-trade check skip all of
this with one attribute read while every scope is ACTIVE.
"""

from __future__ import annotations

from dataclasses import dataclass

from risk.commands import ACTIVE, HALTED, REDUCING, STATE_CODES, STATE_NAMES


@dataclass(slots=True)
class ScopeInfo:
    scope: str
    target: str
    state: int
    reason: str
    who: str
    trigger: str
    ts: int
    seq: int = 0

    def to_dict(self) -> dict:
        return {"scope": self.scope, "target": self.target, "state": STATE_NAMES[self.state],
                "reason": self.reason, "who": self.who, "trigger": self.trigger, "since_ts": self.ts}


class KillSwitchState:
    __slots__ = ("global_state", "accounts", "sessions", "instruments", "info", "any_active", "enforce")

    def __init__(self, enforce: bool = True) -> None:
        self.enforce = enforce      # False when the kill_switch check is switched off (state still kept)
        self.global_state = ACTIVE
        self.accounts: dict[str, int] = {}
        self.sessions: dict[str, int] = {}
        self.instruments: dict[str, int] = {}
        self.info: dict[tuple[str, str], ScopeInfo] = {}
        self.any_active = False     # True while any scope is not ACTIVE (and the check is on)

    def _table(self, scope: str) -> dict[str, int] | None:
        return {"account": self.accounts, "session": self.sessions, "instrument": self.instruments}.get(scope)

    def get(self, scope: str, target: str) -> int:
        if scope == "global":
            return self.global_state
        table = self._table(scope)
        return table.get(target, ACTIVE) if table is not None else ACTIVE

    def apply(self, scope: str, target: str, state: int, reason: str, who: str, trigger: str, ts: int) -> int:
        """Set a scope's state; returns the previous state."""
        prev = self.get(scope, target)
        if scope == "global":
            self.global_state = state
        else:
            table = self._table(scope)
            if state == ACTIVE:
                table.pop(target, None)
            else:
                table[target] = state
        key = (scope, target if scope != "global" else "")
        if state == ACTIVE:
            self.info.pop(key, None)
        else:
            self.info[key] = ScopeInfo(scope, key[1], state, reason, who, trigger, ts)
        self.any_active = self.enforce and bool(self.global_state or self.accounts or self.sessions or self.instruments)
        return prev

    def effective(self, account: str, origin: str, symbol: str,
                  order_origin: str | None = None) -> tuple[int, str, str]:
        """(state, scope, target) of the strictest scope that applies to an order."""
        best = (self.global_state, "global", "")
        for scope, table, key in (("account", self.accounts, account), ("session", self.sessions, origin),
                                  ("session", self.sessions, order_origin), ("instrument", self.instruments, symbol)):
            if key is None:
                continue
            st = table.get(key, ACTIVE)
            if st > best[0]:
                best = (st, scope, key)
        return best

    def snapshot(self) -> list[dict]:
        return [i.to_dict() for i in sorted(self.info.values(), key=lambda i: (i.scope, i.target))]


def parse_state(name: str) -> int:
    try:
        return STATE_CODES[str(name).upper()]
    except KeyError:
        raise ValueError(f"unknown trading state {name!r}; use one of {list(STATE_NAMES)}") from None


__all__ = ["KillSwitchState", "ScopeInfo", "parse_state", "ACTIVE", "REDUCING", "HALTED"]
