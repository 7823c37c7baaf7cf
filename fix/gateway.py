"""The venue over FIX: application messages in, engine commands out; engine events back as FIX.

`FixGateway` is the FIX engine's `Application` for every venue session. Inbound, it maps

| FIX | engine |
|---|---|
| NewOrderSingle (D) | `NewOrder` via `engine.translate.new_order_command`; edge rejects as `RejectNew` |
| OrderCancelRequest (F) | `CancelOrder` |
| OrderCancelReplaceRequest (G) | `ReplaceOrder` via `engine.translate.replace_command` |
| OrderMassCancelRequest (q, 4.4) | one `MassCancel` per account of the session -> OrderMassCancelReport (r) |
| OrderStatusRequest (H) | answered from the OMS: ExecutionReport ExecType I (4.2: ExecTransType 3) |
| OrderMassStatusRequest (AF, 4.4) | one status ExecutionReport per open order |
| MarketDataRequest (V) | `fix.marketdata` (W / X / Y) |
| SecurityListRequest (x, 4.4), SecurityStatusRequest (e) | `fix.refdata` (y / f) |

and answers anything else with BusinessMessageReject 380=3 (the FIX engine's validation has
already answered malformed messages with session Rejects).

Durable before acknowledged: commands go to `venue.sequencer.submit`; ExecutionReports,
OrderCancelRejects and mass-cancel reports are rendered only from the events the sequencer
delivers after its journal commit. Answers that are not events (status, snapshots, security
lists, cancel rejects refused at the edge) are deferred until every command processed before
them has been delivered, so a client never learns anything before it is durable.

Isolation: a session acts for its configured account, or for an account of its configured set
named in Account (1); orders are only ever looked up within those accounts, so a session can
never see, change or cancel another account's orders (it is told "unknown order").
Drop-copy sessions receive every ExecutionReport of the accounts they copy and are read-only.
Cancel on disconnect: when a session drops without a Logout, its DAY orders (or all its orders,
per configuration) are cancelled.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Iterable, Mapping, cast

from engine.commands import CancelOrder, MassCancel, RejectCancel, RejectNew, ReplaceOrder
from engine.events import BookUpdate, CancelReject, ExecReport, MassCancelDone, Trade, TradingStateChanged
from engine.instrument import Instrument
from engine.reject import Reason, RejectError
from engine.translate import ORDER_TYPES, TIME_IN_FORCE, new_order_command, replace_command
from engine.types import ExecType, OrdStatus, TimeInForce

from .codec import Message
from .errors import BusinessReject, UnsupportedMessageType
from .mapping import (
    MASS_CANCEL_TYPES,
    ORD_TYPE_IN,
    SIDE_IN,
    TIF_IN,
    Dialect,
    Echo,
    Formats,
    cancel_reject_event,
    event_report,
    exec_report,
    mass_cancel_report,
    order_id_of,
    parse_new_order,
    parse_replace,
)
from .marketdata import MarketDataHub, MarketDataReject
from .refdata import ReferenceData
from .routes import Route, RoutingTable
from .transport import Application, SessionHandle
from .venue_config import VenueSessionModel

log = logging.getLogger("fixvenue.fix")

_REJECTED = int(ExecType.REJECTED)
_ORDER_STATUS = int(ExecType.ORDER_STATUS)
_DAY = int(TimeInForce.DAY)
COD_ORIGIN = "venue:cancel-on-disconnect"


class NotAuthorized(Exception):
    """Account (1) names an account the session may not act for."""


class _Unknown:
    """Stand-in for an order the status request could not find (rendered as 39=8, 103=5)."""

    __slots__ = ("order_id", "cl_ord_id", "account", "symbol", "side", "ord_type", "tif", "price", "stop_px",
                 "qty", "leaves", "cum", "cum_notional", "status", "ts")

    def __init__(self, order_id: int, cl_ord_id: str, account: str, symbol: str, side: int, ts: int) -> None:
        self.order_id = order_id
        self.cl_ord_id = cl_ord_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.ord_type = self.tif = 0
        self.price = self.stop_px = self.qty = self.leaves = self.cum = self.cum_notional = 0
        self.status = int(OrdStatus.REJECTED)
        self.ts = ts


def _text(v: bytes | None) -> str:
    return v.decode("utf-8", errors="replace") if v is not None else ""


class FixGateway(Application):
    def __init__(self, sequencer, instruments: Mapping[str, Instrument], sessions: Iterable[VenueSessionModel]) -> None:
        self.sequencer = sequencer
        self.oms = sequencer.oms
        self.clock: Callable[[], int] = sequencer.clock
        self.instruments = dict(instruments)
        self.formats = {s: Formats(i) for s, i in self.instruments.items()}
        self.policies = {s.comp_id: s for s in sessions}
        self.routes = RoutingTable()
        self.md = MarketDataHub(self.oms, self.formats)
        self.refdata = ReferenceData(self.oms, self.instruments)
        self._echo: dict[tuple[str, str], Echo] = {}
        self._mass: dict[tuple[str, str], list] = {}   # (origin, clid) -> [530, pending, affected, symbol, side]
        self._status_ids = 0
        self._boot = b"%x" % (time.time_ns() // 1_000_000)
        self._subscribed = False
        self.stopping = False          # set while the venue shuts down: logouts then cancel nothing
        self.handlers: dict[bytes, Callable[[Route, Message], None]] = {
            b"D": self._new_order,
            b"F": self._cancel,
            b"G": self._replace,
            b"H": self._order_status,
            b"q": self._mass_cancel,
            b"AF": self._mass_status,
            b"V": self._market_data,
            b"x": self._security_list,
            b"e": self._security_status,
        }

    # ------------------------------------------------------------------ wiring

    def attach(self, handles: Mapping[tuple[str, str, str], SessionHandle]) -> None:
        """Index the acceptor's session handles (`Acceptor.handles`) by the venue's policies."""
        for sid, handle in handles.items():
            policy = self.policies.get(sid[2])
            if policy is None:
                raise ValueError(f"no venue policy for FIX session {sid}")
            self.routes.add(Route(policy, handle))

    def start(self) -> None:
        if not self._subscribed:
            self.sequencer.subscribe(self.on_events)
            self._subscribed = True

    def stop(self) -> None:
        if self._subscribed:
            self.sequencer.unsubscribe(self.on_events)
            self._subscribed = False

    def status(self) -> list[dict]:
        """Sessions for the admin endpoint: id, state, peer, sequence numbers."""
        out = []
        seen = set()
        for r in self.routes.routes:
            s = r.session
            peer = r.handle.peer
            seen.add(r.comp_id)
            out.append({
                "session_id": f"{s.begin_string}:{s.config.sender_comp_id}->{r.comp_id}",
                "comp_id": r.comp_id, "begin_string": s.begin_string, "role": r.policy.role,
                "account": r.policy.account, "accounts": list(r.policy.all_accounts),
                "connected": s.is_connected, "logged_on": s.is_logged_on,
                "peer": f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else None,
                "next_sender_seq": s.next_sender_seq, "next_target_seq": s.next_target_seq,
            })
        for p in self.policies.values():
            if p.comp_id not in seen:
                out.append({"session_id": f"{p.begin_string}:?->{p.comp_id}", "comp_id": p.comp_id,
                            "begin_string": p.begin_string, "role": p.role, "account": p.account,
                            "accounts": list(p.all_accounts), "connected": False, "logged_on": False, "peer": None,
                            "next_sender_seq": None, "next_target_seq": None})
        return out

    # ------------------------------------------------------------------ Application callbacks

    def on_message(self, session: SessionHandle, message: Message) -> None:
        route = self.routes.by_handle.get(id(session))
        if route is None:
            raise BusinessReject(4, "session is not configured on this venue")
        if route.read_only:
            raise BusinessReject(route.dialect.business_reason(6), "drop copy session is read-only")
        handler = self.handlers.get(message.msg_type or b"")
        if handler is None:
            raise UnsupportedMessageType()
        handler(route, message)

    def on_logon(self, session: SessionHandle) -> None:
        route = self.routes.by_handle.get(id(session))
        log.info("FIX %s logged on from %s", route.origin if route else session.session_id, session.peer)

    def on_logout(self, session: SessionHandle, reason: str) -> None:
        route = self.routes.by_handle.get(id(session))
        if route is None:
            return
        self.md.drop(route)
        self.refdata.drop(route)
        graceful = reason == "logout"   # the FIX engine's reason for a Logout handshake (see requests)
        log.info("FIX %s logged out (%s)", route.origin, reason)
        if not graceful and not self.stopping:
            self.cancel_on_disconnect(route)

    # ------------------------------------------------------------------ events -> FIX

    def on_events(self, events: list) -> None:
        """Sequencer subscriber: everything here is durable. One write per session per batch."""
        touched: dict[Route, None] = {}
        md = self.md
        md_live = md.active
        by_origin = self.routes.by_origin
        for ev in events:
            t = type(ev)
            try:
                if t is ExecReport:
                    self._deliver_exec(ev, touched)
                elif t is BookUpdate:
                    if md_live:
                        md.on_book(ev)
                elif t is Trade:
                    if md_live:
                        md.on_trade(ev)
                elif t is CancelReject:
                    route = by_origin.get(ev.origin)
                    if route is not None:
                        self._send(route, cancel_reject_event(ev, route.dialect), touched)
                elif t is MassCancelDone:
                    self._mass_done(ev, touched)
                elif t is TradingStateChanged:
                    for subscriber, msg in self.refdata.on_state(ev):
                        self._send(cast(Route, subscriber), msg, touched)
            except Exception:
                log.exception("FIX gateway could not deliver %r", ev)
        if md_live:
            for subscriber, msg in md.flush():
                self._send(cast(Route, subscriber), msg, touched)
        self._finish(touched)

    def _deliver_exec(self, ev: ExecReport, touched: dict) -> None:
        routes = self.routes
        route = routes.by_origin.get(ev.origin)
        targets: Iterable[Route]
        if route is not None:
            targets = (route,)
        else:
            targets = routes.by_account.get(ev.account, ())
        copies = routes.copies.get(ev.account)
        if not targets and not copies:
            return
        echo = None
        if ev.exec_type == _REJECTED and self._echo:
            echo = self._echo.pop((ev.origin, ev.cl_ord_id), None)
        fmt = self.formats.get(ev.symbol)
        rendered: dict[Dialect, Message] = {}
        for group in (targets, copies or ()):
            for r in group:
                d = r.dialect
                msg = rendered.get(d)
                if msg is None:
                    msg = rendered[d] = event_report(ev, fmt, d, echo)
                self._send(r, msg, touched)

    def _send(self, route: Route, msg: Message, touched: dict) -> None:
        try:
            route.send(msg)
        except Exception:
            log.exception("FIX %s: could not send %s", route.origin, msg.msg_type)
        touched[route] = None

    @staticmethod
    def _finish(touched: Iterable[Route]) -> None:
        """Stored before sent: commit every touched store, then write to the sockets."""
        for r in touched:
            try:
                r.commit()
            except Exception:
                log.exception("FIX %s: message store commit failed", r.origin)
        for r in touched:
            r.flush()

    # ------------------------------------------------------------------ deferred answers

    def _later(self, route: Route, produce: Callable[[], list[Message]]) -> None:
        """Send what `produce()` returns once every command processed so far has been delivered
        (the sequencer runs it right after its next durable flush)."""
        self.sequencer.after_flush(lambda: self._answer(route, produce))

    def _answer(self, route: Route, produce) -> None:
        touched: dict[Route, None] = {}
        try:
            for msg in produce():
                self._send(route, msg, touched)
        except Exception:
            log.exception("FIX %s: could not build an answer", route.origin)
        self._finish(touched)

    def _status_id(self) -> bytes:
        self._status_ids += 1
        return b"S%s-%d" % (self._boot, self._status_ids)

    # ------------------------------------------------------------------ accounts and orders

    def _account(self, route: Route, msg: Message) -> str | None:
        """Account (1) if given and allowed, None if absent; raises NotAuthorized."""
        v = msg.get(1)
        if v is None:
            return None
        acct = _text(v)
        if acct not in route.accounts:
            raise NotAuthorized(acct)
        return acct

    def _find(self, route: Route, account: str | None, order_id: int, cl_ord_id: str):
        """(account, order) within the accounts this session may see."""
        oms = self.oms
        if account is not None:
            return account, oms.find(account, order_id, cl_ord_id) if (order_id or cl_ord_id) else None
        if order_id or cl_ord_id:
            for acct in route.policy.all_accounts:
                o = oms.find(acct, order_id, cl_ord_id)
                if o is not None:
                    return acct, o
        return route.policy.account or next(iter(route.accounts)), None

    # ------------------------------------------------------------------ order entry

    def _new_order(self, route: Route, msg: Message) -> None:
        default = route.policy.account or ""      # trading sessions always have one (venue_config)
        try:
            account = self._account(route, msg) or default
        except NotAuthorized as exc:
            self._reject_new(route, msg, default, RejectError(
                Reason.UNKNOWN_ACCOUNT, f"this session may not trade for account {exc.args[0]!r}"))
            return
        if msg.get(43) == b"Y" or msg.get(97) == b"Y":
            # a possible resend of an order we already have: tell its status instead of a duplicate reject
            existing = self.oms.get_by_clid(account, _text(msg.get(11)))
            if existing is not None:
                self._later(route, lambda: [self._status_report(route, existing, None)])
                return
        try:
            req = parse_new_order(msg, account, route.origin, self.instruments, route.dialect)
            cmd = new_order_command(req, self.instruments, self.clock())
        except RejectError as exc:
            self._reject_new(route, msg, account, exc)
            return
        self.sequencer.submit(cmd)

    def _reject_new(self, route: Route, msg: Message, account: str, exc: RejectError) -> None:
        """Record an order refused at the edge through the OMS (RejectNew) and echo what was sent."""
        clid = _text(msg.get(11))
        self._echo[(route.origin, clid)] = Echo.of(msg)
        side = msg.get(54)
        self.sequencer.submit(RejectNew(
            self.clock(), account, clid, _text(msg.get(55)), int(side) if side and side.isdigit() else 0,
            exc.reason.value, exc.text, origin=route.origin))

    def _cancel(self, route: Route, msg: Message) -> None:
        clid = _text(msg.get(11))
        orig = _text(msg.get(41))
        try:
            account = self._account(route, msg)
        except NotAuthorized as exc:
            self._edge_cancel_reject(route, msg, False, Reason.UNKNOWN_ORDER,
                                     f"unknown order (not authorized for account {exc.args[0]!r})")
            return
        oid = order_id_of(msg)
        account, o = self._find(route, account, oid, orig)
        if o is not None:
            problem = self._mismatch(msg, o)
            if problem:
                self._edge_cancel_reject(route, msg, False, Reason.INVALID_ORDER, problem, o)
                return
            oid = o.order_id
        self.sequencer.submit(CancelOrder(self.clock(), account, clid, orig, oid, route.origin))

    def _replace(self, route: Route, msg: Message) -> None:
        try:
            account = self._account(route, msg)
        except NotAuthorized as exc:
            self._edge_cancel_reject(route, msg, True, Reason.UNKNOWN_ORDER,
                                     f"unknown order (not authorized for account {exc.args[0]!r})")
            return
        oid = order_id_of(msg)
        orig = _text(msg.get(41))
        account, o = self._find(route, account, oid, orig)
        if o is None:
            # let the engine answer (and record) "unknown order"
            self.sequencer.submit(ReplaceOrder(self.clock(), account, _text(msg.get(11)), orig, oid, 0, 0, 0,
                                               route.origin))
            return
        problem = self._mismatch(msg, o, replace=True)
        if problem:
            self._edge_cancel_reject(route, msg, True, Reason.INVALID_ORDER, problem, o)
            return
        try:
            req = parse_replace(msg, account, route.origin)
            req.order_id = o.order_id
            cmd = replace_command(req, self.instruments[o.symbol], self.clock())
        except RejectError as exc:
            self._edge_cancel_reject(route, msg, True, exc.reason, exc.text, o)
            return
        self.sequencer.submit(cmd)

    @staticmethod
    def _mismatch(msg: Message, o, replace: bool = False) -> str:
        sym = msg.get(55)
        if sym is not None and _text(sym) != o.symbol:
            return f"Symbol (55) {_text(sym)!r} does not match the order's {o.symbol!r}"
        side = msg.get(54)
        if side is not None and SIDE_IN.get(side) != ("buy" if o.side == 1 else "sell"):
            return "Side (54) does not match the order"
        if replace:
            ot = ORD_TYPE_IN.get(msg.get(40))
            if ot is not None:
                if ORDER_TYPES[ot] != o.ord_type:
                    return "changing OrdType (40) is not supported; cancel and enter a new order"
            tif = msg.get(59)
            if tif is not None and TIF_IN.get(tif) is not None:
                if TIME_IN_FORCE[TIF_IN[tif]] != o.tif:
                    return "changing TimeInForce (59) is not supported; cancel and enter a new order"
        return ""

    def _edge_cancel_reject(self, route: Route, msg: Message, is_replace: bool, reason: Reason, text: str,
                            o=None) -> None:
        """A cancel/replace refused at the edge, recorded through the OMS like RejectNew. Without
        an order of this session (`o` None: another account was named) nothing is looked up, so
        the answer cannot reveal anything about someone else's order."""
        if o is not None:
            account, orig, oid = o.account, _text(msg.get(41)), o.order_id
        else:
            account, orig, oid = route.policy.account or next(iter(route.accounts)), "", 0
        self.sequencer.submit(RejectCancel(self.clock(), account, _text(msg.get(11)), orig, oid, is_replace,
                                           reason.value, text, route.origin))

    # ------------------------------------------------------------------ status

    def _status_report(self, route: Route, o, extra: list | None) -> Message:
        return exec_report(o, self.formats.get(o.symbol), route.dialect, self._status_id(), _ORDER_STATUS,
                           transact_ns=self.clock(), extra=extra)

    def _order_status(self, route: Route, msg: Message) -> None:
        d = route.dialect
        extra = [(790, msg.get(790))] if msg.get(790) is not None and not d.fix42 else None
        try:
            account = self._account(route, msg)
        except NotAuthorized:
            account, o = route.policy.account or "", None
        else:
            account, o = self._find(route, account, order_id_of(msg), _text(msg.get(11)))
        if o is not None:
            self._later(route, lambda: [self._status_report(route, o, extra)])
            return
        side = msg.get(54)
        stub = _Unknown(order_id_of(msg), _text(msg.get(11)), account, _text(msg.get(55)),
                        int(side) if side and side.isdigit() else 1, self.clock())
        report = exec_report(stub, None, d, self._status_id(), _ORDER_STATUS, reason=Reason.UNKNOWN_ORDER.value,
                             text="unknown order", echo=Echo(msg.get(55), msg.get(54), None, None, None, None),
                             extra=extra)
        self._later(route, lambda: [report])

    def _mass_status(self, route: Route, msg: Message) -> None:
        req_id = msg.get(584) or b""
        kind = msg.get(585)
        try:
            account = self._account(route, msg)
        except NotAuthorized as exc:
            raise BusinessReject(route.dialect.business_reason(6), f"not authorized for account {exc.args[0]!r}",
                                 ref_id=_text(req_id)) from None
        symbol = None
        if kind == b"1":
            symbol = _text(msg.get(55))
            if symbol not in self.instruments:
                raise BusinessReject(route.dialect.business_reason(2), f"unknown symbol {symbol!r}", ref_id=_text(req_id))
        elif kind not in (b"7", b"8"):
            raise BusinessReject(0, "MassStatusReqType (585) must be 1 (security), 7 (all orders) or 8 (party)",
                                 ref_id=_text(req_id))
        side = msg.get(54)
        accounts = [account] if account else list(route.policy.all_accounts)

        def produce() -> list[Message]:
            orders = []
            for acct in accounts:
                orders += self.oms.orders_for(acct, open_only=True, symbol=symbol)
            if side is not None:
                orders = [o for o in orders if SIDE_IN.get(side) == ("buy" if o.side == 1 else "sell")]
            orders.sort(key=lambda o: o.order_id)
            n = len(orders)
            if not n:
                stub = _Unknown(0, "", accounts[0], symbol or "", int(side) if side and side.isdigit() else 1,
                                self.clock())
                return [exec_report(stub, None, route.dialect, self._status_id(), _ORDER_STATUS,
                                    text="no open orders", echo=Echo(symbol.encode() if symbol else None, side, None,
                                                                      None, None, None),
                                    extra=[(584, req_id), (911, b"0"), (912, b"Y")])]
            return [self._status_report(route, o, [(584, req_id), (911, b"%d" % n), (912, b"Y" if i == n - 1 else b"N")])
                    for i, o in enumerate(orders)]

        self._later(route, produce)

    # ------------------------------------------------------------------ mass cancel

    def _mass_cancel(self, route: Route, msg: Message) -> None:
        d = route.dialect
        clid = _text(msg.get(11))
        kind = msg.get(530) or b""
        symbol_b = msg.get(55)
        side_b = msg.get(54)
        ts = self.clock()

        def refuse(reason: bytes, text: str) -> None:
            m = mass_cancel_report(d, report_id=b"MC-REJ-%s" % self._status_id(), cl_ord_id=msg.get(11),
                                   request_type=kind or b"7", accepted=False, reject_reason=reason, text=text,
                                   symbol=symbol_b, side=side_b, ts=ts)
            self._later(route, lambda: [m])

        if kind not in MASS_CANCEL_TYPES:
            refuse(b"0", "MassCancelRequestType (530) must be 1 (security) or 7 (all orders)")
            return
        symbol = None
        if kind == b"1":
            symbol = _text(symbol_b)
            if symbol not in self.instruments:
                refuse(b"1", f"unknown symbol {symbol!r}")
                return
        side = None
        if side_b is not None:
            s = SIDE_IN.get(side_b)
            if s is None:
                refuse(b"99", "Side (54) must be 1 or 2")
                return
            side = 1 if s == "buy" else 2
        if (route.origin, clid) in self._mass:
            refuse(b"99", f"mass cancel {clid!r} is still in progress")
            return
        accounts = list(route.policy.all_accounts)
        self._mass[(route.origin, clid)] = [kind, len(accounts), 0, symbol_b, side_b]
        for acct in accounts:
            self.sequencer.submit(MassCancel(ts, acct, symbol, side, route.origin, clid))

    def _mass_done(self, ev: MassCancelDone, touched: dict) -> None:
        route = self.routes.by_origin.get(ev.origin)
        if route is None:
            return
        state = self._mass.get((ev.origin, ev.cl_ord_id))
        if state is None:
            return
        state[1] -= 1
        state[2] += ev.cancelled
        if state[1] > 0:
            return
        del self._mass[(ev.origin, ev.cl_ord_id)]
        msg = mass_cancel_report(route.dialect, report_id=b"MC%d" % ev.seq, cl_ord_id=ev.cl_ord_id.encode() or None,
                                 request_type=state[0], accepted=True, affected=state[2], symbol=state[3],
                                 side=state[4], ts=ev.ts)
        self._send(route, msg, touched)

    # ------------------------------------------------------------------ cancel on disconnect

    def cancel_on_disconnect(self, route: Route) -> None:
        """Cancel the session's DAY orders (or all its orders, per policy): one MassCancel scoped
        to the orders this session entered, whatever account they are for."""
        mode = route.policy.cancel_on_disconnect
        if mode == "none" or route.read_only:
            return
        log.info("FIX %s dropped without Logout: cancelling its %s orders", route.origin,
                 "DAY" if mode == "day" else "open")
        self.sequencer.submit(MassCancel(self.clock(), None, None, None, COD_ORIGIN, "",
                                         Reason.CANCEL_ON_DISCONNECT.value, scope_origin=route.origin,
                                         tif=_DAY if mode == "day" else None))

    # ------------------------------------------------------------------ market and reference data

    def _market_data(self, route: Route, msg: Message) -> None:
        try:
            sub = self.md.request(route, msg, route.dialect)
        except MarketDataReject as exc:
            m = exc.message()
            self._later(route, lambda: [m])
            return
        if sub is None:
            return  # unsubscribed
        subscribe = msg.get(263) == b"1"
        self._later(route, lambda: self.md.snapshot(sub, subscribe))

    def _security_list(self, route: Route, msg: Message) -> None:
        self._later(route, lambda: self.refdata.security_list(route, msg, route.dialect,
                                                              route.policy.min_price_increment))

    def _security_status(self, route: Route, msg: Message) -> None:
        self.refdata.check_status_request(msg, route.dialect)   # raises BusinessReject now
        self._later(route, lambda: self.refdata.security_status(route, msg, route.dialect))
