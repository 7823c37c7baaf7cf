"""`fixvenue export --orders|--trades --format csv`: the SQL store as CSV (or JSON lines).

Reads the same database the venue writes (SQLite in the data dir unless
DATABASE_URL / --database-url / storage.database_url say otherwise) and may run
while the venue is up (SQLite WAL: readers never block the writer). Prices and
quantities are converted from the stored ticks and lots with the configured
instruments; a symbol the configuration does not know (e.g. a rejected order
for a made-up instrument) is exported with its raw integers.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

from app.config import DEFAULT_CONFIG, ConfigError, load_config

HELP = "export orders, trades, executions, positions or balances from the SQL store as CSV or JSON lines"

TABLES = ("orders", "trades", "executions", "positions", "balances")


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    for t in TABLES:
        what.add_argument(f"--{t}", dest="table", action="store_const", const=t, help=f"export {t}")
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    p.add_argument("--config", "-c", default=str(DEFAULT_CONFIG), help="venue YAML (instruments, data dir)")
    p.add_argument("--data-dir", help="override venue.data_dir (where fixvenue.sqlite lives)")
    p.add_argument("--database-url", help="SQLAlchemy URL (default: DATABASE_URL, then the config, then SQLite)")
    p.add_argument("--account", help="only this account")
    p.add_argument("--symbol", help="only this instrument")
    p.add_argument("--output", "-o", help="file to write (default stdout)")


def _iso(ns: int) -> str:
    if not ns:
        return ""
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class _Units:
    """Ticks/lots/e8 -> decimal strings, per instrument (raw integers when the symbol is unknown)."""

    def __init__(self, instruments) -> None:
        self.inst = instruments

    def px(self, sym: str, ticks: int) -> str:
        i = self.inst.get(sym)
        if i is None:
            return str(ticks)
        return _fmt(i.ticks_to_price(ticks)) if ticks else ""

    def qty(self, sym: str, lots: int) -> str:
        i = self.inst.get(sym)
        return _fmt(i.lots_to_qty(lots)) if i is not None else str(lots)

    def avg(self, sym: str, notional: int, cum: int) -> str:
        i = self.inst.get(sym)
        if i is None or not cum:
            return ""
        return _fmt(i.avg_price(notional, cum))

    def notional(self, sym: str, notional: int) -> str:
        i = self.inst.get(sym)
        if i is None:
            return str(notional)
        return _fmt(i.tick_size * i.lot_size * notional)


def _fmt(d: Decimal) -> str:
    """Plain notation without trailing zeros ("64000", "0.004"), never "6.4E+4"."""
    d = d.normalize()
    return format(d, "f") if d else "0"


def _e8(v: int) -> str:
    return _fmt(Decimal(v) / 100_000_000)


def rows(table: str, engine, units: _Units, account: str | None, symbol: str | None):
    from engine.store import queries
    from engine.translate import EXEC_TYPE_NAMES, ORDER_TYPE_NAMES, SIDE_NAMES, STATUS_NAMES, TIF_NAMES

    if table == "orders":
        for r in queries.orders(engine, account=account, symbol=symbol):
            yield {
                "order_id": r.order_id, "cl_ord_id": r.cl_ord_id, "account": r.account, "symbol": r.symbol,
                "side": SIDE_NAMES.get(r.side, r.side), "order_type": ORDER_TYPE_NAMES.get(r.ord_type, r.ord_type),
                "time_in_force": TIF_NAMES.get(r.tif, r.tif), "price": units.px(r.symbol, r.price),
                "stop_price": units.px(r.symbol, r.stop_px), "quantity": units.qty(r.symbol, r.qty),
                "leaves_qty": units.qty(r.symbol, r.leaves), "cum_qty": units.qty(r.symbol, r.cum),
                "avg_price": units.avg(r.symbol, r.cum_notional, r.cum), "status": STATUS_NAMES.get(r.status, r.status),
                "reason": r.reason, "origin": r.origin, "created": _iso(r.created_ts), "updated": _iso(r.updated_ts),
            }
    elif table == "trades":
        for r in queries.trades(engine, account=account, symbol=symbol):
            yield {
                "trade_id": r.trade_id, "time": _iso(r.ts), "symbol": r.symbol, "price": units.px(r.symbol, r.price),
                "quantity": units.qty(r.symbol, r.qty), "aggressor_side": SIDE_NAMES.get(r.aggressor_side),
                "maker_order_id": r.maker_order_id, "taker_order_id": r.taker_order_id,
                "maker_account": r.maker_account, "taker_account": r.taker_account, "seq": r.seq,
            }
    elif table == "executions":
        for r in queries.executions(engine, account=account, symbol=symbol):
            yield {
                "seq": r.seq, "time": _iso(r.ts), "order_id": r.order_id, "cl_ord_id": r.cl_ord_id,
                "orig_cl_ord_id": r.orig_cl_ord_id, "account": r.account, "symbol": r.symbol,
                "exec_type": EXEC_TYPE_NAMES.get(r.exec_type, r.exec_type), "status": STATUS_NAMES.get(r.status),
                "side": SIDE_NAMES.get(r.side), "last_price": units.px(r.symbol, r.last_px),
                "last_qty": units.qty(r.symbol, r.last_qty) if r.last_qty else "", "fee": _e8(r.fee_e8),
                "liquidity": r.liquidity, "trade_id": r.trade_id or "", "cum_qty": units.qty(r.symbol, r.cum),
                "leaves_qty": units.qty(r.symbol, r.leaves), "reason": r.reason, "text": r.text, "origin": r.origin,
            }
    elif table == "positions":
        for r in queries.positions(engine, account=account, symbol=symbol):
            yield {
                "account": r.account, "symbol": r.symbol, "net_qty": units.qty(r.symbol, r.net_lots),
                "bought_qty": units.qty(r.symbol, r.bought_lots), "sold_qty": units.qty(r.symbol, r.sold_lots),
                "buy_notional": units.notional(r.symbol, r.buy_notional),
                "sell_notional": units.notional(r.symbol, r.sell_notional), "fees": _e8(r.fees_e8), "fills": r.fills,
            }
    else:
        for r in queries.balances(engine, account=account):
            yield {"account": r.account, "asset": r.asset, "amount": _e8(r.amount_e8), "initial": _e8(r.initial_e8)}


def run(args: argparse.Namespace) -> int:
    from engine.store.db import StoreError, open_database
    from engine.store.settings import DB_FILE, database_url, load_section

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    settings = load_section(config.storage or {})
    data_dir = Path(args.data_dir or config.venue.data_dir)
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    url = database_url(settings, data_dir, env={} if args.database_url else None)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        print(f"fixvenue export: no store at {data_dir / DB_FILE} (has the venue run with this data dir?)",
              file=sys.stderr)
        return 2
    try:
        engine = open_database(url)
    except StoreError as exc:
        print(f"fixvenue export: {exc}", file=sys.stderr)
        return 2
    units = _Units({i.symbol: i for i in config.build_instruments()})
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    n = 0
    try:
        it = rows(args.table, engine, units, args.account, args.symbol)
        if args.format == "jsonl":
            for row in it:
                out.write(json.dumps(row, default=str) + "\n")
                n += 1
        else:
            writer = None
            for row in it:
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
                n += 1
            if writer is None:
                out.write(",".join(_HEADERS[args.table]) + "\n")
    except Exception as exc:  # a database that is not a fixvenue store, unreachable server...
        print(f"fixvenue export: reading {args.table} failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
        engine.dispose()
    if args.output:
        print(f"exported {n} {args.table} to {args.output}", file=sys.stderr)
    return 0


_HEADERS = {
    "orders": ["order_id", "cl_ord_id", "account", "symbol", "side", "order_type", "time_in_force", "price",
               "stop_price", "quantity", "leaves_qty", "cum_qty", "avg_price", "status", "reason", "origin",
               "created", "updated"],
    "trades": ["trade_id", "time", "symbol", "price", "quantity", "aggressor_side", "maker_order_id",
               "taker_order_id", "maker_account", "taker_account", "seq"],
    "executions": ["seq", "time", "order_id", "cl_ord_id", "orig_cl_ord_id", "account", "symbol", "exec_type",
                   "status", "side", "last_price", "last_qty", "fee", "liquidity", "trade_id", "cum_qty",
                   "leaves_qty", "reason", "text", "origin"],
    "positions": ["account", "symbol", "net_qty", "bought_qty", "sold_qty", "buy_notional", "sell_notional",
                  "fees", "fills"],
    "balances": ["account", "asset", "amount", "initial"],
}
