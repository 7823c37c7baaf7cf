"""An OANDA v20 REST simulator, good enough for the real `oandapyV20` client.

It serves the endpoints the OANDA adapter uses, with the JSON shapes the v20
docs give (orders are transactions; an order's id is its create transaction id;
rejects are ``*_REJECT`` transactions carrying ``rejectReason``):

    GET  /v3/accounts                                   GET  /v3/accounts/{id}/summary
    POST /v3/accounts/{id}/orders                       GET  /v3/accounts/{id}/orders, /pendingOrders
    GET  /v3/accounts/{id}/orders/{spec}                PUT  /v3/accounts/{id}/orders/{spec}  (replace)
    PUT  /v3/accounts/{id}/orders/{spec}/cancel         GET  /v3/accounts/{id}/positions, /openPositions,
    GET  /v3/accounts/{id}/openTrades, /trades/{tid}         /positions/{instrument}
    GET  /v3/accounts/{id}/pricing                      GET  /v3/accounts/{id}/pricing/stream
    GET  /v3/accounts/{id}/transactions/sinceid         GET  /v3/accounts/{id}/transactions/stream
    GET  /v3/accounts/{id}/transactions/{tid}, /transactions/idrange

`{spec}` is an order id or ``@<clientExtensions.id>``. Every route checks
``Authorization: Bearer <token>``.

Dealing model: OANDA is a market maker, so client orders never rest in a visible
book. Each instrument has a `Book` holding only the simulated dealer's ladder
(`venues.sim.liquidity`); market orders and triggered pending orders sweep it
(VWAP fills, partial fills for IOC when the ladder is thin). Pending LIMIT / STOP
/ MARKET_IF_TOUCHED orders and the on-fill TAKE_PROFIT / STOP_LOSS /
TRAILING_STOP_LOSS orders are triggers evaluated after every price change; they
fill all-or-none. Accounts are netting (no hedging): fills close opposite trades
FIFO, the remainder opens a trade whose id is the fill transaction id.

Admin (loopback, no auth) besides the shared ``/_sim/faults``:
``POST /_sim/price {"instrument","mid"[,"half_spread","step","levels","quantity"]}``,
``POST /_sim/halt {"instrument","halted"}``, ``POST /_sim/streams {"drop":bool,"blocked":bool}``,
``POST /_sim/account {"active":bool}``, ``GET /_sim/state``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from venues.sim.faults import Fault

from venues.sim.book import BUY, SELL, Book
from venues.sim.liquidity import Ladder, reseed
from venues.sim.server import SimServer, drop_connection
from venues.sim.triggers import STOP, TOUCH, TRAIL, Trigger

DEFAULT_ACCOUNT = "101-001-1000001-001"
DEFAULT_TOKEN = "fixvenue-oanda-sim-token"
_ZERO = Decimal(0)


@dataclass
class SimInstrument:
    name: str  # EUR_USD
    mid: Decimal
    display_precision: int
    half_spread: Decimal
    step: Decimal
    units_precision: int = 0
    minimum_units: Decimal = Decimal(1)
    maximum_units: Decimal = Decimal(100_000_000)
    margin_rate: Decimal = Decimal("0.02")

    @property
    def base(self) -> str:
        return self.name.split("_")[0]

    @property
    def quote(self) -> str:
        return self.name.split("_")[1]


def default_instruments() -> list[SimInstrument]:
    return [
        SimInstrument("EUR_USD", Decimal("1.10000"), 5, Decimal("0.00005"), Decimal("0.00002")),
        SimInstrument("GBP_USD", Decimal("1.27000"), 5, Decimal("0.00007"), Decimal("0.00002")),
        SimInstrument("USD_JPY", Decimal("150.000"), 3, Decimal("0.005"), Decimal("0.002")),
        SimInstrument("XAU_USD", Decimal("2000.00"), 2, Decimal("0.20"), Decimal("0.10"), margin_rate=Decimal("0.05")),
    ]


_ENTRY_TYPES = {"MARKET", "LIMIT", "STOP", "MARKET_IF_TOUCHED"}
_DEPENDENT_TYPES = {"TAKE_PROFIT", "STOP_LOSS", "TRAILING_STOP_LOSS"}
_TIF_ALLOWED = {
    "MARKET": {"FOK", "IOC"},
    "LIMIT": {"GTC", "GTD", "GFD", "FOK", "IOC"},
    "STOP": {"GTC", "GTD", "GFD"},
    "MARKET_IF_TOUCHED": {"GTC", "GTD", "GFD"},
    "TAKE_PROFIT": {"GTC", "GTD", "GFD"},
    "STOP_LOSS": {"GTC", "GTD", "GFD"},
    "TRAILING_STOP_LOSS": {"GTC", "GTD", "GFD"},
}
_POSITION_FILL = {"DEFAULT", "OPEN_ONLY", "REDUCE_FIRST", "REDUCE_ONLY", "POSITION_DEFAULT"}
_TRIGGER_CONDITIONS = {"DEFAULT", "INVERSE", "BID", "ASK", "MID", "TRIGGER_DEFAULT"}
_MAX_PENDING = 500
_SINCEID_PAGE = 1000


class _Reject(Exception):
    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message or reason.replace("_", " ").capitalize()


@dataclass
class _Trade:
    trade_id: str
    instrument: str
    price: Decimal
    initial_units: Decimal
    current_units: Decimal  # signed
    open_time: str
    realized_pl: Decimal = _ZERO
    client_id: str | None = None
    dependents: dict[str, str] = field(default_factory=dict)  # kind -> order id


@dataclass
class _Pending:
    order: dict[str, Any]
    instrument: str
    side: str
    trigger: Trigger
    units: Decimal  # signed; for dependents resolved at fill from the trade
    price_bound: Decimal | None = None


class OandaSim(SimServer):
    venue_name = "oanda-sim"

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT,
        token: str = DEFAULT_TOKEN,
        balance: Decimal | str = Decimal(100_000),
        currency: str = "USD",
        instruments: list[SimInstrument] | None = None,
        levels: int = 5,
        level_quantity: Decimal | int = Decimal(1_000_000),
        heartbeat: float = 5.0,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        faults: Iterable[Fault] = (),
    ) -> None:
        super().__init__(host=host, port=port, latency=latency, faults=faults)
        self.account_id = account_id
        self.token = token
        self.currency = currency
        self.balance = Decimal(balance)
        self.heartbeat = heartbeat
        self.account_active = True
        self.instruments = {i.name: i for i in (instruments or default_instruments())}
        self.books: dict[str, Book] = {}
        self.ladders: dict[str, Ladder] = {}
        for inst in self.instruments.values():
            self.books[inst.name] = Book(inst.name)
            self.ladders[inst.name] = Ladder(inst.mid, inst.half_spread, inst.step, levels, Decimal(level_quantity))
            reseed(self.books[inst.name], self.ladders[inst.name])
        self.halted: set[str] = set()
        self.transactions: list[dict[str, Any]] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.client_ids: dict[str, str] = {}
        self.pending: dict[str, _Pending] = {}
        self.trades: dict[str, _Trade] = {}  # open trades
        self.closed_trades: dict[str, _Trade] = {}
        self.realized: dict[str, Decimal] = {}  # instrument -> realized P/L
        self.streams_blocked = False
        self._batch: list[dict[str, Any]] | None = None
        self._batch_id: str | None = None
        self._request_seq = 0
        self._tx_subs: set[asyncio.Queue] = set()
        self._price_subs: set[tuple[frozenset[str], asyncio.Queue]] = set()
        self._dirty_prices: set[str] = set()

    # ================================================================== helpers
    @staticmethod
    def now() -> str:
        t = datetime.now(timezone.utc)
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"

    def last_id(self) -> str:
        return str(len(self.transactions))

    def _begin(self) -> None:
        self._batch = []
        self._batch_id = None
        self._request_seq += 1

    def _tx(self, tx_type: str, **fields: Any) -> dict[str, Any]:
        tid = str(len(self.transactions) + 1)
        if self._batch_id is None:
            self._batch_id = tid
        tx = {
            "id": tid,
            "time": self.now(),
            "userID": 1,
            "accountID": self.account_id,
            "batchID": self._batch_id,
            "requestID": f"{7000000000000000000 + self._request_seq}",
            "type": tx_type,
        }
        tx.update({k: v for k, v in fields.items() if v is not None})
        tx["type"] = tx_type  # an order's own "type" field must not replace the transaction type
        self.transactions.append(tx)
        if self._batch is not None:
            self._batch.append(tx)
        return tx

    def _flush(self) -> None:
        """Publish the batch's transactions and changed prices to the streams."""
        batch, self._batch, self._batch_id = self._batch or [], None, None
        for tx in batch:
            for q in list(self._tx_subs):
                q.put_nowait(tx)
        for name in sorted(self._dirty_prices):
            price = self.price_json(name)
            for names, q in list(self._price_subs):
                if name in names:
                    q.put_nowait(price)
        self._dirty_prices.clear()

    def fmt_price(self, instrument: str, price: Decimal) -> str:
        prec = self.instruments[instrument].display_precision
        return f"{price.quantize(Decimal(1).scaleb(-prec)):.{prec}f}"

    def fmt_units(self, instrument: str, units: Decimal) -> str:
        prec = self.instruments[instrument].units_precision
        return f"{units:.{prec}f}"

    @staticmethod
    def fmt_money(value: Decimal) -> str:
        return f"{value.quantize(Decimal('0.0001')):.4f}"

    def _mid(self, instrument: str) -> Decimal:
        book = self.books[instrument]
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        return self.ladders[instrument].mid

    def _to_home(self, instrument: str, amount_quote: Decimal) -> Decimal:
        inst = self.instruments[instrument]
        if inst.quote == self.currency:
            return amount_quote
        if inst.base == self.currency:
            return amount_quote / self._mid(instrument)
        return amount_quote  # cross pairs: the simulator does not convert

    # ================================================================== public controls
    def set_price(self, instrument: str, mid: Decimal | str, **ladder: Any) -> None:
        """Move the dealer's ladder to `mid`; pending orders are re-evaluated."""
        lad = self.ladders[instrument]
        lad.mid = Decimal(mid)
        for key in ("half_spread", "step", "quantity"):
            if key in ladder:
                setattr(lad, key, Decimal(ladder[key]))
        if "levels" in ladder:
            lad.levels = int(ladder["levels"])
        reseed(self.books[instrument], lad)
        self._begin()
        self._dirty_prices.add(instrument)
        self._evaluate(instrument)
        self._flush()

    def halt(self, instrument: str, halted: bool = True) -> None:
        (self.halted.add if halted else self.halted.discard)(instrument)
        self._begin()
        self._dirty_prices.add(instrument)
        self._flush()

    def drop_streams(self, blocked: bool | None = None) -> None:
        """Cut every open stream (the client sees a dropped connection)."""
        if blocked is not None:
            self.streams_blocked = blocked
        for q in list(self._tx_subs):
            q.put_nowait(_DROP)
        for _, q in list(self._price_subs):
            q.put_nowait(_DROP)

    def orders_with_client_id(self, client_id: str) -> list[dict[str, Any]]:
        return [o for o in self.orders.values() if o.get("clientExtensions", {}).get("id") == client_id]

    # ================================================================== routes
    def venue_routes(self) -> list[web.RouteDef]:
        a = "/v3/accounts/{account}"
        return [
            web.get("/v3/accounts", self._accounts),
            web.get(a, self._account_details),
            web.get(a + "/summary", self._summary),
            web.post(a + "/orders", self._post_order),
            web.get(a + "/orders", self._list_orders),
            web.get(a + "/pendingOrders", self._pending_orders),
            web.get(a + "/orders/{spec}", self._get_order),
            web.put(a + "/orders/{spec}", self._replace_order),
            web.put(a + "/orders/{spec}/cancel", self._cancel_order),
            web.get(a + "/positions", self._positions),
            web.get(a + "/openPositions", self._open_positions),
            web.get(a + "/positions/{instrument}", self._position),
            web.get(a + "/openTrades", self._open_trades),
            web.get(a + "/trades/{trade}", self._trade),
            web.get(a + "/pricing", self._pricing),
            web.get(a + "/pricing/stream", self._pricing_stream),
            web.get(a + "/transactions/sinceid", self._since_id),
            web.get(a + "/transactions/idrange", self._id_range),
            web.get(a + "/transactions/stream", self._transaction_stream),
            web.get(a + "/transactions/{tid}", self._transaction),
        ]

    def admin_routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_sim/price", self._admin_price),
            web.post("/_sim/halt", self._admin_halt),
            web.post("/_sim/streams", self._admin_streams),
            web.post("/_sim/account", self._admin_account),
            web.get("/_sim/state", self._admin_state),
        ]

    def error_response(self, status: int, message: str) -> web.Response:
        return web.json_response({"errorMessage": message}, status=status)

    def rate_limit_response(self, retry_after: float) -> web.Response:
        resp = self.error_response(429, "Requests per second exceeded")
        resp.headers["Retry-After"] = str(max(1, int(retry_after)))
        return resp

    async def on_stop(self) -> None:
        for q in list(self._tx_subs):
            q.put_nowait(_END)
        for _, q in list(self._price_subs):
            q.put_nowait(_END)

    def _check(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self.error_response(401, "Insufficient authorization to perform request.")
        account = request.match_info.get("account")
        if account is not None and account != self.account_id:
            return self.error_response(403, "The provided request was forbidden.")
        return None

    def _ok(self, body: dict[str, Any], status: int = 200) -> web.Response:
        return web.json_response(body, status=status)

    # ---------------------------------------------------------------- accounts
    async def _accounts(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        return self._ok({"accounts": [{"id": self.account_id, "tags": []}]})

    def account_summary(self) -> dict[str, Any]:
        unrealized = sum((self._trade_upl(t) for t in self.trades.values()), _ZERO)
        margin_used = sum((self._trade_margin(t) for t in self.trades.values()), _ZERO)
        position_value = sum(
            (abs(t.current_units) * self._to_home(t.instrument, self._mid(t.instrument)) for t in self.trades.values()),
            _ZERO,
        )
        nav = self.balance + unrealized
        pl = sum(self.realized.values(), _ZERO)
        open_positions = {t.instrument for t in self.trades.values()}
        return {
            "id": self.account_id,
            "alias": "fixvenue-sim",
            "currency": self.currency,
            "balance": self.fmt_money(self.balance),
            "createdByUserID": 1,
            "createdTime": "2024-01-01T00:00:00.000000000Z",
            "guaranteedStopLossOrderMode": "DISABLED",
            "pl": self.fmt_money(pl),
            "resettablePL": self.fmt_money(pl),
            "resettablePLTime": "0",
            "financing": "0.0000",
            "commission": "0.0000",
            "dividendAdjustment": "0",
            "guaranteedExecutionFees": "0.0000",
            "marginRate": "0.02",
            "openTradeCount": len(self.trades),
            "openPositionCount": len(open_positions),
            "pendingOrderCount": len(self.pending),
            "hedgingEnabled": False,
            "unrealizedPL": self.fmt_money(unrealized),
            "NAV": self.fmt_money(nav),
            "marginUsed": self.fmt_money(margin_used),
            "marginAvailable": self.fmt_money(nav - margin_used),
            "positionValue": self.fmt_money(position_value),
            "marginCloseoutUnrealizedPL": self.fmt_money(unrealized),
            "marginCloseoutNAV": self.fmt_money(nav),
            "marginCloseoutMarginUsed": self.fmt_money(margin_used),
            "marginCloseoutPercent": self.fmt_money(margin_used / nav / 2 if nav > 0 else _ZERO),
            "marginCloseoutPositionValue": self.fmt_money(position_value),
            "withdrawalLimit": self.fmt_money(max(nav - margin_used, _ZERO)),
            "marginCallMarginUsed": self.fmt_money(margin_used),
            "marginCallPercent": self.fmt_money(margin_used / nav if nav > 0 else _ZERO),
            "lastTransactionID": self.last_id(),
        }

    async def _summary(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        return self._ok({"account": self.account_summary(), "lastTransactionID": self.last_id()})

    async def _account_details(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        account = self.account_summary()
        account["orders"] = [self.orders[oid] for oid in self.pending]
        account["trades"] = [self._trade_json(t) for t in self.trades.values()]
        account["positions"] = [self._position_json(i) for i in self._traded_instruments()]
        return self._ok({"account": account, "lastTransactionID": self.last_id()})

    # ---------------------------------------------------------------- orders
    async def _post_order(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        spec = await _json_body(request)
        if not isinstance(spec, dict) or not isinstance(spec.get("order"), dict):
            return self.error_response(400, "Invalid value specified for 'order'")
        order = spec["order"]
        otype = order.get("type")
        if otype not in _ENTRY_TYPES | _DEPENDENT_TYPES:
            return self.error_response(400, f"Invalid value specified for 'order.type': {otype!r}")
        self._begin()
        try:
            status, body = self._create(order, reason="CLIENT_ORDER", path=request.path)
        except (TypeError, ValueError, KeyError, ArithmeticError) as exc:  # malformed beyond the v20 checks
            return self.error_response(400, f"Invalid request: {type(exc).__name__}")
        finally:
            self._flush()
        return self._ok(body, status)

    def _create(self, order: dict[str, Any], *, reason: str, path: str, replaces: dict | None = None,
                cancel_tx: dict | None = None) -> tuple[int, dict[str, Any]]:
        otype = order["type"]
        fault = self.faults.take({"reject"}, "POST" if replaces is None else "PUT", path)
        try:
            if fault is not None:
                raise _Reject(fault.reason or "INTERNAL_SERVER_ERROR", "Rejected (injected)")
            norm = self._validate(order, replacing=replaces)
        except _Reject as rej:
            tx = self._tx(
                f"{otype}_ORDER_REJECT",
                **_reject_fields(order),
                reason="REPLACEMENT" if replaces else reason,
                rejectReason=rej.reason,
            )
            return 400, {
                "orderRejectTransaction": tx,
                "relatedTransactionIDs": [tx["id"]],
                "lastTransactionID": self.last_id(),
                "errorCode": rej.reason,
                "errorMessage": rej.message,
            }
        related: list[str] = []
        if replaces is not None:
            # the cancel of the replaced order comes first and names its successor
            cancel_tx = self._cancel(replaces, "CLIENT_REQUEST_REPLACED",
                                     replaced_by=str(len(self.transactions) + 2))
            related.append(cancel_tx["id"])
        create = self._tx(
            f"{otype}_ORDER",
            **norm["tx"],
            reason="REPLACEMENT" if replaces else reason,
            replacesOrderID=replaces["id"] if replaces else None,
        )
        related.append(create["id"])
        record = dict(norm["order"])
        record.update({"id": create["id"], "createTime": create["time"], "state": "PENDING"})
        if replaces:
            record["replacesOrderID"] = replaces["id"]
        self.orders[create["id"]] = record
        cid = record.get("clientExtensions", {}).get("id")
        if cid:
            self.client_ids[cid] = create["id"]
        body: dict[str, Any] = {"orderCreateTransaction": create}
        if cancel_tx is not None:
            body["orderCancelTransaction"] = cancel_tx
        mark = len(self.transactions)
        if otype == "MARKET":
            self._execute_market(record)
        else:
            self._arm(record)
            self._evaluate(record["instrument"] if "instrument" in record else self.trades_inst(record))
        for tx in self.transactions[mark:]:
            related.append(tx["id"])
            if tx["type"] == "ORDER_FILL" and tx["orderID"] == record["id"]:
                body["orderFillTransaction"] = tx
            elif tx["type"] == "ORDER_CANCEL" and tx["orderID"] == record["id"]:
                body["replacingOrderCancelTransaction" if replaces else "orderCancelTransaction"] = tx
        body["relatedTransactionIDs"] = related
        body["lastTransactionID"] = self.last_id()
        return 201, body

    def trades_inst(self, record: dict[str, Any]) -> str:
        trade = self.trades.get(record.get("tradeID", ""))
        return trade.instrument if trade else next(iter(self.instruments))

    def _validate(self, order: dict[str, Any], replacing: dict | None = None) -> dict[str, Any]:
        """Check an order spec the way v20 does; returns the normalized order and tx fields."""
        otype = order["type"]
        if not self.account_active:
            raise _Reject("ACCOUNT_NOT_ACTIVE", "The Account is not active")
        out: dict[str, Any] = {"type": otype}
        tif_default = "FOK" if otype == "MARKET" else "GTC"
        tif = order.get("timeInForce", tif_default)
        if not isinstance(tif, str) or tif not in _TIF_ALLOWED[otype]:
            raise _Reject("TIME_IN_FORCE_INVALID", f"Invalid timeInForce {tif!r} for {otype}")
        out["timeInForce"] = tif
        if tif == "GTD":
            gtd = order.get("gtdTime")
            if not gtd:
                raise _Reject("TIME_IN_FORCE_GTD_TIMESTAMP_MISSING")
            when = _parse_time(gtd)
            if when is None:
                raise _Reject("TIME_IN_FORCE_GTD_TIMESTAMP_MISSING", "gtdTime is not a timestamp")
            if when <= datetime.now(timezone.utc):
                raise _Reject("TIME_IN_FORCE_GTD_TIMESTAMP_IN_PAST")
            out["gtdTime"] = gtd
        ext = order.get("clientExtensions")
        if ext is not None:
            if not isinstance(ext, dict):
                raise _Reject("CLIENT_ORDER_ID_INVALID")
            cid = ext.get("id")
            if cid is not None:
                if not isinstance(cid, str) or not cid or len(cid) > 128 or cid.startswith("@"):
                    raise _Reject("CLIENT_ORDER_ID_INVALID")
                existing = self.client_ids.get(cid)
                if existing is not None and (replacing is None or existing != replacing["id"]):
                    raise _Reject("CLIENT_ORDER_ID_ALREADY_EXISTS", "The client order ID specified is already assigned")
            if "tag" in ext and (not isinstance(ext["tag"], str) or len(ext["tag"]) > 128):
                raise _Reject("CLIENT_ORDER_TAG_INVALID")
            if "comment" in ext and (not isinstance(ext["comment"], str) or len(ext["comment"]) > 128):
                raise _Reject("CLIENT_ORDER_COMMENT_INVALID")
            out["clientExtensions"] = {k: v for k, v in ext.items() if k in ("id", "tag", "comment")}
        elif replacing is not None and "clientExtensions" in replacing:
            out["clientExtensions"] = dict(replacing["clientExtensions"])
        if otype in _DEPENDENT_TYPES:
            return self._validate_dependent(order, out)

        name = order.get("instrument")
        if not name:
            raise _Reject("INSTRUMENT_MISSING")
        inst = self.instruments.get(name) if isinstance(name, str) else None
        if inst is None:
            raise _Reject("INSTRUMENT_UNKNOWN", f"Unknown instrument {name!r}")
        out["instrument"] = name
        units = _decimal(order.get("units"), missing="UNITS_MISSING", invalid="UNITS_INVALID")
        if units == 0:
            raise _Reject("UNITS_INVALID", "Units must not be zero")
        if _decimals(units) > inst.units_precision:
            raise _Reject("UNITS_PRECISION_EXCEEDED")
        if abs(units) > inst.maximum_units:
            raise _Reject("UNITS_LIMIT_EXCEEDED")
        if abs(units) < inst.minimum_units:
            raise _Reject("UNITS_MINIMUM_NOT_MET")
        out["units"] = self.fmt_units(name, units)
        if otype != "MARKET":
            price = self._price_field(inst, order.get("price"), "PRICE")
            out["price"] = self.fmt_price(name, price)
        if "priceBound" in order:
            bound = self._price_field(inst, order.get("priceBound"), "PRICE_BOUND", missing="PRICE_BOUND_INVALID")
            out["priceBound"] = self.fmt_price(name, bound)
        fill = order.get("positionFill", "DEFAULT")
        if not isinstance(fill, str) or fill not in _POSITION_FILL:
            raise _Reject("ORDER_FILL_POSITION_ACTION_INVALID")
        out["positionFill"] = fill
        if otype != "MARKET":
            cond = order.get("triggerCondition", "DEFAULT")
            if not isinstance(cond, str) or cond not in _TRIGGER_CONDITIONS:
                raise _Reject("TRIGGER_CONDITION_INVALID")
            out["triggerCondition"] = cond
            out["partialFill"] = "DEFAULT_FILL"
        tp = order.get("takeProfitOnFill")
        if tp is not None:
            out["takeProfitOnFill"] = self._on_fill(inst, tp, "TAKE_PROFIT_ON_FILL", distance_ok=False)
        sl = order.get("stopLossOnFill")
        if sl is not None:
            out["stopLossOnFill"] = self._on_fill(inst, sl, "STOP_LOSS_ON_FILL", distance_ok=True)
        tsl = order.get("trailingStopLossOnFill")
        if tsl is not None:
            if not isinstance(tsl, dict) or tsl.get("distance") is None:
                raise _Reject("TRAILING_STOP_LOSS_ON_FILL_PRICE_DISTANCE_MISSING")
            dist = _decimal(tsl.get("distance"), missing="TRAILING_STOP_LOSS_ON_FILL_PRICE_DISTANCE_MISSING",
                            invalid="TRAILING_STOP_LOSS_ON_FILL_PRICE_DISTANCE_INVALID")
            if dist <= 0:
                raise _Reject("TRAILING_STOP_LOSS_ON_FILL_PRICE_DISTANCE_INVALID")
            out["trailingStopLossOnFill"] = _details(tsl, distance=self.fmt_price(name, dist))
        # margin: the sim checks the initial margin of the order at creation
        pending_count = len(self.pending) - (1 if replacing is not None and replacing["id"] in self.pending else 0)
        if otype != "MARKET" and pending_count >= _MAX_PENDING:
            raise _Reject("PENDING_ORDERS_ALLOWED_EXCEEDED")
        mid = self._mid(name)
        margin = self._to_home(name, abs(units) * mid) * inst.margin_rate
        if self._increases_exposure(name, units) and margin > self._margin_available():
            raise _Reject("INSUFFICIENT_MARGIN", "Insufficient margin to place the order")
        tx = dict(out)
        return {"order": out, "tx": tx}

    def _validate_dependent(self, order: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        trade_id = order.get("tradeID")
        if not trade_id:
            raise _Reject("TRADE_ID_UNSPECIFIED")
        trade = self.trades.get(str(trade_id))
        if trade is None:
            raise _Reject("TRADE_DOESNT_EXIST")
        kind = order["type"]
        if kind in trade.dependents and trade.dependents[kind] in self.pending:
            raise _Reject(f"{kind}_ORDER_ALREADY_EXISTS")
        inst = self.instruments[trade.instrument]
        out["tradeID"] = trade.trade_id
        if trade.client_id:
            out["clientTradeID"] = trade.client_id
        if kind == "TRAILING_STOP_LOSS":
            if order.get("distance") is None:
                raise _Reject("PRICE_DISTANCE_MISSING")
            dist = _decimal(order.get("distance"), missing="PRICE_DISTANCE_MISSING", invalid="PRICE_DISTANCE_INVALID")
            if dist <= 0:
                raise _Reject("PRICE_DISTANCE_INVALID")
            out["distance"] = self.fmt_price(trade.instrument, dist)
        else:
            price = self._price_field(inst, order.get("price"), "PRICE")
            out["price"] = self.fmt_price(trade.instrument, price)
        out["triggerCondition"] = order.get("triggerCondition", "DEFAULT")
        return {"order": out, "tx": dict(out)}

    def _price_field(self, inst: SimInstrument, raw: Any, prefix: str, missing: str | None = None) -> Decimal:
        price = _decimal(raw, missing=missing or f"{prefix}_MISSING", invalid=f"{prefix}_INVALID")
        if price <= 0:
            raise _Reject(f"{prefix}_INVALID")
        if _decimals(price) > inst.display_precision:
            raise _Reject(f"{prefix}_PRECISION_EXCEEDED")
        return price

    def _on_fill(self, inst: SimInstrument, details: Any, prefix: str, *, distance_ok: bool) -> dict[str, Any]:
        if not isinstance(details, dict):
            raise _Reject(f"{prefix}_PRICE_MISSING")
        has_price, has_dist = details.get("price") is not None, details.get("distance") is not None
        if distance_ok and has_price and has_dist:
            raise _Reject(f"{prefix}_PRICE_AND_DISTANCE_BOTH_SPECIFIED")
        if distance_ok and not has_price and not has_dist:
            raise _Reject(f"{prefix}_PRICE_AND_DISTANCE_BOTH_MISSING")
        if has_dist and distance_ok:
            dist = _decimal(details["distance"], missing=f"{prefix}_DISTANCE_INVALID", invalid=f"{prefix}_DISTANCE_INVALID")
            if dist <= 0:
                raise _Reject(f"{prefix}_DISTANCE_INVALID")
            return _details(details, distance=self.fmt_price(inst.name, dist))
        price = self._price_field(inst, details.get("price"), f"{prefix}_PRICE")
        tif = details.get("timeInForce", "GTC")
        if not isinstance(tif, str) or tif not in ("GTC", "GTD", "GFD"):
            raise _Reject(f"{prefix}_TIME_IN_FORCE_INVALID")
        cext = details.get("clientExtensions")
        if cext is not None:
            cid = cext.get("id") if isinstance(cext, dict) else None
            if not isinstance(cid, str) or not cid or len(cid) > 128:
                raise _Reject(f"{prefix}_CLIENT_ORDER_ID_INVALID")
            if cid in self.client_ids:
                raise _Reject(f"{prefix}_CLIENT_ORDER_ID_INVALID", "The client order ID is already assigned")
        return _details(details, price=self.fmt_price(inst.name, price), timeInForce=tif)

    def _increases_exposure(self, instrument: str, units: Decimal) -> bool:
        net = sum((t.current_units for t in self.trades.values() if t.instrument == instrument), _ZERO)
        return net == 0 or (net > 0) == (units > 0) or abs(units) > abs(net)

    def _margin_available(self) -> Decimal:
        unrealized = sum((self._trade_upl(t) for t in self.trades.values()), _ZERO)
        used = sum((self._trade_margin(t) for t in self.trades.values()), _ZERO)
        return self.balance + unrealized - used

    # ---------------------------------------------------------------- execution
    def _execute_market(self, order: dict[str, Any]) -> None:
        name = order["instrument"]
        units = Decimal(order["units"])
        side = BUY if units > 0 else SELL
        if name in self.halted:
            self._cancel(order, "MARKET_HALTED")
            return
        bound = Decimal(order["priceBound"]) if "priceBound" in order else None
        book = self.books[name]
        available = book.available(side, bound)
        if order["timeInForce"] == "FOK" and available < abs(units):
            reason = "BOUNDS_VIOLATION" if bound is not None and book.available(side) >= abs(units) else "INSUFFICIENT_LIQUIDITY"
            self._cancel(order, reason)
            return
        if available <= 0:
            self._cancel(order, "BOUNDS_VIOLATION" if bound is not None else "INSUFFICIENT_LIQUIDITY")
            return
        fill_units = min(abs(units), available)
        self._fill(order, name, fill_units if side == BUY else -fill_units, bound, "MARKET_ORDER")
        self._evaluate(name)

    def _arm(self, order: dict[str, Any]) -> None:
        otype = order["type"]
        if otype in _DEPENDENT_TYPES:
            trade = self.trades[order["tradeID"]]
            side = SELL if trade.current_units > 0 else BUY
            units = -trade.current_units
            name = trade.instrument
            trade.dependents[otype] = order["id"]
            if otype == "TAKE_PROFIT":
                trigger = Trigger(TOUCH, side, Decimal(order["price"]))
            elif otype == "STOP_LOSS":
                trigger = Trigger(STOP, side, Decimal(order["price"]))
            else:
                trigger = Trigger(TRAIL, side, None, Decimal(order["distance"]))
                book = self.books[name]
                trigger.observe(book.best_bid(), book.best_ask())
                order["trailingStopValue"] = self.fmt_price(name, trigger.level) if trigger.level else None
        else:
            name = order["instrument"]
            units = Decimal(order["units"])
            side = BUY if units > 0 else SELL
            kind = {"LIMIT": TOUCH, "MARKET_IF_TOUCHED": TOUCH, "STOP": STOP}[otype]
            trigger = Trigger(kind, side, Decimal(order["price"]))
        bound = Decimal(order["priceBound"]) if "priceBound" in order else None
        self.pending[order["id"]] = _Pending(order, name, side, trigger, units, bound)

    def _evaluate(self, instrument: str) -> None:
        """Fire pending orders of `instrument` whose trigger is met, until none is.

        Every round either removes a pending order (fill, expiry) or marks it as
        not fillable now, so the loop ends; the bound is a guard, not a limit.
        """
        book = self.books[instrument]
        skip: set[str] = set()
        for _ in range(4 * len(self.pending) + 8):
            if instrument in self.halted:
                return
            bid, ask = book.best_bid(), book.best_ask()
            now = datetime.now(timezone.utc)
            fired: _Pending | None = None
            expired: _Pending | None = None
            for oid in sorted(self.pending, key=int):
                p = self.pending[oid]
                if p.instrument != instrument or oid in skip:
                    continue
                gtd = p.order.get("gtdTime")
                if gtd and (when := _parse_time(gtd)) is not None and when <= now:
                    expired = p
                    break
                p.trigger.observe(bid, ask)
                if p.trigger.kind == TRAIL and p.trigger.level is not None:
                    p.order["trailingStopValue"] = self.fmt_price(instrument, p.trigger.level)
                if p.trigger.fired(bid, ask):
                    fired = p
                    break
            if expired is not None:
                self._cancel(expired.order, "TIME_IN_FORCE_EXPIRED")
                continue
            if fired is None:
                return
            if not self._fire(fired):
                skip.add(fired.order["id"])

    def _fire(self, p: _Pending) -> bool:
        """Execute a triggered order all-or-none; False if it stays pending."""
        order = p.order
        otype = order["type"]
        book = self.books[p.instrument]
        if otype in _DEPENDENT_TYPES:
            trade = self.trades.get(order["tradeID"])
            if trade is None:
                self._cancel(order, "LINKED_TRADE_CLOSED")
                return True
            units = -trade.current_units
        else:
            units = p.units
        qty = abs(units)
        limit = Decimal(order["price"]) if otype == "LIMIT" else p.price_bound
        if book.available(p.side, limit) < qty:
            if otype in ("STOP", "MARKET_IF_TOUCHED") and limit is not None and book.available(p.side) >= qty:
                self._cancel(order, "BOUNDS_VIOLATION")
                return True
            return False
        reason = f"{otype}_ORDER"
        self._fill(order, p.instrument, units, limit, reason)
        return True

    def _fill(self, order: dict[str, Any], name: str, units: Decimal, limit: Decimal | None, reason: str) -> dict:
        side = BUY if units > 0 else SELL
        book = self.books[name]
        result = book.add(f"c{order['id']}-{len(self.transactions)}", "client", side, abs(units), limit, "IOC")
        filled = result.filled
        vwap = result.notional / filled
        signed = filled if side == BUY else -filled
        fill_id = str(len(self.transactions) + 1)
        fill_time = self.now()
        closed: list[dict[str, Any]] = []
        reduced: dict[str, Any] | None = None
        opened: dict[str, Any] | None = None
        pl = _ZERO
        remaining = signed
        for trade in sorted((t for t in self.trades.values() if t.instrument == name), key=lambda t: int(t.trade_id)):
            if remaining == 0 or (trade.current_units > 0) == (remaining > 0):
                continue
            take = min(abs(remaining), abs(trade.current_units))
            trade_units_closed = take if trade.current_units > 0 else -take  # signed, as the trade was
            trade_pl = self._to_home(name, (vwap - trade.price) * trade_units_closed)
            pl += trade_pl
            trade.realized_pl += trade_pl
            trade.current_units -= trade_units_closed
            remaining += trade_units_closed
            entry = {
                "tradeID": trade.trade_id,
                "units": self.fmt_units(name, -trade_units_closed),
                "price": self.fmt_price(name, vwap),
                "realizedPL": self.fmt_money(trade_pl),
                "financing": "0.0000",
                "halfSpreadCost": "0.0000",
            }
            if trade.current_units == 0:
                closed.append(entry)
                self.closed_trades[trade.trade_id] = self.trades.pop(trade.trade_id)
            else:
                reduced = entry
        if remaining != 0:
            opened = {
                "tradeID": fill_id,
                "units": self.fmt_units(name, remaining),
                "price": self.fmt_price(name, vwap),
                "guaranteedExecutionFee": "0.0000",
                "halfSpreadCost": "0.0000",
                "initialMarginRequired": self.fmt_money(
                    self._to_home(name, abs(remaining) * vwap) * self.instruments[name].margin_rate
                ),
            }
            client_trade = (order.get("tradeClientExtensions") or {}).get("id")
            if client_trade:
                opened["clientExtensions"] = {"id": client_trade}
        self.balance += pl
        self.realized[name] = self.realized.get(name, _ZERO) + pl
        bid, ask = book.best_bid(), book.best_ask()
        tx = self._tx(
            "ORDER_FILL",
            orderID=order["id"],
            clientOrderID=(order.get("clientExtensions") or {}).get("id"),
            instrument=name,
            units=self.fmt_units(name, signed),
            price=self.fmt_price(name, vwap),
            fullVWAP=self.fmt_price(name, vwap),
            fullPrice={
                "type": "PRICE",
                "bids": [{"price": self.fmt_price(name, bid), "liquidity": "1000000"}] if bid else [],
                "asks": [{"price": self.fmt_price(name, ask), "liquidity": "1000000"}] if ask else [],
                "closeoutBid": self.fmt_price(name, bid) if bid else None,
                "closeoutAsk": self.fmt_price(name, ask) if ask else None,
            },
            reason=reason,
            pl=self.fmt_money(pl),
            quotePL=self.fmt_money(pl),
            financing="0.0000",
            baseFinancing="0",
            commission="0.0000",
            guaranteedExecutionFee="0.0000",
            halfSpreadCost="0.0000",
            accountBalance=self.fmt_money(self.balance),
            tradeOpened=opened,
            tradesClosed=closed or None,
            tradeReduced=reduced,
        )
        tx["time"] = fill_time
        assert tx["id"] == fill_id
        if opened is not None:
            self.trades[fill_id] = _Trade(fill_id, name, vwap, remaining, remaining, fill_time,
                                          client_id=(opened.get("clientExtensions") or {}).get("id"))
        order["state"] = "FILLED"
        order["fillingTransactionID"] = fill_id
        order["filledTime"] = fill_time
        if opened:
            order["tradeOpenedID"] = fill_id
        if reduced:
            order["tradeReducedID"] = reduced["tradeID"]
        if closed:
            order["tradeClosedIDs"] = [c["tradeID"] for c in closed]
        self.pending.pop(order["id"], None)
        self._dirty_prices.add(name)
        # dependents of trades this fill closed are cancelled
        for c in closed:
            for oid in list(self.closed_trades[c["tradeID"]].dependents.values()):
                dep = self.orders.get(oid)
                if dep is not None and dep["state"] == "PENDING":
                    self._cancel(dep, "LINKED_TRADE_CLOSED")
        if opened is not None:
            self._on_fill_orders(order, self.trades[fill_id])
        return tx

    def _on_fill_orders(self, order: dict[str, Any], trade: _Trade) -> None:
        for key, kind in (("takeProfitOnFill", "TAKE_PROFIT"), ("stopLossOnFill", "STOP_LOSS"),
                          ("trailingStopLossOnFill", "TRAILING_STOP_LOSS")):
            details = order.get(key)
            if not details:
                continue
            fields: dict[str, Any] = {
                "tradeID": trade.trade_id,
                "timeInForce": details.get("timeInForce", "GTC"),
                "triggerCondition": "DEFAULT",
            }
            if trade.client_id:
                fields["clientTradeID"] = trade.client_id
            if kind == "TRAILING_STOP_LOSS":
                fields["distance"] = details["distance"]
            elif "price" in details:
                fields["price"] = details["price"]
            else:  # stop-loss by distance from the fill price
                dist = Decimal(details["distance"])
                level = trade.price - dist if trade.current_units > 0 else trade.price + dist
                fields["price"] = self.fmt_price(trade.instrument, level)
            if details.get("clientExtensions"):
                fields["clientExtensions"] = dict(details["clientExtensions"])
            tx = self._tx(f"{kind}_ORDER", reason="ON_FILL", **fields)
            record = {"type": kind, **fields, "id": tx["id"], "createTime": tx["time"], "state": "PENDING"}
            self.orders[tx["id"]] = record
            cid = (fields.get("clientExtensions") or {}).get("id")
            if cid:
                self.client_ids[cid] = tx["id"]
            self._arm(record)

    def _cancel(self, order: dict[str, Any], reason: str, replaced_by: str | None = None) -> dict[str, Any]:
        tx = self._tx(
            "ORDER_CANCEL",
            orderID=order["id"],
            clientOrderID=(order.get("clientExtensions") or {}).get("id"),
            reason=reason,
            replacedByOrderID=replaced_by,
        )
        order["state"] = "CANCELLED"
        order["cancellingTransactionID"] = tx["id"]
        order["cancelledTime"] = tx["time"]
        if replaced_by:
            order["replacedByOrderID"] = replaced_by
        self.pending.pop(order["id"], None)
        return tx

    # ---------------------------------------------------------------- order queries / changes
    def _find(self, spec: str) -> dict[str, Any] | None:
        if spec.startswith("@"):
            oid = self.client_ids.get(spec[1:])
            return self.orders.get(oid) if oid else None
        return self.orders.get(spec)

    async def _get_order(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        order = self._find(request.match_info["spec"])
        if order is None:
            return self._ok({"errorCode": "NO_SUCH_ORDER", "errorMessage": "The order ID specified does not exist",
                             "lastTransactionID": self.last_id()}, 404)
        return self._ok({"order": order, "lastTransactionID": self.last_id()})

    async def _list_orders(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        q = request.query
        state = q.get("state", "PENDING")
        instrument = q.get("instrument")
        ids = set(q["ids"].split(",")) if q.get("ids") else None
        count = _int(q.get("count"), 50) or 50
        out = []
        for oid in sorted(self.orders, key=int, reverse=True):
            o = self.orders[oid]
            if state != "ALL" and o["state"] != state:
                continue
            if instrument and o.get("instrument", self._order_instrument(o)) != instrument:
                continue
            if ids is not None and oid not in ids:
                continue
            out.append(o)
            if len(out) >= count:
                break
        return self._ok({"orders": out, "lastTransactionID": self.last_id()})

    def _order_instrument(self, order: dict[str, Any]) -> str | None:
        trade = self.trades.get(order.get("tradeID", "")) or self.closed_trades.get(order.get("tradeID", ""))
        return trade.instrument if trade else None

    async def _pending_orders(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        orders = [self.orders[oid] for oid in sorted(self.pending, key=int, reverse=True)]
        return self._ok({"orders": orders, "lastTransactionID": self.last_id()})

    async def _cancel_order(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        spec = request.match_info["spec"]
        order = self._find(spec)
        self._begin()
        try:
            if order is None or order["state"] != "PENDING":
                tx = self._tx(
                    "ORDER_CANCEL_REJECT",
                    orderID=order["id"] if order else (None if spec.startswith("@") else spec),
                    clientOrderID=spec[1:] if spec.startswith("@") else None,
                    rejectReason="ORDER_DOESNT_EXIST",
                )
                return self._ok({
                    "orderCancelRejectTransaction": tx,
                    "relatedTransactionIDs": [tx["id"]],
                    "lastTransactionID": self.last_id(),
                    "errorCode": "ORDER_DOESNT_EXIST",
                    "errorMessage": "The Order specified does not exist",
                }, 404)
            tx = self._cancel(order, "CLIENT_REQUEST")
            return self._ok({"orderCancelTransaction": tx, "relatedTransactionIDs": [tx["id"]],
                             "lastTransactionID": self.last_id()})
        finally:
            self._flush()

    async def _replace_order(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        spec = await _json_body(request)
        if not isinstance(spec, dict) or not isinstance(spec.get("order"), dict):
            return self.error_response(400, "Invalid value specified for 'order'")
        new = spec["order"]
        if new.get("type") not in _ENTRY_TYPES | _DEPENDENT_TYPES:
            return self.error_response(400, f"Invalid value specified for 'order.type': {new.get('type')!r}")
        old = self._find(request.match_info["spec"])
        self._begin()
        try:
            if old is None or old["state"] != "PENDING":
                tx = self._tx("ORDER_CANCEL_REJECT", orderID=old["id"] if old else None,
                              rejectReason="ORDER_DOESNT_EXIST")
                return self._ok({
                    "orderCancelRejectTransaction": tx,
                    "relatedTransactionIDs": [tx["id"]],
                    "lastTransactionID": self.last_id(),
                    "errorCode": "ORDER_DOESNT_EXIST",
                    "errorMessage": "The Order specified does not exist",
                }, 404)
            try:
                status, body = self._create(new, reason="REPLACEMENT", path=request.path, replaces=old)
            except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
                return self.error_response(400, f"Invalid request: {type(exc).__name__}")
            return self._ok(body, status)
        finally:
            self._flush()

    # ---------------------------------------------------------------- positions / trades
    def _traded_instruments(self) -> list[str]:
        names = {t.instrument for t in self.trades.values()} | set(self.realized)
        return sorted(names)

    def _trade_upl(self, trade: _Trade) -> Decimal:
        book = self.books[trade.instrument]
        close = book.best_bid() if trade.current_units > 0 else book.best_ask()
        if close is None:
            return _ZERO
        return self._to_home(trade.instrument, (close - trade.price) * trade.current_units)

    def _trade_margin(self, trade: _Trade) -> Decimal:
        inst = self.instruments[trade.instrument]
        return self._to_home(trade.instrument, abs(trade.current_units) * self._mid(trade.instrument)) * inst.margin_rate

    def _side_json(self, name: str, trades: list[_Trade]) -> dict[str, Any]:
        units = sum((t.current_units for t in trades), _ZERO)
        side: dict[str, Any] = {
            "units": self.fmt_units(name, units),
            "pl": "0.0000",
            "resettablePL": "0.0000",
            "financing": "0.0000",
            "unrealizedPL": self.fmt_money(sum((self._trade_upl(t) for t in trades), _ZERO)),
        }
        if trades:
            avg = sum((t.price * t.current_units for t in trades), _ZERO) / units
            side["averagePrice"] = self.fmt_price(name, avg)
            side["tradeIDs"] = [t.trade_id for t in trades]
        return side

    def _position_json(self, name: str) -> dict[str, Any]:
        longs = [t for t in self.trades.values() if t.instrument == name and t.current_units > 0]
        shorts = [t for t in self.trades.values() if t.instrument == name and t.current_units < 0]
        realized = self.realized.get(name, _ZERO)
        upl = sum((self._trade_upl(t) for t in longs + shorts), _ZERO)
        return {
            "instrument": name,
            "pl": self.fmt_money(realized),
            "resettablePL": self.fmt_money(realized),
            "unrealizedPL": self.fmt_money(upl),
            "marginUsed": self.fmt_money(sum((self._trade_margin(t) for t in longs + shorts), _ZERO)),
            "financing": "0.0000",
            "commission": "0.0000",
            "long": self._side_json(name, longs),
            "short": self._side_json(name, shorts),
        }

    async def _positions(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        return self._ok({"positions": [self._position_json(n) for n in self._traded_instruments()],
                         "lastTransactionID": self.last_id()})

    async def _open_positions(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        names = sorted({t.instrument for t in self.trades.values()})
        return self._ok({"positions": [self._position_json(n) for n in names], "lastTransactionID": self.last_id()})

    async def _position(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        name = request.match_info["instrument"]
        if name not in self.instruments:
            return self._ok({"errorMessage": "Invalid value specified for 'instrument'"}, 400)
        return self._ok({"position": self._position_json(name), "lastTransactionID": self.last_id()})

    def _trade_json(self, t: _Trade) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": t.trade_id,
            "instrument": t.instrument,
            "price": self.fmt_price(t.instrument, t.price),
            "openTime": t.open_time,
            "state": "OPEN",
            "initialUnits": self.fmt_units(t.instrument, t.initial_units),
            "currentUnits": self.fmt_units(t.instrument, t.current_units),
            "realizedPL": self.fmt_money(t.realized_pl),
            "unrealizedPL": self.fmt_money(self._trade_upl(t)),
            "financing": "0.0000",
        }
        if t.client_id:
            body["clientExtensions"] = {"id": t.client_id}
        return body

    async def _trade(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        tid = request.match_info["trade"]
        trade = self.trades.get(tid) or self.closed_trades.get(tid)
        if trade is None:
            return self._ok({"errorMessage": "The trade ID specified does not exist"}, 404)
        body = self._trade_json(trade)
        if tid in self.closed_trades:
            body["state"] = "CLOSED"
        return self._ok({"trade": body, "lastTransactionID": self.last_id()})

    async def _open_trades(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        trades = [self._trade_json(t) for t in sorted(self.trades.values(), key=lambda t: -int(t.trade_id))]
        return self._ok({"trades": trades, "lastTransactionID": self.last_id()})

    # ---------------------------------------------------------------- pricing
    def price_json(self, name: str) -> dict[str, Any]:
        bids, asks = self.books[name].depth(5)
        tradeable = name not in self.halted
        out: dict[str, Any] = {
            "type": "PRICE",
            "instrument": name,
            "time": self.now(),
            "status": "tradeable" if tradeable else "non-tradeable",
            "tradeable": tradeable,
            "bids": [{"price": self.fmt_price(name, p), "liquidity": int(q)} for p, q in bids],
            "asks": [{"price": self.fmt_price(name, p), "liquidity": int(q)} for p, q in asks],
        }
        if bids:
            out["closeoutBid"] = self.fmt_price(name, bids[-1][0])
        if asks:
            out["closeoutAsk"] = self.fmt_price(name, asks[-1][0])
        return out

    async def _pricing(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        names = [n for n in request.query.get("instruments", "").split(",") if n]
        if not names:
            return self._ok({"errorMessage": "Invalid value specified for 'instruments'"}, 400)
        unknown = [n for n in names if n not in self.instruments]
        if unknown:
            return self._ok({"errorMessage": f"Invalid Instrument {unknown[0]}"}, 400)
        return self._ok({"time": self.now(), "prices": [self.price_json(n) for n in names]})

    # ---------------------------------------------------------------- transactions
    async def _since_id(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        since = _int(request.query.get("id"), None)
        if since is None or since < 0:
            return self._ok({"errorMessage": "Invalid value specified for 'id'"}, 400)
        txs = self.transactions[since: since + _SINCEID_PAGE]
        return self._ok({"transactions": txs, "lastTransactionID": self.last_id()})

    async def _id_range(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        lo, hi = _int(request.query.get("from"), None), _int(request.query.get("to"), None)
        if lo is None or hi is None or lo < 1 or hi < lo:
            return self._ok({"errorMessage": "Invalid value specified for 'from'/'to'"}, 400)
        return self._ok({"transactions": self.transactions[lo - 1: hi], "lastTransactionID": self.last_id()})

    async def _transaction(self, request: web.Request) -> web.Response:
        if (err := self._check(request)) is not None:
            return err
        tid = _int(request.match_info["tid"], None)
        if tid is None or not 1 <= tid <= len(self.transactions):
            return self._ok({"errorMessage": "The transaction ID specified does not exist"}, 404)
        return self._ok({"transaction": self.transactions[tid - 1], "lastTransactionID": self.last_id()})

    # ---------------------------------------------------------------- streams
    async def _transaction_stream(self, request: web.Request) -> web.StreamResponse:
        if (err := self._check(request)) is not None:
            return err
        if self.streams_blocked:
            return self.error_response(503, "Service unavailable (simulated outage)")
        q: asyncio.Queue = asyncio.Queue()
        self._tx_subs.add(q)
        try:
            return await self._stream(request, q, lambda: {"type": "HEARTBEAT", "lastTransactionID": self.last_id(),
                                                           "time": self.now()})
        finally:
            self._tx_subs.discard(q)

    async def _pricing_stream(self, request: web.Request) -> web.StreamResponse:
        if (err := self._check(request)) is not None:
            return err
        if self.streams_blocked:
            return self.error_response(503, "Service unavailable (simulated outage)")
        names = frozenset(n for n in request.query.get("instruments", "").split(",") if n)
        if not names or any(n not in self.instruments for n in names):
            return self._ok({"errorMessage": "Invalid value specified for 'instruments'"}, 400)
        q: asyncio.Queue = asyncio.Queue()
        for n in sorted(names):
            q.put_nowait(self.price_json(n))  # a stream starts with the current prices
        entry = (names, q)
        self._price_subs.add(entry)
        try:
            return await self._stream(request, q, lambda: {"type": "HEARTBEAT", "time": self.now()}, greet=False)
        finally:
            self._price_subs.discard(entry)

    async def _stream(self, request: web.Request, q: asyncio.Queue, heartbeat, greet: bool = True) -> web.StreamResponse:
        """Write queued messages as JSON lines, a heartbeat whenever idle for `heartbeat` seconds.

        The transaction stream greets with a heartbeat at once (it carries
        lastTransactionID, which clients use to detect gaps); the pricing stream
        starts with the current prices instead.
        """
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/octet-stream"})
        await resp.prepare(request)
        try:
            if greet:
                await resp.write((json.dumps(heartbeat()) + "\n").encode())
            while not self.closing:
                try:
                    item = await asyncio.wait_for(q.get(), timeout=self.heartbeat)
                except asyncio.TimeoutError:
                    item = heartbeat()
                if item is _DROP:
                    drop_connection(request)
                    return resp
                if item is _END:
                    break
                await resp.write((json.dumps(item) + "\n").encode())
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return resp

    # ---------------------------------------------------------------- admin
    async def _admin_price(self, request: web.Request) -> web.Response:
        data = await _json_body(request)
        try:
            name = data["instrument"]
            if name not in self.instruments:
                raise KeyError(name)
            extra = {k: data[k] for k in ("half_spread", "step", "levels", "quantity") if k in data}
            self.set_price(name, Decimal(str(data["mid"])), **extra)
        except (KeyError, TypeError, InvalidOperation, ValueError) as exc:
            return web.json_response({"error": f"bad request: {exc}"}, status=400)
        return web.json_response(self.price_json(name))

    async def _admin_halt(self, request: web.Request) -> web.Response:
        data = await _json_body(request)
        if not isinstance(data, dict) or data.get("instrument") not in self.instruments:
            return web.json_response({"error": "unknown instrument"}, status=400)
        self.halt(data["instrument"], bool(data.get("halted", True)))
        return web.json_response({"halted": sorted(self.halted)})

    async def _admin_streams(self, request: web.Request) -> web.Response:
        data = await _json_body(request)
        if not isinstance(data, dict):
            return web.json_response({"error": "expected an object"}, status=400)
        if "blocked" in data:
            self.streams_blocked = bool(data["blocked"])
        if data.get("drop"):
            self.drop_streams()
        return web.json_response({"blocked": self.streams_blocked})

    async def _admin_account(self, request: web.Request) -> web.Response:
        data = await _json_body(request)
        if isinstance(data, dict) and "active" in data:
            self.account_active = bool(data["active"])
        return web.json_response({"active": self.account_active})

    async def _admin_state(self, request: web.Request) -> web.Response:
        return web.json_response({
            "account": self.account_summary(),
            "orders": list(self.orders.values()),
            "trades": [self._trade_json(t) for t in self.trades.values()],
            "lastTransactionID": self.last_id(),
            "halted": sorted(self.halted),
            "streamsBlocked": self.streams_blocked,
        })


_DROP = object()
_END = object()


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def _decimal(raw: Any, *, missing: str, invalid: str) -> Decimal:
    if raw is None or raw == "":
        raise _Reject(missing)
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        raise _Reject(invalid)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise _Reject(invalid) from None
    if not value.is_finite():
        raise _Reject(invalid)
    return value


def _decimals(value: Decimal) -> int:
    """Digits after the point, ignoring trailing zeros ("1.10" has 1)."""
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _int(raw: Any, default: int | None) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


def _parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    try:
        if text.endswith("Z"):
            text = text[:-1]
            if "." in text:
                head, frac = text.split(".", 1)
                text = f"{head}.{frac[:6]}"
            return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
        value = datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    except ValueError:
        try:
            return datetime.fromtimestamp(float(text), tz=timezone.utc)
        except ValueError:
            return None


def _details(src: dict[str, Any], **fields: Any) -> dict[str, Any]:
    out = {k: v for k, v in fields.items() if v is not None}
    if isinstance(src.get("clientExtensions"), dict):
        out["clientExtensions"] = dict(src["clientExtensions"])
    return out


def _reject_fields(order: dict[str, Any]) -> dict[str, Any]:
    keep = ("instrument", "units", "price", "priceBound", "timeInForce", "positionFill", "triggerCondition",
            "clientExtensions", "takeProfitOnFill", "stopLossOnFill", "trailingStopLossOnFill", "tradeID",
            "distance", "gtdTime")
    return {k: order[k] for k in keep if k in order}
