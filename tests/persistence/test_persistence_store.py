"""The SQL store, on SQLite and PostgreSQL: schema from the migrations, one transaction per
batch, positions and balances that reconcile with the fills, idempotent catch-up, export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from app.cli import main as cli
from engine.commands import NewOrder
from engine.events import ExecReport, Trade
from engine.store import models as m
from engine.store.db import current_revision, head_revision, migrate, open_database
from engine.store.writer import SqlStore, StoreWriter
from engine.types import ExecType
from persistence_config import write_test_config
from persistence_workload import commands, make_oms
from risk.commands import RiskStateChanged

E8 = Decimal(100_000_000)


@pytest.fixture
def store(db_url, tmp_path):
    _, config = write_test_config(tmp_path)
    engine = open_database(db_url)
    migrate(engine)
    balances = {a.id: dict(a.balances) for a in config.accounts}
    s = SqlStore(engine, {i.symbol: i for i in config.build_instruments()}, balances)
    s.load()
    yield s
    engine.dispose()


def run_workload(seed: int, n: int):
    oms = make_oms()
    cmds = commands(seed, n)
    events = []
    for c in cmds:
        events.extend(oms.process(c))
    return oms, cmds, events


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_migrations_build_exactly_the_models(db_url):
    engine = open_database(db_url)
    try:
        assert current_revision(engine) is None
        assert migrate(engine) == head_revision()
        assert migrate(engine) == head_revision()          # idempotent
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), m.Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_a_workload_lands_complete_and_consistent(store):
    oms, cmds, events = run_workload(41, 1500)
    store.write(events[: len(events) // 3], [(i, c) for i, c in enumerate(cmds[:500])])
    store.write(events[len(events) // 3:], [(i, c) for i, c in enumerate(cmds)])
    engine = store.engine
    execs = [e for e in events if isinstance(e, ExecReport)]
    trades = [e for e in events if isinstance(e, Trade)]
    assert trades, "the workload must trade"
    assert count(engine, m.executions) == len(execs)
    assert count(engine, m.trades) == len(trades)
    assert count(engine, m.audit_log) == len(cmds) + sum(
        1 for e in events if e.kind not in ("exec", "trade", "book"))
    with engine.connect() as conn:
        rows = {r.order_id: r for r in conn.execute(select(m.orders))}
        # every order that reported anything, in its final state
        assert set(rows) == {e.order_id for e in execs}
        for oid, r in rows.items():
            o = oms.orders[oid]
            assert (r.status, r.cum, r.leaves, r.qty, r.cl_ord_id, r.cum_notional) == \
                   (o.status, o.cum, o.leaves, o.qty, o.cl_ord_id, o.cum_notional)
        # no trade without its orders; trade prints equal the fills on both sides
        for t in conn.execute(select(m.trades)):
            assert t.maker_order_id in rows and t.taker_order_id in rows
        fills = conn.execute(select(m.executions.c.trade_id, func.sum(m.executions.c.last_qty), func.count())
                             .where(m.executions.c.exec_type == int(ExecType.TRADE))
                             .group_by(m.executions.c.trade_id)).all()
        qty_by_trade = {t.trade_id: t.qty for t in trades}
        assert {tid: (q, n) for tid, q, n in fills} == {tid: (2 * q, 2) for tid, q in qty_by_trade.items()}
        meta = dict(conn.execute(select(m.store_meta.c.key, m.store_meta.c.value)).all())
        assert meta == {"last_event_seq": oms.seq, "next_journal_index": len(cmds)}
        states = {r.symbol: r.state for r in conn.execute(select(m.trading_states))}
        assert states == {s: b.state for s, b in oms.books.items() if s in states} and states


def test_positions_and_balances_reconcile_with_the_fills(store, tmp_path):
    _, config = write_test_config(tmp_path)
    insts = {i.symbol: i for i in config.build_instruments()}
    oms, cmds, events = run_workload(42, 1500)
    for i in range(0, len(events), 400):          # many batches: the ledgers carry over between them
        store.write(events[i:i + 400])
    expect_pos: dict = {}
    expect_bal: dict = {(a.id, asset): Decimal(v) for a in config.accounts for asset, v in a.balances.items()}
    for e in events:
        if isinstance(e, ExecReport) and e.exec_type == ExecType.TRADE:
            inst = insts[e.symbol]
            sign = 1 if e.side == 1 else -1
            expect_pos[(e.account, e.symbol)] = expect_pos.get((e.account, e.symbol), 0) + sign * e.last_qty
            base = inst.lots_to_qty(e.last_qty)
            value = inst.notional(e.last_px, e.last_qty)
            fee = Decimal(e.fee_e8) / E8
            bk, qk = (e.account, inst.base), (e.account, inst.quote)
            expect_bal[bk] = expect_bal.get(bk, Decimal(0)) + sign * base
            expect_bal[qk] = expect_bal.get(qk, Decimal(0)) - sign * value - fee
    with store.engine.connect() as conn:
        pos = {(r.account, r.symbol): r.net_lots for r in conn.execute(select(m.positions))}
        bal = {(r.account, r.asset): Decimal(r.amount_e8) / E8 for r in conn.execute(select(m.balances))}
        initial = {(r.account, r.asset): Decimal(r.initial_e8) / E8 for r in conn.execute(select(m.balances))}
    assert pos == expect_pos and pos
    assert bal == expect_bal
    assert initial[("B", "USD")] == Decimal("250000.5")


def test_catching_up_twice_writes_nothing_twice(store):
    oms, cmds, events = run_workload(43, 600)
    indexed = list(enumerate(cmds))
    assert store.write(events, indexed) > 0
    before = {t.name: count(store.engine, t) for t in (m.orders, m.executions, m.trades, m.audit_log, m.positions)}
    assert store.write(events, indexed) == 0              # a recovery that feeds the same again
    assert store.write(events[-50:], indexed[-5:]) == 0
    assert {t.name: count(store.engine, t) for t in (m.orders, m.executions, m.trades, m.audit_log,
                                                      m.positions)} == before
    # a new store object (a restart) reads the watermarks and ledgers back
    again = SqlStore(store.engine, store.instruments, store.initial_balances)
    again.load()
    assert (again.last_event_seq, again.next_journal_index) == (oms.seq, len(cmds))
    assert again.balances == store.balances and again.positions == store.positions


def test_text_no_database_accepts_is_stored_instead_of_stalling_the_writer(store):
    oms = make_oms()
    events = []
    for i, clid in enumerate(["nul\x00inside", "lone\udc80surrogate", "ü" * 3000]):
        events += oms.process(NewOrder(10 + i, "A", clid, "BTC-USD", 1, 2, 1, 1, 100, origin="REST:\x00odd"))
    events += oms.process(NewOrder(20, "A", "bad-symbol", "NO-SUCH\x00", 1, 2, 1, 1, 100))   # a reject
    assert store.write(events) > 0
    with store.engine.connect() as conn:
        clids = [r.cl_ord_id for r in conn.execute(select(m.orders).order_by(m.orders.c.order_id))]
    assert clids[0] == "nul\ufffdinside" and clids[1] == "lone?surrogate" and clids[2] == "ü" * 3000
    assert len(clids) == 4


def test_kill_switch_and_halt_states_are_kept_per_scope(store):
    ev1 = RiskStateChanged(5, "account", "A", "HALTED", "ACTIVE", "manual", "ops", "alice", "REST:admin")
    ev1.seq = 1
    ev2 = RiskStateChanged(6, "global", "", "REDUCING", "ACTIVE", "daily_loss", "loss", "", "risk")
    ev2.seq = 2
    ev3 = RiskStateChanged(7, "account", "A", "ACTIVE", "HALTED", "manual", "ok", "bob", "REST:admin")
    ev3.seq = 3
    store.write([ev1, ev2, ev3])
    with store.engine.connect() as conn:
        rows = {(r.scope, r.target): (r.state, r.who) for r in conn.execute(select(m.kill_switches))}
        audit = [json.loads(r.detail)["state"] for r in conn.execute(
            select(m.audit_log).where(m.audit_log.c.kind == "risk_state").order_by(m.audit_log.c.ref))]
    assert rows == {("account", "A"): ("ACTIVE", "bob"), ("global", ""): ("REDUCING", "")}
    assert audit == ["HALTED", "REDUCING", "ACTIVE"]


def test_the_async_writer_batches_off_the_loop_and_drains_on_stop(store):
    oms, cmds, events = run_workload(44, 800)

    async def main():
        w = StoreWriter(store, batch_max=250, flush_interval_s=0.01)
        await w.start()
        for i in range(0, len(events), 37):
            w.feed_events(events[i:i + 37])
            await asyncio.sleep(0)
        w.feed_commands(0, cmds)
        await asyncio.wait_for(w.drain(), 60)
        assert store.last_event_seq == oms.seq and store.next_journal_index == len(cmds)
        assert store.batches >= 3                 # batch_max split the stream
        await asyncio.wait_for(w.stop(), 60)

    asyncio.run(main())
    assert count(store.engine, m.executions) == sum(isinstance(e, ExecReport) for e in events)


def test_export_writes_the_store_as_csv_with_decimal_prices(store, tmp_path, db_url, capsys):
    oms, cmds, events = run_workload(45, 900)
    store.write(events, list(enumerate(cmds)))
    config_path, _ = write_test_config(tmp_path)
    args = ["export", "--config", str(config_path), "--data-dir", str(tmp_path), "--database-url", db_url]
    assert cli(args + ["--orders"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == count(store.engine, m.orders)
    filled = next(r for r in rows if r["status"] == "filled")
    o = oms.orders[int(filled["order_id"])]
    inst = oms.instruments[o.symbol]
    assert Decimal(filled["cum_qty"]) == inst.lots_to_qty(o.cum)
    assert Decimal(filled["avg_price"]) == inst.avg_price(o.cum_notional, o.cum)
    assert "E" not in filled["price"]
    assert cli(args + ["--trades", "--account", "A"]) == 0
    trades = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expect = [t for t in events if isinstance(t, Trade) and "A" in (t.maker_account, t.taker_account)]
    assert [int(t["trade_id"]) for t in trades] == [t.trade_id for t in expect]
    assert Decimal(trades[0]["price"]) == oms.instruments[expect[0].symbol].ticks_to_price(expect[0].price)
    assert cli(args + ["--balances", "--format", "jsonl"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {(x["account"], x["asset"]) for x in lines} >= {("A", "USD"), ("B", "ETH")}


def test_export_says_when_there_is_no_store(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)      # the default store: SQLite in the data dir
    config_path, _ = write_test_config(tmp_path)
    assert cli(["export", "--orders", "--config", str(config_path), "--data-dir", str(tmp_path / "none")]) == 2
    assert "no store" in capsys.readouterr().err
