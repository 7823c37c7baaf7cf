"""The OANDA adapter: `VenueAdapter` on top of oandapyV20 (v20 REST, synchronous).

Every REST call runs on a small thread pool (oandapyV20 uses `requests`), each
thread with its own `oandapyV20.API` so no `requests.Session` is shared across
threads. Order updates and fills come from the v20 transaction stream
(`venues.oanda.feed`), gap-filled with transactions/sinceid after any
disconnect, so `events()` sees every transaction once, in order.

Safety rules for order entry:

* a submit whose answer is lost (timeout, dropped connection, 5xx) is never
  blindly re-sent: the adapter looks the order up by client order id
  (``GET orders/@<id>``) and only re-submits when OANDA says it does not exist;
* a cancel whose answer is lost is settled the same way (cancel is idempotent);
* after a 429 the adapter refuses calls locally until Retry-After has passed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace as dc_replace
from decimal import Decimal
from typing import Any

import oandapyV20.endpoints.accounts as v20_accounts
import oandapyV20.endpoints.orders as v20_orders
import oandapyV20.endpoints.positions as v20_positions
import oandapyV20.endpoints.pricing as v20_pricing
import oandapyV20.endpoints.trades as v20_trades
import oandapyV20.endpoints.transactions as v20_transactions
import requests
from oandapyV20 import API
from oandapyV20.exceptions import V20Error

from venues.adapter import (
    BookLevel,
    ConnectionState,
    ConnectionStateChanged,
    EventFanout,
    EventStream,
    OrderStatus,
    RejectCode,
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
from venues.oanda.config import OandaConfig
from venues.oanda.feed import StreamWorker, TransactionSequencer
from venues.oanda.instruments import InstrumentMap, to_decimal
from venues.oanda.translate import (
    TransactionTranslator,
    TradeFact,
    check_client_id,
    error_from_v20,
    order_body,
    order_from_state,
    order_from_transactions,
    parse_time,
    replace_body,
)

log = logging.getLogger(__name__)
_UNKNOWN_OUTCOME = (VenueTimeout, VenueDisconnected)


class OandaAdapter(VenueAdapter):
    def __init__(self, config: OandaConfig) -> None:
        self.config = config
        self.name = config.venue_name
        self.instruments = InstrumentMap(config.instrument_aliases)
        self._env = config.environment_name()
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._fanout = EventFanout()
        self._state = ConnectionState.DISCONNECTED
        self._loop: asyncio.AbstractEventLoop | None = None
        self._feed: StreamWorker | None = None
        self._sequencer: TransactionSequencer | None = None
        self._translator = TransactionTranslator(self.instruments, self.name)
        self._blocked_until = 0.0
        self._known: dict[str, VenueOrder] = {}  # client order id -> last snapshot we returned or saw
        self._trade_symbols: dict[str, str] = {}
        self._currency: str | None = None
        self._stream_live = asyncio.Event()

    # ================================================================== plumbing
    def _api(self, read_timeout: float | None = None) -> API:
        """This thread's oandapyV20 client (REST); streams get their own."""
        if read_timeout is not None:
            return self._new_api(read_timeout)
        api = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = self._new_api(self.config.request_timeout)
        return api

    def _new_api(self, read_timeout: float) -> API:
        api = API(access_token=self.config.token, environment=self._env,
                  request_params={"timeout": (self.config.connect_timeout, read_timeout)})
        local = self._local

        def remember(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            local.headers = dict(response.headers)

        api.client.hooks["response"].append(remember)
        return api

    def _request_sync(self, endpoint: Any, client_order_id: str | None) -> Any:
        """Runs on a pool thread: one v20 call, every failure turned into our error."""
        api = self._api()
        self._local.headers = {}
        try:
            return api.request(endpoint)
        except V20Error as exc:
            raise error_from_v20(int(exc.code), str(exc.msg), headers=getattr(self._local, "headers", {}),
                                 client_order_id=client_order_id,
                                 default_retry=self.config.rate_limit_cooldown) from None
        except requests.exceptions.ConnectTimeout as exc:
            raise VenueDisconnected(f"connect timeout: {exc}", venue=self.name, client_order_id=client_order_id) from None
        except requests.exceptions.Timeout as exc:
            raise VenueTimeout(f"no answer in {self.config.request_timeout}s: {exc}", venue=self.name,
                               client_order_id=client_order_id) from None
        except requests.exceptions.RequestException as exc:
            raise VenueDisconnected(f"{type(exc).__name__}: {exc}", venue=self.name,
                                    client_order_id=client_order_id) from None
        except ValueError as exc:
            # a 2xx with an unexpected status or an unreadable body: the request may well have been
            # processed, so this is an unknown outcome (submit reconciles), not a reject
            raise VenueDisconnected(f"unexpected answer: {exc}", venue=self.name,
                                    client_order_id=client_order_id) from None

    async def _call(self, endpoint: Any, client_order_id: str | None = None) -> Any:
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            raise VenueRateLimited(f"rate limited for another {wait:.2f}s", retry_after=wait, venue=self.name,
                                   client_order_id=client_order_id)
        if self._pool is None:
            raise VenueDisconnected("adapter is not connected", venue=self.name, client_order_id=client_order_id)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._request_sync, endpoint, client_order_id)
        except VenueRateLimited as exc:
            self._blocked_until = time.monotonic() + (exc.retry_after or self.config.rate_limit_cooldown)
            raise

    def _set_state(self, state: ConnectionState, detail: str | None = None) -> None:
        if state is self._state:
            return
        self._state = state
        if state is ConnectionState.CONNECTED:
            self._stream_live.set()
        else:
            self._stream_live.clear()
        self._fanout.publish(ConnectionStateChanged(self.name, state, detail))

    def _remember(self, order: VenueOrder) -> VenueOrder:
        if order.client_order_id:
            self._known[order.client_order_id] = order
            if len(self._known) > 50_000:
                for key in list(self._known)[:10_000]:
                    del self._known[key]
        return order

    # ================================================================== lifecycle
    @property
    def connection_state(self) -> ConnectionState:
        return self._state

    @property
    def gap_fills(self) -> int:
        """How many times the transaction feed filled a gap with sinceid (for monitoring and tests)."""
        return self._sequencer.gap_fills if self._sequencer else 0

    async def connect(self) -> None:
        if self._state in (ConnectionState.CONNECTED, ConnectionState.RECONNECTING, ConnectionState.CONNECTING):
            return
        self._loop = asyncio.get_running_loop()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.config.max_workers,
                                            thread_name_prefix=f"{self.name}-rest")
        self._set_state(ConnectionState.CONNECTING)
        try:
            summary = await self._call(v20_accounts.AccountSummary(self.config.account_id))
        except VenueError:
            self._set_state(ConnectionState.DISCONNECTED)
            raise
        self._currency = summary["account"].get("currency")
        self._translator.fee_currency = self._currency
        last = int(summary.get("lastTransactionID") or summary["account"].get("lastTransactionID") or 0)
        if self._sequencer is not None:  # connecting again: resume, so nothing in between is lost
            last = self._sequencer.last_id
        self._start_feed(last)
        try:
            await asyncio.wait_for(self._stream_live.wait(), timeout=self.config.connect_timeout)
        except asyncio.TimeoutError:
            self._set_state(ConnectionState.RECONNECTING, "transaction stream not live yet")

    def _start_feed(self, last_id: int) -> None:
        loop = self._loop
        assert loop is not None
        worker_ref: list[StreamWorker] = []

        def deliver(tx: dict[str, Any]) -> None:
            if worker_ref and not worker_ref[0].stopped:
                loop.call_soon_threadsafe(self._on_transaction, worker_ref[0], tx)

        sequencer = TransactionSequencer(self.config.account_id, last_id, deliver)

        def on_state(state: ConnectionState, detail: str | None) -> None:
            if worker_ref and not worker_ref[0].stopped:
                loop.call_soon_threadsafe(self._on_feed_state, worker_ref[0], state, detail)

        worker = StreamWorker(
            name=f"{self.name}-transactions",
            make_api=lambda: self._api(self.config.stream_read_timeout),
            make_endpoint=lambda: v20_transactions.TransactionsStream(self.config.account_id),
            on_message=lambda msg: sequencer.on_message(self._api(), msg),
            on_state=on_state,
            on_open=lambda _api: sequencer.fill(self._api()),
            backoff=(self.config.reconnect_initial, self.config.reconnect_max),
        )
        worker_ref.append(worker)
        self._feed, self._sequencer = worker, sequencer
        worker.start()

    def _on_feed_state(self, worker: StreamWorker, state: ConnectionState, detail: str | None) -> None:
        if worker is self._feed and not worker.stopped:
            self._set_state(state, detail)

    def _on_transaction(self, worker: StreamWorker, tx: dict[str, Any]) -> None:
        if worker is not self._feed or worker.stopped:
            return
        try:
            events = self._translator.apply(tx)
        except Exception:  # one odd transaction must not stop the feed
            log.exception("%s: cannot translate transaction %s", self.name, tx.get("id"))
            return
        for event in events:
            if isinstance(event, VenueOrderUpdate):
                self._remember(event.order)
            if isinstance(event, VenueFill) and event.trade_id:
                self._trade_symbols[event.trade_id] = event.symbol
            self._fanout.publish(event)

    async def close(self) -> None:
        """Stop the streams and release the REST threads; connect() may be called again."""
        if self._feed is not None:
            self._feed.stop()
            self._feed = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._set_state(ConnectionState.CLOSED)

    async def reconnect(self) -> None:
        """Drop the stream and open a new one; the sequencer's position carries over."""
        last = self._sequencer.last_id if self._sequencer else None
        if self._feed is not None:
            self._feed.stop()
            self._feed = None
        if last is None or self._loop is None or self._pool is None:
            self._state = ConnectionState.DISCONNECTED
            await self.connect()
            return
        self._set_state(ConnectionState.RECONNECTING, "reconnect requested")
        self._start_feed(last)
        try:
            await asyncio.wait_for(self._stream_live.wait(), timeout=self.config.connect_timeout)
        except asyncio.TimeoutError:
            pass

    # ================================================================== orders
    def _require_connected(self, client_order_id: str | None) -> None:
        """Refuse before sending anything, so 'not connected' is never mistaken for a lost answer."""
        if self._pool is None:
            raise VenueDisconnected("adapter is not connected", venue=self.name, client_order_id=client_order_id)

    async def submit(self, request: VenueOrderRequest) -> VenueOrder:
        self._require_connected(request.client_order_id)
        body = order_body(request, self.instruments)
        endpoint = v20_orders.OrderCreate(self.config.account_id, data=body)
        try:
            answer = await self._call(endpoint, request.client_order_id)
        except _UNKNOWN_OUTCOME as exc:
            log.warning("submit %s: outcome unknown (%s); reconciling", request.client_order_id, exc)
            return await self._reconcile_submit(request, body, exc)
        return self._remember(await self._order_from_answer(answer, request.client_order_id))

    async def _reconcile_submit(self, request: VenueOrderRequest, body: dict[str, Any],
                                cause: VenueError) -> VenueOrder:
        cid = request.client_order_id
        last: VenueError = cause
        for attempt in range(self.config.reconcile_attempts):
            await asyncio.sleep(self.config.reconcile_delay * (2 ** attempt if attempt else 1))
            try:
                return await self.order_status(cid)
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
            # OANDA confirms it has no such order: now (and only now) send it again
            try:
                answer = await self._call(v20_orders.OrderCreate(self.config.account_id, data=body), cid)
                return self._remember(await self._order_from_answer(answer, cid))
            except VenueReject as exc:
                if exc.code is not RejectCode.DUPLICATE_ORDER:
                    raise
                # it arrived after all; the next lookup finds it
            except (VenueTimeout, VenueDisconnected, VenueRateLimited) as exc:
                last = exc
        raise VenueTimeout(f"submit {cid}: outcome still unknown after {self.config.reconcile_attempts} lookups "
                           f"({last})", venue=self.name, client_order_id=cid)

    async def _order_from_answer(self, answer: dict[str, Any], client_order_id: str) -> VenueOrder:
        create = answer.get("orderCreateTransaction")
        own_cancel = answer.get("replacingOrderCancelTransaction") if "replacesOrderID" in (create or {}) \
            else answer.get("orderCancelTransaction")
        trades = None
        if create and create.get("tradeID"):  # an exit order: its size and side come from the trade
            fact = await self._trade_fact(str(create["tradeID"]))
            trades = {str(create["tradeID"]): fact} if fact else None
        order = order_from_transactions([create, answer.get("orderFillTransaction"), own_cancel],
                                        self.instruments, self.name, trades)
        if order is None:
            raise VenueReject(RejectCode.VENUE_ERROR, "answer without orderCreateTransaction", venue=self.name,
                              client_order_id=client_order_id)
        if order.trade_id:
            self._trade_symbols[order.trade_id] = order.symbol
        order = dc_replace(order, raw=answer)
        if order.status is OrderStatus.REJECTED:
            raise VenueReject(order.reject_code or RejectCode.VENUE_ERROR,
                              f"OANDA cancelled the order at once: {order.reason}", venue=self.name,
                              venue_code=order.reason, client_order_id=client_order_id)
        return order

    async def cancel(self, client_order_id: str, symbol: str | None = None) -> VenueOrder:
        check_client_id(client_order_id)
        self._require_connected(client_order_id)
        endpoint_for = lambda: v20_orders.OrderCancel(self.config.account_id, f"@{client_order_id}")  # noqa: E731
        for attempt in range(self.config.reconcile_attempts):
            try:
                answer = await self._call(endpoint_for(), client_order_id)
            except _UNKNOWN_OUTCOME:
                await asyncio.sleep(self.config.reconcile_delay)
                try:
                    current = await self.order_status(client_order_id)
                except _UNKNOWN_OUTCOME:
                    continue
                if current.status.is_terminal:
                    return self._settled_cancel(current)
                continue  # still working: cancel again
            except VenueReject as exc:
                if exc.code is not RejectCode.ORDER_NOT_FOUND:
                    raise
                current = await self.order_status(client_order_id)  # raises ORDER_NOT_FOUND if truly unknown
                return self._settled_cancel(current)
            cancel_tx = answer.get("orderCancelTransaction") or {}
            known = self._known.get(client_order_id)
            if known is not None and not known.status.is_terminal:
                return self._remember(dc_replace(known, status=OrderStatus.CANCELLED, reason=cancel_tx.get("reason"),
                                                 updated_at=parse_time(cancel_tx.get("time")), raw=answer))
            return await self.order_status(client_order_id)
        raise VenueTimeout(f"cancel {client_order_id}: no answer after {self.config.reconcile_attempts} tries",
                           venue=self.name, client_order_id=client_order_id)

    def _settled_cancel(self, current: VenueOrder) -> VenueOrder:
        if current.status is OrderStatus.CANCELLED:
            return self._remember(current)
        raise VenueReject(RejectCode.TOO_LATE, f"order is already {current.status.value}", venue=self.name,
                          client_order_id=current.client_order_id)

    async def replace(self, client_order_id: str, *, new_client_order_id: str, quantity: Decimal | None = None,
                      price: Decimal | None = None, stop_price: Decimal | None = None,
                      symbol: str | None = None) -> VenueOrder:
        check_client_id(client_order_id)
        self._require_connected(client_order_id)
        current = (await self._call(v20_orders.OrderDetails(self.config.account_id, f"@{client_order_id}"),
                                    client_order_id))["order"]
        if current.get("state") != "PENDING":
            raise VenueReject(RejectCode.TOO_LATE, f"order is {current.get('state')}", venue=self.name,
                              client_order_id=client_order_id)
        body = replace_body(current, new_client_order_id, quantity=quantity, price=price, stop_price=stop_price)
        endpoint = v20_orders.OrderReplace(self.config.account_id, f"@{client_order_id}", data=body)
        try:
            answer = await self._call(endpoint, new_client_order_id)
        except _UNKNOWN_OUTCOME:
            await asyncio.sleep(self.config.reconcile_delay)
            try:
                return await self.order_status(new_client_order_id)
            except VenueReject as exc:
                if exc.code is not RejectCode.ORDER_NOT_FOUND:
                    raise
            old = await self.order_status(client_order_id)
            if old.status.is_terminal:
                raise VenueReject(RejectCode.TOO_LATE, f"order is {old.status.value}", venue=self.name,
                                  client_order_id=client_order_id) from None
            answer = await self._call(
                v20_orders.OrderReplace(self.config.account_id, f"@{client_order_id}", data=body), new_client_order_id)
        except VenueReject as exc:
            if exc.code is RejectCode.ORDER_NOT_FOUND:
                raise VenueReject(RejectCode.TOO_LATE, "order is no longer pending", venue=self.name,
                                  venue_code=exc.venue_code, client_order_id=client_order_id) from None
            raise
        previous = self._known.get(client_order_id)
        if previous is not None:
            self._remember(dc_replace(previous, status=OrderStatus.REPLACED,
                                      replaced_by=(answer.get("orderCreateTransaction") or {}).get("id")))
        return self._remember(await self._order_from_answer(answer, new_client_order_id))

    async def order_status(self, client_order_id: str, symbol: str | None = None) -> VenueOrder:
        check_client_id(client_order_id)
        answer = await self._call(v20_orders.OrderDetails(self.config.account_id, f"@{client_order_id}"),
                                  client_order_id)
        return self._remember(await self._order_from_state(answer["order"]))

    async def _order_from_state(self, order: dict[str, Any]) -> VenueOrder:
        fill_tx = cancel_tx = None
        if order.get("fillingTransactionID"):
            fill_tx = await self._transaction(order["fillingTransactionID"])
        if order.get("cancellingTransactionID"):
            cancel_tx = await self._transaction(order["cancellingTransactionID"])
        trade = None
        if order.get("tradeID"):
            trade = await self._trade_fact(str(order["tradeID"]))
        return order_from_state(order, self.instruments, venue=self.name, fill_tx=fill_tx, cancel_tx=cancel_tx,
                                trade=trade)

    async def _transaction(self, tid: str) -> dict[str, Any] | None:
        try:
            return (await self._call(v20_transactions.TransactionDetails(self.config.account_id, tid)))["transaction"]
        except VenueReject:
            return None

    async def _trade_fact(self, trade_id: str) -> TradeFact | None:
        fact = self._translator.trades.get(trade_id)
        if fact is not None:
            return fact
        try:
            trade = (await self._call(v20_trades.TradeDetails(self.config.account_id, trade_id)))["trade"]
        except VenueReject:
            symbol = self._trade_symbols.get(trade_id)
            return TradeFact(symbol, Decimal(0)) if symbol else None
        return TradeFact(self.instruments.from_oanda(trade["instrument"]),
                          to_decimal(trade.get("currentUnits")) or Decimal(0))

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        answer = await self._call(v20_orders.OrdersPending(self.config.account_id))
        out = []
        for order in answer.get("orders", []):
            snap = await self._order_from_state(order)
            if symbol is None or snap.symbol == symbol:
                out.append(self._remember(snap))
        return out

    async def fills(self, since: str | None = None, symbol: str | None = None) -> VenueFillPage:
        cursor = int(since) if since else 0
        translator = TransactionTranslator(self.instruments, self.name, self._currency)
        out: list[VenueFill] = []
        for _ in range(10_000):
            body = await self._call(v20_transactions.TransactionsSinceID(self.config.account_id,
                                                                         params={"id": str(cursor)}))
            txs = body.get("transactions", [])
            for tx in txs:
                tid = int(tx["id"])
                if tid <= cursor:
                    continue
                cursor = tid
                for event in translator.apply(tx):
                    if isinstance(event, VenueFill) and (symbol is None or event.symbol == symbol):
                        out.append(event)
            newest = int(body.get("lastTransactionID") or cursor)
            if not txs or cursor >= newest:
                cursor = max(cursor, newest)
                break
        return VenueFillPage(tuple(out), str(cursor))

    # ================================================================== account
    async def balances(self) -> list[VenueBalance]:
        account = (await self._call(v20_accounts.AccountSummary(self.config.account_id)))["account"]
        return [VenueBalance(
            currency=account["currency"],
            total=Decimal(account["balance"]),
            available=Decimal(account.get("marginAvailable", account["balance"])),
            locked=Decimal(account.get("marginUsed", "0")),
        )]

    async def positions(self) -> list[VenuePosition]:
        answer = await self._call(v20_positions.OpenPositions(self.config.account_id))
        out = []
        for pos in answer.get("positions", []):
            long, short = pos.get("long", {}), pos.get("short", {})
            lu, su = to_decimal(long.get("units")) or Decimal(0), to_decimal(short.get("units")) or Decimal(0)
            qty = lu + su
            if qty == 0:
                continue
            side = long if lu != 0 else short
            trade_ids = tuple(long.get("tradeIDs", [])) + tuple(short.get("tradeIDs", []))
            symbol = self.instruments.from_oanda(pos["instrument"])
            for tid in trade_ids:
                self._trade_symbols[tid] = symbol
            out.append(VenuePosition(
                symbol=symbol,
                quantity=qty,
                avg_price=to_decimal(side.get("averagePrice")),
                unrealized_pnl=to_decimal(pos.get("unrealizedPL")),
                realized_pnl=to_decimal(pos.get("pl")),
                trade_ids=trade_ids,
            ))
        return out

    # ================================================================== market data
    async def book(self, symbol: str, depth: int = 10) -> VenueBook:
        price = await self._price(symbol)
        return VenueBook(
            symbol=symbol,
            bids=tuple(BookLevel(Decimal(b["price"]), Decimal(str(b.get("liquidity", 0))))
                       for b in price.get("bids", [])[:depth]),
            asks=tuple(BookLevel(Decimal(a["price"]), Decimal(str(a.get("liquidity", 0))))
                       for a in price.get("asks", [])[:depth]),
            timestamp=parse_time(price.get("time")),
        )

    async def quote(self, symbol: str) -> VenueQuote:
        return self._quote(symbol, await self._price(symbol))

    async def _price(self, symbol: str) -> dict[str, Any]:
        name = self.instruments.to_oanda(symbol)
        answer = await self._call(v20_pricing.PricingInfo(self.config.account_id, params={"instruments": name}))
        prices = answer.get("prices") or []
        if not prices:
            raise VenueReject(RejectCode.UNKNOWN_SYMBOL, f"no price for {symbol}", venue=self.name)
        return prices[0]

    def _quote(self, symbol: str, price: dict[str, Any]) -> VenueQuote:
        bids, asks = price.get("bids") or [], price.get("asks") or []
        tradeable = price.get("tradeable")
        if tradeable is None:
            tradeable = price.get("status", "tradeable") == "tradeable"
        return VenueQuote(
            symbol=symbol,
            bid=Decimal(bids[0]["price"]) if bids else None,
            ask=Decimal(asks[0]["price"]) if asks else None,
            bid_size=Decimal(str(bids[0].get("liquidity", 0))) if bids else None,
            ask_size=Decimal(str(asks[0].get("liquidity", 0))) if asks else None,
            tradeable=bool(tradeable),
            timestamp=parse_time(price.get("time")),
        )

    async def quotes(self, symbols: list[str]) -> AsyncIterator[VenueQuote]:
        """Prices from the v20 pricing stream (reconnecting) until the consumer stops."""
        loop = asyncio.get_running_loop()
        names = {self.instruments.to_oanda(s): s for s in symbols}
        queue: asyncio.Queue = asyncio.Queue()

        def on_message(msg: dict[str, Any]) -> None:
            if msg.get("type") == "PRICE" and msg.get("instrument") in names:
                loop.call_soon_threadsafe(queue.put_nowait, msg)

        worker = StreamWorker(
            name=f"{self.name}-pricing",
            make_api=lambda: self._api(self.config.stream_read_timeout),
            make_endpoint=lambda: v20_pricing.PricingStream(self.config.account_id,
                                                            params={"instruments": ",".join(sorted(names))}),
            on_message=on_message,
            on_state=lambda state, detail: None,
            backoff=(self.config.reconnect_initial, self.config.reconnect_max),
        )
        worker.start()
        try:
            while True:
                msg = await queue.get()
                yield self._quote(names[msg["instrument"]], msg)
        finally:
            worker.stop()

    # ================================================================== events
    def events(self) -> EventStream:
        return self._fanout.stream()

    def subscribe(self, callback: Callable[[VenueEvent], Any]) -> Callable[[], None]:
        return self._fanout.subscribe(callback)
