"""The REST schema: request bodies (validated) and response shapes (documented).

Request models forbid unknown keys, so a misspelt field is a VALIDATION_ERROR
instead of being silently ignored. Numbers that are prices or quantities are
accepted as JSON strings or numbers and always returned as strings (exact
decimals, never binary floats). Timestamps inside `data` are integers in
nanoseconds since the Unix epoch (the engine's clock); the envelope's
`timestamp` is ISO 8601 UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.translate import ORDER_TYPES, STP_MODES, TIME_IN_FORCE

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NS_END = datetime(2262, 4, 11, tzinfo=timezone.utc)

# a decimal as the client may send it: bounded so absurd magnitudes are a validation error
Amount = Annotated[Decimal, Field(max_digits=30, decimal_places=15, allow_inf_nan=False)]
# URL-safe, so every client order id can be used as it is in /orders/{id}
ClOrdId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:~\-]+$",
                               description="letters, digits and . _ : ~ - (URL-safe), at most 64")]
Num = str   # a decimal rendered as a string


class Side(str, Enum):
    buy = "buy"
    sell = "sell"


OrderType = Enum("OrderType", {k: k for k in ORDER_TYPES}, type=str)
TimeInForce = Enum("TimeInForce", {k: k for k in TIME_IN_FORCE}, type=str)
StpMode = Enum("StpMode", {k: k for k in STP_MODES}, type=str)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderIn(_In):
    """A new order. `price` for limit and stop_limit; `stop_price` for stop, stop_limit and
    market_if_touched (optional start level for trailing_stop); exactly one of
    `trail_amount` / `trail_percent` for trailing_stop; `expire_time` with gtd."""

    cl_ord_id: ClOrdId | None = Field(default=None, description="your id for the order (idempotency key); "
                                      "generated when absent")
    symbol: str = Field(min_length=1, max_length=32, description="EUR/USD, EUR-USD or EUR_USD")
    side: Side
    order_type: OrderType = OrderType("limit")  # type: ignore[assignment]
    time_in_force: TimeInForce = TimeInForce("gtc")  # type: ignore[assignment]
    quantity: Amount
    price: Amount | None = None
    stop_price: Amount | None = None
    trail_amount: Amount | None = None
    trail_percent: Amount | None = None
    display_qty: Amount | None = Field(default=None, description="iceberg: the visible slice")
    min_qty: Amount | None = None
    hidden: bool = False
    post_only: bool = False
    reduce_only: bool = False
    expire_time: datetime | None = Field(default=None, description="good-till-date expiry (ISO 8601 or Unix seconds)")
    stp: StpMode | None = Field(default=None, description="self-trade prevention override for this order")

    @field_validator("expire_time")
    @classmethod
    def _ns_range(cls, v: datetime | None) -> datetime | None:
        # the engine's clock is int64 nanoseconds since 1970: 1970-01-01 .. 2262-04-11
        if v is not None:
            aware = v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)
            if not (_EPOCH <= aware < _NS_END):
                raise ValueError("expire_time must be between 1970-01-01 and 2262-04-11 (UTC)")
        return v


class ReplaceIn(_In):
    """Cancel/replace: any of quantity (new total), price, stop_price; a new cl_ord_id is optional."""

    cl_ord_id: ClOrdId | None = None
    quantity: Amount | None = None
    price: Amount | None = None
    stop_price: Amount | None = None


class TradingStateIn(_In):
    reason: str = Field(default="", max_length=200)


class KillSwitchIn(_In):
    """Activate or release the kill switch of one scope. HALTED refuses every new order
    and cancels the scope's open orders; REDUCING lets only position-reducing orders in."""

    action: Literal["activate", "release"]
    scope: Literal["global", "account", "session", "instrument"] = "global"
    target: str = Field(default="", max_length=64, description="account id, session origin (e.g. FIX:CLIENT1) "
                        "or symbol; empty for global")
    state: Literal["HALTED", "REDUCING"] = "HALTED"
    reason: str = Field(default="", max_length=200)


# ---------------------------------------------------------------- responses


class ErrorInfo(BaseModel):
    code: str = Field(description="engine reject reason (UNKNOWN_SYMBOL, INVALID_PRICE, ...) or gateway code "
                      "(UNAUTHORIZED, FORBIDDEN, NOT_FOUND, VALIDATION_ERROR, RATE_LIMITED, ...)")
    message: str
    details: dict[str, Any]


class ErrorEnvelope(BaseModel):
    success: Literal[False]
    error: ErrorInfo
    timestamp: str


class Envelope(BaseModel, Generic[T]):
    success: Literal[True]
    data: T
    timestamp: str


class OrderOut(BaseModel):
    order_id: int
    cl_ord_id: str
    account: str
    symbol: str
    side: str | None
    order_type: str | None
    time_in_force: str | None
    price: Num | None
    stop_price: Num | None
    quantity: Num
    leaves_qty: Num
    cum_qty: Num
    avg_price: Num | None
    status: str
    hidden: bool
    post_only: bool
    display_qty: Num | None
    expire_ts: int | None
    created_ts: int
    origin: str


class FillOut(BaseModel):
    seq: int
    ts: int
    order_id: int
    cl_ord_id: str
    symbol: str
    side: str | None
    trade_id: int | None
    last_price: Num | None
    last_qty: Num | None
    fee: Num | None
    fee_currency: str | None
    liquidity: str | None
    cum_qty: Num
    leaves_qty: Num
    status: str


class OrderResult(BaseModel):
    order: OrderOut
    fills: list[FillOut] = Field(description="trades this request caused for the order")
    replayed: bool = Field(description="true when a retry returned the original order (same cl_ord_id)")


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_after: int | None = Field(description="pass as `after` to get the next page; null at the end")


class MassCancelOut(BaseModel):
    cancelled: int
    order_ids: list[int]


class SessionOut(BaseModel):
    open: str
    close: str
    days: list[str]


class InstrumentOut(BaseModel):
    symbol: str
    url_symbol: str = Field(description="spelling to use in URL paths")
    asset_class: str
    base: str
    quote: str
    tick_size: Num
    lot_size: Num
    min_qty: Num
    max_qty: Num
    price_precision: int
    trading_state: str
    session: SessionOut
    description: str


class LevelOut(BaseModel):
    price: Num
    qty: Num
    orders: int


class OrderBookOut(BaseModel):
    symbol: str
    seq: int = Field(description="market-data sequence of this book (WebSocket updates continue from it)")
    bids: list[LevelOut]
    asks: list[LevelOut]
    ts: int


class TradeOut(BaseModel):
    trade_id: int
    price: Num
    qty: Num
    side: str | None = Field(description="aggressor side")
    ts: int


class TickerOut(BaseModel):
    symbol: str
    trading_state: str
    last_price: Num | None
    best_bid: Num | None
    best_bid_qty: Num | None
    best_ask: Num | None
    best_ask_qty: Num | None
    open_24h: Num | None
    high_24h: Num | None
    low_24h: Num | None
    volume_24h: Num
    quote_volume_24h: Num
    trades_24h: int
    change_24h: Num | None
    ts: int


class CandleOut(BaseModel):
    start: int
    open: Num
    high: Num
    low: Num
    close: Num
    volume: Num
    quote_volume: Num
    trades: int


class CandlesOut(BaseModel):
    symbol: str
    interval: str
    candles: list[CandleOut]


class AccountOut(BaseModel):
    account: str
    name: str
    key_id: str
    role: str
    fee_maker_bps: Num
    fee_taker_bps: Num
    open_orders: int


class BalanceOut(BaseModel):
    asset: str
    total: Num


class BalancesOut(BaseModel):
    account: str
    source: str = Field(description="'risk' (the live ledger) or 'config' (starting balances: risk/ not wired in)")
    balances: list[BalanceOut]


class PositionOut(BaseModel):
    symbol: str
    quantity: Num = Field(description="signed net quantity (negative = short)")
    side: str = Field(description="long, short or flat")
    avg_price: Num | None
    mark_price: Num | None
    currency: str | None
    realized_pnl: Num | None
    unrealized_pnl: Num | None
    fees: Num | None
    notional: Num | None
    working_buy_qty: Num | None
    working_sell_qty: Num | None


class PositionsOut(BaseModel):
    account: str
    source: str = Field(description="'risk' (positions with P&L) or 'fills' (net quantities summed from the "
                        "account's fills: risk/ not wired in)")
    positions: list[PositionOut]


class FillsOut(BaseModel):
    account: str
    fills: list[FillOut]


class RiskOut(BaseModel):
    account: str
    source: str = Field(description="'risk', or 'gateway' when risk/ is not wired in (no limits, margin, P&L)")
    trading_state: str | None = Field(description="ACTIVE, REDUCING or HALTED: the kill switch in force")
    summary: dict[str, Any]
    limits: dict[str, Any]


class TradingStateOut(BaseModel):
    symbol: str
    trading_state: str
    changed: bool


class KillSwitchOut(BaseModel):
    scope: str
    target: str
    state: str = Field(description="ACTIVE, REDUCING or HALTED after the request")
    previous: str | None
    cancelled: int = Field(description="open orders cancelled by the activation")


class KillSwitchStateOut(BaseModel):
    global_state: str = Field(description="ACTIVE, REDUCING or HALTED")
    scopes: list[dict[str, Any]] = Field(description="every scope whose kill switch has been set")


class SessionsOut(BaseModel):
    fix: Any = Field(description="FIX session status from the FIX gateway, or null when it is not running")
    rest: dict[str, Any]


class HealthOut(BaseModel):
    status: str
    uptime_s: float


class ReadyOut(BaseModel):
    ready: bool
    parts: dict[str, str]
