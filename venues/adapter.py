"""The external-venue adapter interface and its venue-neutral values.

The smart order router talks to every external venue (OANDA, any CCXT exchange,
later FIX brokers) through `VenueAdapter` only, so nothing here may know a
venue's wire format. Quantities and prices are `Decimal` because this is an
edge of the system: venues speak decimal strings, and the router converts to
scaled integers itself when it hands results to the engine.

Everything a venue can say "no" with is a typed error:

* `VenueReject(code, reason)` - the venue (or the adapter, before sending)
  refused the request; `code` is one of OUR `RejectCode`s, `venue_code` keeps the
  venue's own code for logs.
* `VenueTimeout` - no answer in time AND the adapter could not settle the outcome.
  (A timed-out submit is first reconciled by client order id; this is only raised
  when reconciliation itself could not reach the venue.)
* `VenueDisconnected` - the request could not be delivered, or the connection
  dropped before an answer.
* `VenueRateLimited(retry_after)` - the venue throttled us; do not retry before
  `retry_after` seconds.

This module is self-contained on purpose (no engine imports): adapters and the
router share it, and it must stay importable without the rest of fixvenue.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Union

__all__ = [
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "ConnectionState",
    "RejectCode",
    "VenueOrderRequest",
    "VenueOrder",
    "VenueFill",
    "VenueFillPage",
    "VenueBalance",
    "VenuePosition",
    "BookLevel",
    "VenueQuote",
    "VenueBook",
    "VenueOrderUpdate",
    "ConnectionStateChanged",
    "VenueEvent",
    "VenueError",
    "VenueReject",
    "VenueTimeout",
    "VenueDisconnected",
    "VenueRateLimited",
    "VenueAdapter",
    "EventFanout",
    "EventStream",
]


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(str, Enum):
    """Order types the router may ask for; an adapter rejects what its venue lacks
    with `RejectCode.UNSUPPORTED_ORDER_TYPE` before anything is sent.

    Field use per type (see `VenueOrderRequest`):
    MARKET (price = optional worst acceptable price), LIMIT (price),
    STOP (stop_price = trigger), STOP_LIMIT (stop_price = trigger, price = limit),
    MARKET_IF_TOUCHED (stop_price = trigger), TRAILING_STOP (trailing_distance;
    on OANDA it protects an open trade, so trade_id is needed).
    """

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    MARKET_IF_TOUCHED = "market_if_touched"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(str, Enum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    GTD = "gtd"
    DAY = "day"


class OrderStatus(str, Enum):
    NEW = "new"  # accepted and working (includes untriggered stops)
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REPLACED = "replaced"  # cancelled by a replace; `replaced_by` names the successor
    EXPIRED = "expired"  # done by time in force (IOC remainder, GTD) - may carry fills
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        return self not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class ConnectionState(str, Enum):
    DISCONNECTED = "disconnected"  # never connected
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # lost the venue; retrying with back-off
    CLOSED = "closed"  # closed by us


class RejectCode(str, Enum):
    """OUR reject codes. Each adapter maps every venue reason onto one of these."""

    INSUFFICIENT_BALANCE = "insufficient_balance"  # funds or margin
    INVALID_PRICE = "invalid_price"
    INVALID_QUANTITY = "invalid_quantity"
    INVALID_STOP = "invalid_stop"  # trigger price / distance wrong
    INVALID_TIME_IN_FORCE = "invalid_time_in_force"
    INVALID_TAKE_PROFIT = "invalid_take_profit"
    INVALID_STOP_LOSS = "invalid_stop_loss"
    INVALID_ORDER = "invalid_order"  # any other malformed request
    UNSUPPORTED_ORDER_TYPE = "unsupported_order_type"
    UNKNOWN_SYMBOL = "unknown_symbol"
    MARKET_HALTED = "market_halted"  # instrument not tradeable now
    WOULD_TRIGGER_IMMEDIATELY = "would_trigger_immediately"
    INSUFFICIENT_LIQUIDITY = "insufficient_liquidity"
    LIMIT_EXCEEDED = "limit_exceeded"  # venue-side size / count / position limits
    DUPLICATE_ORDER = "duplicate_order"  # client order id already used
    ORDER_NOT_FOUND = "order_not_found"
    TOO_LATE = "too_late"  # order exists but is already done (filled/cancelled)
    ACCOUNT_LOCKED = "account_locked"  # account inactive / locked / not permitted
    AUTH_FAILED = "auth_failed"  # credentials, signature, permissions
    RATE_LIMITED = "rate_limited"
    VENUE_ERROR = "venue_error"  # the venue failed internally or said something we cannot place


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class VenueOrderRequest:
    """A new order for an external venue, keyed by OUR client order id.

    `client_order_id` is what makes retries safe: adapters send it to the venue
    (OANDA clientExtensions.id, Binance newClientOrderId) and reconcile an
    unanswered submit by looking it up.
    """

    client_order_id: str
    symbol: str  # our symbol, "EUR/USD", "BTC/USDT"
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_distance: Decimal | None = None  # price distance for TRAILING_STOP
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_time: datetime | None = None  # for GTD
    take_profit_price: Decimal | None = None  # attach a take-profit when filled
    stop_loss_price: Decimal | None = None  # attach a stop-loss when filled
    trailing_stop_loss_distance: Decimal | None = None  # attach a trailing stop when filled
    trade_id: str | None = None  # venue trade an exit order protects (OANDA trailing stop)


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """A venue's view of one order, as of `updated_at`."""

    venue: str
    venue_order_id: str | None
    client_order_id: str | None  # None for orders the venue created itself
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    status: OrderStatus
    filled_quantity: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reject_code: RejectCode | None = None  # why REJECTED / EXPIRED / venue-cancelled
    reason: str | None = None  # the venue's own words
    replaced_by: str | None = None  # venue order id of the successor (REPLACED)
    trade_id: str | None = None  # venue trade opened by the fill (OANDA)
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def leaves_quantity(self) -> Decimal:
        if self.status.is_terminal:
            return Decimal(0)
        return self.quantity - self.filled_quantity


@dataclass(frozen=True, slots=True)
class VenueFill:
    venue: str
    fill_id: str  # unique per venue (OANDA transaction id, exchange trade id)
    venue_order_id: str | None
    client_order_id: str | None
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal = Decimal(0)
    fee_currency: str | None = None
    is_maker: bool | None = None
    trade_id: str | None = None  # OANDA: the trade this fill opened
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class VenueFillPage:
    """Fills after a cursor, plus the cursor to pass next time (opaque string)."""

    fills: tuple[VenueFill, ...]
    cursor: str


@dataclass(frozen=True, slots=True)
class VenueBalance:
    currency: str
    total: Decimal
    available: Decimal
    locked: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenuePosition:
    symbol: str
    quantity: Decimal  # signed: > 0 long, < 0 short
    avg_price: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    realized_pnl: Decimal | None = None
    trade_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class VenueQuote:
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None
    tradeable: bool = True
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class VenueBook:
    symbol: str
    bids: tuple[BookLevel, ...]  # best first
    asks: tuple[BookLevel, ...]  # best first
    timestamp: datetime | None = None

    def quote(self) -> VenueQuote:
        bid = self.bids[0] if self.bids else None
        ask = self.asks[0] if self.asks else None
        return VenueQuote(
            self.symbol,
            bid.price if bid else None,
            ask.price if ask else None,
            bid.quantity if bid else None,
            ask.quantity if ask else None,
            timestamp=self.timestamp,
        )


@dataclass(frozen=True, slots=True)
class VenueOrderUpdate:
    """An order changed at the venue; `order` is the full snapshot after the change."""

    order: VenueOrder


@dataclass(frozen=True, slots=True)
class ConnectionStateChanged:
    venue: str
    state: ConnectionState
    detail: str | None = None


VenueEvent = Union[VenueOrderUpdate, VenueFill, ConnectionStateChanged]


# --------------------------------------------------------------------------- errors


class VenueError(Exception):
    """Base of every adapter error."""

    def __init__(self, message: str, *, venue: str | None = None, client_order_id: str | None = None):
        super().__init__(message)
        self.venue = venue
        self.client_order_id = client_order_id


class VenueReject(VenueError):
    def __init__(
        self,
        code: RejectCode,
        reason: str,
        *,
        venue: str | None = None,
        venue_code: str | None = None,
        client_order_id: str | None = None,
    ):
        super().__init__(f"{code.value}: {reason}", venue=venue, client_order_id=client_order_id)
        self.code = code
        self.reason = reason
        self.venue_code = venue_code


class VenueTimeout(VenueError):
    pass


class VenueDisconnected(VenueError):
    pass


class VenueRateLimited(VenueError):
    def __init__(self, message: str, *, retry_after: float | None = None, venue: str | None = None,
                 client_order_id: str | None = None):
        super().__init__(message, venue=venue, client_order_id=client_order_id)
        self.retry_after = retry_after


# --------------------------------------------------------------------------- events


class EventFanout:
    """Delivers venue events to any number of async iterators and callbacks.

    Adapters call `publish` on their event loop; each `stream()` consumer has its
    own unbounded queue so a slow consumer never blocks the adapter (it only grows
    its own backlog). A failing callback is isolated from the others.
    """

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue] = set()
        self._callbacks: list[Callable[[VenueEvent], Any]] = []

    def publish(self, event: VenueEvent) -> None:
        for q in list(self._queues):
            q.put_nowait(event)
        for cb in list(self._callbacks):
            try:
                result = cb(event)
                if asyncio.iscoroutine(result):
                    asyncio.ensure_future(result)
            except Exception:  # a consumer's bug must not stop the feed
                pass

    def subscribe(self, callback: Callable[[VenueEvent], Any]) -> Callable[[], None]:
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def stream(self) -> "EventStream":
        """An async iterator that receives every event published from now on."""
        q: asyncio.Queue = asyncio.Queue()
        self._queues.add(q)
        return EventStream(self, q)

    def _detach(self, q: asyncio.Queue) -> None:
        self._queues.discard(q)


class EventStream:
    """One consumer's view of an `EventFanout`; subscribed from construction on,
    so nothing published between `events()` and the first `await` is lost."""

    def __init__(self, fanout: EventFanout, queue: asyncio.Queue) -> None:
        self._fanout = fanout
        self._queue = queue
        self._closed = False

    def __aiter__(self) -> "EventStream":
        return self

    async def __anext__(self) -> VenueEvent:
        if self._closed:
            raise StopAsyncIteration
        return await self._queue.get()

    async def get(self, timeout: float | None = None) -> VenueEvent:
        """Next event, waiting at most `timeout` seconds (asyncio.TimeoutError after)."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    def pending(self) -> int:
        return self._queue.qsize()

    def drain(self) -> list[VenueEvent]:
        """Everything already delivered and not yet read, without waiting."""
        out = []
        while not self._queue.empty():
            out.append(self._queue.get_nowait())
        return out

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._fanout._detach(self._queue)


# --------------------------------------------------------------------------- interface


class VenueAdapter(abc.ABC):
    """One external venue account. All methods are coroutines on the caller's loop.

    Orders are addressed by OUR client order id everywhere; `symbol` may be given
    where a venue needs it (CCXT exchanges) and is otherwise remembered from submit.
    """

    name: str

    # -- lifecycle
    @property
    @abc.abstractmethod
    def connection_state(self) -> ConnectionState: ...

    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def reconnect(self) -> None:
        await self.close()
        await self.connect()

    # -- orders
    @abc.abstractmethod
    async def submit(self, request: VenueOrderRequest) -> VenueOrder: ...

    @abc.abstractmethod
    async def cancel(self, client_order_id: str, symbol: str | None = None) -> VenueOrder: ...

    @abc.abstractmethod
    async def replace(
        self,
        client_order_id: str,
        *,
        new_client_order_id: str,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        symbol: str | None = None,
    ) -> VenueOrder: ...

    @abc.abstractmethod
    async def order_status(self, client_order_id: str, symbol: str | None = None) -> VenueOrder: ...

    @abc.abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]: ...

    @abc.abstractmethod
    async def fills(self, since: str | None = None, symbol: str | None = None) -> VenueFillPage: ...

    # -- account
    @abc.abstractmethod
    async def balances(self) -> list[VenueBalance]: ...

    @abc.abstractmethod
    async def positions(self) -> list[VenuePosition]: ...

    # -- market data
    @abc.abstractmethod
    async def book(self, symbol: str, depth: int = 10) -> VenueBook: ...

    async def quote(self, symbol: str) -> VenueQuote:
        return (await self.book(symbol, 1)).quote()

    @abc.abstractmethod
    def quotes(self, symbols: list[str]) -> AsyncIterator[VenueQuote]: ...

    # -- order updates and fills
    @abc.abstractmethod
    def events(self) -> EventStream:
        """Order updates, fills and connection changes, in venue order, each once.

        The stream is subscribed when returned (nothing after this call is missed);
        iterate it with ``async for``, or ``await stream.get(timeout)``; ``close()`` it when done.
        """

    @abc.abstractmethod
    def subscribe(self, callback: Callable[[VenueEvent], Any]) -> Callable[[], None]:
        """Call `callback(event)` for every event; returns an unsubscribe function."""
