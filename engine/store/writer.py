"""Writing the venue's events and commands into the SQL store, off the matching path.

Two halves, like the rest of the venue:

- `SqlStore` (synchronous, runs in a worker thread): `write(events, commands)`
  turns one batch into ONE transaction — order states, execution reports, trade
  prints, positions, balances, trading and kill-switch states, audit rows and
  the watermarks (`last_event_seq`, `next_journal_index`) together. So a query
  never sees a trade without its orders, and after a crash the watermarks say
  exactly what the store still lacks.
- `StoreWriter` (asyncio shell): a sequencer subscriber and journal commit
  listener that only appends to a list (nanoseconds on the event loop), and a
  task that hands batches to a single-thread executor. Matching never waits for
  the database; if the database is slow the batches just get bigger, and if it
  is down the writer retries with backoff and keeps everything queued.

Positions and balances are the store's own ledger view, derived from fills:
buyer +qty base, -(price*qty) quote, seller the reverse, each paying its fee
in quote currency. Amounts are integers in 1e-8 units of the asset (a fill
whose value is finer than 1e-8 is rounded half-even; none of the configured
instruments is).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterable, Mapping

from sqlalchemy import Engine, select

from engine.commands import Command
from engine.events import Event
from engine.instrument import Instrument
from engine.store import models as m
from engine.store.db import StoreError

log = logging.getLogger("fixvenue.store")

E8 = 100_000_000
TRADE = 15           # ExecType.TRADE
BUY = 1
_SKIP_AUDIT = frozenset({"exec", "trade", "book"})   # kept in their own tables (or not at all: market data)


def _clean(s: Any) -> str:
    """Text the databases accept: no NUL (PostgreSQL refuses it), valid UTF-8 (no lone surrogates)."""
    if not isinstance(s, str):
        return "" if s is None else str(s)
    if s.isascii() and "\x00" not in s:
        return s
    return s.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


_json = json.JSONEncoder(separators=(",", ":"), default=str).encode


def _to_e8(value) -> int:
    if type(value) is int:
        return value
    if value.denominator == 1:
        return value.numerator
    return round(value)


def _factor(f: Fraction):
    """An int when exact (the usual case: integer arithmetic per fill), else the Fraction."""
    return f.numerator if f.denominator == 1 else f


# Column orders of the rows the hot tables get as plain tuples, sent with the driver's own
# executemany (SQLAlchemy's per-row parameter processing cost more than the database did).
ORDER_COLS = ("order_id", "cl_ord_id", "account", "symbol", "side", "ord_type", "tif", "price", "stop_px", "qty",
              "leaves", "cum", "cum_notional", "status", "reason", "origin", "created_ts", "updated_ts", "last_seq")
EXEC_COLS = ("seq", "order_id", "ts", "exec_type", "status", "cl_ord_id", "orig_cl_ord_id", "account", "symbol",
             "side", "price", "qty", "leaves", "cum", "cum_notional", "last_px", "last_qty", "fee_e8", "liquidity",
             "trade_id", "reason", "text", "origin")
TRADE_COLS = ("trade_id", "seq", "ts", "symbol", "price", "qty", "aggressor_side", "maker_order_id",
              "taker_order_id", "maker_account", "taker_account")
AUDIT_COLS = ("source", "ref", "ts", "kind", "origin", "account", "detail")
_CREATED = ORDER_COLS.index("created_ts")


def _insert_sql(table, cols: tuple[str, ...], placeholder: str, conflict: tuple[str, ...] = (),
                keep: tuple[str, ...] = ()) -> str:
    if set(cols) != {c.name for c in table.columns}:
        raise StoreError(f"writer columns for {table.name} do not match the model")
    sql = (f'INSERT INTO {table.name} ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)}) '
           f'VALUES ({", ".join([placeholder] * len(cols))})')
    if conflict:
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c not in conflict and c not in keep)
        sql += f' ON CONFLICT ({", ".join(conflict)}) DO UPDATE SET {sets}'
    return sql


class SqlStore:
    """The synchronous store core (one writer at a time; see module docstring)."""

    def __init__(self, engine: Engine, instruments: Mapping[str, Instrument],
                 initial_balances: Mapping[str, Mapping[str, Decimal]] | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - open_database refuses other dialects
            raise StoreError(f"unsupported dialect {self.dialect}")
        self._insert = insert
        ph = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql_orders = _insert_sql(m.orders, ORDER_COLS, ph, ("order_id",), ("created_ts",))
        self._sql_execs = _insert_sql(m.executions, EXEC_COLS, ph)
        self._sql_trades = _insert_sql(m.trades, TRADE_COLS, ph)
        self._sql_audit = _insert_sql(m.audit_log, AUDIT_COLS, ph)
        self.instruments = dict(instruments)
        # per symbol: (base, quote, base e8 per lot, quote e8 per tick*lot)
        self._legs = {s: (i.base, i.quote, _factor(Fraction(i.lot_size) * E8),
                          _factor(Fraction(i.tick_size) * Fraction(i.lot_size) * E8))
                      for s, i in self.instruments.items()}
        self.initial_balances = {a: dict(b) for a, b in (initial_balances or {}).items()}
        self.last_event_seq = 0
        self.next_journal_index = 0
        self.positions: dict[tuple[str, str], list[int]] = {}
        self.balances: dict[tuple[str, str], int] = {}
        self.batches = 0
        self.rows_written = 0

    # ------------------------------------------------------------------ loading

    def load(self) -> None:
        """Read the watermarks and ledgers, seeding configured starting balances not yet stored."""
        with self.engine.begin() as conn:
            meta = dict(conn.execute(select(m.store_meta.c.key, m.store_meta.c.value)).all())
            self.last_event_seq = int(meta.get("last_event_seq", 0))
            self.next_journal_index = int(meta.get("next_journal_index", 0))
            self.positions = {
                (r.account, r.symbol): [r.net_lots, r.bought_lots, r.sold_lots, r.buy_notional, r.sell_notional,
                                        r.fees_e8, r.fills]
                for r in conn.execute(select(m.positions))
            }
            self.balances = {(r.account, r.asset): r.amount_e8 for r in conn.execute(select(m.balances))}
            seed = []
            for account, assets in self.initial_balances.items():
                for asset, amount in assets.items():
                    if (account, asset) not in self.balances:
                        e8 = _to_e8(Fraction(Decimal(amount)) * E8)
                        seed.append({"account": account, "asset": asset, "amount_e8": e8, "initial_e8": e8,
                                     "updated_seq": 0})
            if seed:
                conn.execute(m.balances.insert(), seed)
                for r in seed:
                    self.balances[(r["account"], r["asset"])] = r["amount_e8"]

    # ------------------------------------------------------------------ writing

    def write(self, events: Iterable[Event], commands: Iterable[tuple[int, Command]] = ()) -> int:
        """Store one batch in one transaction; returns rows written. Events at or below the
        event watermark and commands below the journal watermark are skipped (idempotent)."""
        last_seq = self.last_event_seq
        next_index = self.next_journal_index
        orders: dict[int, tuple] = {}
        execs: list[tuple] = []
        trades: list[tuple] = []
        states: dict[str, dict] = {}
        kills: dict[tuple[str, str], dict] = {}
        audit: list[tuple] = []
        pos_changes: dict[tuple[str, str], list[int]] = {}
        bal_changes: dict[tuple[str, str], int] = {}
        top_seq = last_seq
        for ev in events:
            kind = ev.kind
            if kind == "book":
                continue
            seq = ev.seq
            if seq <= last_seq:
                continue
            if seq > top_seq:
                top_seq = seq
            if kind == "exec":
                self._exec(ev, orders, execs, pos_changes, bal_changes)
            elif kind == "trade":
                trades.append((ev.trade_id, seq, ev.ts, _clean(ev.symbol), ev.price, ev.qty, ev.aggressor_side,
                               ev.maker_order_id, ev.taker_order_id, _clean(ev.maker_account),
                               _clean(ev.taker_account)))
            else:
                if kind == "trading_state":
                    states[ev.symbol] = {"symbol": _clean(ev.symbol), "state": ev.state, "reason": _clean(ev.reason),
                                         "origin": _clean(ev.origin), "ts": ev.ts, "seq": seq}
                elif kind == "risk_state":
                    kills[(ev.scope, ev.target)] = {
                        "scope": _clean(ev.scope), "target": _clean(ev.target), "state": _clean(ev.state),
                        "previous": _clean(ev.previous), "trigger": _clean(ev.trigger), "reason": _clean(ev.reason),
                        "who": _clean(ev.who), "origin": _clean(ev.origin), "ts": ev.ts, "seq": seq}
                if kind not in _SKIP_AUDIT:
                    rec = ev.to_record()
                    audit.append(("event", seq, int(getattr(ev, "ts", 0) or 0), _clean(kind),
                                  _clean(rec.get("origin", "")), _clean(rec.get("account") or ""),
                                  _clean(_json(rec))))
        top_index = next_index
        for index, cmd in commands:
            if index < next_index:
                continue
            rec = cmd.to_record()
            audit.append(("command", index, int(rec.get("ts", 0) or 0), _clean(cmd.kind),
                          _clean(rec.get("origin", "")), _clean(rec.get("account") or ""), _clean(_json(rec))))
            if index >= top_index:
                top_index = index + 1
        if top_seq == last_seq and top_index == next_index:
            return 0
        positions = {k: self._position_after(k, d) for k, d in pos_changes.items()}
        balances = {k: self.balances.get(k, 0) + d for k, d in bal_changes.items()}
        ins = self._insert
        with self.engine.begin() as conn:
            # orders first: executions and trades reference them (same transaction either way)
            if orders:
                conn.exec_driver_sql(self._sql_orders, list(orders.values()))
            if execs:
                conn.exec_driver_sql(self._sql_execs, execs)
            if trades:
                conn.exec_driver_sql(self._sql_trades, trades)
            if positions:
                rows = [{"account": a, "symbol": s, "net_lots": p[0], "bought_lots": p[1], "sold_lots": p[2],
                         "buy_notional": p[3], "sell_notional": p[4], "fees_e8": p[5], "fills": p[6],
                         "updated_seq": top_seq} for (a, s), p in positions.items()]
                self._upsert(conn, m.positions, rows, ["account", "symbol"])
            if balances:
                rows = [{"account": a, "asset": s, "amount_e8": v, "initial_e8": 0, "updated_seq": top_seq}
                        for (a, s), v in balances.items()]
                stmt = ins(m.balances)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["account", "asset"],
                    set_={"amount_e8": stmt.excluded.amount_e8, "updated_seq": stmt.excluded.updated_seq}), rows)
            if states:
                self._upsert(conn, m.trading_states, list(states.values()), ["symbol"])
            if kills:
                self._upsert(conn, m.kill_switches, list(kills.values()), ["scope", "target"])
            if audit:
                conn.exec_driver_sql(self._sql_audit, audit)
            self._upsert(conn, m.store_meta, [{"key": "last_event_seq", "value": top_seq},
                                              {"key": "next_journal_index", "value": top_index}], ["key"])
        # committed: now the in-memory ledgers and watermarks move
        self.positions.update(positions)
        self.balances.update(balances)
        self.last_event_seq = top_seq
        self.next_journal_index = top_index
        self.batches += 1
        n = len(orders) + len(execs) + len(trades) + len(positions) + len(balances) + len(audit)
        self.rows_written += n
        return n

    def mark(self, event_seq: int, journal_index: int) -> None:
        """Record that the store is complete up to here (at a snapshot, after a drain: event
        seqs below `event_seq` that never reached the store do not exist)."""
        seq = max(event_seq, self.last_event_seq)
        index = max(journal_index, self.next_journal_index)
        if seq == self.last_event_seq and index == self.next_journal_index:
            return
        with self.engine.begin() as conn:
            self._upsert(conn, m.store_meta, [{"key": "last_event_seq", "value": seq},
                                              {"key": "next_journal_index", "value": index}], ["key"])
        self.last_event_seq = seq
        self.next_journal_index = index

    def _upsert(self, conn, table, rows: list[dict], keys: list[str]) -> None:
        stmt = self._insert(table)
        upd = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=upd), rows)

    def _exec(self, ev, orders: dict, execs: list, pos_changes: dict, bal_changes: dict) -> None:
        oid = ev.order_id
        prev = orders.get(oid)
        reason = ev.reason.value if hasattr(ev.reason, "value") else ev.reason
        clid, account, symbol, origin, orig, text, liq = (
            ev.cl_ord_id, ev.account, ev.symbol, ev.origin, ev.orig_cl_ord_id, ev.text, ev.liquidity)
        try:
            plain = (clid + account + symbol + origin + orig + text + liq + reason).isascii()
        except TypeError:   # a non-string where a string belongs
            plain = False
        if not plain or "\x00" in (clid + account + symbol + origin + orig + text + reason):
            clid, account, symbol, origin, orig, text, liq, reason = (
                _clean(clid), _clean(account), _clean(symbol), _clean(origin), _clean(orig), _clean(text),
                _clean(liq), _clean(reason))
        orders[oid] = (oid, clid, account, symbol, ev.side, ev.ord_type, ev.tif, ev.price, ev.stop_px, ev.qty,
                       ev.leaves, ev.cum, ev.cum_notional, ev.status, reason, origin,
                       prev[_CREATED] if prev else ev.ts, ev.ts, ev.seq)
        execs.append((ev.seq, oid, ev.ts, ev.exec_type, ev.status, clid, orig, account, symbol,
                      ev.side, ev.price, ev.qty, ev.leaves, ev.cum, ev.cum_notional, ev.last_px, ev.last_qty,
                      ev.fee_e8, liq[:1], ev.trade_id or None, reason, text, origin))
        if ev.exec_type != TRADE:
            return
        key = (ev.account, ev.symbol)
        qty = ev.last_qty
        notional = ev.last_px * qty
        d = pos_changes.get(key)
        if d is None:
            d = pos_changes[key] = [0, 0, 0, 0, 0, 0, 0]
        if ev.side == BUY:
            d[0] += qty
            d[1] += qty
            d[3] += notional
        else:
            d[0] -= qty
            d[2] += qty
            d[4] += notional
        d[5] += ev.fee_e8
        d[6] += 1
        legs = self._legs.get(ev.symbol)
        if legs is None:
            return
        base, quote, base_e8, quote_e8 = legs
        b = _to_e8(base_e8 * qty)
        q = _to_e8(quote_e8 * notional)
        sign = 1 if ev.side == BUY else -1
        bk = (ev.account, base)
        qk = (ev.account, quote)
        bal_changes[bk] = bal_changes.get(bk, 0) + sign * b
        bal_changes[qk] = bal_changes.get(qk, 0) - sign * q - ev.fee_e8

    def _position_after(self, key, delta: list[int]) -> list[int]:
        cur = self.positions.get(key) or [0, 0, 0, 0, 0, 0, 0]
        return [a + b for a, b in zip(cur, delta)]


class StoreWriter:
    """The asyncio shell around `SqlStore` (see module docstring)."""

    def __init__(self, store: SqlStore, *, batch_max: int = 5_000, flush_interval_s: float = 0.05) -> None:
        self.store = store
        self.batch_max = batch_max
        self.flush_interval_s = flush_interval_s
        self._events: list[Event] = []
        self._commands: list[tuple[int, list[Command]]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._progress: asyncio.Condition | None = None
        self._stopping = False
        self._inflight = (0, 0)             # (event seq, journal index) the batch being written reaches
        self.error: str | None = None       # the last write failure, until a write succeeds again
        self.write_s = 0.0

    # ------------------------------------------------------------------ feeding (event loop, cheap)

    def feed_events(self, events: list[Event]) -> None:
        """Sequencer subscriber: durable, delivered events."""
        self._events.extend(events)
        if len(self._events) >= self.batch_max and self._wake is not None:
            self._wake.set()

    def feed_commands(self, first_index: int, commands: list[Command]) -> None:
        """Journal commit listener: the commands of one durable group commit."""
        self._commands.append((first_index, commands))

    @property
    def pending(self) -> int:
        return len(self._events) + sum(len(c) for _, c in self._commands)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fixvenue-store")
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="store-writer")

    async def stop(self, timeout: float = 30.0) -> None:
        """Write everything queued (within `timeout`), then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self.drain(), timeout)
        except asyncio.TimeoutError:
            log.error("store writer: %d items still unwritten at shutdown (the journal has them; they are "
                      "written at the next start)", self.pending)
        self._stopping = True
        self._wake.set()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        self._executor.shutdown(wait=True)

    async def drain(self) -> None:
        """Wait until everything fed so far (queued or being written) is in the database."""
        target_seq = max(self._inflight[0], max((e.seq for e in self._events if e.kind != "book"), default=0))
        target_index = max(self._inflight[1], max((f + len(c) for f, c in self._commands), default=0))
        await self.wait_for(target_seq, target_index)

    async def wait_for(self, event_seq: int, journal_index: int = 0) -> None:
        """Wait until the store holds every event up to `event_seq` and command before `journal_index`."""
        st = self.store
        if st.last_event_seq >= event_seq and st.next_journal_index >= journal_index:
            return
        self._wake.set()
        async with self._progress:
            await self._progress.wait_for(
                lambda: st.last_event_seq >= event_seq and st.next_journal_index >= journal_index)

    # ------------------------------------------------------------------ the writer task

    def _take(self) -> tuple[list[Event], list[tuple[int, Command]]]:
        events = self._events
        if len(events) > self.batch_max:
            # cut after a whole command's events would be nicer, but seq order is all that matters:
            # the watermark is the highest seq written and everything below it is in this batch or earlier
            taken, self._events = events[: self.batch_max], events[self.batch_max:]
        else:
            taken, self._events = events, []
        cmds, self._commands = self._commands, []
        flat = [(first + i, c) for first, batch in cmds for i, c in enumerate(batch)]
        self._inflight = (max((e.seq for e in taken if e.kind != "book"), default=0),
                          flat[-1][0] + 1 if flat else 0)
        return taken, flat

    def _give_back(self, events: list[Event], commands: list[tuple[int, Command]]) -> None:
        self._events[:0] = events
        if commands:
            self._commands[:0] = [(i, [c]) for i, c in commands]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.1
        while True:
            if not self._events and not self._commands:
                if self._stopping:
                    return
                try:
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()
                continue
            events, commands = self._take()
            t0 = time.perf_counter()
            try:
                await loop.run_in_executor(self._executor, self.store.write, events, commands)
            except asyncio.CancelledError:
                self._give_back(events, commands)
                raise
            except Exception as exc:  # database down, disk full...: keep everything, retry
                self._give_back(events, commands)
                if self.error is None:
                    log.error("store writer: writing a batch failed (%s); retrying — matching is not affected",
                              exc, exc_info=not isinstance(exc, OSError))
                self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if self.error is not None:
                log.info("store writer: writing again after an error")
            self.error = None
            backoff = 0.1
            self.write_s += time.perf_counter() - t0
            async with self._progress:
                self._progress.notify_all()
