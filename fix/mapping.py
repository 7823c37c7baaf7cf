"""FIX application messages <-> the engine's requests and events, for FIX 4.2 and 4.4.

Inbound, NewOrderSingle / OrderCancelReplaceRequest become the shared `OrderRequest` /
`ReplaceRequest` of `engine.translate` (names and Decimals), so FIX and REST convert and
validate orders in exactly one place. Outbound, execution reports, cancel rejects and mass
cancel reports are rendered from the engine's events.

The two FIX versions differ in ways a counterparty's data dictionary enforces, so every
version-dependent choice lives in a `Dialect`:

* FIX 4.2 sends ExecTransType (20=0) and reports fills as ExecType 1/2; 4.4 uses ExecType F;
* an order status answer is ExecType I in 4.4, ExecTransType 3 (Status) in 4.2;
* a stop/touch order triggering is ExecType D (Restated) in both (4.4 adds
  ExecRestatementReason 99), since ExecType L only exists from FIX 5.0;
* OrdRejReason / CxlRejReason / BusinessRejectReason codes the version's dictionary lacks fall
  back to the version's generic code (0 "broker option" for OrdRejReason in 4.2, ...);
* OrdType J (market if touched) and PegOffsetType (836) exist only in 4.4.

How the order attributes are expressed (documented for clients in notes/README-fix.md):

| engine | FIX |
|---|---|
| market / limit / stop / stop limit | OrdType 1 / 2 / 3 / 4 (StopPx 99 is the trigger) |
| market if touched | OrdType J with StopPx (4.4 only) |
| trailing stop | OrdType P (pegged) with PegOffsetValue 211 (4.2: PegDifference), PegOffsetType 836: 0 or absent = price amount, 1 = basis points (-> percent), 2 = ticks; optional StopPx = initial stop |
| TIF DAY/GTC/IOC/FOK/GTD | TimeInForce 0/1/3/4/6; GTD expiry from ExpireTime 126 or ExpireDate 432 (end of that UTC day) |
| iceberg | MaxFloor 111 > 0 is the displayed quantity |
| hidden | MaxFloor 111 = 0 |
| post-only | ExecInst 18 contains 6 (participate, don't initiate) |
| minimum quantity | MinQty 110 |
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Mapping

from engine.events import CancelReject, ExecReport
from engine.instrument import Instrument, fee_to_decimal
from engine.reject import Reason, RejectError
from engine.translate import OrderRequest, ReplaceRequest
from engine.types import ExecType, OrdType, TimeInForce

from .codec import Message
from .dictionary import load as load_dictionary
from .timestamps import format_utc, parse_utc

# ----------------------------------------------------------------------------- code tables

SIDE_IN = {b"1": "buy", b"2": "sell"}
SIDE_OUT = {1: b"1", 2: b"2"}
ORD_TYPE_IN = {b"1": "market", b"2": "limit", b"3": "stop", b"4": "stop_limit", b"J": "market_if_touched",
               b"P": "trailing_stop"}
ORD_TYPE_OUT = {int(OrdType.MARKET): b"1", int(OrdType.LIMIT): b"2", int(OrdType.STOP): b"3",
                int(OrdType.STOP_LIMIT): b"4", int(OrdType.MARKET_IF_TOUCHED): b"J", int(OrdType.TRAILING_STOP): b"P"}
TIF_IN = {b"0": "day", b"1": "gtc", b"3": "ioc", b"4": "fok", b"6": "gtd"}
TIF_OUT = {int(TimeInForce.DAY): b"0", int(TimeInForce.GTC): b"1", int(TimeInForce.IOC): b"3",
           int(TimeInForce.FOK): b"4", int(TimeInForce.GTD): b"6"}
# OrdStatus: the engine already uses FIX's codes, as ints (10 = 'A' ...)
STATUS_OUT = {i: (b"%d" % i if i < 10 else bytes([ord("A") + i - 10])) for i in range(15)}

# engine Reason -> preferred FIX code; a Dialect falls back where the version lacks the code
ORD_REJ_REASON: dict[str, int] = {
    Reason.UNKNOWN_SYMBOL.value: 1,
    Reason.MARKET_CLOSED.value: 2,
    Reason.MARKET_HALTED.value: 2,
    Reason.RISK_LIMIT.value: 3,
    Reason.INSUFFICIENT_BALANCE.value: 3,
    Reason.PRICE_COLLAR.value: 3,         # 4.4 has no "price band" code; ORDER_EXCEEDS_LIMIT + Text
    Reason.REDUCE_ONLY.value: 3,
    Reason.UNKNOWN_ORDER.value: 5,
    Reason.DUPLICATE_ORDER.value: 6,
    Reason.INVALID_ORDER.value: 11,
    Reason.INVALID_QUANTITY.value: 13,
    Reason.UNKNOWN_ACCOUNT.value: 15,
    Reason.KILL_SWITCH.value: 0,
    Reason.RESTRICTED.value: 0,
}
ORD_REJ_DEFAULT = 99          # Other (4.4)
CXL_REJ_REASON: dict[str, int] = {
    Reason.ORDER_NOT_OPEN.value: 0,       # too late to cancel
    Reason.UNKNOWN_ORDER.value: 1,
    Reason.MARKET_HALTED.value: 2,        # broker / exchange option
    Reason.MARKET_CLOSED.value: 2,
    Reason.KILL_SWITCH.value: 2,
    Reason.DUPLICATE_ORDER.value: 6,      # duplicate ClOrdID received
}
CXL_REJ_DEFAULT = 99
MASS_CANCEL_TYPES = {b"1": "symbol", b"7": "all"}   # 530 values the venue serves

_TRADE = int(ExecType.TRADE)
_TRIGGERED = int(ExecType.TRIGGERED)
_REJECTED = int(ExecType.REJECTED)
_RESTATED = int(ExecType.RESTATED)
_ORDER_STATUS = int(ExecType.ORDER_STATUS)
_FILLED = 2


class Dialect:
    """Everything that differs between FIX 4.2 and 4.4 for the venue's messages."""

    def __init__(self, begin_string: str) -> None:
        self.begin_string = begin_string
        self.dd = load_dictionary(begin_string)
        self.fix42 = begin_string == "FIX.4.2"

        def enum(tag: int) -> frozenset[bytes]:
            f = self.dd.field(tag)
            return f.values if f is not None and f.values else frozenset()

        ord_rej = enum(103)
        cxl_rej = enum(102)
        self._ord_rej_fallback = b"99" if b"99" in ord_rej else b"0"
        self._cxl_rej_fallback = b"99" if b"99" in cxl_rej else b"2"
        self.ord_rej = {k: (b"%d" % v if b"%d" % v in ord_rej else self._ord_rej_fallback)
                        for k, v in ORD_REJ_REASON.items()}
        self.ord_rej_default = b"%d" % ORD_REJ_DEFAULT if b"%d" % ORD_REJ_DEFAULT in ord_rej else self._ord_rej_fallback
        self.cxl_rej = {k: (b"%d" % v if b"%d" % v in cxl_rej else self._cxl_rej_fallback)
                        for k, v in CXL_REJ_REASON.items()}
        self.cxl_rej_default = b"%d" % CXL_REJ_DEFAULT if b"%d" % CXL_REJ_DEFAULT in cxl_rej else self._cxl_rej_fallback
        self._biz = enum(380)
        self.ord_types_out = {k: v for k, v in ORD_TYPE_OUT.items() if v in enum(40)}
        self.ord_types_in = {k: v for k, v in ORD_TYPE_IN.items() if k in enum(40)}
        self.exec_types = {
            int(ExecType.NEW): b"0", int(ExecType.CANCELED): b"4", int(ExecType.REPLACED): b"5",
            int(ExecType.PENDING_CANCEL): b"6", _REJECTED: b"8", int(ExecType.PENDING_NEW): b"A",
            int(ExecType.EXPIRED): b"C", _RESTATED: b"D", int(ExecType.PENDING_REPLACE): b"E",
            _TRIGGERED: b"D", _TRADE: b"F", _ORDER_STATUS: b"I",
        }
        self.has_liquidity_ind = self.dd.field(851) is not None
        self.has_restatement_other = b"99" in enum(378)
        self.has_peg_offset_type = self.dd.field(836) is not None
        self.has_mass_messages = self.dd.message("q") is not None

    def business_reason(self, code: int) -> int:
        return code if b"%d" % code in self._biz else 0

    def ord_rej_reason(self, reason: str) -> bytes:
        return self.ord_rej.get(reason, self.ord_rej_default)

    def cxl_rej_reason(self, reason: str) -> bytes:
        return self.cxl_rej.get(reason, self.cxl_rej_default)


_DIALECTS: dict[str, Dialect] = {}


def dialect(begin_string: str) -> Dialect:
    d = _DIALECTS.get(begin_string)
    if d is None:
        d = _DIALECTS[begin_string] = Dialect(begin_string)
    return d


# ----------------------------------------------------------------------------- inbound


def _text(v: bytes | None) -> str | None:
    return None if v is None else v.decode("utf-8", errors="replace")


def _decimal(v: bytes, tag: int, reason: Reason, name: str) -> Decimal:
    try:
        d = Decimal(v.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        raise RejectError(reason, f"{name} ({tag}) {_text(v)!r} is not a number") from None
    if not d.is_finite():
        raise RejectError(reason, f"{name} ({tag}) must be a finite number")
    return d


def _optional_decimal(msg: Message, tag: int, reason: Reason, name: str) -> Decimal | None:
    v = msg.get(tag)
    return None if v is None else _decimal(v, tag, reason, name)


def expire_ns(msg: Message) -> int:
    """GTD expiry from ExpireTime (126) or ExpireDate (432, end of that UTC day), in ns; 0 if absent."""
    v = msg.get(126)
    if v is not None:
        t = parse_utc(v)
        if t is None:
            raise RejectError(Reason.INVALID_ORDER, f"ExpireTime (126) {_text(v)!r} is not a UTC timestamp")
        return int(round(t * 1_000_000)) * 1000
    v = msg.get(432)
    if v is not None:
        try:
            day = _dt.datetime.strptime(v.decode("ascii"), "%Y%m%d").replace(tzinfo=_dt.timezone.utc)
        except (ValueError, UnicodeDecodeError):
            raise RejectError(Reason.INVALID_ORDER, f"ExpireDate (432) {_text(v)!r} is not a date (YYYYMMDD)") from None
        return int((day + _dt.timedelta(days=1)).timestamp()) * 1_000_000_000
    return 0


def parse_new_order(msg: Message, account: str, origin: str, instruments: Mapping[str, Instrument],
                    d: Dialect) -> OrderRequest:
    """NewOrderSingle (35=D) -> OrderRequest. Raises RejectError naming the offending field."""
    cl_ord_id = _text(msg.get(11)) or ""
    symbol = _text(msg.get(55))
    if not symbol:
        raise RejectError(Reason.UNKNOWN_SYMBOL, "Symbol (55) is required")
    side = SIDE_IN.get(msg.get(54))
    if side is None:
        raise RejectError(Reason.INVALID_ORDER, f"Side (54) {_text(msg.get(54))!r} is not supported (1 buy, 2 sell)")
    ot_raw = msg.get(40)
    order_type = d.ord_types_in.get(ot_raw)
    if order_type is None:
        raise RejectError(Reason.INVALID_ORDER, f"OrdType (40) {_text(ot_raw)!r} is not supported")
    tif_raw = msg.get(59, b"0")
    tif = TIF_IN.get(tif_raw)
    if tif is None:
        raise RejectError(Reason.INVALID_ORDER, f"TimeInForce (59) {_text(tif_raw)!r} is not supported")
    get = msg.get
    v = get(38)
    if v is None:
        raise RejectError(Reason.INVALID_QUANTITY, "OrderQty (38) is required")
    qty = _decimal(v, 38, Reason.INVALID_QUANTITY, "OrderQty")
    v = get(44)
    price = None if v is None else _decimal(v, 44, Reason.INVALID_PRICE, "Price")
    if price is not None and price == 0 and order_type in ("market", "stop", "market_if_touched", "trailing_stop"):
        price = None  # some engines send Price=0 on unpriced orders
    v = get(99)
    stop = None if v is None else _decimal(v, 99, Reason.INVALID_PRICE, "StopPx")
    post_only = False
    display = None
    hidden = False
    min_qty = None
    trail_amount = trail_percent = None
    expire = 0
    inst_raw = get(18)
    if inst_raw is not None:
        for flag in inst_raw.split(b" "):
            if flag == b"6":
                post_only = True
            elif flag == b"a" and order_type == "trailing_stop":
                pass  # trailing stop peg: what OrdType P means here anyway
            else:
                raise RejectError(Reason.INVALID_ORDER, f"ExecInst (18) value {_text(flag)!r} is not supported")
    v = get(111)
    if v is not None:
        floor = _decimal(v, 111, Reason.INVALID_QUANTITY, "MaxFloor")
        if floor == 0:
            hidden = True
        elif floor < 0:
            raise RejectError(Reason.INVALID_QUANTITY, "MaxFloor (111) must not be negative")
        else:
            display = floor
    v = get(110)
    if v is not None:
        min_qty = _decimal(v, 110, Reason.INVALID_QUANTITY, "MinQty")
    v = get(211)
    if v is not None:
        offset = abs(_decimal(v, 211, Reason.INVALID_PRICE, "PegOffsetValue"))
        kind = get(836, b"0") if d.has_peg_offset_type else b"0"
        if kind == b"0":
            trail_amount = offset
        elif kind == b"1":
            trail_percent = offset / 100      # basis points -> percent
        elif kind == b"2":
            inst = instruments.get(symbol)
            trail_amount = offset * inst.tick_size if inst is not None else offset
        else:
            raise RejectError(Reason.INVALID_ORDER, f"PegOffsetType (836) {_text(kind)!r} is not supported")
    if get(126) is not None or get(432) is not None:
        expire = expire_ns(msg)
    return OrderRequest(
        account=account, cl_ord_id=cl_ord_id, symbol=symbol, side=side, quantity=qty, order_type=order_type,
        time_in_force=tif, price=price, stop_price=stop, trail_amount=trail_amount, trail_percent=trail_percent,
        display_qty=display, hidden=hidden, post_only=post_only, min_qty=min_qty, expire_ts=expire,
        origin=origin,
    )


def order_id_of(msg: Message) -> int:
    """OrderID (37) as the engine's integer id; 0 when absent or not one of ours."""
    v = msg.get(37)
    if v is None or not v.isdigit() or len(v) > 18:
        return 0
    return int(v)


def parse_replace(msg: Message, account: str, origin: str) -> ReplaceRequest:
    """OrderCancelReplaceRequest (35=G) -> ReplaceRequest (quantity = new total order quantity)."""
    return ReplaceRequest(
        account=account, cl_ord_id=_text(msg.get(11)) or "", orig_cl_ord_id=_text(msg.get(41)) or "",
        order_id=order_id_of(msg),
        quantity=_optional_decimal(msg, 38, Reason.INVALID_QUANTITY, "OrderQty"),
        price=_optional_decimal(msg, 44, Reason.INVALID_PRICE, "Price"),
        stop_price=_optional_decimal(msg, 99, Reason.INVALID_PRICE, "StopPx"), origin=origin)


# ----------------------------------------------------------------------------- outbound

class Formats:
    """Price and quantity texts of one instrument, cached (the same few values recur)."""

    __slots__ = ("inst", "_px", "_qty", "_fee")

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self._px: dict[int, bytes] = {}
        self._qty: dict[int, bytes] = {}
        self._fee: dict[int, bytes] = {}

    def px(self, ticks: int) -> bytes:
        v = self._px.get(ticks)
        if v is None:
            v = format(self.inst.ticks_to_price(ticks), "f").encode()
            if len(self._px) < 65536:
                self._px[ticks] = v
        return v

    def qty(self, lots: int) -> bytes:
        v = self._qty.get(lots)
        if v is None:
            v = format(self.inst.lots_to_qty(lots), "f").encode()
            if len(self._qty) < 65536:
                self._qty[lots] = v
        return v

    def fee(self, fee_e8: int) -> bytes:
        v = self._fee.get(fee_e8)
        if v is None:
            v = format(fee_to_decimal(fee_e8), "f").encode()
            if len(self._fee) < 65536:
                self._fee[fee_e8] = v
        return v

    def avg(self, cum_notional: int, cum: int) -> bytes:
        if not cum:
            return b"0"
        ticks, rem = divmod(cum_notional, cum)
        if not rem:
            return self.px(ticks)
        return format(self.inst.avg_price(cum_notional, cum), "f").encode()


def _ts(ns: int) -> bytes:
    return format_utc(ns / 1e9, 3)


@dataclass(slots=True)
class Echo:
    """What the client sent in a NewOrderSingle refused at the edge (echoed in the reject)."""

    symbol: bytes | None
    side: bytes | None
    qty: bytes | None
    price: bytes | None
    ord_type: bytes | None
    tif: bytes | None

    @classmethod
    def of(cls, msg: Message) -> "Echo":
        return cls(msg.get(55), msg.get(54), msg.get(38), msg.get(44), msg.get(40), msg.get(59))


def exec_report(x, fmt: Formats | None, d: Dialect, exec_id: bytes, exec_type: int, *,
                orig_cl_ord_id: str = "", text: str = "", reason: str = "", last_px: int = 0, last_qty: int = 0,
                fee_e8: int = 0, liquidity: str = "", transact_ns: int = 0, echo: Echo | None = None,
                extra: list | None = None) -> Message:
    """An ExecutionReport (35=8) for `x`: an engine ExecReport event or an Order (same attribute
    names). `fmt` is None when the symbol is unknown (then quantities come from `echo`)."""
    status = x.status
    if exec_type == _TRADE and d.fix42:
        et = b"2" if status == _FILLED else b"1"
    elif exec_type == _ORDER_STATUS and d.fix42:
        et = STATUS_OUT.get(status, b"0")
    else:
        et = d.exec_types.get(exec_type, b"D")
    f = [(37, b"%d" % x.order_id if x.order_id else b"NONE")]
    if x.cl_ord_id:
        f.append((11, x.cl_ord_id.encode()))
    if orig_cl_ord_id:
        f.append((41, orig_cl_ord_id.encode()))
    f.append((17, exec_id))
    if d.fix42:
        f.append((20, b"3" if exec_type == _ORDER_STATUS else b"0"))
    f.append((150, et))
    f.append((39, STATUS_OUT.get(status, b"8")))
    if x.account:
        f.append((1, x.account.encode()))
    if echo is not None:
        sym = echo.symbol or x.symbol.encode()
        if sym or d.fix42:
            f.append((55, sym or b"NA"))   # Symbol is required in 4.2 ExecutionReports
        f.append((54, echo.side or SIDE_OUT.get(x.side, b"1")))
        if echo.qty is not None:
            f.append((38, echo.qty))
        if echo.ord_type is not None and echo.ord_type in d.ord_types_in:
            f.append((40, echo.ord_type))
        if echo.price is not None:
            f.append((44, echo.price))
        if echo.tif is not None and echo.tif in TIF_IN:
            f.append((59, echo.tif))
        f += [(151, b"0"), (14, b"0"), (6, b"0")]
    elif fmt is not None:
        f.append((55, x.symbol.encode()))
        f.append((54, SIDE_OUT.get(x.side, b"1")))
        f.append((38, fmt.qty(x.qty)))
        ot = d.ord_types_out.get(x.ord_type)
        if ot is not None:
            f.append((40, ot))
        if x.price:
            f.append((44, fmt.px(x.price)))
        if x.stop_px:
            f.append((99, fmt.px(x.stop_px)))
        tif = TIF_OUT.get(x.tif)
        if tif is not None:
            f.append((59, tif))
        f.append((151, fmt.qty(x.leaves)))
        f.append((14, fmt.qty(x.cum)))
        f.append((6, fmt.avg(x.cum_notional, x.cum)))
        if last_qty:
            f.append((31, fmt.px(last_px)))
            f.append((32, fmt.qty(last_qty)))
            f.append((12, fmt.fee(fee_e8)))
            f.append((13, b"3"))
            if liquidity and d.has_liquidity_ind:
                f.append((851, b"1" if liquidity == "M" else b"2"))
    else:
        if x.symbol or d.fix42:
            f.append((55, (x.symbol or "NA").encode()))
        f += [(54, SIDE_OUT.get(x.side, b"1")), (151, b"0"), (14, b"0"), (6, b"0")]
    if exec_type == _REJECTED or (exec_type == _ORDER_STATUS and status == 8 and reason):
        f.append((103, d.ord_rej_reason(reason)))
    elif (exec_type == _RESTATED or exec_type == _TRIGGERED) and d.has_restatement_other:
        f.append((378, b"99"))
    if exec_type == _TRIGGERED and not text:
        text = "triggered"
    if text:
        f.append((58, text.encode()))
    if extra:
        f += extra
    f.append((60, _ts(transact_ns or x.ts)))
    return Message(b"8", f)


def event_report(ev: ExecReport, fmt: Formats | None, d: Dialect, echo: Echo | None = None) -> Message:
    return exec_report(ev, fmt, d, b"%d" % ev.seq, ev.exec_type, orig_cl_ord_id=ev.orig_cl_ord_id, text=ev.text,
                       reason=ev.reason, last_px=ev.last_px, last_qty=ev.last_qty, fee_e8=ev.fee_e8,
                       liquidity=ev.liquidity, echo=echo)


def cancel_reject(d: Dialect, *, cl_ord_id: str, orig_cl_ord_id: str, order_id: int, status: int,
                  is_replace: bool, reason: str, text: str, account: str, ts: int) -> Message:
    """OrderCancelReject (35=9)."""
    f = [
        (37, b"%d" % order_id if order_id else b"NONE"),
        (11, (cl_ord_id or "NONE").encode()),
        (41, (orig_cl_ord_id or "NONE").encode()),
        (39, STATUS_OUT.get(status, b"8") if status >= 0 else b"8"),
        (434, b"2" if is_replace else b"1"),
        (102, d.cxl_rej_reason(reason)),
    ]
    if account:
        f.append((1, account.encode()))
    if text:
        f.append((58, text.encode()))
    f.append((60, _ts(ts)))
    return Message(b"9", f)


def cancel_reject_event(ev: CancelReject, d: Dialect) -> Message:
    return cancel_reject(d, cl_ord_id=ev.cl_ord_id, orig_cl_ord_id=ev.orig_cl_ord_id, order_id=ev.order_id,
                         status=ev.status, is_replace=ev.is_replace, reason=ev.reason, text=ev.text,
                         account=ev.account, ts=ev.ts)


def mass_cancel_report(d: Dialect, *, report_id: bytes, cl_ord_id: bytes | None, request_type: bytes,
                       accepted: bool, affected: int = 0, symbol: bytes | None = None, side: bytes | None = None,
                       reject_reason: bytes | None = None, text: str = "", ts: int = 0) -> Message:
    """OrderMassCancelReport (35=r, FIX 4.4)."""
    f = [(37, report_id)]
    if cl_ord_id:
        f.append((11, cl_ord_id))
    f.append((530, request_type))
    f.append((531, request_type if accepted else b"0"))
    if not accepted:
        f.append((532, reject_reason or b"99"))
    f.append((533, b"%d" % affected))
    if symbol:
        f.append((55, symbol))
    if side:
        f.append((54, side))
    if text:
        f.append((58, text.encode()))
    f.append((60, _ts(ts)))
    return Message(b"r", f)
