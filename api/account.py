"""Account views: balances, positions, fills and the risk summary of one account.

The live ledger (balances, positions with P&L, limits, the kill switch) belongs
to risk/: `venue.services["risk"]` is its `RiskControls`. While it is not wired
in, these views still answer from what the gateway itself knows — starting
balances from the configuration and net positions summed from the account's
fills — and say so in `source` ("config" / "fills" / "gateway" instead of
"risk"), so a client never mistakes a fallback for the ledger.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from api.trading import fill_view

if TYPE_CHECKING:
    from api.context import ApiContext

_POSITION_KEYS = ("symbol", "quantity", "side", "avg_price", "mark_price", "currency", "realized_pnl",
                  "unrealized_pnl", "fees", "notional", "working_buy_qty", "working_sell_qty")


def balances_of(ctx: ApiContext, account: str) -> dict:
    risk = ctx.risk
    if risk is not None:
        rows = [{"asset": a, "total": v} for a, v in risk.balances(account).items()]
        return {"account": account, "source": "risk", "balances": rows}
    start = ctx.starting_balances.get(account, {})
    rows = [{"asset": a, "total": Decimal(v)} for a, v in sorted(start.items())]
    return {"account": account, "source": "config", "balances": rows}


def positions_of(ctx: ApiContext, account: str) -> dict:
    risk = ctx.risk
    if risk is not None:
        rows = [{k: p.get(k) for k in _POSITION_KEYS} for p in risk.positions(account)]
        return {"account": account, "source": "risk", "positions": rows}
    out = []
    for (acct, sym), lots in sorted(ctx.tape.net.items()):
        if acct != account or sym not in ctx.instruments:
            continue
        inst = ctx.instruments[sym]
        qty = inst.lots_to_qty(abs(lots))
        row = dict.fromkeys(_POSITION_KEYS)
        row.update({"symbol": sym, "quantity": -qty if lots < 0 else qty,
                    "side": "long" if lots > 0 else "short" if lots < 0 else "flat", "currency": inst.quote})
        out.append(row)
    return {"account": account, "source": "fills", "positions": out}


def fills_of(ctx: ApiContext, account: str, *, symbol: str | None, since: int | None, until: int | None,
             limit: int) -> dict:
    evs = ctx.tape.fills_for(account, symbol=symbol, since=since, until=until, limit=limit)
    return {"account": account, "fills": [fill_view(e, ctx.instruments[e.symbol]) for e in reversed(evs)]}


def risk_of(ctx: ApiContext, account: str) -> dict:
    risk = ctx.risk
    if risk is not None:
        summary = risk.summary(account)
        return {"account": account, "source": "risk", "trading_state": summary.get("trading_state"),
                "summary": summary, "limits": risk.limits(account)}
    open_orders = len(ctx.oms.open_by_account.get(account, {}))
    return {"account": account, "source": "gateway", "trading_state": None,
            "summary": {"open_orders": open_orders,
                        "note": "risk/ is not wired in: no limits, margin, P&L or kill switch"},
            "limits": {}}
