"""Liveness (/health), readiness (/ready) and Prometheus metrics (/metrics).

Served at the root (where orchestrators and Prometheus look) and under /api/v1.
Readiness asks each running part: the journal/store, the FIX acceptor, this
gateway. A part that is not configured does not block readiness; a part that
is configured and down does (503).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.responses import Response

from api.context import ApiContext
from api.deps import get_ctx
from api.envelope import JSONBody, now_iso
from api.schemas import Envelope, ErrorEnvelope, HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Envelope[HealthOut], summary="Liveness")
async def health(ctx: ApiContext = Depends(get_ctx)):
    return JSONBody({"success": True, "data": {"status": "ok", "uptime_s": round(time.time() - ctx.started_s, 3)},
                     "timestamp": now_iso()})


def _part_state(name: str, svc) -> str:
    """'up' / 'down' from the readiness signal a part offers: a `ready` attribute (or
    method) if it has one; the FIX acceptor is up once it has an address; the
    storage component once started (journal recovered, SQL writer running)."""
    try:
        ready = getattr(svc, "ready", None)
        if ready is not None:
            return "up" if (ready() if callable(ready) else ready) else "down"
        if name == "fix":
            return "up" if getattr(svc, "address", None) is not None else "down"
        if name == "storage":
            return "up" if getattr(svc, "_started", True) else "down"
    except Exception:
        return "down"
    return "up"


def readiness(ctx: ApiContext) -> dict:
    parts = {"rest": "up" if ctx.serving else "down"}
    for name in ("storage", "fix", "risk", "router"):
        svc = ctx.services.get(name)
        if svc is not None:
            parts[name] = _part_state(name, svc)
    return {"ready": all(v == "up" for v in parts.values()), "parts": parts}


@router.get("/ready", response_model=Envelope[ReadyOut], responses={503: {"model": ErrorEnvelope}},
            summary="Readiness: store and gateways up")
async def ready(ctx: ApiContext = Depends(get_ctx)):
    r = readiness(ctx)
    if r["ready"]:
        return JSONBody({"success": True, "data": r, "timestamp": now_iso()})
    return JSONBody({"success": False, "error": {"code": "NOT_READY", "message": "a part of the venue is down",
                                                 "details": r}, "timestamp": now_iso()}, status_code=503)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (text exposition format)",
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "metrics"}})
async def metrics():
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
