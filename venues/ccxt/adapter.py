"""The CCXT adapter: `VenueAdapter` on ccxt.async_support, for any exchange id.

Proven against Binance spot (through the simulator). Orders are addressed by
our client order id using ccxt's unified ``clientOrderId`` parameter, which
ccxt's binance class sends as ``newClientOrderId`` on create and
``origClientOrderId`` on fetch / cancel.

* Rate limiting: ccxt's own throttle is on (``enableRateLimit=True``). A 429 from
  the venue raises `VenueRateLimited` and the adapter refuses further calls
  locally until Retry-After has passed, so we never hammer a venue into a ban.
* A create whose answer is lost (timeout, dropped connection, 5xx) is never
  re-sent blindly: the adapter fetches the order by client order id and
  re-submits only when the venue answers that it does not have it.
* Events are polled (ccxt has no user stream in async_support): every
  `poll_interval` the adapter fetches each working order it placed, and the
  trades of any order whose filled quantity grew; fills are published before
  the order update that reflects them, each exactly once.
* `replace` is cancel-then-submit (ccxt has no uniform atomic amend); the new
  order carries the new client order id and the quantity still to do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace as dc_replace
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from venues.adapter import (
    BookLevel,
    ConnectionState,
    ConnectionStateChanged,
    EventFanout,
    EventStream,
    OrderStatus,
    RejectCode,
    TimeInForce,
    VenueAdapter,
    VenueBalance,
    VenueBook,
    VenueDisconnected,
    VenueError,
    VenueEvent,
    VenueFill,
    VenueFillPage,
    VenueOrder,
    VenueOrderRequest,
    VenueOrderUpdate,
    VenuePosition,
    VenueQuote,
    VenueRateLimited,
    VenueReject,
    VenueTimeout,
)
from venues.ccxt.config import CcxtConfig
from venues.ccxt.errors import map_error
from venues.ccxt.translate import (
    check_client_id,
    dec,
    ms_time,
    order_args,
    rebase_urls,
    to_venue_fill,
    to_venue_order,
)

log = logging.getLogger(__name__)
_UNKNOWN_OUTCOME = (VenueTimeout, VenueDisconnected)


@dataclass
class _Track:
    client_order_id: str
    symbol: str  # ccxt unified symbol
    request: VenueOrderRequest | None
    snapshot: VenueOrder | None = None
    fresh: VenueOrder | None = None  # a snapshot from an order call, not yet seen by the poller
    emitted: tuple[OrderStatus, Decimal] | None = None
    fill_ids: set[str] = field(default_factory=set)
    replacing: bool = False  # the poller keeps quiet while a replace is in flight


class CcxtAdapter(VenueAdapter):
    def __init__(self, config: CcxtConfig) -> None:
        if not hasattr(ccxt_async, config.exchange_id):
            raise ValueError(f"ccxt has no exchange {config.exchange_id!r}")
        self.config = config
        self.name = config.name
        self.exchange: Any = None
        self._state = ConnectionState.DISCONNECTED
        self._fanout = EventFanout()
        self._tracks: dict[str, _Track] = {}
        self._by_venue_id: dict[str, str] = {}
        self._blocked_until = 0.0
        self._poller: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._aliases = dict(config.symbol_aliases)
        self._unaliases = {v: k for k, v in self._aliases.items()}
        self.create_calls = 0  # order creates actually sent (tests prove no blind retries with it)

    # ================================================================== plumbing
    def _unified(self, symbol: str) -> str:
        return self._aliases.get(symbol, symbol)

    def _ours(self, unified: str) -> str:
        return self._unaliases.get(unified, unified)

    def _new_exchange(self) -> Any:
        klass = getattr(ccxt_async, self.config.exchange_id)
        exchange = klass({
            "apiKey": self.config.api_key,
            "secret": self.config.secret,
            "password": self.config.password,
            "enableRateLimit": True,
            "timeout": int(self.config.timeout * 1000),
            "options": dict(self.config.options),
        })
        if self.config.close_grace_ms is not None:
            exchange.timeout_on_exit = self.config.close_grace_ms
        if self.config.base_url:
            exchange.urls["api"] = rebase_urls(exchange.urls["api"], self.config.base_url)
        for key, url in self.config.api_urls.items():
            exchange.urls["api"][key] = url
        return exchange

    def _retry_after(self) -> float | None:
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        for key, value in headers.items():
            if key.lower() == "retry-after":
                try:
                    return max(0.0, float(value))
                except ValueError:
                    return None
        return None

    async def _call(self, method: str, *args: Any, client_order_id: str | None = None, **kwargs: Any) -> Any:
        if self.exchange is None:
            raise VenueDisconnected("adapter is not connected", venue=self.name, client_order_id=client_order_id)
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            raise VenueRateLimited(f"rate limited for another {wait:.2f}s", retry_after=wait, venue=self.name,
                                   client_order_id=client_order_id)
        try:
            return await getattr(self.exchange, method)(*args, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = map_error(exc, venue=self.name, client_order_id=client_order_id, retry_after=self._retry_after())
            if isinstance(error, VenueRateLimited):
                error.retry_after = error.retry_after if error.retry_after is not None else self.config.rate_limit_cooldown
                self._blocked_until = time.monotonic() + error.retry_after
            raise error from None

    def _set_state(self, state: ConnectionState, detail: str | None = None) -> None:
        if state is not self._state:
            self._state = state
            self._fanout.publish(ConnectionStateChanged(self.name, state, detail))

    def _market(self, unified: str, client_order_id: str | None = None) -> dict[str, Any]:
        try:
            return self.exchange.market(unified)
        except Exception:
            raise VenueReject(RejectCode.UNKNOWN_SYMBOL, f"{unified} is not a market on {self.name}",
                              venue=self.name, client_order_id=client_order_id) from None

    def _track_of(self, client_order_id: str, symbol: str | None) -> _Track:
        track = self._tracks.get(client_order_id)
        if track is not None:
            return track
        if symbol is None:
            raise VenueReject(RejectCode.INVALID_ORDER, f"{self.name} needs the symbol of {client_order_id}",
                              venue=self.name, client_order_id=client_order_id)
        track = _Track(client_order_id, self._unified(symbol), None)
        self._tracks[client_order_id] = track
        return track

    def _snapshot(self, track: _Track, order: dict[str, Any], wake: bool = True) -> VenueOrder:
        otype = track.request.order_type if track.request else None
        snap = to_venue_order(order, venue=self.name, symbol=self._ours(track.symbol),
                              client_order_id=track.client_order_id, order_type=otype)
        if snap.quantity == 0 and track.request is not None:
            snap = dc_replace(snap, quantity=track.request.quantity)
        if snap.venue_order_id:
            self._by_venue_id[snap.venue_order_id] = track.client_order_id
        if track.snapshot is None or track.snapshot.status is not OrderStatus.REPLACED:
            track.snapshot = snap
        track.fresh = snap
        if wake:  # let the poller publish what our own call just learned
            self._wake.set()
        return snap

    # ================================================================== lifecycle
    @property
    def connection_state(self) -> ConnectionState:
        return self._state

    async def connect(self) -> None:
        if self._state in (ConnectionState.CONNECTED, ConnectionState.CONNECTING, ConnectionState.RECONNECTING):
            return
        self._set_state(ConnectionState.CONNECTING)
        self.exchange = self._new_exchange()
        try:
            await self._call("load_markets")
        except VenueError:
            await self.exchange.close()
            self.exchange = None
            self._set_state(ConnectionState.DISCONNECTED)
            raise
        self._set_state(ConnectionState.CONNECTED)
        self._closing = False
        self._poller = asyncio.get_running_loop().create_task(self._poll_loop(), name=f"{self.name}-poll")

    async def close(self) -> None:
        if self._poller is not None:
            self._closing = True
            self._wake.set()
            done, _ = await asyncio.wait({self._poller}, timeout=self.config.timeout + 1.0)
            if not done:
                self._poller.cancel()
                await asyncio.wait({self._poller}, timeout=1.0)
            self._poller = None
        if self.exchange is not None:
            await self.exchange.close()
            self.exchange = None
        self._set_state(ConnectionState.CLOSED)

    # ================================================================== orders
    def _require_connected(self, client_order_id: str | None) -> None:
        """Refuse before sending anything, so 'not connected' is never mistaken for a lost answer."""
        if self.exchange is None:
            raise VenueDisconnected("adapter is not connected", venue=self.name, client_order_id=client_order_id)

    async def submit(self, request: VenueOrderRequest) -> VenueOrder:
        cid = request.client_order_id
        self._require_connected(cid)
        check_client_id(cid, self.config.client_id_pattern, self.name)
        unified = self._unified(request.symbol)
        self._market(unified, cid)
        otype, price, params = order_args(request, self.config.client_id_param, self.name)
        amount = self._exact_amount(unified, request.quantity, cid)
        limit = self._exact_price(unified, price, cid, RejectCode.INVALID_PRICE) if price is not None else None
        for key in ("triggerPrice", "takeProfitPrice"):
            if key in params:
                params[key] = self._exact_price(unified, params[key], cid, RejectCode.INVALID_STOP)
        track = self._tracks.get(cid)
        if track is not None and track.snapshot is not None:
            raise VenueReject(RejectCode.DUPLICATE_ORDER, f"client order id {cid} was already used", venue=self.name,
                              client_order_id=cid)
        track = _Track(cid, unified, request)
        self._tracks[cid] = track
        args = (unified, otype, request.side.value, amount, limit, params)
        try:
            order = await self._create(args, cid)
        except _UNKNOWN_OUTCOME as exc:
            log.warning("submit %s: outcome unknown (%s); reconciling by client order id", cid, exc)
            order = await self._reconcile_submit(track, args, exc)
        except VenueError:
            del self._tracks[cid]
            raise
        return self._snapshot(track, order)

    async def _create(self, args: tuple, cid: str) -> dict[str, Any]:
        self.create_calls += 1
        unified, otype, side, amount, limit, params = args
        return await self._call("create_order", unified, otype, side, amount, limit, dict(params),
                                client_order_id=cid)

    async def _reconcile_submit(self, track: _Track, args: tuple, cause: VenueError) -> dict[str, Any]:
        cid = track.client_order_id
        last: VenueError = cause
        for attempt in range(self.config.reconcile_attempts):
            await asyncio.sleep(self.config.reconcile_delay * (2 ** attempt))
            try:
                return await self._fetch(track)
            except VenueReject as exc:
                if exc.code is not RejectCode.ORDER_NOT_FOUND:
                    raise
            except _UNKNOWN_OUTCOME as exc:
                last = exc
                continue
            except VenueRateLimited as exc:  # the order's fate is still unknown: wait, never give up silently
                last = exc
                await asyncio.sleep(min(exc.retry_after or self.config.rate_limit_cooldown, 5.0))
                continue
            # the venue confirms it does not have the order: now it may be sent again
            try:
                return await self._create(args, cid)
            except VenueReject as exc:
                if exc.code is not RejectCode.DUPLICATE_ORDER:
                    raise
            except (VenueTimeout, VenueDisconnected, VenueRateLimited) as exc:
                last = exc
        raise VenueTimeout(f"submit {cid}: outcome still unknown after {self.config.reconcile_attempts} lookups "
                           f"({last})", venue=self.name, client_order_id=cid)

    def _exact_amount(self, unified: str, quantity: Decimal, cid: str) -> float:
        try:
            text = self.exchange.amount_to_precision(unified, float(quantity))
        except Exception as exc:
            raise VenueReject(RejectCode.INVALID_QUANTITY, f"quantity {quantity}: {exc}", venue=self.name,
                              client_order_id=cid) from None
        if Decimal(text) != quantity:
            raise VenueReject(RejectCode.INVALID_QUANTITY, f"quantity {quantity} is not a multiple of the lot size "
                              f"(nearest {text})", venue=self.name, client_order_id=cid)
        return float(quantity)

    def _exact_price(self, unified: str, price: Decimal, cid: str, code: RejectCode) -> float:
        try:
            text = self.exchange.price_to_precision(unified, float(price))
        except Exception as exc:
            raise VenueReject(code, f"price {price}: {exc}", venue=self.name, client_order_id=cid) from None
        if price <= 0 or Decimal(text) != price:
            raise VenueReject(code, f"price {price} is not on the tick grid (nearest {text})", venue=self.name,
                              client_order_id=cid)
        return float(price)

    async def _fetch(self, track: _Track) -> dict[str, Any]:
        return await self._call("fetch_order", None, track.symbol, {self.config.client_id_param: track.client_order_id},
                                client_order_id=track.client_order_id)

    async def cancel(self, client_order_id: str, symbol: str | None = None) -> VenueOrder:
        self._require_connected(client_order_id)
        track = self._track_of(client_order_id, symbol)
        params = {self.config.client_id_param: client_order_id}
        for _ in range(self.config.reconcile_attempts):
            try:
                order = await self._call("cancel_order", None, track.symbol, dict(params),
                                         client_order_id=client_order_id)
                snap = self._snapshot(track, order)
                if snap.status is not OrderStatus.CANCELLED:  # some exchanges answer before the state flips
                    snap = dc_replace(snap, status=OrderStatus.CANCELLED)
                    track.snapshot = track.fresh = snap
                return snap
            except _UNKNOWN_OUTCOME:
                await asyncio.sleep(self.config.reconcile_delay)
                try:
                    current = self._snapshot(track, await self._fetch(track))
                except _UNKNOWN_OUTCOME:
                    continue
                if current.status.is_terminal:
                    return self._settled_cancel(current)
            except VenueReject as exc:
                if exc.code is not RejectCode.ORDER_NOT_FOUND:
                    raise
                current = self._snapshot(track, await self._fetch(track))  # ORDER_NOT_FOUND if truly unknown
                return self._settled_cancel(current)
        raise VenueTimeout(f"cancel {client_order_id}: no answer after {self.config.reconcile_attempts} tries",
                           venue=self.name, client_order_id=client_order_id)

    def _settled_cancel(self, current: VenueOrder) -> VenueOrder:
        if current.status is OrderStatus.CANCELLED:
            return current
        raise VenueReject(RejectCode.TOO_LATE, f"order is already {current.status.value}", venue=self.name,
                          client_order_id=current.client_order_id)

    async def replace(self, client_order_id: str, *, new_client_order_id: str, quantity: Decimal | None = None,
                      price: Decimal | None = None, stop_price: Decimal | None = None,
                      symbol: str | None = None) -> VenueOrder:
        check_client_id(new_client_order_id, self.config.client_id_pattern, self.name)
        track = self._track_of(client_order_id, symbol)
        current = await self.order_status(client_order_id, symbol)
        if current.status.is_terminal:
            raise VenueReject(RejectCode.TOO_LATE, f"order is {current.status.value}", venue=self.name,
                              client_order_id=client_order_id)
        total = quantity if quantity is not None else current.quantity
        if total <= current.filled_quantity:
            raise VenueReject(RejectCode.INVALID_QUANTITY, f"new quantity {total} is not above the filled "
                              f"{current.filled_quantity}", venue=self.name, client_order_id=client_order_id)
        base = track.request or VenueOrderRequest(
            client_order_id, current.symbol, current.side, current.order_type, current.quantity,
            price=current.price, stop_price=current.stop_price,
            time_in_force=current.time_in_force or TimeInForce.GTC)
        track.replacing = True
        try:
            cancelled = await self.cancel(client_order_id, symbol)  # TOO_LATE if it filled meanwhile
            leaves = total - cancelled.filled_quantity
            if leaves <= 0:
                raise VenueReject(RejectCode.TOO_LATE, "the order filled while being replaced", venue=self.name,
                                  client_order_id=client_order_id)
            new_request = dc_replace(
                base,
                client_order_id=new_client_order_id,
                quantity=leaves,
                price=price if price is not None else base.price,
                stop_price=stop_price if stop_price is not None else base.stop_price,
            )
            new_order = await self.submit(new_request)
            replaced = dc_replace(cancelled, status=OrderStatus.REPLACED, replaced_by=new_order.venue_order_id)
            track.snapshot = track.fresh = replaced
        finally:
            track.replacing = False
            self._wake.set()
        return new_order

    async def order_status(self, client_order_id: str, symbol: str | None = None) -> VenueOrder:
        track = self._track_of(client_order_id, symbol)
        snap = self._snapshot(track, await self._fetch(track))
        if track.snapshot is not None and track.snapshot.status is OrderStatus.REPLACED:
            return dc_replace(snap, status=OrderStatus.REPLACED, replaced_by=track.snapshot.replaced_by)
        return snap

    def _watched_symbols(self, symbol: str | None) -> list[str]:
        if symbol is not None:
            return [self._unified(symbol)]
        names = {self._unified(s) for s in self.config.symbols} | {t.symbol for t in self._tracks.values()}
        return sorted(names)

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        out = []
        for unified in self._watched_symbols(symbol):
            for order in await self._call("fetch_open_orders", unified):
                cid = order.get("clientOrderId") or self._by_venue_id.get(str(order.get("id")))
                track = self._tracks.get(cid) if cid else None
                if track is not None:
                    out.append(self._snapshot(track, order))
                else:
                    out.append(to_venue_order(order, venue=self.name, symbol=self._ours(unified), client_order_id=cid))
        return out

    async def fills(self, since: str | None = None, symbol: str | None = None) -> VenueFillPage:
        """Own trades after the cursor. The cursor is JSON {symbol: [last ms, [trade ids at that ms]]};
        with no cursor the venue's default recent window is returned."""
        cursor: dict[str, list[Any]] = json.loads(since) if since else {}
        out: list[VenueFill] = []
        for unified in self._watched_symbols(symbol):
            last_ms, seen = cursor.get(unified, [None, []])
            seen_ids = set(seen)
            for _ in range(100):  # pages; bounded
                trades = await self._call("fetch_my_trades", unified, last_ms, 1000)
                new = [t for t in trades if str(t.get("id")) not in seen_ids
                       and (last_ms is None or (t.get("timestamp") or 0) >= last_ms)]
                for t in sorted(new, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
                    ts = t.get("timestamp") or 0
                    if last_ms is None or ts > last_ms:
                        last_ms, seen_ids = ts, set()
                    seen_ids.add(str(t.get("id")))
                    cid = self._by_venue_id.get(str(t.get("order")))
                    out.append(to_venue_fill(t, venue=self.name, symbol=self._ours(unified), client_order_id=cid))
                if len(trades) < 1000 or not new:
                    break
            if last_ms is not None:
                cursor[unified] = [last_ms, sorted(seen_ids)]
        out.sort(key=lambda f: (f.timestamp or ms_time(0), f.fill_id))
        return VenueFillPage(tuple(out), json.dumps(cursor, sort_keys=True))

    # ================================================================== account
    async def balances(self) -> list[VenueBalance]:
        bal = await self._call("fetch_balance")
        out = []
        for currency, total in (bal.get("total") or {}).items():
            total_d = dec(total) or Decimal(0)
            free = dec((bal.get("free") or {}).get(currency)) or Decimal(0)
            used = dec((bal.get("used") or {}).get(currency)) or Decimal(0)
            if total_d or free or used:
                out.append(VenueBalance(currency, total_d, free, used))
        return sorted(out, key=lambda b: b.currency)

    async def positions(self) -> list[VenuePosition]:
        """Spot accounts hold balances, not positions: [] unless the exchange has derivatives positions."""
        if (self.exchange is None or not self.exchange.has.get("fetchPositions")
                or self.exchange.options.get("defaultType", "spot") == "spot"):
            return []
        out = []
        for p in await self._call("fetch_positions"):
            size = dec(p.get("contracts")) or Decimal(0)
            if size == 0:
                continue
            signed = size if p.get("side") == "long" else -size
            out.append(VenuePosition(self._ours(p["symbol"]), signed, dec(p.get("entryPrice")),
                                     dec(p.get("unrealizedPnl")), dec(p.get("realizedPnl"))))
        return out

    # ================================================================== market data
    async def book(self, symbol: str, depth: int = 10) -> VenueBook:
        unified = self._unified(symbol)
        self._market(unified)
        ob = await self._call("fetch_order_book", unified, depth)
        return VenueBook(
            symbol=symbol,
            bids=tuple(BookLevel(Decimal(str(p)), Decimal(str(q))) for p, q, *_ in ob.get("bids", [])[:depth]),
            asks=tuple(BookLevel(Decimal(str(p)), Decimal(str(q))) for p, q, *_ in ob.get("asks", [])[:depth]),
            timestamp=ms_time(ob.get("timestamp")),
        )

    async def quotes(self, symbols: list[str]) -> AsyncIterator[VenueQuote]:
        """Top of book by polling every `poll_interval` (only changes are yielded)."""
        last: dict[str, tuple] = {}
        while True:
            for symbol in symbols:
                quote = (await self.book(symbol, 1)).quote()
                key = (quote.bid, quote.ask, quote.bid_size, quote.ask_size)
                if last.get(symbol) != key:
                    last[symbol] = key
                    yield quote
            await asyncio.sleep(self.config.poll_interval)

    # ================================================================== events (polled)
    def events(self) -> EventStream:
        return self._fanout.stream()

    def subscribe(self, callback: Callable[[VenueEvent], Any]) -> Callable[[], None]:
        return self._fanout.subscribe(callback)

    async def _poll_loop(self) -> None:
        while not self._closing:
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                # asyncio.wait, not wait_for: wait_for (3.11) can swallow a cancel that races the wake-up
                await asyncio.wait({waiter}, timeout=self.config.poll_interval)
            finally:
                waiter.cancel()
            self._wake.clear()
            if self._closing:
                return
            try:
                await self.poll_once()
                self._set_state(ConnectionState.CONNECTED)
            except _UNKNOWN_OUTCOME as exc:
                self._set_state(ConnectionState.RECONNECTING, str(exc)[:200])
            except VenueRateLimited as exc:
                await asyncio.sleep(exc.retry_after or self.config.rate_limit_cooldown)
            except asyncio.CancelledError:
                raise
            except Exception:  # a poll must never kill the loop
                log.exception("%s: poll failed", self.name)

    async def poll_once(self) -> None:
        """One round: publish new fills and order changes of every working order we placed."""
        for track in list(self._tracks.values()):
            if track.snapshot is None or track.replacing or (
                    track.emitted is not None and track.emitted[0].is_terminal):
                continue
            snap, track.fresh = track.fresh, None
            if snap is None:  # nothing new from our own calls: ask the venue
                try:
                    snap = self._snapshot(track, await self._fetch(track), wake=False)
                except VenueReject as exc:
                    if exc.code is RejectCode.ORDER_NOT_FOUND:
                        continue
                    raise
                track.fresh = None
            if track.snapshot is not None and track.snapshot.status is OrderStatus.REPLACED:
                snap = track.snapshot
            emitted_filled = track.emitted[1] if track.emitted else Decimal(0)
            if snap.filled_quantity > emitted_filled and snap.venue_order_id:
                trades = await self._call("fetch_order_trades", snap.venue_order_id, track.symbol,
                                          client_order_id=track.client_order_id)
                for t in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
                    fid = str(t.get("id"))
                    if fid in track.fill_ids:
                        continue
                    track.fill_ids.add(fid)
                    self._fanout.publish(to_venue_fill(t, venue=self.name, symbol=self._ours(track.symbol),
                                                       client_order_id=track.client_order_id))
            key = (snap.status, snap.filled_quantity)
            if key != track.emitted:
                track.emitted = key
                self._fanout.publish(VenueOrderUpdate(snap))
