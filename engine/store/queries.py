"""Reading the SQL store (export, tests, operators' tools): streamed, in id order."""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import Engine, select

from engine.store import models as m


def _stream(engine: Engine, stmt, batch: int = 2_000) -> Iterator:
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=batch).execute(stmt)
        for row in result:
            yield row


def orders(engine: Engine, *, account: str | None = None, symbol: str | None = None) -> Iterator:
    stmt = select(m.orders)
    if account is not None:
        stmt = stmt.where(m.orders.c.account == account)
    if symbol is not None:
        stmt = stmt.where(m.orders.c.symbol == symbol)
    return _stream(engine, stmt.order_by(m.orders.c.order_id))


def trades(engine: Engine, *, account: str | None = None, symbol: str | None = None) -> Iterator:
    stmt = select(m.trades)
    if account is not None:
        stmt = stmt.where((m.trades.c.maker_account == account) | (m.trades.c.taker_account == account))
    if symbol is not None:
        stmt = stmt.where(m.trades.c.symbol == symbol)
    return _stream(engine, stmt.order_by(m.trades.c.trade_id))


def executions(engine: Engine, *, account: str | None = None, symbol: str | None = None) -> Iterator:
    stmt = select(m.executions)
    if account is not None:
        stmt = stmt.where(m.executions.c.account == account)
    if symbol is not None:
        stmt = stmt.where(m.executions.c.symbol == symbol)
    return _stream(engine, stmt.order_by(m.executions.c.seq))


def positions(engine: Engine, *, account: str | None = None, symbol: str | None = None) -> Iterator:
    stmt = select(m.positions)
    if account is not None:
        stmt = stmt.where(m.positions.c.account == account)
    if symbol is not None:
        stmt = stmt.where(m.positions.c.symbol == symbol)
    return _stream(engine, stmt.order_by(m.positions.c.account, m.positions.c.symbol))


def balances(engine: Engine, *, account: str | None = None, symbol: str | None = None) -> Iterator:
    stmt = select(m.balances)
    if account is not None:
        stmt = stmt.where(m.balances.c.account == account)
    return _stream(engine, stmt.order_by(m.balances.c.account, m.balances.c.asset))


def watermarks(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {k: int(v) for k, v in conn.execute(select(m.store_meta.c.key, m.store_meta.c.value))}
