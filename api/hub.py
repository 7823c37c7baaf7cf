"""WebSocket fan-out: channels, subscriptions and bounded per-connection queues.

The hub is a sequencer subscriber: it sees each durable batch of events once,
renders every message once per channel (one JSON text shared by all its
subscribers) and drops it into each subscriber's queue. A connection's queue is
bounded; a client that does not read fast enough is disconnected with close
code 1008 and the reason "slow consumer", instead of the venue buffering for
it without limit. With no client connected a batch costs one `if`.

Channels
  orderbook.<symbol>   snapshot (full depth, `seq`) then updates: changed levels with
                       their new totals (qty "0" = level gone) and `seq` + 1 each time,
                       so a gap in `seq` means a lost message: resubscribe for a snapshot.
  trades.<symbol>      recent prints as a snapshot, then each batch of new prints
  ticker.<symbol>      best bid/ask, last, 24h statistics; pushed when the book or trades move
  orders               (private) execution reports and cancel rejects of the key's account
  positions            (private) the account's positions after each of its fills (needs risk/)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from api.account import positions_of
from api.envelope import dumps
from api.views import book_update_view, book_view, ticker_view, trade_view
from engine.translate import STATUS_NAMES, exec_view, order_view
from risk.metrics import WS_CLIENTS

log = logging.getLogger("fixvenue.api.ws")

PUBLIC = ("orderbook", "trades", "ticker")
PRIVATE = ("orders", "positions")
CLOSE_SLOW = 1008
SLOW_CLOSE_GRACE_S = 10.0


class ChannelError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Connection:
    """One WebSocket client: its subscriptions, its key (once authenticated) and its outbox."""

    def __init__(self, hub: "Hub", ws: Any, queue_size: int) -> None:
        self.hub = hub
        self.ws = ws
        self.queue: asyncio.Queue = asyncio.Queue(queue_size)
        self.channels: set[str] = set()
        self.key = None
        self.closed = False
        self.close_reason = ""
        self.sender: asyncio.Task | None = None

    def push(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.kill(f"slow consumer: more than {self.queue.maxsize} messages waiting")

    def kill(self, reason: str) -> None:
        """Stop serving this client now (memory stays bounded) and close it with a reason."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.hub.drop(self)
        # the close frame goes out behind what the socket still holds; the client gets it once
        # it reads that backlog (nothing is added to it any more), or the connection is dropped
        asyncio.get_running_loop().create_task(self._close(CLOSE_SLOW, reason, SLOW_CLOSE_GRACE_S))

    async def _close(self, code: int, reason: str, timeout: float = 2.0) -> None:
        if self.sender is not None:
            self.sender.cancel()
        try:
            await asyncio.wait_for(self.ws.close(code=code, reason=reason[:120]), timeout)
        except Exception:
            pass

    async def flush_and_close(self, code: int, reason: str, timeout: float = 1.0) -> None:
        """Send what is queued (e.g. the error explaining why), then close."""
        self.closed = True
        self.close_reason = reason
        self.hub.drop(self)
        try:
            await asyncio.wait_for(self.queue.join(), timeout)
        except asyncio.TimeoutError:
            pass
        await self._close(code, reason)

    async def run_sender(self) -> None:
        q = self.queue
        send = self.ws.send_text
        while True:
            text = await q.get()
            await send(text)
            q.task_done()


class Hub:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.connections: set[Connection] = set()
        self.channels: dict[str, set[Connection]] = {}
        self.account_orders: dict[str, set[Connection]] = {}      # account -> subscribers of "orders"
        self.account_positions: dict[str, set[Connection]] = {}
        self.published = 0

    # ------------------------------------------------------------------ connections

    def connect(self, ws) -> Connection:
        conn = Connection(self, ws, self.ctx.settings.websocket.queue_size)
        self.connections.add(conn)
        conn.sender = asyncio.get_running_loop().create_task(conn.run_sender())
        WS_CLIENTS.inc()
        return conn

    def drop(self, conn: Connection) -> None:
        """Forget a connection (closed, killed or gone)."""
        if conn in self.connections:
            self.connections.discard(conn)
            WS_CLIENTS.dec()
        for ch in conn.channels:
            self._unindex(conn, ch)
        conn.channels.clear()

    async def disconnect(self, conn: Connection) -> None:
        conn.closed = True
        self.drop(conn)
        if conn.sender is not None:
            conn.sender.cancel()
            try:
                await conn.sender
            except BaseException:
                pass

    async def close_all(self, reason: str = "venue shutting down") -> None:
        for conn in list(self.connections):
            conn.closed = True
            self.drop(conn)
            await conn._close(1001, reason)

    # ------------------------------------------------------------------ subscriptions

    def resolve(self, name: str) -> str:
        """Canonical channel name for what a client asked for (symbol spellings are forgiven)."""
        if not isinstance(name, str) or not name or len(name) > 80:
            raise ChannelError("INVALID_CHANNEL", "a channel is a string like 'orderbook.BTC-USD'")
        if name in PRIVATE:
            return name
        kind, _, sym = name.partition(".")
        if kind not in PUBLIC:
            raise ChannelError("INVALID_CHANNEL", f"unknown channel {name!r}; use {', '.join(PUBLIC)}.<symbol>, "
                                                  f"{', '.join(PRIVATE)}")
        symbol = self.ctx.symbols.resolve(sym)
        if symbol is None:
            raise ChannelError("UNKNOWN_SYMBOL", f"unknown symbol {sym!r}")
        return f"{kind}.{symbol}"

    def subscribe(self, conn: Connection, name: str) -> str:
        ch = self.resolve(name)
        if conn.closed:
            raise ChannelError("CLOSED", "the connection is closing")
        if ch in conn.channels:
            return ch
        if ch in PRIVATE:
            if conn.key is None:
                raise ChannelError("UNAUTHORIZED", f"channel {ch!r} needs an authenticated connection (op 'auth')")
            if conn.key.account is None:
                raise ChannelError("FORBIDDEN", "this key is not bound to an account")
        if len(conn.channels) >= self.ctx.settings.websocket.max_subscriptions:
            raise ChannelError("TOO_MANY_SUBSCRIPTIONS", "subscription limit reached")
        # snapshot first, then index: later updates queue behind it (same synchronous step)
        snap = self.snapshot(conn, ch)
        if snap is not None:
            conn.push(snap)
        conn.channels.add(ch)
        if ch == "orders":
            self.account_orders.setdefault(conn.key.account, set()).add(conn)
        elif ch == "positions":
            self.account_positions.setdefault(conn.key.account, set()).add(conn)
        else:
            self.channels.setdefault(ch, set()).add(conn)
        return ch

    def unsubscribe(self, conn: Connection, name: str) -> str:
        ch = self.resolve(name)
        if ch in conn.channels:
            conn.channels.discard(ch)
            self._unindex(conn, ch)
        return ch

    def _unindex(self, conn: Connection, ch: str) -> None:
        if ch == "orders" or ch == "positions":
            table = self.account_orders if ch == "orders" else self.account_positions
            acct = conn.key.account if conn.key is not None else None
            subs = table.get(acct)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del table[acct]
            return
        subs = self.channels.get(ch)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.channels[ch]

    def snapshot(self, conn: Connection, ch: str) -> str | None:
        ctx = self.ctx
        now = ctx.clock()
        if ch == "orders":
            acct = conn.key.account
            orders = [order_view(o, ctx.instruments[o.symbol]) for o in ctx.oms.orders_for(acct, open_only=True)]
            return _msg("snapshot", ch, {"open_orders": orders})
        if ch == "positions":
            return _msg("snapshot", ch, positions_payload(ctx, conn.key.account, None))
        kind, _, sym = ch.partition(".")
        if kind == "orderbook":
            view = book_view(ctx.oms, sym, None, now)
            return _msg("snapshot", ch, view, seq=view["seq"])
        if kind == "trades":
            inst = ctx.instruments[sym]
            return _msg("snapshot", ch, [trade_view(t, inst) for t in ctx.oms.recent_trades(sym, 50)])
        return _msg("snapshot", ch, ticker_view(ctx.oms, ctx.tape, sym, now))

    # ------------------------------------------------------------------ publishing

    def on_events(self, events: list) -> None:
        """Sequencer subscriber: called with each durable batch."""
        if not self.connections:
            return
        channels = self.channels
        instruments = self.ctx.instruments
        trades: dict[str, list] = {}
        moved: set[str] = set()
        orders: dict[str, list] = {}
        filled: dict[str, set[str]] = {}
        for ev in events:
            kind = ev.kind
            if kind == "book":
                sym = ev.symbol
                moved.add(sym)
                subs = channels.get("orderbook." + sym)
                if subs:
                    self._send(subs, _msg("update", "orderbook." + sym, book_update_view(ev, instruments[sym]),
                                          seq=ev.seq))
            elif kind == "trade":
                moved.add(ev.symbol)
                if ("trades." + ev.symbol) in channels:
                    trades.setdefault(ev.symbol, []).append(ev)
            elif kind == "exec" or kind == "cancel_reject":
                acct = ev.account
                if acct in self.account_orders:
                    orders.setdefault(acct, []).append(ev)
                if kind == "exec" and ev.exec_type == 15 and acct in self.account_positions:
                    filled.setdefault(acct, set()).add(ev.symbol)
        for sym, evs in trades.items():
            inst = instruments[sym]
            self._send(channels["trades." + sym], _msg("update", "trades." + sym, [trade_view(t, inst) for t in evs]))
        if moved:
            now = self.ctx.clock()
            for sym in moved:
                subs = channels.get("ticker." + sym)
                if subs:
                    self._send(subs, _msg("update", "ticker." + sym, ticker_view(self.ctx.oms, self.ctx.tape, sym, now)))
        for acct, evs in orders.items():
            self._send(self.account_orders[acct], _msg("update", "orders", [self._order_event(e) for e in evs]))
        for acct, syms in filled.items():
            subs = self.account_positions.get(acct)
            if subs:
                self._send(subs, _msg("update", "positions", positions_payload(self.ctx, acct, syms)))

    def _order_event(self, ev) -> dict:
        inst = self.ctx.instruments.get(ev.symbol)
        if ev.kind == "cancel_reject":
            return {"event": "cancel_reject", "seq": ev.seq, "ts": ev.ts, "order_id": ev.order_id or None,
                    "cl_ord_id": ev.cl_ord_id, "orig_cl_ord_id": ev.orig_cl_ord_id or None,
                    "is_replace": ev.is_replace, "status": STATUS_NAMES.get(ev.status), "reason": ev.reason,
                    "text": ev.text}
        if inst is None:   # an order refused for an unknown symbol
            return {"event": "execution", "seq": ev.seq, "ts": ev.ts, "exec_type": "rejected",
                    "order_id": ev.order_id, "cl_ord_id": ev.cl_ord_id, "symbol": ev.symbol, "status": "rejected",
                    "reason": ev.reason, "text": ev.text}
        v = exec_view(ev, inst)
        v["event"] = "execution"
        return v

    def _send(self, subs, text: str) -> None:
        self.published += 1
        for conn in tuple(subs):
            conn.push(text)


def _msg(kind: str, channel: str, data: Any, seq: int | None = None) -> str:
    m = {"type": kind, "channel": channel, "data": data}
    if seq is not None:
        m["seq"] = seq
    return dumps(m).decode()


def positions_payload(ctx, account: str, symbols: set[str] | None) -> dict:
    """Positions of `account` from the risk service (all, or only `symbols`)."""
    data = positions_of(ctx, account)
    if symbols is not None:
        data = {**data, "positions": [p for p in data["positions"] if p["symbol"] in symbols]}
    return data
