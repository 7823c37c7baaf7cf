"""kill -9 under load, several times in a row: nothing a client was told is lost.

A real `fixvenue run` (subprocess, SQLite or PostgreSQL store) takes orders, cancels and
replaces from concurrent REST clients and is killed with SIGKILL at a random moment,
requests in flight, then restarted on the same data dir — several times. After each
restart every order any client saw acknowledged must exist with (at least) the state the
client saw, terminal states exactly; after the last, graceful, stop the SQL store must
hold every fill a client was told about with the same sequence number, each trade exactly
once, and positions and balances that reconcile with the fills; an offline replay of the
whole journal must rebuild the very state the venue ended with.
"""

from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from app.cli import main as cli
from app.commands.replay import build_oms
from app.config import load_config
from engine.snapshot import SnapshotStore, restore, state_digest
from engine.store import models as m
from engine.store.db import open_database
from engine.store.settings import DB_FILE
from venue_process import SignedClient, VenueProcess, rest_keys, write_config

ACCOUNTS = ("DEMO1", "DEMO2", "DEMO3", "MM1")
SYMBOL = "BTC-USD"
TERMINAL = {"filled", "canceled", "rejected", "expired"}
KILLS = 3


class Ledger:
    """What clients were told (only successful, complete HTTP answers count)."""

    def __init__(self) -> None:
        self.orders: dict[int, list[dict]] = {}     # order id -> every acknowledged view of it
        self.fills: dict[int, dict] = {}            # event seq -> fill the client was shown
        self.n_acks = 0

    def ack(self, data: dict) -> None:
        order = data["order"]
        self.orders.setdefault(order["order_id"], []).append(order)
        for f in data.get("fills", []):
            self.fills[f["seq"]] = f
        self.n_acks += 1


async def client_loop(base_url, account, key, ledger: Ledger, rng: random.Random, stop: asyncio.Event):
    async with httpx.AsyncClient(timeout=5) as http:
        c = SignedClient(base_url, key[0], key[1], http)
        mine: list[int] = []
        while not stop.is_set():
            r = rng.random()
            try:
                if r < 0.6 or not mine:
                    side = rng.choice(["buy", "sell"])
                    px = 65000 + rng.randint(-40, 40) * 5
                    body = {"symbol": SYMBOL, "side": side, "quantity": str(Decimal(rng.randint(1, 30)) / 1000),
                            "price": str(px), "order_type": "limit",
                            "time_in_force": rng.choice(["gtc", "gtc", "gtc", "ioc"])}
                    resp = await c.request("POST", "/orders", body)
                    if resp.status_code in (200, 201):
                        data = resp.json()["data"]
                        ledger.ack(data)
                        if data["order"]["status"] not in TERMINAL:
                            mine.append(data["order"]["order_id"])
                elif r < 0.8:
                    oid = mine.pop(rng.randrange(len(mine)))
                    resp = await c.request("DELETE", f"/orders/{oid}")
                    if resp.status_code == 200:
                        ledger.ack({"order": resp.json()["data"], "fills": []})
                else:
                    oid = rng.choice(mine)
                    resp = await c.request("PUT", f"/orders/{oid}",
                                           {"price": str(65000 + rng.randint(-40, 40) * 5)})
                    if resp.status_code == 200:
                        data = resp.json()["data"]
                        ledger.ack(data)
                        if data["order"]["status"] in TERMINAL:
                            mine.remove(oid)
            except (httpx.TransportError, ValueError, KeyError):
                if stop.is_set():
                    return
                await asyncio.sleep(0.01)      # the venue died under us: stop sending


async def load_then_kill(venue: VenueProcess, keys, ledger: Ledger, rng: random.Random, seconds: float):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client_loop(venue.base_url, a, keys[a], ledger, random.Random(rng.random()), stop))
             for a in ACCOUNTS for _ in range(2)]
    await asyncio.sleep(seconds)
    venue.kill()                                 # SIGKILL with requests in flight
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)


async def fetch_orders(venue: VenueProcess, keys) -> dict[int, dict]:
    out: dict[int, dict] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for account in ACCOUNTS:
            c = SignedClient(venue.base_url, *keys[account], http)
            after = None
            while True:
                path = "/orders?limit=1000" + (f"&after={after}" if after is not None else "")
                resp = await c.request("GET", path)
                assert resp.status_code == 200, resp.text
                page = resp.json()["data"]
                for o in page["items"]:
                    out[o["order_id"]] = o
                after = page["next_after"]
                if after is None:
                    break
    return out


async def fetch_positions(venue: VenueProcess, keys) -> dict[tuple[str, str], Decimal]:
    """Net positions as the REST gateway reports them after the restarts (its own durable state)."""
    out = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for account in ACCOUNTS:
            c = SignedClient(venue.base_url, *keys[account], http)
            resp = await c.request("GET", "/account/positions")
            assert resp.status_code == 200, resp.text
            for p in resp.json()["data"]["positions"]:
                if Decimal(p["quantity"]):
                    out[(account, p["symbol"])] = Decimal(p["quantity"])
    return out


def check_acknowledged(ledger: Ledger, now: dict[int, dict]) -> None:
    missing = sorted(set(ledger.orders) - set(now))
    assert not missing, f"acknowledged orders lost in the crash: {missing[:10]}"
    for oid, views in ledger.orders.items():
        cur = now[oid]
        for v in views:
            assert (cur["account"], cur["symbol"], cur["side"]) == (v["account"], v["symbol"], v["side"])
            assert Decimal(cur["cum_qty"]) >= Decimal(v["cum_qty"]), f"order {oid} lost fills: {v} -> {cur}"
            if v["status"] in TERMINAL:
                assert (cur["status"], cur["cum_qty"]) == (v["status"], v["cum_qty"]), \
                    f"order {oid} was acknowledged {v['status']} but is now {cur['status']}"


def check_store(url: str, ledger: Ledger, config_accounts, instruments, rest_positions) -> None:
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            execs = list(conn.execute(select(m.executions)))
            trades = list(conn.execute(select(m.trades)))
            orders = {r.order_id: r for r in conn.execute(select(m.orders))}
            positions = {(r.account, r.symbol): r.net_lots for r in conn.execute(select(m.positions))}
            balances = {(r.account, r.asset): r.amount_e8 for r in conn.execute(select(m.balances))}
    finally:
        engine.dispose()
    by_seq = {e.seq: e for e in execs}
    inst = instruments[SYMBOL]
    # every fill a client was shown is stored with the same sequence number
    for seq, f in ledger.fills.items():
        e = by_seq.get(seq)
        assert e is not None, f"fill seq {seq} a client saw is not in the store"
        assert (e.order_id, e.trade_id, inst.lots_to_qty(e.last_qty), e.exec_type) == \
               (f["order_id"], f["trade_id"], Decimal(f["last_qty"]), 15)
    # each trade once, with exactly its two fills; each order's fills add up to its cum
    fills = [e for e in execs if e.exec_type == 15]
    per_trade: dict[int, list] = {}
    for e in fills:
        per_trade.setdefault(e.trade_id, []).append(e)
    assert sorted(per_trade) == sorted(t.trade_id for t in trades)
    assert sorted(t.trade_id for t in trades) == list(range(1, len(trades) + 1)), "trade ids must be gap-free"
    for t in trades:
        pair = per_trade[t.trade_id]
        assert len(pair) == 2 and {p.order_id for p in pair} == {t.maker_order_id, t.taker_order_id}
        assert all(p.last_qty == t.qty and p.last_px == t.price for p in pair)
    cum: dict[int, int] = {}
    for e in fills:
        cum[e.order_id] = cum.get(e.order_id, 0) + e.last_qty
    for oid, r in orders.items():
        assert r.cum == cum.get(oid, 0), f"order {oid}: cum {r.cum} != its fills {cum.get(oid, 0)}"
    # positions and balances reconcile with the fills
    expect_pos: dict = {}
    expect_bal = {(a.id, asset): int(Decimal(v) * 100_000_000) for a in config_accounts
                  for asset, v in a.balances.items()}
    for e in fills:
        sign = 1 if e.side == 1 else -1
        expect_pos[(e.account, e.symbol)] = expect_pos.get((e.account, e.symbol), 0) + sign * e.last_qty
        base = int(inst.lots_to_qty(e.last_qty) * 100_000_000)
        value = int(inst.notional(e.last_px, e.last_qty) * 100_000_000)
        expect_bal[(e.account, inst.base)] += sign * base
        expect_bal[(e.account, inst.quote)] += -sign * value - e.fee_e8
    assert positions == expect_pos
    assert {k: v for k, v in balances.items()} == expect_bal
    # and the gateway's own view (restored from snapshots + journal) agrees with the store
    assert rest_positions == {k: inst.lots_to_qty(v) for k, v in positions.items() if v}


@pytest.mark.slow
def test_kill_9_under_load_loses_nothing_acknowledged(tmp_path, db_url):
    rng = random.Random(20261122)
    storage_url = db_url if db_url.startswith("postgresql") else None
    config = write_config(tmp_path / "venue.yaml", snapshot_every=1000, snapshot_interval_s=1.0,
                          database_url=storage_url)
    keys = rest_keys(config)
    data = tmp_path / "data"
    ledger = Ledger()
    kills = 0
    venue = VenueProcess(config, data).start()
    try:
        for cycle in range(KILLS):
            if cycle:
                now = asyncio.run(fetch_orders(venue, keys))
                check_acknowledged(ledger, now)
                assert "recovered:" in venue.summary_line("storage")
            asyncio.run(load_then_kill(venue, keys, ledger, rng, rng.uniform(0.8, 2.0)))
            kills += 1
            venue = VenueProcess(config, data).start()
        assert ledger.n_acks > 100 and ledger.fills, "the load must have been acknowledged and traded"
        print(f"{kills} kills, {ledger.n_acks} acknowledged answers, {len(ledger.orders)} orders, "
              f"{len(ledger.fills)} fills shown to clients; last restart: {venue.summary_line('storage')}")
        now = asyncio.run(fetch_orders(venue, keys))
        check_acknowledged(ledger, now)
        rest_positions = asyncio.run(fetch_positions(venue, keys))
        assert venue.stop() == 0                              # graceful: final snapshot, store drained
    finally:
        venue.kill()
    assert kills == KILLS
    cfg = load_config(config)
    url = storage_url or f"sqlite:///{data / DB_FILE}"
    check_store(url, ledger, cfg.accounts, {i.symbol: i for i in cfg.build_instruments()}, rest_positions)
    # the whole journal, replayed offline with the venue's own wiring, gives the state it stopped with
    out = tmp_path / "replay.json"
    assert cli(["replay", str(data), "--config", str(config), "--json", str(out)]) == 0
    replayed = json.loads(out.read_text())
    final = SnapshotStore(data / "snapshots").list()[-1]
    oms, extensions, _ = build_oms(cfg, str(config), engine_only=False)
    restore(oms, SnapshotStore(data / "snapshots").load(final), extensions)
    assert replayed["digest"] == state_digest(oms)
    assert replayed["end_index"] == final.journal_pos
