"""The admin kill switch: a risk.commands.KillSwitch command through the sequencer.

Scopes are checked here (an unknown account or symbol is a 404, not a switch
that silently guards nothing); the risk layer's handler applies the command,
emits RiskStateChanged and defers the mass cancel of the scope's open orders,
all inside the same durable batch we wait for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.envelope import NOT_FOUND, ApiError
from api.keys import ApiKey
from api.schemas import KillSwitchIn
from risk.commands import KillSwitch

if TYPE_CHECKING:
    from api.context import ApiContext


def _target(ctx: ApiContext, body: KillSwitchIn) -> str:
    t = body.target.strip()
    if body.scope == "global":
        return ""
    if not t:
        raise ApiError(422, "VALIDATION_ERROR", f"scope {body.scope!r} needs a target")
    if body.scope == "account":
        if t not in ctx.oms.accounts:
            raise ApiError(404, NOT_FOUND, f"unknown account {t!r}", {"account": t})
    elif body.scope == "instrument":
        sym = ctx.symbols.resolve(t)
        if sym is None:
            raise ApiError(404, "UNKNOWN_SYMBOL", f"unknown symbol {t!r}", {"symbol": t})
        t = sym
    return t


async def apply(ctx: ApiContext, risk, key: ApiKey, body: KillSwitchIn) -> dict:
    target = _target(ctx, body)
    state = body.state if body.action == "activate" else "ACTIVE"
    cmd = KillSwitch(ctx.clock(), body.action, body.scope, target, state, body.reason or f"{body.action} via REST",
                     who=key.key_id, trigger="manual", origin=key.origin)
    events = await ctx.sequencer.execute(cmd)
    changed = next((e for e in events if e.kind == "risk_state" and e.scope == body.scope and e.target == target),
                   None)
    cancelled = sum(e.cancelled for e in events if e.kind == "mass_cancel_done")
    return {"scope": body.scope, "target": target, "state": changed.state if changed is not None else state,
            "previous": changed.previous if changed is not None else None, "cancelled": cancelled}


def states_of(risk) -> list[dict]:
    """Every scope whose kill switch is not ACTIVE, from the risk service."""
    for attr in ("kill_switch_states", "kill_switch_view", "states_view"):
        fn = getattr(risk, attr, None)
        if callable(fn):
            return list(fn())
    return []
