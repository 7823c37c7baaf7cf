"""Market-data views in outside units, shared by the REST routes and the WebSocket hub,
so a book level or a trade looks the same whether it was polled or pushed.

Order and execution views are engine/translate.py's (order_view, exec_view);
only public market data is rendered here.
"""

from __future__ import annotations

from api.candles import Candle
from engine.instrument import Instrument
from engine.translate import SIDE_NAMES
from engine.types import TradingState

STATE_NAMES = {int(s): s.name.lower() for s in TradingState}


def levels_view(levels, inst: Instrument) -> list[dict]:
    """[(price, qty, orders)] in ticks/lots -> [{price, qty, orders}] as decimal strings."""
    t2p, l2q = inst.ticks_to_price, inst.lots_to_qty
    return [{"price": t2p(p), "qty": l2q(q), "orders": n} for p, q, n in levels]


def book_view(oms, symbol: str, depth: int | None, ts: int) -> dict:
    inst = oms.instruments[symbol]
    bids, asks = oms.depth(symbol, depth)
    return {"symbol": symbol, "seq": oms.books[symbol].md_seq, "bids": levels_view(bids, inst),
            "asks": levels_view(asks, inst), "ts": ts}


def book_update_view(ev, inst: Instrument) -> dict:
    """A BookUpdate: changed levels with their new totals; qty "0" = level removed."""
    t2p, l2q = inst.ticks_to_price, inst.lots_to_qty
    bids, asks = [], []
    for side, p, q, n in ev.levels:
        (bids if side == 1 else asks).append({"price": t2p(p), "qty": l2q(q), "orders": n})
    return {"bids": bids, "asks": asks, "ts": ev.ts}


def trade_view(tr, inst: Instrument) -> dict:
    """A public print: no accounts, no order ids."""
    return {"trade_id": tr.trade_id, "price": inst.ticks_to_price(tr.price), "qty": inst.lots_to_qty(tr.qty),
            "side": SIDE_NAMES.get(tr.aggressor_side), "ts": tr.ts}


def candle_view(c: Candle, inst: Instrument) -> dict:
    t2p = inst.ticks_to_price
    return {"start": c.start, "open": t2p(c.open), "high": t2p(c.high), "low": t2p(c.low), "close": t2p(c.close),
            "volume": inst.lots_to_qty(c.volume), "quote_volume": inst.notional(1, c.notional).normalize(),
            "trades": c.trades}


def ticker_view(oms, tape, symbol: str, now: int) -> dict:
    inst = oms.instruments[symbol]
    book = oms.books[symbol]
    t2p, l2q = inst.ticks_to_price, inst.lots_to_qty
    bb, ba = book.bids.best(), book.asks.best()
    bq = book.bids.level_view(bb)[0] if bb else 0
    aq = book.asks.level_view(ba)[0] if ba else 0
    day = tape.day[symbol].stats(now) if tape is not None else None
    last = book.last_px
    out = {
        "symbol": symbol,
        "trading_state": STATE_NAMES.get(book.state, str(book.state)),
        "last_price": t2p(last) if last else None,
        "best_bid": t2p(bb) if bb else None,
        "best_bid_qty": l2q(bq) if bb else None,
        "best_ask": t2p(ba) if ba else None,
        "best_ask_qty": l2q(aq) if ba else None,
        "open_24h": None, "high_24h": None, "low_24h": None,
        "volume_24h": l2q(0), "quote_volume_24h": l2q(0), "trades_24h": 0, "change_24h": None,
        "ts": now,
    }
    if day is not None:
        out.update({
            "open_24h": t2p(day["open"]), "high_24h": t2p(day["high"]), "low_24h": t2p(day["low"]),
            "volume_24h": l2q(day["volume"]), "quote_volume_24h": inst.notional(1, day["notional"]).normalize(),
            "trades_24h": day["trades"],
            "change_24h": (t2p(last) - t2p(day["open"])).normalize() if last else None,
        })
    return out
