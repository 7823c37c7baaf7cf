"""/api/v1/instruments and /api/v1/market/{symbol}/...: public market data (no key needed,
limited per client address).

`{symbol}` accepts EUR/USD, EUR-USD, EUR_USD, eur-usd and EUR%2FUSD alike (see api/symbols.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.candles import INTERVALS
from api.context import ApiContext
from api.deps import get_ctx, public
from api.envelope import ApiError, ok
from api.schemas import CandlesOut, Envelope, InstrumentOut, OrderBookOut, TickerOut, TradeOut
from api.trading import to_ns
from api.views import STATE_NAMES, book_view, candle_view, ticker_view, trade_view
from engine.reject import Reason

router = APIRouter(tags=["market data"], dependencies=[Depends(public)])

Symbol = Annotated[str, Path(description="EUR/USD, EUR-USD, EUR_USD or EUR%2FUSD")]
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = Annotated[str, Query(pattern="^(" + "|".join(INTERVALS) + ")$", description=", ".join(INTERVALS))]


def _hhmm(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def _symbol(ctx: ApiContext, text: str) -> str:
    sym = ctx.symbols.resolve(text)
    if sym is None:
        raise ApiError(404, Reason.UNKNOWN_SYMBOL.value, f"unknown symbol {text!r}",
                       {"symbol": text, "known": ctx.symbols.symbols})
    return sym


@router.get("/instruments", response_model=Envelope[list[InstrumentOut]], summary="Tradable instruments")
async def instruments(ctx: ApiContext = Depends(get_ctx)):
    out = []
    for sym, i in ctx.instruments.items():
        s = i.session
        out.append({
            "symbol": sym, "url_symbol": ctx.symbols.url_form(sym), "asset_class": i.asset_class, "base": i.base,
            "quote": i.quote, "tick_size": i.tick_size, "lot_size": i.lot_size, "min_qty": i.min_qty,
            "max_qty": i.max_qty, "price_precision": i.price_precision,
            "trading_state": STATE_NAMES.get(ctx.oms.books[sym].state, "unknown"),
            "session": {"open": _hhmm(s.open_s), "close": _hhmm(s.close_s),
                        "days": [d for n, d in enumerate(_DAYS) if n in s.weekdays]},
            "description": i.description,
        })
    return ok(out)


@router.get("/market/{symbol:path}/orderbook", response_model=Envelope[OrderBookOut], summary="Order book depth")
async def orderbook(symbol: Symbol, ctx: ApiContext = Depends(get_ctx),
                    depth: Annotated[int, Query(ge=1, le=5000, description="levels per side")] = 50):
    sym = _symbol(ctx, symbol)
    return ok(book_view(ctx.oms, sym, depth, ctx.clock()))


@router.get("/market/{symbol:path}/trades", response_model=Envelope[list[TradeOut]], summary="Recent trades")
async def trades(symbol: Symbol, ctx: ApiContext = Depends(get_ctx),
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    sym = _symbol(ctx, symbol)
    inst = ctx.instruments[sym]
    return ok([trade_view(t, inst) for t in reversed(ctx.oms.recent_trades(sym, limit))])


@router.get("/market/{symbol:path}/ticker", response_model=Envelope[TickerOut], summary="Best prices and 24h statistics")
async def ticker(symbol: Symbol, ctx: ApiContext = Depends(get_ctx)):
    sym = _symbol(ctx, symbol)
    return ok(ticker_view(ctx.oms, ctx.tape, sym, ctx.clock()))


@router.get("/market/{symbol:path}/candles", response_model=Envelope[CandlesOut], summary="OHLCV candles from trades")
async def candles(symbol: Symbol, ctx: ApiContext = Depends(get_ctx), interval: Interval = "1m",
                  since: Annotated[datetime | None, Query(description="candles starting at or after")] = None,
                  until: Annotated[datetime | None, Query(description="candles starting before")] = None,
                  limit: Annotated[int, Query(ge=1, le=1500)] = 500):
    sym = _symbol(ctx, symbol)
    inst = ctx.instruments[sym]
    series = ctx.tape.candles[sym][interval]
    sel = series.select(to_ns(since) if since else None, to_ns(until) if until else None, limit)
    return ok({"symbol": sym, "interval": interval, "candles": [candle_view(c, inst) for c in sel]})
