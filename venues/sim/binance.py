"""A Binance spot REST simulator, good enough for the real ccxt `binance` class.

Endpoints (paths and JSON as the Binance spot API documents them)::

    GET  /api/v3/ping            GET  /api/v3/time           GET  /api/v3/exchangeInfo
    GET  /api/v3/depth           GET  /api/v3/ticker/bookTicker
    POST /api/v3/order           GET  /api/v3/order          DELETE /api/v3/order
    GET  /api/v3/openOrders      GET  /api/v3/account        GET  /api/v3/myTrades

Signed endpoints check, in Binance's order: ``X-MBX-APIKEY`` (-2014 / -2015,
HTTP 401), the ``signature`` = hex HMAC-SHA256(secret, query string + body) over
the raw bytes as sent (-1022), ``timestamp`` / ``recvWindow`` (-1021, -1131).
Errors are ``{"code": -NNNN, "msg": "..."}`` with HTTP 400 (401 for keys, 429 for
rate limits with Retry-After).

Matching: client orders rest in a price-time `Book` next to the simulated
market maker's ladder, so limit orders partially fill and a price move (admin
``POST /_sim/price``) that crosses them fills them. STOP_LOSS(_LIMIT) and
TAKE_PROFIT(_LIMIT) orders are triggers on the best bid/ask (not last trade -
a simulator simplification). Balances are locked while orders work and settle
on fills with a commission charged in the asset received.

Admin (loopback, no auth) besides ``/_sim/faults``: ``POST /_sim/price
{"symbol","mid"[,"half_spread","step","levels","quantity"]}``, ``POST /_sim/halt
{"symbol","halted"}``, ``POST /_sim/balance {"asset","free"}``, ``GET /_sim/state``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import count
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from venues.sim.faults import Fault

from venues.sim.book import BUY, SELL, Book, Match
from venues.sim.liquidity import MM, Ladder, reseed
from venues.sim.server import SimServer
from venues.sim.triggers import STOP, TOUCH, Trigger

DEFAULT_API_KEY = "fixvenue-binance-sim-key"
DEFAULT_SECRET = "fixvenue-binance-sim-secret"
_ZERO = Decimal(0)
_CLIENT_ID = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")
_NUMBER = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
_TIF = {"GTC", "IOC", "FOK"}


@dataclass
class SimSymbol:
    symbol: str
    base: str
    quote: str
    mid: Decimal
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    half_spread: Decimal
    ladder_step: Decimal
    levels: int = 5
    level_quantity: Decimal = Decimal(1)


def default_symbols() -> list[SimSymbol]:
    return [
        SimSymbol("BTCUSDT", "BTC", "USDT", Decimal("50000.00"), Decimal("0.01"), Decimal("0.00001"),
                  Decimal("0.00001"), Decimal("9000"), Decimal("5"), Decimal("0.50"), Decimal("0.50"),
                  level_quantity=Decimal("1")),
        SimSymbol("ETHUSDT", "ETH", "USDT", Decimal("3000.00"), Decimal("0.01"), Decimal("0.0001"),
                  Decimal("0.0001"), Decimal("9000"), Decimal("5"), Decimal("0.10"), Decimal("0.10"),
                  level_quantity=Decimal("10")),
    ]


class _Error(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class _Order:
    order_id: int
    symbol: str
    client_id: str
    side: str  # "BUY" | "SELL"
    type: str
    tif: str | None
    orig_qty: Decimal
    price: Decimal  # 0 for market
    stop_price: Decimal
    time: int
    status: str = "NEW"
    executed: Decimal = _ZERO
    quote_executed: Decimal = _ZERO
    update_time: int = 0
    working_time: int = -1
    locked_asset: str | None = None
    locked: Decimal = _ZERO
    trigger: Trigger | None = None
    fills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def book_side(self) -> str:
        return BUY if self.side == "BUY" else SELL


def _fmt(value: Decimal) -> str:
    return f"{value:.8f}"


def _now_ms() -> int:
    return int(time.time() * 1000)


class BinanceSim(SimServer):
    venue_name = "binance-sim"

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        secret: str = DEFAULT_SECRET,
        balances: dict[str, Decimal | str] | None = None,
        symbols: list[SimSymbol] | None = None,
        commission: Decimal | str = Decimal("0.001"),
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        faults: Iterable[Fault] = (),
    ) -> None:
        super().__init__(host=host, port=port, latency=latency, faults=faults)
        self.api_key = api_key
        self.secret = secret
        self.commission = Decimal(commission)
        start = balances or {"USDT": Decimal(100_000), "BTC": Decimal(2), "ETH": Decimal(20)}
        self.free: dict[str, Decimal] = {a: Decimal(v) for a, v in start.items()}
        self.locked: dict[str, Decimal] = {a: _ZERO for a in self.free}
        self.symbols = {s.symbol: s for s in (symbols or default_symbols())}
        self.books: dict[str, Book] = {}
        self.ladders: dict[str, Ladder] = {}
        self.update_ids: dict[str, int] = {}
        for s in self.symbols.values():
            self.free.setdefault(s.base, _ZERO)
            self.free.setdefault(s.quote, _ZERO)
            self.locked.setdefault(s.base, _ZERO)
            self.locked.setdefault(s.quote, _ZERO)
            self.books[s.symbol] = Book(s.symbol)
            self.ladders[s.symbol] = Ladder(s.mid, s.half_spread, s.ladder_step, s.levels, s.level_quantity)
            reseed(self.books[s.symbol], self.ladders[s.symbol])
            self.update_ids[s.symbol] = 1
        self.halted: set[str] = set()
        self.orders: dict[int, _Order] = {}
        self.trades: list[dict[str, Any]] = []
        self._order_ids = count(1001)
        self._trade_ids = count(5001)
        self._cancel_ids = count(1)

    # ================================================================== public controls
    def set_price(self, symbol: str, mid: Decimal | str, **ladder: Any) -> None:
        lad = self.ladders[symbol]
        lad.mid = Decimal(mid)
        for key in ("half_spread", "step", "quantity"):
            if key in ladder:
                setattr(lad, key, Decimal(ladder[key]))
        if "levels" in ladder:
            lad.levels = int(ladder["levels"])
        matches = reseed(self.books[symbol], lad)
        self._settle(symbol, matches, _now_ms())
        self._changed(symbol)
        self._evaluate(symbol)

    def halt(self, symbol: str, halted: bool = True) -> None:
        (self.halted.add if halted else self.halted.discard)(symbol)

    def orders_with_client_id(self, client_id: str) -> list[dict[str, Any]]:
        return [self._order_json(o) for o in self.orders.values() if o.client_id == client_id]

    # ================================================================== routes
    def venue_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v3/ping", self._ping),
            web.get("/api/v3/time", self._time),
            web.get("/api/v3/exchangeInfo", self._exchange_info),
            web.get("/api/v3/depth", self._depth),
            web.get("/api/v3/ticker/bookTicker", self._book_ticker),
            web.post("/api/v3/order", self._signed(self._new_order)),
            web.get("/api/v3/order", self._signed(self._get_order)),
            web.delete("/api/v3/order", self._signed(self._cancel_order)),
            web.get("/api/v3/openOrders", self._signed(self._open_orders)),
            web.get("/api/v3/account", self._signed(self._account)),
            web.get("/api/v3/myTrades", self._signed(self._my_trades)),
        ]

    def admin_routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_sim/price", self._admin_price),
            web.post("/_sim/halt", self._admin_halt),
            web.post("/_sim/balance", self._admin_balance),
            web.get("/_sim/state", self._admin_state),
        ]

    def error_response(self, status: int, message: str) -> web.Response:
        if status >= 500:
            return web.json_response({"code": -1001, "msg": "Internal error; unable to process your request. "
                                                            "Please try again."}, status=status)
        return web.json_response({"code": -1000, "msg": message}, status=status)

    def rate_limit_response(self, retry_after: float) -> web.Response:
        resp = web.json_response({"code": -1003, "msg": "Too many requests; current limit is 6000 request weight "
                                                        "per 1 MINUTE. Please use WebSocket Streams for live "
                                                        "updates to avoid polling the API."}, status=429)
        resp.headers["Retry-After"] = str(max(1, int(retry_after)))
        return resp

    @staticmethod
    def _err(exc: _Error) -> web.Response:
        return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)

    # ================================================================== auth
    def _signed(self, handler):
        async def wrapped(request: web.Request) -> web.Response:
            try:
                params = await self._authenticate(request)
                return await handler(request, params)
            except _Error as exc:
                return self._err(exc)

        return wrapped

    async def _authenticate(self, request: web.Request) -> dict[str, str]:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise _Error(-2014, "API-key format invalid.", 401)
        if not hmac.compare_digest(key, self.api_key):
            raise _Error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        raw_query = request.raw_path.partition("?")[2]
        raw_body = (await request.read()).decode("utf-8", "replace") if request.can_read_body else ""
        params: dict[str, str] = {}
        for part in (raw_query, raw_body):
            for k, v in parse_qsl(part, keep_blank_values=True):
                params[k] = v
        signature = params.pop("signature", "")
        if not signature:
            raise _Error(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        total = _strip_param(raw_query, "signature") + _strip_param(raw_body, "signature")
        expected = hmac.new(self.secret.encode(), total.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise _Error(-1022, "Signature for this request is not valid.")
        ts = params.get("timestamp")
        if not ts or not ts.isdigit():
            raise _Error(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        window = params.get("recvWindow", "5000")
        try:
            recv = Decimal(window)
        except InvalidOperation:
            raise _Error(-1100, "Illegal characters found in parameter 'recvWindow'.") from None
        if recv > 60000:
            raise _Error(-1131, "recvWindow must be less than 60000")
        now = _now_ms()
        if int(ts) > now + 1000 or now - int(ts) > recv:
            raise _Error(-1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    # ================================================================== public endpoints
    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": _now_ms()})

    def _symbol_info(self, s: SimSymbol) -> dict[str, Any]:
        return {
            "symbol": s.symbol,
            "status": "BREAK" if s.symbol in self.halted else "TRADING",
            "baseAsset": s.base,
            "baseAssetPrecision": 8,
            "quoteAsset": s.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ORDER_TYPES,
            "icebergAllowed": False,
            "ocoAllowed": False,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": _fmt(s.tick), "maxPrice": "1000000.00000000",
                 "tickSize": _fmt(s.tick)},
                {"filterType": "LOT_SIZE", "minQty": _fmt(s.min_qty), "maxQty": _fmt(s.max_qty),
                 "stepSize": _fmt(s.step)},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": _fmt(s.max_qty),
                 "stepSize": "0.00000000"},
                {"filterType": "NOTIONAL", "minNotional": _fmt(s.min_notional), "applyMinToMarket": True,
                 "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "NONE",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    async def _exchange_info(self, request: web.Request) -> web.Response:
        wanted = request.query.get("symbol")
        if wanted is not None and wanted not in self.symbols:
            return self._err(_Error(-1121, "Invalid symbol."))
        symbols = [self._symbol_info(s) for name, s in self.symbols.items() if wanted in (None, name)]
        return web.json_response({
            "timezone": "UTC",
            "serverTime": _now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        })

    async def _depth(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        if not symbol:
            return self._err(_Error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."))
        if symbol not in self.symbols:
            return self._err(_Error(-1121, "Invalid symbol."))
        limit = _int(request.query.get("limit"), 100)
        if limit is None or not 1 <= limit <= 5000:
            return self._err(_Error(-1100, "Illegal characters found in parameter 'limit'."))
        bids, asks = self.books[symbol].depth(limit)
        return web.json_response({
            "lastUpdateId": self.update_ids[symbol],
            "bids": [[_fmt(p), _fmt(q)] for p, q in bids],
            "asks": [[_fmt(p), _fmt(q)] for p, q in asks],
        })

    async def _book_ticker(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        names = [symbol] if symbol else list(self.symbols)
        if symbol and symbol not in self.symbols:
            return self._err(_Error(-1121, "Invalid symbol."))
        out = []
        for name in names:
            bids, asks = self.books[name].depth(1)
            out.append({
                "symbol": name,
                "bidPrice": _fmt(bids[0][0]) if bids else "0.00000000",
                "bidQty": _fmt(bids[0][1]) if bids else "0.00000000",
                "askPrice": _fmt(asks[0][0]) if asks else "0.00000000",
                "askQty": _fmt(asks[0][1]) if asks else "0.00000000",
            })
        return web.json_response(out[0] if symbol else out)

    # ================================================================== orders
    async def _new_order(self, request: web.Request, p: dict[str, str]) -> web.Response:
        try:
            order, resp_type = self._validate(p)
        except _Error as exc:
            return self._err(exc)
        fault = self.faults.take({"reject"}, request.method, request.path)
        if fault is not None:
            code, _, msg = (fault.reason or "-2010:Account has insufficient balance for requested action.").partition(":")
            return self._err(_Error(int(code), msg or "Order rejected (injected)."))
        try:
            self._place(order)
        except _Error as exc:
            return self._err(exc)
        return web.json_response(self._new_order_json(order, resp_type))

    def _validate(self, p: dict[str, str]) -> tuple[_Order, str]:
        def mandatory(name: str) -> str:
            value = p.get(name)
            if value is None or value == "":
                raise _Error(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
            return value

        def number(name: str) -> Decimal:
            raw = mandatory(name)
            if not _NUMBER.match(raw):
                raise _Error(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                    f"'^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.")
            return Decimal(raw)

        symbol = mandatory("symbol")
        info = self.symbols.get(symbol)
        if info is None:
            raise _Error(-1121, "Invalid symbol.")
        side = mandatory("side")
        if side not in ("BUY", "SELL"):
            raise _Error(-1117, "Invalid side.")
        otype = mandatory("type")
        if otype not in ORDER_TYPES:
            raise _Error(-1116, "Invalid orderType.")
        needs_tif = otype in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
        tif = p.get("timeInForce")
        if needs_tif:
            tif = mandatory("timeInForce")
            if tif not in _TIF:
                raise _Error(-1115, "Invalid timeInForce.")
        elif tif is not None:
            raise _Error(-1106, "Parameter 'timeInForce' sent when not required.")
        if otype == "MARKET" and "quoteOrderQty" in p and "quantity" not in p:
            raise _Error(-1013, "The simulator supports MARKET orders by quantity only.")
        qty = number("quantity")
        price = number("price") if otype in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") else _ZERO
        if otype == "MARKET" and "price" in p:
            raise _Error(-1106, "Parameter 'price' sent when not required.")
        stop = number("stopPrice") if otype.startswith(("STOP_LOSS", "TAKE_PROFIT")) else _ZERO
        cid = p.get("newClientOrderId") or f"sim-{next(self._order_ids)}"
        if not _CLIENT_ID.match(cid):
            raise _Error(-1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                                "'^[a-zA-Z0-9-_]{1,36}$'.")
        resp_type = p.get("newOrderRespType") or ("FULL" if otype in ("MARKET", "LIMIT") else "ACK")
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise _Error(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
        # filters
        for value in (price, stop):
            if value and (value < info.tick or value % info.tick != 0):
                raise _Error(-1013, "Filter failure: PRICE_FILTER")
        if qty < info.min_qty or qty > info.max_qty or qty % info.step != 0:
            raise _Error(-1013, "Filter failure: LOT_SIZE")
        reference = price or stop or self.ladders[symbol].mid
        if qty * reference < info.min_notional:
            raise _Error(-1013, "Filter failure: NOTIONAL")
        if symbol in self.halted:
            raise _Error(-1013, "Market is closed.")
        if any(o.client_id == cid and o.status in ("NEW", "PARTIALLY_FILLED") for o in self.orders.values()):
            raise _Error(-2010, "Duplicate order sent.")
        now = _now_ms()
        order = _Order(next(self._order_ids), symbol, cid, side, otype, tif, qty, price, stop, now, update_time=now)
        return order, resp_type

    def _place(self, order: _Order) -> None:
        info = self.symbols[order.symbol]
        book = self.books[order.symbol]
        bid, ask = book.best_bid(), book.best_ask()
        if order.type.startswith(("STOP_LOSS", "TAKE_PROFIT")):
            kind = STOP if order.type.startswith("STOP_LOSS") else TOUCH
            trigger = Trigger(kind, order.book_side, order.stop_price)
            if trigger.fired(bid, ask):
                raise _Error(-2010, "Stop price would trigger immediately.")
            order.trigger = trigger
        if order.type == "LIMIT_MAKER":
            best = ask if order.side == "BUY" else bid
            if best is not None and (order.price >= best if order.side == "BUY" else order.price <= best):
                raise _Error(-2010, "Order would immediately match and take.")
        # funds
        if order.side == "BUY":
            if order.price:
                need = order.price * order.orig_qty
            else:
                need = self._sweep_cost(book, order.orig_qty)
            if need > self.free.get(info.quote, _ZERO):
                raise _Error(-2010, "Account has insufficient balance for requested action.")
            if order.price:
                self._lock(order, info.quote, need)
        else:
            if order.orig_qty > self.free.get(info.base, _ZERO):
                raise _Error(-2010, "Account has insufficient balance for requested action.")
            self._lock(order, info.base, order.orig_qty)
        self.orders[order.order_id] = order
        if order.trigger is None:
            self._work(order)
        self._evaluate(order.symbol)

    def _sweep_cost(self, book: Book, qty: Decimal) -> Decimal:
        cost, left = _ZERO, qty
        _, asks = book.depth(1000)
        for price, size in asks:
            take = min(left, size)
            cost += take * price
            left -= take
            if left <= 0:
                break
        return cost

    def _lock(self, order: _Order, asset: str, amount: Decimal) -> None:
        self.free[asset] -= amount
        self.locked[asset] += amount
        order.locked_asset, order.locked = asset, amount

    def _unlock_rest(self, order: _Order) -> None:
        if order.locked_asset and order.locked > 0:
            self.free[order.locked_asset] += order.locked
            self.locked[order.locked_asset] -= order.locked
            order.locked = _ZERO

    def _work(self, order: _Order) -> None:
        """Send a live (or just triggered) order into the book."""
        now = _now_ms()
        order.working_time = now
        book = self.books[order.symbol]
        limit = order.price if order.type in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") else None
        tif = order.tif or ("GTC" if limit is not None else "IOC")
        remaining = order.orig_qty - order.executed
        result = book.add(str(order.order_id), "client", order.book_side, remaining, limit, tif)
        self._settle(order.symbol, result.matches, now)
        if result.killed or (not result.rested and order.status not in ("FILLED",)):
            order.status = "EXPIRED" if order.executed < order.orig_qty else "FILLED"
            self._unlock_rest(order)
        order.update_time = now
        self._changed(order.symbol)

    def _settle(self, symbol: str, matches: list[Match], now: int) -> None:
        for m in matches:
            for oid, is_maker in ((m.taker_id, False), (m.maker_id, True)):
                owner = m.taker_owner if not is_maker else m.maker_owner
                if owner == MM:
                    continue
                self._fill(self.orders[int(oid)], m.price, m.quantity, is_maker, now)

    def _fill(self, order: _Order, price: Decimal, qty: Decimal, is_maker: bool, now: int) -> None:
        info = self.symbols[order.symbol]
        quote_qty = price * qty
        if order.side == "BUY":
            fee, fee_asset = qty * self.commission, info.base
            if order.locked_asset == info.quote:
                release = min(order.locked, order.price * qty)
                order.locked -= release
                self.locked[info.quote] -= release
                self.free[info.quote] += release
            self.free[info.quote] -= quote_qty
            self.free[info.base] += qty - fee
        else:
            fee, fee_asset = quote_qty * self.commission, info.quote
            release = min(order.locked, qty)
            order.locked -= release
            self.locked[info.base] -= release
            self.free[info.quote] += quote_qty - fee
        order.executed += qty
        order.quote_executed += quote_qty
        order.update_time = now
        order.status = "FILLED" if order.executed >= order.orig_qty else "PARTIALLY_FILLED"
        if order.status == "FILLED":
            self._unlock_rest(order)
        trade_id = next(self._trade_ids)
        fill = {"price": _fmt(price), "qty": _fmt(qty), "commission": _fmt(fee), "commissionAsset": fee_asset,
                "tradeId": trade_id}
        order.fills.append(fill)
        self.trades.append({
            "symbol": order.symbol, "id": trade_id, "orderId": order.order_id, "orderListId": -1,
            "price": _fmt(price), "qty": _fmt(qty), "quoteQty": _fmt(quote_qty), "commission": _fmt(fee),
            "commissionAsset": fee_asset, "time": now, "isBuyer": order.side == "BUY", "isMaker": is_maker,
            "isBestMatch": True,
        })

    def _evaluate(self, symbol: str) -> None:
        """Trigger stop / take-profit orders whose price was reached."""
        book = self.books[symbol]
        for _ in range(len(self.orders) + 1):
            bid, ask = book.best_bid(), book.best_ask()
            due = next((o for o in sorted(self.orders.values(), key=lambda o: o.order_id)
                        if o.symbol == symbol and o.trigger is not None and o.status == "NEW"
                        and o.trigger.fired(bid, ask)), None)
            if due is None:
                return
            due.trigger = None
            if due.side == "BUY" and not due.price:  # market stop-buy: check funds now
                if self._sweep_cost(book, due.orig_qty) > self.free.get(self.symbols[symbol].quote, _ZERO):
                    due.status = "EXPIRED"
                    self._unlock_rest(due)
                    continue
            self._work(due)

    def _changed(self, symbol: str) -> None:
        self.update_ids[symbol] += 1

    # ---------------------------------------------------------------- order JSON
    def _order_json(self, o: _Order) -> dict[str, Any]:
        return {
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderListId": -1,
            "clientOrderId": o.client_id,
            "price": _fmt(o.price),
            "origQty": _fmt(o.orig_qty),
            "executedQty": _fmt(o.executed),
            "cummulativeQuoteQty": _fmt(o.quote_executed),
            "status": o.status,
            "timeInForce": o.tif or "GTC",
            "type": o.type,
            "side": o.side,
            "stopPrice": _fmt(o.stop_price),
            "icebergQty": "0.00000000",
            "time": o.time,
            "updateTime": o.update_time,
            "isWorking": o.trigger is None,
            "workingTime": o.working_time,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "NONE",
        }

    def _new_order_json(self, o: _Order, resp_type: str) -> dict[str, Any]:
        out: dict[str, Any] = {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
                               "clientOrderId": o.client_id, "transactTime": o.time}
        if resp_type == "ACK":
            return out
        out.update({
            "price": _fmt(o.price), "origQty": _fmt(o.orig_qty), "executedQty": _fmt(o.executed),
            "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": _fmt(o.quote_executed), "status": o.status,
            "timeInForce": o.tif or "GTC", "type": o.type, "side": o.side, "workingTime": o.working_time,
            "selfTradePreventionMode": "NONE",
        })
        if o.stop_price:
            out["stopPrice"] = _fmt(o.stop_price)
        if resp_type == "FULL":
            out["fills"] = list(o.fills)
        return out

    def _lookup(self, p: dict[str, str]) -> _Order:
        symbol = p.get("symbol")
        if not symbol:
            raise _Error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol not in self.symbols:
            raise _Error(-1121, "Invalid symbol.")
        if p.get("orderId"):
            order = self.orders.get(_int(p["orderId"], -1) or -1)
            if order is not None and order.symbol == symbol:
                return order
        elif p.get("origClientOrderId"):
            matches = [o for o in self.orders.values() if o.symbol == symbol and o.client_id == p["origClientOrderId"]]
            if matches:
                return max(matches, key=lambda o: o.order_id)
        else:
            raise _Error(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        raise _Error(-2013, "Order does not exist.")

    async def _get_order(self, request: web.Request, p: dict[str, str]) -> web.Response:
        return web.json_response(self._order_json(self._lookup(p)))

    async def _cancel_order(self, request: web.Request, p: dict[str, str]) -> web.Response:
        try:
            order = self._lookup(p)
        except _Error as exc:
            if exc.code == -2013:
                raise _Error(-2011, "Unknown order sent.") from None
            raise
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise _Error(-2011, "Unknown order sent.")
        self.books[order.symbol].cancel(str(order.order_id))
        order.trigger = None
        order.status = "CANCELED"
        order.update_time = _now_ms()
        self._unlock_rest(order)
        self._changed(order.symbol)
        body = self._order_json(order)
        cancel_id = p.get("newClientOrderId") or f"simcancel{next(self._cancel_ids)}"
        return web.json_response({
            "symbol": order.symbol, "origClientOrderId": order.client_id, "orderId": order.order_id,
            "orderListId": -1, "clientOrderId": cancel_id, "transactTime": order.update_time,
            "price": body["price"], "origQty": body["origQty"], "executedQty": body["executedQty"],
            "cummulativeQuoteQty": body["cummulativeQuoteQty"], "status": "CANCELED",
            "timeInForce": body["timeInForce"], "type": order.type, "side": order.side,
            "stopPrice": body["stopPrice"], "selfTradePreventionMode": "NONE",
        })

    async def _open_orders(self, request: web.Request, p: dict[str, str]) -> web.Response:
        symbol = p.get("symbol")
        if symbol is not None and symbol not in self.symbols:
            raise _Error(-1121, "Invalid symbol.")
        out = [self._order_json(o) for o in sorted(self.orders.values(), key=lambda o: o.order_id)
               if o.status in ("NEW", "PARTIALLY_FILLED") and symbol in (None, o.symbol)]
        return web.json_response(out)

    async def _account(self, request: web.Request, p: dict[str, str]) -> web.Response:
        omit = p.get("omitZeroBalances") == "true"
        balances = [{"asset": a, "free": _fmt(self.free[a]), "locked": _fmt(self.locked.get(a, _ZERO))}
                    for a in sorted(self.free) if not (omit and self.free[a] == 0 and self.locked.get(a, _ZERO) == 0)]
        return web.json_response({
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": _fmt(self.commission), "taker": _fmt(self.commission),
                                "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": _now_ms(),
            "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": 1000001,
        })

    async def _my_trades(self, request: web.Request, p: dict[str, str]) -> web.Response:
        symbol = p.get("symbol")
        if not symbol:
            raise _Error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol not in self.symbols:
            raise _Error(-1121, "Invalid symbol.")
        limit = min(_int(p.get("limit"), 500) or 500, 1000)
        order_id = _int(p.get("orderId"), None)
        start, end = _int(p.get("startTime"), None), _int(p.get("endTime"), None)
        from_id = _int(p.get("fromId"), None)
        out = []
        for t in self.trades:
            if t["symbol"] != symbol:
                continue
            if order_id is not None and t["orderId"] != order_id:
                continue
            if from_id is not None and t["id"] < from_id:
                continue
            if start is not None and t["time"] < start:
                continue
            if end is not None and t["time"] > end:
                continue
            out.append(t)
        if from_id is None and start is None:
            out = out[-limit:]  # most recent, like Binance without fromId/startTime
        return web.json_response(out[:limit])

    # ================================================================== admin
    async def _admin_price(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            symbol = data["symbol"]
            if symbol not in self.symbols:
                raise KeyError(symbol)
            extra = {k: data[k] for k in ("half_spread", "step", "levels", "quantity") if k in data}
            self.set_price(symbol, Decimal(str(data["mid"])), **extra)
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            return web.json_response({"error": f"bad request: {exc}"}, status=400)
        bids, asks = self.books[symbol].depth(1)
        return web.json_response({"bid": _fmt(bids[0][0]) if bids else None, "ask": _fmt(asks[0][0]) if asks else None})

    async def _admin_halt(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            symbol = data["symbol"]
            if symbol not in self.symbols:
                raise KeyError(symbol)
        except (KeyError, TypeError, ValueError) as exc:
            return web.json_response({"error": f"bad request: {exc}"}, status=400)
        self.halt(symbol, bool(data.get("halted", True)))
        return web.json_response({"halted": sorted(self.halted)})

    async def _admin_balance(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            asset, free = str(data["asset"]), Decimal(str(data["free"]))
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            return web.json_response({"error": f"bad request: {exc}"}, status=400)
        self.free[asset] = free
        self.locked.setdefault(asset, _ZERO)
        return web.json_response({"asset": asset, "free": _fmt(free)})

    async def _admin_state(self, request: web.Request) -> web.Response:
        return web.json_response({
            "orders": [self._order_json(o) for o in self.orders.values()],
            "balances": {a: {"free": _fmt(self.free[a]), "locked": _fmt(self.locked.get(a, _ZERO))} for a in self.free},
            "halted": sorted(self.halted),
            "trades": len(self.trades),
        })


def _strip_param(raw: str, name: str) -> str:
    """`raw` without its `name=...` pair, exactly as the client built it otherwise."""
    if not raw:
        return ""
    parts = [part for part in raw.split("&") if not part.startswith(name + "=")]
    return "&".join(parts)


def _int(raw: Any, default: int | None) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default
