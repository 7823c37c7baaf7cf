"""Order entry for the REST gateway: requests in, engine commands through the
sequencer, answers from the events — after they are durable.

Translation goes through engine/translate.py, the same functions the FIX
gateway uses, so the same mistake gets the same reject code on both. A request
the translation refuses is still recorded through the OMS (RejectNew): it gets
an order id, a REJECTED execution report and a journal entry like any other.

Refused cancels and replaces are recorded the same way (RejectCancel), so
every well-formed order, cancel and replace request is in the journal, carried
out or refused (malformed requests — 422 — and unauthenticated ones are not).

Idempotency: a POST whose cl_ord_id the account already used returns the
original order (`replayed: true`) instead of placing a second one. The check
and the submit happen in one synchronous step (no await between), so two
concurrent retries cannot both get through; a retry that arrives before the
original is durable waits for it.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import TYPE_CHECKING

from api.envelope import NOT_FOUND, ApiError, reason_status
from api.keys import ApiKey
from api.schemas import OrderIn, ReplaceIn
from engine.commands import CancelOrder, MassCancel, RejectCancel, RejectNew
from engine.order import Order
from engine.reject import Reason, RejectError
from engine.translate import (
    ORDER_TYPES,
    SIDES,
    STATUS_NAMES,
    OrderRequest,
    ReplaceRequest,
    exec_view,
    new_order_command,
    order_view,
    replace_command,
)
from engine.types import ExecType

if TYPE_CHECKING:
    from api.context import ApiContext

_REJECTED = int(ExecType.REJECTED)
_TRADE = int(ExecType.TRADE)
_CANCELED = int(ExecType.CANCELED)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_FILL_KEYS = ("seq", "ts", "order_id", "cl_ord_id", "symbol", "side", "trade_id", "last_price", "last_qty", "fee",
              "fee_currency", "liquidity", "cum_qty", "leaves_qty", "status")


def to_ns(dt: _dt.datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    return (dt - _EPOCH) // _dt.timedelta(microseconds=1) * 1000


def fill_view(ev, inst) -> dict:
    v = exec_view(ev, inst)
    return {k: v[k] for k in _FILL_KEYS}


def _order_error(ev) -> ApiError:
    return ApiError(reason_status(ev.reason), ev.reason or Reason.INVALID_ORDER.value, ev.text or "rejected",
                    {"order_id": ev.order_id, "cl_ord_id": ev.cl_ord_id, "status": STATUS_NAMES.get(ev.status)})


class OrderDesk:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ lookups

    def find(self, account: str, ident: str) -> Order | None:
        """An order of `account` by venue order id (digits) or client order id."""
        oms = self.ctx.oms
        if ident.isascii() and ident.isdigit() and len(ident) <= 18:
            o = oms.find(account, order_id=int(ident))
            if o is not None:
                return o
        return oms.get_by_clid(account, ident)

    def view(self, o: Order) -> dict:
        return order_view(o, self.ctx.instruments[o.symbol]) if o.symbol in self.ctx.instruments else \
            _unknown_symbol_view(o)

    # ------------------------------------------------------------------ new order

    async def place(self, key: ApiKey, body: OrderIn) -> tuple[int, dict]:
        ctx = self.ctx
        account = key.account
        clid = body.cl_ord_id or "rest-" + uuid.uuid4().hex[:24]
        symbol = ctx.symbols.resolve(body.symbol) or body.symbol
        side = body.side.value
        otype = body.order_type.value
        existing = ctx.oms.get_by_clid(account, clid)
        if existing is not None:
            return 200, await self._replay(existing, symbol, side, otype)
        req = OrderRequest(
            account=account, cl_ord_id=clid, symbol=symbol, side=side, quantity=body.quantity,
            order_type=otype, time_in_force=body.time_in_force.value, price=body.price,
            stop_price=body.stop_price, trail_amount=body.trail_amount, trail_percent=body.trail_percent,
            display_qty=body.display_qty, hidden=body.hidden, post_only=body.post_only, min_qty=body.min_qty,
            expire_ts=to_ns(body.expire_time) if body.expire_time is not None else 0,
            stp=body.stp.value if body.stp is not None else None, reduce_only=body.reduce_only, origin=key.origin,
        )
        ts = ctx.clock()
        try:
            cmd = new_order_command(req, ctx.instruments, ts)
        except RejectError as err:
            rec = RejectNew(ts, account, clid, symbol, SIDES[side], err.reason.value, err.text,
                            ord_type=ORDER_TYPES[otype], origin=key.origin)
            events = await ctx.sequencer.execute(rec)
            oid = next((e.order_id for e in events if e.kind == "exec"), None)
            raise ApiError.from_reject(err, order_id=oid, cl_ord_id=clid) from None
        events = await ctx.sequencer.execute(cmd)
        oid = 0
        fills = []
        inst = ctx.instruments[symbol]
        for ev in events:
            if ev.kind != "exec":
                continue
            if not oid:
                if ev.account == account and ev.cl_ord_id == clid:
                    if ev.exec_type == _REJECTED:
                        raise _order_error(ev)
                    oid = ev.order_id
            elif ev.order_id == oid and ev.exec_type == _TRADE:
                fills.append(fill_view(ev, inst))
        o = ctx.oms.get(oid)
        if o is None:   # cannot happen: the OMS registers every accepted order
            raise ApiError(500, "INTERNAL_ERROR", "order vanished")
        return 201, {"order": order_view(o, inst), "fills": fills, "replayed": False}

    async def _replay(self, o: Order, symbol: str, side: str, otype: str) -> dict:
        if o.symbol != symbol or o.side != SIDES[side] or o.ord_type != ORDER_TYPES[otype]:
            raise ApiError(409, Reason.DUPLICATE_ORDER.value,
                           f"client order id {o.cl_ord_id!r} is already used by a different order",
                           {"order_id": o.order_id, "cl_ord_id": o.cl_ord_id})
        await self.ctx.durable()
        return {"order": self.view(o), "fills": [], "replayed": True}

    # ------------------------------------------------------------------ cancel / replace

    async def _refuse_cancel(self, key: ApiKey, ident: str, order: Order | None, is_replace: bool,
                             err: RejectError, new_clid: str = "") -> ApiError:
        """Record a cancel/replace refused at the edge through the OMS (RejectCancel: a
        CancelReject with a sequence number and a journal entry, as FIX gets) and build the answer."""
        ctx = self.ctx
        cmd = RejectCancel(ctx.clock(), key.account, new_clid, order.cl_ord_id if order is not None else ident,
                           order.order_id if order is not None else 0, is_replace, err.reason.value, err.text,
                           key.origin)
        await ctx.sequencer.execute(cmd)
        details = {"id": ident, **err.details}
        if order is not None:
            details["order_id"] = order.order_id
        return ApiError(reason_status(err.reason.value), err.reason.value, err.text, details)

    async def _must_find(self, key: ApiKey, ident: str, is_replace: bool) -> Order:
        o = self.find(key.account, ident)
        if o is None:
            raise await self._refuse_cancel(key, ident, None, is_replace,
                                            RejectError(Reason.UNKNOWN_ORDER, "unknown order"))
        return o

    async def cancel(self, key: ApiKey, ident: str) -> dict:
        ctx = self.ctx
        o = await self._must_find(key, ident, False)
        cmd = CancelOrder(ctx.clock(), key.account, order_id=o.order_id, origin=key.origin)
        events = await ctx.sequencer.execute(cmd)
        for ev in events:
            if ev.kind == "cancel_reject":
                raise ApiError(reason_status(ev.reason), ev.reason, ev.text,
                               {"order_id": o.order_id, "status": STATUS_NAMES.get(ev.status)})
        return self.view(o)

    async def replace(self, key: ApiKey, ident: str, body: ReplaceIn) -> dict:
        ctx = self.ctx
        o = await self._must_find(key, ident, True)
        inst = ctx.instruments[o.symbol]
        req = ReplaceRequest(key.account, body.cl_ord_id or "", order_id=o.order_id, quantity=body.quantity,
                             price=body.price, stop_price=body.stop_price, origin=key.origin)
        try:
            cmd = replace_command(req, inst, ctx.clock())
        except RejectError as err:
            raise await self._refuse_cancel(key, ident, o, True, err, body.cl_ord_id or "") from None
        events = await ctx.sequencer.execute(cmd)
        fills = []
        for ev in events:
            if ev.kind == "cancel_reject":
                raise ApiError(reason_status(ev.reason), ev.reason, ev.text,
                               {"order_id": o.order_id, "status": STATUS_NAMES.get(ev.status)})
            if ev.kind == "exec" and ev.order_id == o.order_id and ev.exec_type == _TRADE:
                fills.append(fill_view(ev, inst))
        return {"order": order_view(o, inst), "fills": fills, "replayed": False}

    async def mass_cancel(self, key: ApiKey, symbol: str | None, side: str | None) -> dict:
        ctx = self.ctx
        sym = None
        if symbol:
            sym = ctx.symbols.resolve(symbol)
            if sym is None:
                raise ApiError(400, Reason.UNKNOWN_SYMBOL.value, f"unknown symbol {symbol!r}", {"symbol": symbol})
        cmd = MassCancel(ctx.clock(), key.account, sym, SIDES[side] if side else None, origin=key.origin)
        events = await ctx.sequencer.execute(cmd)
        ids = [ev.order_id for ev in events if ev.kind == "exec" and ev.exec_type == _CANCELED]
        done = next((ev for ev in events if ev.kind == "mass_cancel_done"), None)
        return {"cancelled": done.cancelled if done is not None else len(ids), "order_ids": ids}

    # ------------------------------------------------------------------ queries

    def list(self, account: str, *, statuses: set[str] | None, symbol: str | None, since: int | None,
             until: int | None, after: int | None, limit: int) -> dict:
        open_only = statuses == {"open"}
        pool = self.ctx.oms.orders_for(account, open_only=open_only, symbol=symbol)
        out = []
        for o in pool:
            if after is not None and o.order_id <= after:
                continue
            if since is not None and o.ts < since:
                continue
            if until is not None and o.ts >= until:
                continue
            if statuses and not open_only:
                name = STATUS_NAMES.get(o.status)
                if name not in statuses and not ("open" in statuses and o.is_open):
                    continue
            out.append(o)
            if len(out) > limit:
                break
        more = len(out) > limit
        page = out[:limit]
        return {"items": [self.view(o) for o in page], "next_after": page[-1].order_id if more and page else None}

    def get(self, account: str, ident: str) -> dict:
        o = self.find(account, ident)
        if o is None:
            raise ApiError(404, NOT_FOUND, "order not found", {"id": ident})
        return self.view(o)


def _unknown_symbol_view(o: Order) -> dict:
    """An order refused for an unknown symbol has no instrument to scale with."""
    return {
        "order_id": o.order_id, "cl_ord_id": o.cl_ord_id, "account": o.account, "symbol": o.symbol,
        "side": {1: "buy", 2: "sell"}.get(o.side), "order_type": None, "time_in_force": None, "price": None,
        "stop_price": None, "quantity": "0", "leaves_qty": "0", "cum_qty": "0", "avg_price": None,
        "status": STATUS_NAMES.get(o.status, str(o.status)), "hidden": False, "post_only": False,
        "display_qty": None, "expire_ts": None, "created_ts": o.ts, "origin": o.origin,
    }
