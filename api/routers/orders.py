"""/api/v1/orders: place, list, look up, cancel/replace, cancel, mass cancel.

An order is addressed by its venue order id (digits) or by its client order id;
a key only ever finds the orders of its own account (anything else is 404).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from api.context import ApiContext
from api.deps import get_ctx, reader, trader
from api.envelope import VALIDATION_ERROR, ApiError, ok
from api.keys import ApiKey
from api.schemas import Envelope, MassCancelOut, OrderIn, OrderOut, OrderPage, OrderResult, ReplaceIn, Side
from api.trading import OrderDesk, to_ns
from engine.translate import STATUS_NAMES
from risk.metrics import ACK_LATENCY

router = APIRouter(prefix="/orders", tags=["orders"])
_REST_ACK = ACK_LATENCY.labels("rest")
_STATUSES = set(STATUS_NAMES.values()) | {"open"}

OrderId = Annotated[str, Path(min_length=1, max_length=64, description="venue order id or client order id")]


async def desk(ctx: ApiContext = Depends(get_ctx)) -> OrderDesk:
    return ctx.desk


@router.post("", status_code=201, response_model=Envelope[OrderResult],
             responses={200: {"model": Envelope[OrderResult], "description": "idempotent retry: the original order"}},
             summary="Place an order (any type and time in force)")
async def place_order(body: OrderIn, request: Request, key: ApiKey = Depends(trader)):
    return await place_and_answer(request.app.state.ctx, key, body, time.perf_counter())


async def place_and_answer(ctx: ApiContext, key: ApiKey, body: OrderIn, t0: float):
    """Place the order and build the answer; shared with api.fastlane (the same behaviour by construction)."""
    try:
        status, data = await ctx.desk.place(key, body)
        return ok(data, status)
    finally:   # rejects are acknowledgements too
        _REST_ACK.observe(time.perf_counter() - t0)


@router.get("", response_model=Envelope[OrderPage], summary="List the account's orders")
async def list_orders(
    key: ApiKey = Depends(reader), d: OrderDesk = Depends(desk), ctx: ApiContext = Depends(get_ctx),
    status: Annotated[str | None, Query(max_length=200, description="comma-separated: open, new, partially_filled, "
                                        "filled, canceled, rejected, expired, ...")] = None,
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[datetime | None, Query(description="created at or after (ISO 8601 or Unix seconds)")] = None,
    until: Annotated[datetime | None, Query(description="created before")] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="paging cursor: orders with a larger id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    statuses = None
    if status:
        statuses = {s.strip().lower() for s in status.split(",") if s.strip()}
        bad = sorted(statuses - _STATUSES)
        if bad:
            raise ApiError(422, VALIDATION_ERROR, f"unknown status {bad}", {"allowed": sorted(_STATUSES)})
    sym = None
    if symbol:
        sym = ctx.symbols.resolve(symbol)
        if sym is None:
            return ok({"items": [], "next_after": None})
    return ok(d.list(key.account, statuses=statuses, symbol=sym, since=to_ns(since) if since else None,
                     until=to_ns(until) if until else None, after=after, limit=limit))


@router.get("/{order_id}", response_model=Envelope[OrderOut], summary="One order, by order id or client order id")
async def get_order(order_id: OrderId, key: ApiKey = Depends(reader), d: OrderDesk = Depends(desk)):
    return ok(d.get(key.account, order_id))


@router.put("/{order_id}", response_model=Envelope[OrderResult], summary="Cancel/replace an open order")
async def replace_order(order_id: OrderId, body: ReplaceIn, key: ApiKey = Depends(trader),
                        d: OrderDesk = Depends(desk)):
    return ok(await d.replace(key, order_id, body))


@router.delete("/{order_id}", response_model=Envelope[OrderOut], summary="Cancel an open order")
async def cancel_order(order_id: OrderId, key: ApiKey = Depends(trader), d: OrderDesk = Depends(desk)):
    return ok(await d.cancel(key, order_id))


@router.delete("", response_model=Envelope[MassCancelOut], summary="Cancel all open orders matching the filters")
async def cancel_all(key: ApiKey = Depends(trader), d: OrderDesk = Depends(desk),
                     symbol: Annotated[str | None, Query(max_length=32)] = None,
                     side: Side | None = None):
    return ok(await d.mass_cancel(key, symbol, side.value if side else None))
