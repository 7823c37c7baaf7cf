"""The SQL schema (SQLAlchemy 2 declarative models).

Prices and quantities are the engine's scaled integers (ticks, lots; money in
1e-8 units), exactly as the journal holds them, so nothing is rounded on the
way in; `fixvenue export` converts them with the instruments' tick and lot
sizes. Free-form strings (client order ids, texts, origins) are TEXT: a client
can send any length, and a store that refuses a row would stall.

The schema is created and evolved only by the Alembic migrations in
`migrations/` (a test checks that they match these models).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class OrderRow(Base):
    """The latest state of every order (one row per order id), from its execution reports."""

    __tablename__ = "orders"

    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    cl_ord_id: Mapped[str] = mapped_column(Text)
    account: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str] = mapped_column(Text)
    side: Mapped[int] = mapped_column(SmallInteger)
    ord_type: Mapped[int] = mapped_column(SmallInteger)
    tif: Mapped[int] = mapped_column(SmallInteger)
    price: Mapped[int] = mapped_column(BigInteger)          # ticks (0 = market)
    stop_px: Mapped[int] = mapped_column(BigInteger)        # ticks
    qty: Mapped[int] = mapped_column(BigInteger)            # lots
    leaves: Mapped[int] = mapped_column(BigInteger)
    cum: Mapped[int] = mapped_column(BigInteger)
    cum_notional: Mapped[int] = mapped_column(BigInteger)   # sum of ticks * lots
    status: Mapped[int] = mapped_column(SmallInteger)       # FIX OrdStatus code
    reason: Mapped[str] = mapped_column(Text)               # last reject/cancel reason code ("" if none)
    origin: Mapped[str] = mapped_column(Text)               # gateway session that entered it
    created_ts: Mapped[int] = mapped_column(BigInteger)     # ns
    updated_ts: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)       # seq of its latest execution report

    __table_args__ = (
        Index("ix_orders_account_clid", "account", "cl_ord_id"),
        Index("ix_orders_symbol_status", "symbol", "status"),
    )


class ExecutionRow(Base):
    """Every execution report, keyed by its venue-wide event seq (the FIX ExecID)."""

    __tablename__ = "executions"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.order_id"))
    ts: Mapped[int] = mapped_column(BigInteger)
    exec_type: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[int] = mapped_column(SmallInteger)
    cl_ord_id: Mapped[str] = mapped_column(Text)
    orig_cl_ord_id: Mapped[str] = mapped_column(Text)
    account: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str] = mapped_column(Text)
    side: Mapped[int] = mapped_column(SmallInteger)
    price: Mapped[int] = mapped_column(BigInteger)
    qty: Mapped[int] = mapped_column(BigInteger)
    leaves: Mapped[int] = mapped_column(BigInteger)
    cum: Mapped[int] = mapped_column(BigInteger)
    cum_notional: Mapped[int] = mapped_column(BigInteger)
    last_px: Mapped[int] = mapped_column(BigInteger)
    last_qty: Mapped[int] = mapped_column(BigInteger)
    fee_e8: Mapped[int] = mapped_column(BigInteger)
    liquidity: Mapped[str] = mapped_column(String(1))
    trade_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_executions_order", "order_id"),
        Index("ix_executions_account_seq", "account", "seq"),
        Index("ix_executions_trade", "trade_id"),
    )


class TradeRow(Base):
    """Public trade prints; both orders are always in `orders` (same transaction)."""

    __tablename__ = "trades"

    trade_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(Text)
    price: Mapped[int] = mapped_column(BigInteger)
    qty: Mapped[int] = mapped_column(BigInteger)
    aggressor_side: Mapped[int] = mapped_column(SmallInteger)
    maker_order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.order_id"))
    taker_order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.order_id"))
    maker_account: Mapped[str] = mapped_column(Text)
    taker_account: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_trades_symbol_ts", "symbol", "ts"),)


class PositionRow(Base):
    """Net position per account and instrument, accumulated from fills."""

    __tablename__ = "positions"

    account: Mapped[str] = mapped_column(Text, primary_key=True)
    symbol: Mapped[str] = mapped_column(Text, primary_key=True)
    net_lots: Mapped[int] = mapped_column(BigInteger)
    bought_lots: Mapped[int] = mapped_column(BigInteger)
    sold_lots: Mapped[int] = mapped_column(BigInteger)
    buy_notional: Mapped[int] = mapped_column(BigInteger)    # sum of ticks * lots bought
    sell_notional: Mapped[int] = mapped_column(BigInteger)
    fees_e8: Mapped[int] = mapped_column(BigInteger)         # quote currency, 1e-8 units (negative = rebates)
    fills: Mapped[int] = mapped_column(BigInteger)
    updated_seq: Mapped[int] = mapped_column(BigInteger)


class BalanceRow(Base):
    """Asset balances: the configured starting amount plus every fill and fee since."""

    __tablename__ = "balances"

    account: Mapped[str] = mapped_column(Text, primary_key=True)
    asset: Mapped[str] = mapped_column(Text, primary_key=True)
    amount_e8: Mapped[int] = mapped_column(BigInteger)       # 1e-8 units of the asset
    initial_e8: Mapped[int] = mapped_column(BigInteger)
    updated_seq: Mapped[int] = mapped_column(BigInteger)


class TradingStateRow(Base):
    """Halt / open / closed state per instrument (latest change)."""

    __tablename__ = "trading_states"

    symbol: Mapped[str] = mapped_column(Text, primary_key=True)
    state: Mapped[int] = mapped_column(SmallInteger)          # engine.types.TradingState
    reason: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text)
    ts: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)


class KillSwitchRow(Base):
    """Kill-switch state per scope (from the risk layer's `risk_state` events)."""

    __tablename__ = "kill_switches"

    scope: Mapped[str] = mapped_column(Text, primary_key=True)    # global | account | session | instrument
    target: Mapped[str] = mapped_column(Text, primary_key=True)   # "" for global
    state: Mapped[str] = mapped_column(Text)                      # ACTIVE | REDUCING | HALTED
    previous: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text)
    ts: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)


class AuditRow(Base):
    """Who asked for what, when: every journaled command (source "command", ref = journal
    index) and every non-execution event (source "event", ref = event seq)."""

    __tablename__ = "audit_log"

    source: Mapped[str] = mapped_column(String(8), primary_key=True)
    ref: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text)
    account: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)                     # the record as JSON

    __table_args__ = (Index("ix_audit_ts", "ts"), Index("ix_audit_account", "account"))


class MetaRow(Base):
    """Watermarks written in the same transaction as the data they describe:
    last_event_seq, next_journal_index (what recovery must still feed)."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


orders = OrderRow.__table__
executions = ExecutionRow.__table__
trades = TradeRow.__table__
positions = PositionRow.__table__
balances = BalanceRow.__table__
trading_states = TradingStateRow.__table__
kill_switches = KillSwitchRow.__table__
audit_log = AuditRow.__table__
store_meta = MetaRow.__table__
