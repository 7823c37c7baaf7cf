"""Initial schema: orders, executions, trades, positions, balances, trading states,
kill switches, audit log and the store's watermarks.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _text(name: str) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=False)


def _big(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False, **kw)


def _small(name: str) -> sa.Column:
    return sa.Column(name, sa.SmallInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "orders",
        _big("order_id", autoincrement=False), _text("cl_ord_id"), _text("account"), _text("symbol"),
        _small("side"), _small("ord_type"), _small("tif"), _big("price"), _big("stop_px"), _big("qty"),
        _big("leaves"), _big("cum"), _big("cum_notional"), _small("status"), _text("reason"), _text("origin"),
        _big("created_ts"), _big("updated_ts"), _big("last_seq"),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_orders_account_clid", "orders", ["account", "cl_ord_id"])
    op.create_index("ix_orders_symbol_status", "orders", ["symbol", "status"])

    op.create_table(
        "executions",
        _big("seq", autoincrement=False), _big("order_id"), _big("ts"), _small("exec_type"), _small("status"),
        _text("cl_ord_id"), _text("orig_cl_ord_id"), _text("account"), _text("symbol"), _small("side"),
        _big("price"), _big("qty"), _big("leaves"), _big("cum"), _big("cum_notional"), _big("last_px"),
        _big("last_qty"), _big("fee_e8"), sa.Column("liquidity", sa.String(length=1), nullable=False),
        sa.Column("trade_id", sa.BigInteger(), nullable=True), _text("reason"), _text("text"), _text("origin"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"]),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_executions_order", "executions", ["order_id"])
    op.create_index("ix_executions_account_seq", "executions", ["account", "seq"])
    op.create_index("ix_executions_trade", "executions", ["trade_id"])

    op.create_table(
        "trades",
        _big("trade_id", autoincrement=False), _big("seq"), _big("ts"), _text("symbol"), _big("price"), _big("qty"),
        _small("aggressor_side"), _big("maker_order_id"), _big("taker_order_id"), _text("maker_account"),
        _text("taker_account"),
        sa.ForeignKeyConstraint(["maker_order_id"], ["orders.order_id"]),
        sa.ForeignKeyConstraint(["taker_order_id"], ["orders.order_id"]),
        sa.PrimaryKeyConstraint("trade_id"),
    )
    op.create_index("ix_trades_symbol_ts", "trades", ["symbol", "ts"])

    op.create_table(
        "positions",
        _text("account"), _text("symbol"), _big("net_lots"), _big("bought_lots"), _big("sold_lots"),
        _big("buy_notional"), _big("sell_notional"), _big("fees_e8"), _big("fills"), _big("updated_seq"),
        sa.PrimaryKeyConstraint("account", "symbol"),
    )
    op.create_table(
        "balances",
        _text("account"), _text("asset"), _big("amount_e8"), _big("initial_e8"), _big("updated_seq"),
        sa.PrimaryKeyConstraint("account", "asset"),
    )
    op.create_table(
        "trading_states",
        _text("symbol"), _small("state"), _text("reason"), _text("origin"), _big("ts"), _big("seq"),
        sa.PrimaryKeyConstraint("symbol"),
    )
    op.create_table(
        "kill_switches",
        _text("scope"), _text("target"), _text("state"), _text("previous"), _text("trigger"), _text("reason"),
        _text("who"), _text("origin"), _big("ts"), _big("seq"),
        sa.PrimaryKeyConstraint("scope", "target"),
    )
    op.create_table(
        "audit_log",
        sa.Column("source", sa.String(length=8), nullable=False), _big("ref", autoincrement=False), _big("ts"),
        _text("kind"), _text("origin"), _text("account"), _text("detail"),
        sa.PrimaryKeyConstraint("source", "ref"),
    )
    op.create_index("ix_audit_ts", "audit_log", ["ts"])
    op.create_index("ix_audit_account", "audit_log", ["account"])
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(length=64), nullable=False), _big("value"),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    for table in ("store_meta", "audit_log", "kill_switches", "trading_states", "balances", "positions",
                  "trades", "executions", "orders"):
        op.drop_table(table)
