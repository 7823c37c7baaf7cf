"""/api/v1/account: the key's own account — summary, balances, positions, fills, risk.

There is no account parameter anywhere: the account is the key's, so no key can
read another account by construction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.account import balances_of, fills_of, positions_of, risk_of
from api.context import ApiContext
from api.deps import get_ctx, reader
from api.envelope import ok
from api.keys import ApiKey
from api.schemas import AccountOut, BalancesOut, Envelope, FillsOut, PositionsOut, RiskOut
from api.trading import to_ns

router = APIRouter(prefix="/account", tags=["account"])


@router.get("", response_model=Envelope[AccountOut], summary="The key's account")
async def account(key: ApiKey = Depends(reader), ctx: ApiContext = Depends(get_ctx)):
    acct = ctx.oms.accounts[key.account]
    return ok({
        "account": key.account, "name": ctx.account_names.get(key.account, ""), "key_id": key.key_id,
        "role": key.role.value, "fee_maker_bps": _bps(acct.maker_fee_ppm), "fee_taker_bps": _bps(acct.taker_fee_ppm),
        "open_orders": len(ctx.oms.open_by_account.get(key.account, {})),
    })


def _bps(ppm: int) -> str:
    from decimal import Decimal

    return format((Decimal(ppm) / 100).normalize(), "f")


@router.get("/balances", response_model=Envelope[BalancesOut], summary="Balances per asset")
async def balances(key: ApiKey = Depends(reader), ctx: ApiContext = Depends(get_ctx)):
    return ok(balances_of(ctx, key.account))


@router.get("/positions", response_model=Envelope[PositionsOut], summary="Net positions per instrument")
async def positions(key: ApiKey = Depends(reader), ctx: ApiContext = Depends(get_ctx)):
    return ok(positions_of(ctx, key.account))


@router.get("/fills", response_model=Envelope[FillsOut], summary="The account's fills (trades), newest first")
async def fills(key: ApiKey = Depends(reader), ctx: ApiContext = Depends(get_ctx),
                symbol: Annotated[str | None, Query(max_length=32)] = None,
                since: Annotated[datetime | None, Query()] = None,
                until: Annotated[datetime | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    sym = ctx.symbols.resolve(symbol) if symbol else None
    if symbol and sym is None:
        return ok({"account": key.account, "fills": []})
    return ok(fills_of(ctx, key.account, symbol=sym, since=to_ns(since) if since else None,
                       until=to_ns(until) if until else None, limit=limit))


@router.get("/risk", response_model=Envelope[RiskOut], summary="Risk summary: limits, usage, kill switch")
async def risk(key: ApiKey = Depends(reader), ctx: ApiContext = Depends(get_ctx)):
    return ok(risk_of(ctx, key.account))
