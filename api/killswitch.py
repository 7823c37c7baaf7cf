"""The admin kill switch: the risk layer's KillSwitch command through the sequencer.

`RiskControls.kill_command` / `release_command` validate the scope and target
(an unknown account or symbol is refused, not a switch that silently guards
nothing) and build the command; it is journaled and applied like an order, and
the risk handler emits RiskStateChanged and defers the mass cancel of the
scope's open orders — all inside the durable batch we wait for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.envelope import ApiError
from api.keys import ApiKey
from api.schemas import KillSwitchIn
from engine.reject import Reason, RejectError

if TYPE_CHECKING:
    from api.context import ApiContext


async def apply(ctx: ApiContext, risk, key: ApiKey, body: KillSwitchIn) -> dict:
    target = body.target.strip()
    if body.scope == "instrument" and target:
        target = ctx.symbols.resolve(target) or target
    reason = body.reason or f"{body.action} via REST by {key.key_id}"
    try:
        if body.action == "activate":
            cmd = risk.kill_command(body.scope, target, reason, key.key_id, state=body.state, ts=ctx.clock(),
                                    origin=key.origin)
        else:
            cmd = risk.release_command(body.scope, target, reason, key.key_id, ts=ctx.clock(), origin=key.origin)
    except RejectError as err:
        status = 404 if err.reason in (Reason.UNKNOWN_ACCOUNT, Reason.UNKNOWN_SYMBOL) else 422
        raise ApiError(status, err.reason.value, err.text, err.details) from None
    events = await ctx.sequencer.execute(cmd)
    changed = next((e for e in events if e.kind == "risk_state" and e.scope == cmd.scope and e.target == cmd.target),
                   None)
    cancelled = sum(e.cancelled for e in events if e.kind == "mass_cancel_done")
    return {"scope": cmd.scope, "target": cmd.target, "state": changed.state if changed is not None else cmd.state,
            "previous": changed.previous if changed is not None else None, "cancelled": cancelled}


def states_of(risk) -> dict:
    st = risk.kill_switch_status()
    return {"global_state": st.get("global", "ACTIVE"), "scopes": list(st.get("scopes", []))}
