"""Account views: balances, positions, fills and the risk summary of one account.

The live ledger (balances with reservations, positions with P&L, the kill
switch) belongs to risk/, published as `venue.services["risk"]`. While it is
not wired in, these views still answer from what the gateway itself knows —
starting balances from the configuration and net positions summed from the
account's fills — and say so in `source` ("config" / "fills" instead of
"risk"), so a client never mistakes a fallback for the ledger.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from api.trading import fill_view

if TYPE_CHECKING:
    from api.context import ApiContext


def balances_of(ctx: ApiContext, account: str) -> dict:
    risk = ctx.risk
    if risk is not None and hasattr(risk, "balances_view"):
        rows = risk.balances_view(account)
        return {"account": account, "source": "risk", "balances": rows}
    start = ctx.starting_balances.get(account, {})
    rows = [{"asset": a, "total": Decimal(v), "available": None, "reserved": None} for a, v in sorted(start.items())]
    return {"account": account, "source": "config", "balances": rows}


def positions_of(ctx: ApiContext, account: str) -> dict:
    risk = ctx.risk
    if risk is not None and hasattr(risk, "positions_view"):
        return {"account": account, "source": "risk", "positions": risk.positions_view(account)}
    out = []
    for (acct, sym), lots in sorted(ctx.tape.net.items()):
        if acct != account or sym not in ctx.instruments:
            continue
        inst = ctx.instruments[sym]
        qty = inst.lots_to_qty(abs(lots))
        out.append({"symbol": sym, "qty": -qty if lots < 0 else qty, "avg_price": None, "realized_pnl": None,
                    "unrealized_pnl": None})
    return {"account": account, "source": "fills", "positions": out}


def fills_of(ctx: ApiContext, account: str, *, symbol: str | None, since: int | None, until: int | None,
             limit: int) -> dict:
    evs = ctx.tape.fills_for(account, symbol=symbol, since=since, until=until, limit=limit)
    return {"account": account, "fills": [fill_view(e, ctx.instruments[e.symbol]) for e in reversed(evs)]}


def risk_of(ctx: ApiContext, account: str) -> dict:
    risk = ctx.risk
    if risk is not None and hasattr(risk, "summary_view"):
        summary = risk.summary_view(account)
        return {"account": account, "source": "risk", "kill_switch": summary.get("kill_switch"), "summary": summary}
    open_orders = len(ctx.oms.open_by_account.get(account, {}))
    return {"account": account, "source": "gateway", "kill_switch": None,
            "summary": {"open_orders": open_orders, "risk": "not wired: limits, margin and P&L are unavailable"}}
