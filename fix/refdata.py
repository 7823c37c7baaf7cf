"""FIX reference data: SecurityListRequest (x) -> SecurityList (y), SecurityStatusRequest (e) ->
SecurityStatus (f), and SecurityStatus pushed when an instrument's trading state changes.

SecurityList entries carry the instrument's rules: RoundLot (561) = lot size, MinTradeVol
(562) = minimum quantity, Currency (15) = quote currency, SecurityDesc (107), and
MinPriceIncrement (969) = tick size. 969 is a FIX 5.0 tag that FIX 4.4 dictionaries lack, so it
is sent only to sessions configured with `min_price_increment: true` (the default; clients add
the field to their dictionary, see notes/README-fix.md); Text (58) repeats tick size, maximum
quantity and trading state in words for clients that cannot take 969.

The trading state is SecurityTradingStatus (326): 17 ready to trade (open), 2 trading halt,
18 not available for trading (closed). A SecurityListRequest or SecurityStatusRequest with
SubscriptionRequestType (263) = 1 also subscribes the session to SecurityStatus (f) messages
for those symbols whenever their state changes; 263 = 2 ends the subscription.
SecurityList (x/y) exists from FIX 4.3, so FIX 4.2 sessions get SecurityStatus only.
"""

from __future__ import annotations

from engine.events import TradingStateChanged
from engine.instrument import Instrument
from engine.types import TradingState

from .codec import Message
from .errors import BusinessReject
from .mapping import Dialect, _ts

TRADING_STATUS = {int(TradingState.OPEN): b"17", int(TradingState.HALTED): b"2", int(TradingState.CLOSED): b"18"}
STATE_NAMES = {int(TradingState.OPEN): "open", int(TradingState.HALTED): "halted", int(TradingState.CLOSED): "closed"}


def _num(d) -> bytes:
    return format(d.normalize(), "f").encode()


class ReferenceData:
    def __init__(self, oms, instruments: dict[str, Instrument]) -> None:
        self.oms = oms
        self.instruments = instruments
        # symbol -> {(route, req_id): dialect}
        self._subs: dict[str, dict[tuple[object, bytes], Dialect]] = {}
        self._list_seq = 0

    def _state(self, sym: str) -> int:
        return self.oms.books[sym].state

    # ------------------------------------------------------------------ SecurityList

    def security_list(self, route, msg: Message, d: Dialect, with_tick_size: bool) -> list[Message]:
        req_id = msg.get(320) or b""
        kind = msg.get(559)
        self._list_seq += 1
        response_id = b"SL%d" % self._list_seq
        if kind == b"4":
            symbols = list(self.instruments)
        elif kind == b"0":
            s = msg.get(55)
            sym = s.decode(errors="replace") if s else ""
            if sym not in self.instruments:
                return [Message(b"y", [(320, req_id), (322, response_id), (560, b"2"),
                                        (58, f"unknown symbol {sym!r}".encode())])]
            symbols = [sym]
        else:
            return [Message(b"y", [(320, req_id), (322, response_id), (560, b"1"),
                                    (58, b"only SecurityListRequestType 0 (symbol) and 4 (all) are supported")])]
        f = [(320, req_id), (322, response_id), (560, b"0"), (393, b"%d" % len(symbols)), (893, b"Y"),
             (146, b"%d" % len(symbols))]
        for sym in symbols:
            inst = self.instruments[sym]
            state = self._state(sym)
            f.append((55, sym.encode()))
            if inst.description:
                f.append((107, inst.description.encode()))
            f.append((15, inst.quote.encode()))
            f.append((561, _num(inst.lot_size)))
            f.append((562, _num(inst.min_qty)))
            if with_tick_size:
                f.append((969, _num(inst.tick_size)))
            f.append((58, f"tick_size={inst.tick_size.normalize():f} max_qty={inst.max_qty.normalize():f} "
                          f"state={STATE_NAMES.get(state, state)}".encode()))
        self._subscription(route, msg, req_id, symbols, d)
        return [Message(b"y", f)]

    # ------------------------------------------------------------------ SecurityStatus

    def check_status_request(self, msg: Message, d: Dialect) -> str:
        """The symbol of a SecurityStatusRequest; BusinessMessageReject (380=2) if unknown."""
        s = msg.get(55)
        sym = s.decode(errors="replace") if s else ""
        if sym not in self.instruments:
            req_id = msg.get(324) or b""
            raise BusinessReject(d.business_reason(2), f"unknown symbol {sym!r}", ref_id=req_id.decode(errors="replace"))
        return sym

    def security_status(self, route, msg: Message, d: Dialect) -> list[Message]:
        req_id = msg.get(324) or b""
        sym = self.check_status_request(msg, d)
        self._subscription(route, msg, req_id, [sym], d)
        if msg.get(263) == b"2":
            return []
        return [self.status_message(sym, self._state(sym), d, req_id, self.oms.now)]

    def status_message(self, sym: str, state: int, d: Dialect, req_id: bytes | None, ts: int) -> Message:
        f = []
        if req_id:
            f.append((324, req_id))
        f += [(55, sym.encode()), (326, TRADING_STATUS.get(state, b"18"))]
        if ts:
            f.append((60, _ts(ts)))
        return Message(b"f", f)

    def _subscription(self, route, msg: Message, req_id: bytes, symbols: list[str], d: Dialect) -> None:
        kind = msg.get(263)
        if kind == b"1":
            for sym in symbols:
                self._subs.setdefault(sym, {})[(route, req_id)] = d
        elif kind == b"2":
            for subs in self._subs.values():
                subs.pop((route, req_id), None)

    def on_state(self, ev: TradingStateChanged) -> list[tuple[object, Message]]:
        subs = self._subs.get(ev.symbol)
        if not subs:
            return []
        return [(route, self.status_message(ev.symbol, ev.state, d, req_id, ev.ts))
                for (route, req_id), d in subs.items()]

    def drop(self, route) -> None:
        for subs in self._subs.values():
            for key in [k for k in subs if k[0] is route]:
                del subs[key]
