"""/api/v1/admin: venue controls for admin keys — gateway sessions, halt/resume an
instrument, the kill switch. Every action is a command through the sequencer
(journaled, replayed after a crash) with origin "REST:<admin key id>".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path

from api.context import ApiContext
from api.deps import admin, get_ctx
from api.envelope import UNAVAILABLE, ApiError, ok
from api.keys import ApiKey
from api.killswitch import apply, states_of
from api.schemas import (
    Envelope,
    KillSwitchIn,
    KillSwitchOut,
    KillSwitchStateOut,
    SessionsOut,
    TradingStateIn,
    TradingStateOut,
)
from api.views import STATE_NAMES
from engine.commands import SetTradingState
from engine.reject import Reason
from engine.types import TradingState

router = APIRouter(prefix="/admin", tags=["admin"])

Symbol = Annotated[str, Path(description="EUR/USD, EUR-USD, EUR_USD or EUR%2FUSD")]


def _service_view(svc):
    for attr in ("sessions", "sessions_view", "status"):
        fn = getattr(svc, attr, None)
        if callable(fn):
            return fn()
    return {"running": True}


@router.get("/sessions", response_model=Envelope[SessionsOut], summary="FIX sessions and REST/WebSocket clients")
async def sessions(key: ApiKey = Depends(admin), ctx: ApiContext = Depends(get_ctx)):
    fix = ctx.services.get("fix")
    hub = ctx.hub
    return ok({
        "fix": _service_view(fix) if fix is not None else None,
        "rest": {"url": ctx.url, "websocket_clients": len(hub.connections) if hub else 0,
                 "websocket_subscriptions": sum(len(c.channels) for c in hub.connections) if hub else 0},
    })


async def _set_state(ctx: ApiContext, key: ApiKey, text: str, state: TradingState, reason: str) -> dict:
    sym = ctx.symbols.resolve(text)
    if sym is None:
        raise ApiError(404, Reason.UNKNOWN_SYMBOL.value, f"unknown symbol {text!r}", {"symbol": text})
    events = await ctx.sequencer.execute(SetTradingState(ctx.clock(), sym, int(state), reason or
                                                         f"{state.name.lower()} by {key.key_id}", key.origin))
    changed = any(e.kind == "trading_state" and e.symbol == sym for e in events)
    return {"symbol": sym, "trading_state": STATE_NAMES[ctx.oms.books[sym].state], "changed": changed}


@router.post("/instruments/{symbol:path}/halt", response_model=Envelope[TradingStateOut],
             summary="Halt trading in an instrument (cancels stay possible)")
async def halt(symbol: Symbol, body: TradingStateIn | None = Body(default=None), key: ApiKey = Depends(admin),
               ctx: ApiContext = Depends(get_ctx)):
    return ok(await _set_state(ctx, key, symbol, TradingState.HALTED, body.reason if body else ""))


@router.post("/instruments/{symbol:path}/resume", response_model=Envelope[TradingStateOut],
             summary="Resume trading in a halted instrument")
async def resume(symbol: Symbol, body: TradingStateIn | None = Body(default=None), key: ApiKey = Depends(admin),
                 ctx: ApiContext = Depends(get_ctx)):
    return ok(await _set_state(ctx, key, symbol, TradingState.OPEN, body.reason if body else ""))


def _risk(ctx: ApiContext):
    risk = ctx.risk
    if risk is None:
        raise ApiError(503, UNAVAILABLE, "the risk layer is not running: no kill switch", {"part": "risk"})
    return risk


@router.get("/kill-switch", response_model=Envelope[KillSwitchStateOut], summary="Kill-switch states")
async def kill_switch_state(key: ApiKey = Depends(admin), ctx: ApiContext = Depends(get_ctx)):
    return ok(states_of(_risk(ctx)))


@router.post("/kill-switch", response_model=Envelope[KillSwitchOut], summary="Activate or release a kill switch")
async def kill_switch(body: KillSwitchIn, key: ApiKey = Depends(admin), ctx: ApiContext = Depends(get_ctx)):
    return ok(await apply(ctx, _risk(ctx), key, body))
