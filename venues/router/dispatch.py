"""The router's asyncio side: talks to the venue adapters, journals what they say.

`RouterDispatcher` is the thin shell around the deterministic core
(`SmartOrderRouter`). It never changes routing state itself: it carries out
the core's intents (plan a parent, submit or cancel a child) and turns every
outcome into one of the router's commands, submitted through the sequencer —
so each venue answer, fill and connection change is journaled before anyone
is told about it, and a replay reproduces the parent's execution reports.

Intents are picked up only after the sequencer's durable flush (`after_flush`):
a child is sent to a venue only once the command that decided it is in the
journal. Per child, venue calls are serialised by a lock, so a cancel never
overtakes the submit it must follow.

Faults, and why nothing is lost or sent twice:

* an answer lost after the venue accepted (timeout, dropped connection) is first
  settled by the adapter itself (lookup by our client order id, re-send only on
  "not found"); if even that fails the child is marked UNKNOWN — its quantity is
  in doubt and never routed elsewhere — and the venue is reconciled until it
  says what it holds;
* a reject, a 429 past its retries, or "not connected" means the venue does not
  hold the child: its quantity fails over to the next venue of the policy;
* a lost connection marks the venue down (journaled; risk is told) and applies
  `on_venue_loss`; when it is back every unfinished child there is reconciled
  with `order_status` (fills missed meanwhile are topped up from the venue's
  cumulative figures), and pending cancels are sent again;
* after a restart of our process, every unfinished child is reconciled the same
  way before anything new is sent; a child decided but maybe-sent is looked up
  first and sent only if the venue does not have it (same client order id, so a
  late duplicate is refused by the venue).

Decimal values from the venues become ticks and lots here, once (the engine's
instrument conversions refuse off-grid values; venue averages may be off-grid,
so notionals are rounded to the nearest tick*lot and quantities floored to lots).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from decimal import Decimal
from fractions import Fraction
from typing import Any

from engine.reject import Reason
from engine.types import OrdType, TimeInForce
from venues.adapter import (
    ConnectionState,
    ConnectionStateChanged,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
    TimeInForce as VTif,
    VenueAdapter,
    VenueDisconnected,
    VenueError,
    VenueFill,
    VenueOrder,
    VenueOrderRequest,
    VenueOrderUpdate,
    VenueRateLimited,
    VenueReject,
    VenueTimeout,
)
from venues.router import planner
from venues.router.children import DONE, INTERNAL, LIVE, PENDING, UNKNOWN, Child
from venues.router.commands import (
    ChildAck,
    ChildCancelFailed,
    ChildDone,
    ChildFill,
    ChildReject,
    ChildUnknown,
    RoutePlan,
    VenueState,
)
from venues.router.router import SmartOrderRouter, child_tif

log = logging.getLogger("fixvenue.router")

_LIMIT = int(OrdType.LIMIT)
_MARKET = int(OrdType.MARKET)
_FOK = int(TimeInForce.FOK)
_IOC = int(TimeInForce.IOC)
_REASON_OF_CODE = {
    RejectCode.INSUFFICIENT_BALANCE: Reason.INSUFFICIENT_BALANCE,
    RejectCode.INVALID_PRICE: Reason.INVALID_PRICE,
    RejectCode.INVALID_QUANTITY: Reason.INVALID_QUANTITY,
    RejectCode.UNKNOWN_SYMBOL: Reason.UNKNOWN_SYMBOL,
    RejectCode.MARKET_HALTED: Reason.MARKET_HALTED,
    RejectCode.INSUFFICIENT_LIQUIDITY: Reason.NO_LIQUIDITY,
    RejectCode.RATE_LIMITED: Reason.RATE_LIMITED,
    RejectCode.DUPLICATE_ORDER: Reason.DUPLICATE_ORDER,
}
_UNSURE = (VenueTimeout, VenueDisconnected, VenueRateLimited)


def reason_of(code: RejectCode | None) -> str:
    return _REASON_OF_CODE.get(code, Reason.VENUE_REJECT).value if code is not None else Reason.VENUE_REJECT.value


# ---------------------------------------------------------------------------- unit conversion (the edge)


def lots_floor(inst, qty: Decimal) -> int:
    return int(Fraction(qty) / Fraction(inst.lot_size)) if qty and qty > 0 else 0


def ticks_round(inst, price: Decimal) -> int:
    return max(1, round(Fraction(price) / Fraction(inst.tick_size))) if price and price > 0 else 0


def notional_of(inst, avg_price: Decimal | None, lots: int, fallback_ticks: int) -> int:
    """ticks*lots of `lots` at `avg_price` (rounded to the nearest unit)."""
    if not lots:
        return 0
    if avg_price is None or avg_price <= 0:
        return lots * max(1, fallback_ticks)
    return max(1, round(Fraction(avg_price) / Fraction(inst.tick_size) * lots))


class RouterDispatcher:
    """The routing component: adapters' lifecycle, intents, venue events, reconciliation."""

    name = "routing"

    def __init__(self, core: SmartOrderRouter, sequencer, adapters: dict[str, VenueAdapter], instruments: dict,
                 *, clock=None) -> None:
        self.core = core
        self.sequencer = sequencer
        self.adapters = adapters
        self.instruments = instruments
        self.settings = core.settings
        self.clock = clock or sequencer.clock
        self.running = False
        self._tasks: set[asyncio.Task] = set()
        self._background: set[asyncio.Task] = set()   # long-lived (periodic, reconnect): not "work"
        self._locks: dict[str, asyncio.Lock] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._unsubs: list = []
        self._drain_scheduled = False
        self._maybe_sent: set[str] = set()     # children whose submit may have reached the venue
        self._reconciling: dict[str, asyncio.Task] = {}
        self._reconcile_again: set[str] = set()
        self.commands = 0
        self.errors = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.running = True
        for name, adapter in self.adapters.items():
            self._ready[name] = asyncio.Event()
            self._unsubs.append(adapter.subscribe(functools.partial(self._on_event, name)))
        self.core.attach(self._wake)
        if self.adapters:
            await asyncio.gather(*(self._connect(name) for name in self.adapters))
        self._resume()
        self._spawn(self._periodic(), background=True)

    async def stop(self) -> None:
        self.running = False
        self.core.detach()
        for unsub in self._unsubs:
            try:
                unsub()
            except Exception:
                pass
        self._unsubs.clear()
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        for name, adapter in self.adapters.items():
            try:
                await asyncio.wait_for(adapter.close(), timeout=self.settings.connect_timeout_s)
            except Exception as exc:
                log.warning("router: closing venue %s failed: %s", name, exc)

    def describe(self) -> str:
        s = self.settings
        parts = []
        for name, adapter in self.adapters.items():
            v = s.venues[name]
            parts.append(f"{name} ({v.type}, taker {v.taker_fee_bps} bps, {adapter.connection_state.value})")
        pols = []
        for sym in sorted(self.core.routed_symbols):
            p = self.core.policies[sym]
            pols.append(f"{sym}={p.policy}[{','.join(p.chain())}]")
        text = "venues: " + (", ".join(parts) if parts else "none")
        text += "; routed: " + (", ".join(pols) if pols else "none (every instrument trades on the internal book)")
        text += f"; routing account {self.core.account}; on venue loss: {s.on_venue_loss}"
        if self.core.halted:
            text += "; HALTED"
        return text

    async def _connect(self, name: str) -> None:
        adapter = self.adapters[name]
        try:
            await asyncio.wait_for(adapter.connect(), timeout=self.settings.connect_timeout_s)
        except Exception as exc:  # unreachable or refused: down until it answers
            log.warning("router: venue %s not reachable at start: %s", name, exc)
            self._mark(name, False, f"connect failed: {str(exc)[:160]}")
            self._spawn(self._reconnect_loop(name), background=True)
            return
        if adapter.connection_state is ConnectionState.CONNECTED:
            self._mark(name, True, "connected")

    async def _reconnect_loop(self, name: str) -> None:
        adapter = self.adapters[name]
        delay = self.settings.retry_initial_s
        while self.running and adapter.connection_state in (ConnectionState.DISCONNECTED, ConnectionState.CLOSED):
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.retry_max_s)
            try:
                await asyncio.wait_for(adapter.connect(), timeout=self.settings.connect_timeout_s)
            except Exception:
                continue
        if self.running and adapter.connection_state is ConnectionState.CONNECTED:
            self._mark(name, True, "connected")

    def _resume(self) -> None:
        """After start (and recovery): plan what was being planned, reconcile every venue
        with unfinished children (children decided but maybe sent are looked up first)."""
        core = self.core
        for p in list(core.book.parents.values()):
            if p.planning:
                self._spawn(self._plan(p.order_id, p.plan_no))
        venues = set()
        for c in core.book.open_children():
            if c.venue == INTERNAL:
                continue
            if c.state == PENDING:
                self._maybe_sent.add(c.child_id)
            venues.add(c.venue)
        for v in sorted(venues):
            self._reconcile_soon(v)

    async def _periodic(self) -> None:
        while self.running:
            await asyncio.sleep(self.settings.reconcile_interval_s)
            venues = {c.venue for c in self.core.book.open_children() if c.venue != INTERNAL}
            for v in sorted(venues):
                if self._usable(v):
                    self._reconcile_soon(v)
            self._maybe_sent &= set(self.core.book.children)

    # ------------------------------------------------------------------ plumbing

    def _spawn(self, coro, background: bool = False) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        if background:
            self._background.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors += 1
            log.error("router task failed", exc_info=task.exception())

    def _lock(self, child_id: str) -> asyncio.Lock:
        lock = self._locks.get(child_id)
        if lock is None:
            lock = self._locks[child_id] = asyncio.Lock()
        return lock

    def _release(self, child_id: str) -> None:
        lock = self._locks.get(child_id)
        if lock is not None and not lock.locked():
            c = self.core.book.children.get(child_id)
            if c is None or c.state == DONE:
                self._locks.pop(child_id, None)
                self._maybe_sent.discard(child_id)

    def _cmd(self, cmd) -> None:
        """Journal and apply one router command (never raises into a venue callback)."""
        try:
            self.sequencer.submit(cmd)
            self.commands += 1
        except Exception:
            self.errors += 1
            log.exception("router: command %r could not be processed", cmd)

    def _wake(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self.sequencer.after_flush(self._drain)

    def _drain(self) -> None:
        """Runs after the durable flush: the commands that created these intents are journaled."""
        self._drain_scheduled = False
        items, self.core.outbox = self.core.outbox, []
        if not self.running:
            return
        for item in items:
            kind = item[0]
            if kind == "plan":
                self._spawn(self._plan(item[1], item[2]))
            elif kind == "submit":
                self._spawn(self._submit_child(item[1]))
            elif kind == "cancel":
                self._spawn(self._cancel_child(item[1]))

    def _usable(self, venue: str) -> bool:
        ev = self._ready.get(venue)
        return ev is not None and ev.is_set() and self.core.venue_up.get(venue, False)

    def _mark(self, venue: str, up: bool, reason: str) -> None:
        ready = self._ready.get(venue)
        if ready is not None:
            (ready.set if up else ready.clear)()
        if self.core.venue_up.get(venue) != up:
            self._cmd(VenueState(self.clock(), venue, up, reason[:200]))
        if up:
            self._reconcile_soon(venue)

    # ------------------------------------------------------------------ planning

    async def _plan(self, order_id: int, plan_no: int) -> None:
        try:
            await self._plan_now(order_id, plan_no)
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # never leave a parent waiting for a plan that will not come
            log.exception("router: planning order %d failed", order_id)
            p = self.core.book.parents.get(order_id)
            if p is not None and p.planning and p.plan_no == plan_no:
                self._cmd(RoutePlan(self.clock(), order_id, plan_no, [], Reason.VENUE_REJECT.value,
                                    f"routing failed: {type(exc).__name__}"))

    async def _plan_now(self, order_id: int, plan_no: int) -> None:
        core = self.core
        p = core.book.parents.get(order_id)
        if p is None or not p.planning or p.plan_no != plan_no:
            return
        o = p.order
        pol = core.policy_for(o.symbol)
        reason = text = ""
        alloc: list[tuple[str, int]] = []
        chain = [v for v in pol.chain() if v not in p.excluded]
        usable = [v for v in chain if v == INTERNAL or self._usable(v)]
        if core.halted:
            reason, text = Reason.VENUE_UNAVAILABLE.value, "routing is halted"
        elif not usable:
            reason = Reason.VENUE_UNAVAILABLE.value
            tried = sorted(p.excluded)
            down = [v for v in chain if v not in usable]
            text = "no venue available" + (f"; refused by {', '.join(tried)}" if tried else "") + \
                (f"; down: {', '.join(down)}" if down else "")
        elif pol.policy == "venue":
            alloc = [(usable[0], p.routable())]
        else:
            depths = await self._depths(usable, o, pol.depth)
            p = core.book.parents.get(order_id)
            if p is None or not p.planning or p.plan_no != plan_no:
                return
            qty = p.routable()
            limit = o.price if o.ord_type == _LIMIT else 0
            inst = self.instruments[o.symbol]
            min_qty = lots_floor(inst, pol.min_child_qty) if pol.min_child_qty else 0
            if not depths:
                reason, text = Reason.VENUE_UNAVAILABLE.value, "no venue answered with a book"
            elif o.tif == _FOK:
                alloc = planner.single(o.side, qty, depths, limit)
            elif pol.policy == "best_price":
                alloc = planner.sweep(o.side, qty, depths, limit, min_qty)
            else:
                alloc = planner.pro_rata(o.side, qty, depths, limit, min_qty)
            text = "books: " + "; ".join(
                f"{d.venue} {d.levels[0][0] if d.levels else '-'}x{planner.displayed(o.side, d, limit)}"
                for d in depths)
        p = core.book.parents.get(order_id)
        if p is None or not p.planning or p.plan_no != plan_no:
            return
        legs = []
        price = o.price if o.ord_type == _LIMIT else 0
        for i, (venue, qty) in enumerate(alloc):
            if qty > 0:
                legs.append([venue, core.child_id(o, p.next_n + i), qty, price, o.ord_type, child_tif(o.tif)])
        self._cmd(RoutePlan(self.clock(), order_id, plan_no, legs, reason, text[:500]))

    async def _depths(self, venues: list[str], o, depth: int) -> list[planner.VenueDepth]:
        core = self.core
        buy = o.side == 1
        inst = self.instruments[o.symbol]

        async def one(v: str) -> planner.VenueDepth | None:
            if v == INTERNAL:
                bids, asks = core.oms.depth(o.symbol, depth)
                levels = asks if buy else bids
                return planner.VenueDepth(v, [(px, q) for px, q, _n in levels], core.oms.taker_fee(o.account))
            try:
                book = await asyncio.wait_for(self.adapters[v].book(o.symbol, depth),
                                              timeout=self.settings.quote_timeout_s)
            except Exception as exc:
                log.info("router: no book from %s for %s: %s", v, o.symbol, exc)
                return None
            side = book.asks if buy else book.bids
            levels = [(ticks_round(inst, lv.price), lots_floor(inst, lv.quantity)) for lv in side]
            return planner.VenueDepth(v, [(px, q) for px, q in levels if px > 0 and q > 0], core.fee_ppm.get(v, 0))

        got = await asyncio.gather(*(one(v) for v in venues))
        return [d for d in got if d is not None]

    # ------------------------------------------------------------------ submit

    def _request(self, c: Child) -> VenueOrderRequest:
        inst = self.instruments[c.symbol]
        if c.ord_type == _MARKET:
            otype = OrderType.MARKET
            tif = VTif.FOK if c.tif == _FOK else VTif.IOC
            price = None
        else:
            otype = OrderType.LIMIT
            tif = VTif.IOC if c.tif == _IOC else VTif.FOK if c.tif == _FOK else VTif.GTC
            price = inst.ticks_to_price(c.price)
        return VenueOrderRequest(c.child_id, c.symbol, Side.BUY if c.side == 1 else Side.SELL, otype,
                                 inst.lots_to_qty(c.qty), price=price, time_in_force=tif)

    async def _submit_child(self, child_id: str, resend: bool = False) -> None:
        try:
            async with self._lock(child_id):
                await self._submit_locked(child_id, resend)
        finally:
            self._release(child_id)

    async def _submit_locked(self, child_id: str, resend: bool) -> None:
        core = self.core
        c = core.book.children.get(child_id)
        if c is None or not (c.state == PENDING or (resend and c.state == UNKNOWN)):
            return
        if c.cancel_requested:
            self._cmd(ChildDone(self.clock(), child_id, "cancelled", 0, 0, Reason.CLIENT_REQUEST.value,
                                "cancelled before it was sent"))
            return
        venue = c.venue
        adapter = self.adapters.get(venue)
        if adapter is None or not self._usable(venue):
            self._cmd(ChildReject(self.clock(), child_id, Reason.VENUE_UNAVAILABLE.value,
                                  f"venue {venue} is not connected", True))
            return
        try:
            request = self._request(c)
        except Exception as exc:
            self._cmd(ChildReject(self.clock(), child_id, Reason.INVALID_ORDER.value, str(exc)[:200], True))
            return
        retries = 0
        while True:
            self._maybe_sent.add(child_id)
            try:
                vo = await adapter.submit(request)
            except VenueReject as exc:
                if exc.code is RejectCode.DUPLICATE_ORDER:
                    # an earlier attempt (before a restart, or a late request) reached the venue
                    try:
                        vo = await adapter.order_status(child_id, c.symbol)
                    except Exception as exc2:
                        self._cmd(ChildUnknown(self.clock(), child_id, f"duplicate, status unknown: {exc2}"[:200]))
                        self._reconcile_soon(venue, delay=self.settings.retry_initial_s)
                        return
                    self._apply_now(c, vo)
                    return
                self._maybe_sent.discard(child_id)
                self._cmd(ChildReject(self.clock(), child_id, reason_of(exc.code), f"{venue}: {exc.reason}"[:200],
                                      True))
                return
            except VenueRateLimited as exc:
                self._maybe_sent.discard(child_id)
                retries += 1
                if retries <= self.settings.rate_limit_retries and self.running:
                    await asyncio.sleep(min(exc.retry_after or 1.0, self.settings.rate_limit_max_wait_s))
                    if c.state != DONE and c.cancel_requested:
                        self._cmd(ChildDone(self.clock(), child_id, "cancelled", 0, 0, Reason.CLIENT_REQUEST.value,
                                            "cancelled before it was sent"))
                        return
                    continue
                self._cmd(ChildReject(self.clock(), child_id, Reason.RATE_LIMITED.value,
                                      f"{venue} is rate limiting us", True))
                return
            except VenueDisconnected as exc:
                # adapters raise this only when nothing was delivered (a lost answer is reconciled)
                self._maybe_sent.discard(child_id)
                self._mark(venue, False, f"submit: {exc}")
                self._cmd(ChildReject(self.clock(), child_id, Reason.VENUE_UNAVAILABLE.value,
                                      f"{venue}: {exc}"[:200], True))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:   # VenueTimeout (outcome unknown) or an adapter bug
                log.warning("router: submit %s to %s: outcome unknown (%s)", child_id, venue, exc)
                self._cmd(ChildUnknown(self.clock(), child_id, f"{type(exc).__name__}: {exc}"[:200]))
                self._reconcile_soon(venue, delay=self.settings.retry_initial_s)
                return
            self._apply_now(c, vo)
            return

    # ------------------------------------------------------------------ cancel

    async def _cancel_child(self, child_id: str) -> None:
        delay = self.settings.retry_initial_s
        failures = 0
        try:
            while self.running:
                async with self._lock(child_id):
                    outcome = await self._cancel_locked(child_id)
                if outcome == "done":
                    return
                if outcome == "refused":
                    failures += 1
                    if failures >= 3:
                        c = self.core.book.children.get(child_id)
                        if c is not None and c.state != DONE:
                            self._cmd(ChildCancelFailed(self.clock(), child_id, Reason.VENUE_REJECT.value,
                                                        "the venue refused the cancel"))
                        return
                c = self.core.book.children.get(child_id)
                ready = self._ready.get(c.venue) if c is not None else None
                if ready is not None and not ready.is_set():
                    try:   # wait for the venue to come back (or the next try)
                        await asyncio.wait_for(ready.wait(), timeout=self.settings.retry_max_s)
                    except asyncio.TimeoutError:
                        pass
                else:
                    await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
        finally:
            self._release(child_id)

    async def _cancel_locked(self, child_id: str) -> str:
        c = self.core.book.children.get(child_id)
        if c is None or c.state == DONE or not c.cancel_requested:
            return "done"
        if c.state == PENDING and child_id not in self._maybe_sent:
            self._cmd(ChildDone(self.clock(), child_id, "cancelled", 0, 0, Reason.CLIENT_REQUEST.value,
                                "cancelled before it was sent"))
            return "done"
        adapter = self.adapters.get(c.venue)
        if adapter is None:
            return "done"
        try:
            vo = await adapter.cancel(child_id, c.symbol)
        except VenueReject as exc:
            if exc.code is RejectCode.TOO_LATE:
                try:
                    vo = await adapter.order_status(child_id, c.symbol)
                except VenueError:
                    return "retry"
                self._apply_now(c, vo)
                return "done" if vo.status.is_terminal else "retry"
            if exc.code is RejectCode.ORDER_NOT_FOUND:
                self._not_found(c)
                return "done"
            log.warning("router: venue %s refused to cancel %s: %s", c.venue, child_id, exc)
            return "refused"
        except _UNSURE:
            return "retry"
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("router: cancel %s failed", child_id)
            return "retry"
        self._apply_now(c, vo)
        return "done" if vo.status.is_terminal else "retry"

    def _not_found(self, c: Child) -> None:
        """The venue says it does not hold the child."""
        self._maybe_sent.discard(c.child_id)
        if c.state == LIVE:
            self._cmd(ChildDone(self.clock(), c.child_id, "cancelled", c.venue_filled, c.venue_notional,
                                Reason.VENUE_REJECT.value, "the venue no longer knows the order"))
        else:
            self._cmd(ChildReject(self.clock(), c.child_id, Reason.VENUE_UNAVAILABLE.value,
                                  "not at the venue after a lost answer", not c.cancel_requested))

    # ------------------------------------------------------------------ venue snapshots and events

    def _figures(self, c: Child, vo: VenueOrder) -> tuple[int, int]:
        inst = self.instruments[c.symbol]
        filled = lots_floor(inst, vo.filled_quantity)
        return filled, notional_of(inst, vo.avg_fill_price, filled, c.price)

    def _apply_now(self, c: Child, vo: VenueOrder) -> None:
        """Journal what a venue snapshot says about a child (so the child is known to be
        at the venue before any other task looks at it)."""
        if c.state == DONE:
            return
        st = vo.status
        try:
            filled, notional = self._figures(c, vo)
        except (ArithmeticError, TypeError, ValueError) as exc:   # a snapshot we cannot read
            log.error("router: unreadable snapshot of %s from %s: %r (%s)", c.child_id, c.venue, vo, exc)
            self._maybe_sent.add(c.child_id)
            if c.state != LIVE:
                self._cmd(ChildUnknown(self.clock(), c.child_id, f"unreadable venue answer: {exc}"[:200]))
            return
        vid = vo.venue_order_id or ""
        if not st.is_terminal:
            if c.state == LIVE and filled <= c.venue_filled and (not vid or vid == c.venue_order_id):
                return
            self._cmd(ChildAck(self.clock(), c.child_id, vid, filled, notional, st.value))
            return
        if st is OrderStatus.REJECTED and not filled:
            self._cmd(ChildReject(self.clock(), c.child_id, reason_of(vo.reject_code),
                                  f"{c.venue}: {vo.reason or 'rejected'}"[:200], not c.cancel_requested))
            return
        if filled > c.fill_sum and self.settings.fill_grace_s > 0:
            # the venue's fills are probably still on their way: wait a moment for them,
            # so the client sees each fill at its own price rather than one averaged top-up.
            # (The child is in _maybe_sent meanwhile, so a cancel asks the venue, never assumes.)
            self._maybe_sent.add(c.child_id)
            self._spawn(self._done_after_grace(c.child_id, vo))
            return
        self._cmd(self._done_cmd(c, vo, filled, notional))

    def _done_cmd(self, c: Child, vo: VenueOrder, filled: int, notional: int) -> ChildDone:
        st = vo.status
        if st is OrderStatus.FILLED:
            reason = ""
        elif vo.reject_code is not None:
            reason = reason_of(vo.reject_code)
        elif c.cancel_requested:
            reason = Reason.CLIENT_REQUEST.value
        elif c.ord_type == _MARKET or c.tif in (_IOC, _FOK) or st is OrderStatus.EXPIRED:
            reason = Reason.IOC_REMAINDER.value
        else:
            reason = Reason.VENUE_REJECT.value
        status = "cancelled" if st is OrderStatus.REPLACED else st.value
        return ChildDone(self.clock(), c.child_id, status, filled, notional, reason,
                         f"{c.venue}: {vo.reason or st.value}"[:200], vo.venue_order_id or "")

    async def _done_after_grace(self, child_id: str, vo: VenueOrder) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.fill_grace_s
        c = self.core.book.children.get(child_id)
        if c is None:
            return
        filled, notional = self._figures(c, vo)
        while c.state != DONE and c.fill_sum < filled and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if c.state != DONE:
            self._cmd(self._done_cmd(c, vo, filled, notional))

    def _find(self, venue: str, client_order_id: str | None, venue_order_id: str | None) -> Child | None:
        book = self.core.book
        c = book.children.get(client_order_id) if client_order_id else None
        if c is None and venue_order_id:
            c = book.by_venue_id.get((venue, venue_order_id))
        if c is not None and c.venue != venue:
            return None
        return c

    def _on_event(self, venue: str, ev: Any) -> None:
        try:
            if isinstance(ev, VenueFill):
                self._on_fill(venue, ev)
            elif isinstance(ev, VenueOrderUpdate):
                # applied at once even while a call for the child is in flight: every router
                # command is idempotent and figures only ever move forward
                c = self._find(venue, ev.order.client_order_id, ev.order.venue_order_id)
                if c is not None and c.state != DONE:
                    self._apply_now(c, ev.order)
            elif isinstance(ev, ConnectionStateChanged):
                if ev.state is ConnectionState.CONNECTED:
                    self._mark(venue, True, ev.detail or "connected")
                elif ev.state in (ConnectionState.RECONNECTING, ConnectionState.DISCONNECTED):
                    self._mark(venue, False, ev.detail or ev.state.value)
        except Exception:
            self.errors += 1
            log.exception("router: venue event %r from %s could not be handled", ev, venue)

    def _on_fill(self, venue: str, f: VenueFill) -> None:
        c = self._find(venue, f.client_order_id, f.venue_order_id)
        if c is None or f.fill_id in c.fill_ids:
            return
        if (f.side is Side.BUY) != (c.side == 1):
            log.error("router: fill %s of %s has the wrong side; ignored", f.fill_id, c.child_id)
            return
        inst = self.instruments[c.symbol]
        qty = lots_floor(inst, f.quantity)
        if qty <= 0:
            log.warning("router: fill %s of %s below one lot (%s); ignored", f.fill_id, c.child_id, f.quantity)
            return
        liq = "M" if f.is_maker else "T" if f.is_maker is not None else ""
        fee = f"{f.fee} {f.fee_currency}" if f.fee else ""
        self._cmd(ChildFill(self.clock(), c.child_id, str(f.fill_id), qty, ticks_round(inst, f.price), liq, fee))

    # ------------------------------------------------------------------ reconciliation

    def _reconcile_soon(self, venue: str, delay: float = 0.0) -> None:
        if not self.running or venue not in self.adapters:
            return
        if venue in self._reconciling:
            self._reconcile_again.add(venue)
            return
        self._reconciling[venue] = self._spawn(self._reconcile(venue, delay))

    async def _reconcile(self, venue: str, delay: float) -> None:
        backoff = max(delay, self.settings.retry_initial_s)
        try:
            if delay:
                await asyncio.sleep(delay)
            while self.running:
                self._reconcile_again.discard(venue)
                complete = await self.reconcile_venue(venue)
                if complete and venue not in self._reconcile_again:
                    return
                if not complete:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.settings.retry_max_s)
        finally:
            self._reconciling.pop(venue, None)

    async def reconcile_venue(self, venue: str) -> bool:
        """Ask the venue about every unfinished child there; True if every answer came."""
        adapter = self.adapters[venue]
        complete = True
        resend: list[str] = []
        cancel: list[str] = []
        for c in list(self.core.book.open_children(venue)):
            cid = c.child_id
            if c.state == PENDING and cid not in self._maybe_sent:
                continue   # its submit task has not run yet
            try:
                async with self._lock(cid):
                    outcome = await self._reconcile_child(adapter, c)
            finally:
                self._release(cid)
            if outcome == "incomplete":
                complete = False
                break
            if outcome == "resend":
                resend.append(cid)
            elif outcome == "cancel":
                cancel.append(cid)
        for cid in resend:
            self._spawn(self._submit_child(cid, resend=True))
        for cid in cancel:
            self._spawn(self._cancel_child(cid))
        return complete

    async def _reconcile_child(self, adapter: VenueAdapter, c: Child) -> str:
        if c.state == DONE:
            return ""
        try:
            vo = await adapter.order_status(c.child_id, c.symbol)
        except VenueReject as exc:
            if exc.code is RejectCode.ORDER_NOT_FOUND:
                if c.state in (PENDING, UNKNOWN) and not c.cancel_requested:
                    return "resend"    # same client order id: the venue refuses a duplicate
                self._not_found(c)
            else:
                log.warning("router: status of %s at %s: %s", c.child_id, c.venue, exc)
            return ""
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("router: reconciling %s with %s incomplete: %s", c.child_id, c.venue, exc)
            return "incomplete"
        self._apply_now(c, vo)
        if c.cancel_requested and not vo.status.is_terminal:
            return "cancel"
        return ""

    # ------------------------------------------------------------------ facade (venue.services["router"])

    def halt(self, reason: str = "", who: str = "") -> None:
        """Stop routing new orders (journaled): they are rejected with VENUE_UNAVAILABLE."""
        self._cmd(self.core.control_command("halt", self.clock(), reason, who))

    def resume(self, reason: str = "", who: str = "") -> None:
        self._cmd(self.core.control_command("resume", self.clock(), reason, who))

    @property
    def halted(self) -> bool:
        return self.core.halted

    def status(self) -> dict:
        s = self.core.status()
        s["venues"] = {name: {"connection": a.connection_state.value, "up": self.core.venue_up.get(name),
                              "type": self.settings.venues[name].type}
                       for name, a in self.adapters.items()}
        s["commands"] = self.commands
        s["errors"] = self.errors
        return s

    def children_of(self, order_id: int) -> list[dict]:
        return self.core.children_of(order_id)

    def audit_of(self, order_id: int) -> list[dict]:
        return self.core.audit_of(order_id)

    def parent_of(self, child_id: str) -> int | None:
        return self.core.parent_of(child_id)

    async def settled(self, timeout: float = 5.0) -> bool:
        """Wait until no routing task is running (tests, benchmarks, orderly shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            busy = [t for t in self._tasks if not t.done() and t not in self._background]
            if not busy and not self.core.outbox and not self._drain_scheduled:
                return True
            await asyncio.sleep(0.01)
        return False
