"""`RiskControls`: the risk layer as one object plugged into the OMS.

It owns the risk state (instruments, accounts, slots, sessions), the pre-trade
check (`risk.checks.PreTradeRisk`), the kill-switch state, the circuit breakers
and the audit trail, and plugs them into the engine's extension points:

- `oms.pre_trade`  <- the pre-trade check;
- `oms.listeners`  <- `on_events`: positions, balances, P&L, working-order
  exposure, marks, circuit breakers, reject storms and the automatic kill-switch
  triggers, all derived from events and command timestamps. Its first test
  lets the dominant command (a replace that moves a price and changes no
  quantity) through without a call; time-based work (circuit-breaker reopen,
  mark refresh, the day's roll) runs on the next other command — the venue's
  one-second Tick guarantees one;
- `oms.register_handler` <- the `KillSwitch` and `VenueStatus` commands.

Automatic actions (daily-loss breach, margin call, reject storm, loss of an
external venue, circuit-breaker halt and reopen) are commands the listener hands
to `oms.defer`: they run inside the same `process()` call and are re-derived by
a journal replay instead of being journaled. Manual ones are built here
(`kill_command`, `release_command`, `halt_command`, `resume_command`) and
submitted by the caller through the sequencer, which journals them.

Marks: positions and working orders are valued at a per-instrument risk mark
(last trade or mid) refreshed every `mark_interval_ms` of venue time (0 = on
every trade) and on the instrument's first trade; an account's own fills
revalue its slot at once. Between refreshes every account aggregate is exact
for the marks in force, so each check reads it in O(1).

Queries (`positions`, `balances`, `summary`, `kill_switch_status`, `audit_log`,
`circuit_breakers`, `limits`) return plain dicts with Decimals for the REST
gateway and the CLI. `snapshot_state` / `restore_state` make it an
engine/snapshot.py extension.
"""

from __future__ import annotations

import logging
from collections import deque
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Mapping

from engine.commands import MassCancel, SetTradingState
from engine.events import CancelReject, ExecReport, MassCancelDone, Trade, TradingStateChanged
from engine.reject import Reason, RejectError
from engine.types import ExecType, TradingState
from risk import metrics
from risk.audit import AuditLog, AuditRecord
from risk.checks import PreTradeRisk
from risk.circuit import Breaker
from risk.commands import (
    ACTIVE,
    STATE_NAMES,
    KillSwitch,
    RiskStateChanged,
    VenueStatus,
    VenueStatusChanged,
)
from risk.killswitch import KillSwitchState, parse_state
from risk.limits import account_limits, bucket, describe_rate, resolve_order_limits, session_limits
from risk.positions import COLLAR_MODES, AccountRisk, CollarBand, InstrumentRisk, SessionRisk, Slot
from risk.scaling import (
    BIG,
    PPM,
    factor,
    from_e8,
    money_to_ticklots_floor,
    pct_to_ppm,
    qty_to_lots_floor,
    to_e8,
)
from risk.settings import CHECKS, SCOPES, RiskSettings

log = logging.getLogger("fixvenue.risk")

NS_PER_SEC = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SEC
_TRADE = int(ExecType.TRADE)
_REJECTED = int(ExecType.REJECTED)
_HALTED_TS = int(TradingState.HALTED)
_OPEN_TS = int(TradingState.OPEN)
KILL_ORIGIN = "risk:kill-switch"
BREAKER_ORIGIN = "risk:circuit-breaker"
_TS_NAMES = {int(s): s.name for s in TradingState}


class RiskControls:
    def __init__(
        self,
        oms,
        settings: RiskSettings | None = None,
        *,
        balances: Mapping[str, Mapping[str, Decimal]] | None = None,
        reference_prices: Mapping[str, Decimal] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.oms = oms
        self.settings = settings if settings is not None else RiskSettings()
        self.enabled_checks = self.settings.enabled_checks()
        self.clock = clock                       # ns timestamps for commands built here (venue.clock)
        self.kill = KillSwitchState(enforce="kill_switch" in self.enabled_checks)
        self.audit = AuditLog()
        self.instruments: dict[str, InstrumentRisk] = {}
        self.accounts: dict[str, AccountRisk] = {}
        self.sessions: dict[str, SessionRisk] = {}
        self.session_order_rates: dict = {}      # origin -> TokenBucket | None (flat, for the hot path)
        self.session_message_rates: dict = {}
        self.breakers: dict[str, Breaker] = {}
        self.work: dict[int, int] = {}           # order id -> working quantity counted (lots)
        self.venues: dict[str, bool] = {}
        self._balances = {a: dict(b) for a, b in (balances or {}).items()}
        self._refs = dict(reference_prices or {})
        self._storms: dict[str, deque] = {}
        self._pending_kill_audit: deque[AuditRecord] = deque()
        self._mark_mid = self.settings.mark_price == "mid"
        self._mark_ns = self.settings.mark_interval_ms * 1_000_000
        self._next_mark = 0
        self._next_day = 0
        self._wake_at = 0
        self._installed = False
        auto = self.settings.auto_kill
        self._auto_loss = auto.daily_loss.enabled and self.settings.enabled
        self._auto_margin = auto.margin_call.enabled and self.settings.enabled
        storm = auto.reject_storm
        self._storm = storm if storm.enabled and self.settings.enabled else None
        self._storm_ns = int(storm.window_s * NS_PER_SEC)
        for sym, inst in oms.instruments.items():
            self._build_instrument(sym, inst)
        for acct in oms.accounts:
            self.account(acct)
        self.check = PreTradeRisk(self)
        self.on_events = self._make_listener()

    # ------------------------------------------------------------------ building

    def _build_instrument(self, sym: str, inst) -> None:
        st = self.settings
        rate = Decimal(1) if inst.quote == st.margin_currency else st.conversion_rates.get(inst.quote)
        if rate is None:
            raise ValueError(f"instrument {sym!r} is quoted in {inst.quote}: risk.conversion_rates needs a rate "
                             f"to {st.margin_currency}")
        ref = self._refs.get(sym)
        ref_px = inst.price_to_ticks(ref) if ref else 0
        fx = Fraction(rate)                          # e8 of the quote currency -> e8 of the margin currency
        ir = InstrumentRisk(inst, self.oms.books[sym],
                            mk=factor(inst.tick_size, inst.lot_size, rate),      # ticks x lots -> e8 margin ccy
                            qk=factor(inst.tick_size, inst.lot_size),            # ticks x lots -> e8 quote ccy
                            lot=factor(Decimal(1), inst.lot_size),               # lots -> e8 base ccy
                            fx=(fx.numerator, fx.denominator), ref_px=ref_px)
        self.instruments[sym] = ir
        cb = st.circuit_breakers
        if cb.enabled and st.enabled:
            model = cb.instruments.get(sym, cb.default) if sym in cb.instruments else cb.default
            if model is not None:
                self.breakers[sym] = Breaker(sym, pct_to_ppm(model.move_pct), int(model.window_s * NS_PER_SEC),
                                             int(model.cooldown_s * NS_PER_SEC))

    def account(self, account: str) -> AccountRisk:
        """The risk state of an account (created on first use, with its limits)."""
        a = self.accounts.get(account)
        if a is not None:
            return a
        a = AccountRisk(account)
        st = self.settings
        on = self.enabled_checks
        lim = account_limits(st, account)
        a.limits = lim
        if lim["max_open_orders"] is not None and "max_open_orders" in on:
            a.max_open = lim["max_open_orders"]
        if lim["credit_limit"] is not None and "credit_limit" in on:
            a.credit_e8 = to_e8(lim["credit_limit"])
        if lim["daily_loss_limit"] is not None and "daily_loss" in on:
            a.daily_loss_e8 = to_e8(lim["daily_loss_limit"])
        im = pct_to_ppm(lim["initial_margin_pct"]) if lim["initial_margin_pct"] is not None else 0
        lev = lim["max_leverage"]
        lev_ppm = 0
        if lev is not None:
            # equity per unit of exposure for the leverage cap, rounded up (never looser than configured)
            lev_ppm = int(-(-Fraction(PPM) // Fraction(lev)))
        a.im_ppm = im
        a.leverage = lev
        a.mm_ppm = pct_to_ppm(lim["maintenance_margin_pct"]) if lim["maintenance_margin_pct"] is not None else 0
        if "margin" in on:
            a.margin_ppm = max(im, lev_ppm)
            a.margin_check = "max_leverage" if lev_ppm > im else "initial_margin"
        if "order_rate" in on:
            a.ord_rate = bucket(lim["order_rate"])
        if "message_rate" in on:
            a.msg_rate = bucket(lim["message_rate"])
        bal = self._balances.get(account, {})
        a.start_balances = {ccy: to_e8(Decimal(v)) for ccy, v in bal.items()}
        a.collateral_e8 = a.start_balances.get(st.margin_currency, 0)
        self.accounts[account] = a
        for sym in self.instruments:
            self.slot(a, sym)
        return a

    def slot(self, a: AccountRisk, symbol: str) -> Slot:
        s = a.slots.get(symbol)
        if s is not None:
            return s
        ir = self.instruments[symbol]
        inst = ir.inst
        s = Slot(a, ir)
        on = self.enabled_checks
        lim = resolve_order_limits(self.settings, a.account, symbol)
        s.limits = lim
        if lim["max_order_qty"] is not None and "max_order_qty" in on:
            s.max_qty = qty_to_lots_floor(lim["max_order_qty"], inst.lot_size)
        if lim["max_order_notional"] is not None and "max_order_notional" in on:
            s.max_notional = money_to_ticklots_floor(lim["max_order_notional"], ir.mk_num, ir.mk_den)
        s.collar_mode = COLLAR_MODES[lim["collar_reference"] or "last"]
        if lim["price_collar_pct"] is not None and "price_collar" in on:
            s.collar_ppm = pct_to_ppm(lim["price_collar_pct"])
            key = (s.collar_ppm, s.collar_mode)
            band = ir.bands.get(key)
            if band is None:
                band = ir.bands[key] = CollarBand(ir, s.collar_ppm, s.collar_mode)
            s.band = band
        if "position_limit" in on:
            if lim["max_position_long"] is not None:
                s.max_long = qty_to_lots_floor(lim["max_position_long"], inst.lot_size)
            if lim["max_position_short"] is not None:
                s.max_short = qty_to_lots_floor(lim["max_position_short"], inst.lot_size)
        s.reduce_only = bool(lim["reduce_only"]) and "reduce_only" in on
        s.restricted = bool(lim["restricted"]) and "restricted" in on
        if lim["duplicate_window_ms"] and "duplicate_order" in on:
            s.dup_ns = lim["duplicate_window_ms"] * 1_000_000
        a.slots[symbol] = s
        return s

    def session(self, origin: str) -> SessionRisk:
        s = self.sessions.get(origin)
        if s is None:
            lim = session_limits(self.settings, origin)
            on = self.enabled_checks
            orr = bucket(lim["order_rate"]) if "order_rate" in on else None
            mr = bucket(lim["message_rate"]) if "message_rate" in on else None
            s = self.sessions[origin] = SessionRisk(origin, orr, mr)
            self.session_order_rates[origin] = orr
            self.session_message_rates[origin] = mr
        return s

    def install(self, *, pre_trade: bool = True) -> "RiskControls":
        """Plug into the OMS: pre-trade check (unless the caller adds `self.check` itself),
        listener, command handlers."""
        if self._installed:
            return self
        oms = self.oms
        if self.settings.enabled and pre_trade:
            oms.pre_trade.append(self.check)
        oms.listeners.append(self.on_events)
        oms.register_handler(KillSwitch, self._on_kill_switch)
        oms.register_handler(VenueStatus, self._on_venue_status)
        self._installed = True
        return self

    # ------------------------------------------------------------------ the listener

    def _make_listener(self):
        """The OMS listener. Most commands are price-only replaces whose single execution
        report changes no working quantity: they stop at the first test, before any
        call. Everything else (and every command without events, like the venue's
        one-second Tick, which drives time-based work) goes to `_on_events`."""
        get = self.work.get
        slow = self._on_events
        exec_report = ExecReport

        def on_events(events: list) -> None:
            if len(events) == 1:
                ev = events[0]
                if ev.__class__ is exec_report and get(ev.order_id) == ev.leaves:
                    return
            slow(events)

        return on_events

    def _on_events(self, events: list) -> None:
        work = self.work
        accounts = self.accounts
        for ev in events:
            cls = ev.__class__
            if cls is ExecReport:
                oid = ev.order_id
                leaves = ev.leaves
                old = work.get(oid)
                if old == leaves:
                    continue
                if old is None:
                    if ev.exec_type == _REJECTED:
                        if self._storm is not None:
                            self._on_reject(ev.account, ev.origin, ev.ts)
                        continue
                    if not leaves:
                        continue
                    old = 0
                try:
                    s = accounts[ev.account].slots[ev.symbol]
                except KeyError:
                    s = self.slot(self.account(ev.account), ev.symbol)
                if leaves:
                    work[oid] = leaves
                else:
                    del work[oid]
                is_buy = ev.side == 1
                if is_buy:
                    s.buy_leaves += leaves - old
                else:
                    s.sell_leaves += leaves - old
                if ev.exec_type == _TRADE:
                    s.apply_fill(is_buy, ev.last_qty, ev.last_px, ev.fee_e8)
                    if self._auto_loss or self._auto_margin:
                        self._check_account(s.acct, ev.ts)
                else:
                    dv = (leaves - old) * s.ir.vpl
                    s.open_e8 += dv
                    s.acct.open_e8 += dv
                    if not s.active:
                        s.active = True
                        s.ir.active.append(s)
            elif cls is Trade:
                self._on_trade(ev)
            elif cls is CancelReject:
                if self._storm is not None:
                    self._on_reject(ev.account, ev.origin, ev.ts)
            elif cls is TradingStateChanged:
                self._on_trading_state(ev)
            elif cls is MassCancelDone:
                if ev.origin == KILL_ORIGIN and self._pending_kill_audit:
                    rec = self._pending_kill_audit.popleft()
                    rec.cancelled = ev.cancelled
                    self.audit.append(rec)
            elif cls is RiskStateChanged:
                self._on_risk_state(ev)
            elif cls is VenueStatusChanged:
                self.audit.append(AuditRecord(ev.seq, ev.ts, "venue.up" if ev.connected else "venue.down", "venue",
                                              ev.venue, "UP" if ev.connected else "DOWN", ev.reason, ev.origin,
                                              "venue_status"))
        now = self.oms.now
        if now >= self._wake_at:
            self._periodic(now)

    # ------------------------------------------------------------------ marks, P&L, automatic triggers

    def _on_trade(self, ev) -> None:
        ir = self.instruments.get(ev.symbol)
        if ir is None:
            return
        if not self._mark_ns:
            self._remark(ir, ir.mark_now(self._mark_mid), ev.ts)
        elif not ir.mark:
            self._remark(ir, ev.price, ev.ts)     # first price ever: mark at once
        for band in ir.bands.values():
            if band.mode == 0:
                d = ev.price * band.ppm // PPM
                band.lo = ev.price - d
                band.hi = ev.price + d
        b = self.breakers.get(ev.symbol)
        if b is not None:
            reason = b.on_trade(ev.ts, ev.price)
            if reason is not None:
                metrics.CIRCUIT_BREAKER.labels(symbol=ev.symbol).inc()
                self.oms.defer(SetTradingState(ev.ts, ev.symbol, _HALTED_TS, reason, BREAKER_ORIGIN))
                if b.reopen_at < self._wake_at:
                    self._wake_at = b.reopen_at

    def _remark(self, ir: InstrumentRisk, mark: int, ts: int, touched: set | None = None) -> None:
        """Move an instrument's risk mark and revalue every slot that holds a position or orders in it."""
        if not mark or mark == ir.mark:
            return
        ir.set_mark(mark)
        own = touched is None
        if own:
            touched = set()
        keep = []
        for s in ir.active:
            s.revalue()
            if s.pos or s.buy_leaves or s.sell_leaves:
                keep.append(s)
                touched.add(s.acct)
            else:
                s.active = False
        ir.active = keep
        if own and touched and (self._auto_loss or self._auto_margin):
            for a in sorted(touched, key=lambda a: a.account):
                self._check_account(a, ts)

    def _check_account(self, a: AccountRisk, ts: int) -> None:
        """Automatic kill-switch triggers of one account (after its fills and on revaluation)."""
        pnl = a.realized_e8 - a.fees_e8 + a.unreal_e8
        if self._auto_loss and a.day_start_e8 - pnl > a.daily_loss_e8 and not a.loss_fired:
            a.loss_fired = True
            cfg = self.settings.auto_kill.daily_loss
            self.oms.defer(KillSwitch(ts, "activate", "account", a.account, cfg.state,
                                      f"daily loss {from_e8(a.day_start_e8 - pnl)} > limit {from_e8(a.daily_loss_e8)}",
                                      "risk", "daily_loss", "risk"))
        if self._auto_margin and a.mm_ppm:
            eq = a.collateral_e8 + pnl
            short = eq * PPM < a.gross_e8 * a.mm_ppm
            if short and not a.margin_fired:
                a.margin_fired = True
                cfg = self.settings.auto_kill.margin_call
                self.oms.defer(KillSwitch(ts, "activate", "account", a.account, cfg.state,
                                          f"margin call: equity {from_e8(eq)} < maintenance margin "
                                          f"{from_e8(a.maintenance_e8())}", "risk", "margin_call", "risk"))
            elif not short and a.margin_fired:
                a.margin_fired = False   # recovered: the trigger re-arms

    def _on_reject(self, account: str, origin: str, ts: int) -> None:
        storm = self._storm
        key = origin if storm.scope == "session" else account
        if not key:
            return
        dq = self._storms.get(key)
        if dq is None:
            dq = self._storms[key] = deque(maxlen=storm.max_rejects)
        dq.append(ts)
        if len(dq) == storm.max_rejects and ts - dq[0] < self._storm_ns:
            dq.clear()
            if self.kill.get(storm.scope, key) < parse_state(storm.state):
                self.oms.defer(KillSwitch(ts, "activate", storm.scope, key, storm.state,
                                          f"reject storm: {storm.max_rejects} rejects within {storm.window_s}s",
                                          "risk", "reject_storm", "risk"))

    def _periodic(self, now: int) -> None:
        """Work due at a point in venue time: circuit-breaker reopens, mark refresh, day roll."""
        for b in self.breakers.values():
            if b.tripped and b.reopen_at and b.reopen_at <= now:
                b.reopen_at = 0
                if self.oms.books[b.symbol].state == _HALTED_TS:
                    self.oms.defer(SetTradingState(now, b.symbol, _OPEN_TS, "circuit breaker cool-down over",
                                                   BREAKER_ORIGIN))
                else:
                    b.reset()
        if self._mark_ns and now >= self._next_mark:
            if self._next_mark:
                self.refresh_marks(now)
            self._next_mark = now - now % self._mark_ns + self._mark_ns
        if now >= self._next_day:
            first = self._next_day == 0
            start = self.settings.day_start_s() * NS_PER_SEC
            base = now - (now - start) % NS_PER_DAY
            self._next_day = base + NS_PER_DAY
            if not first:
                for a in self.accounts.values():
                    a.day_start_e8 = a.pnl_e8()
                    a.loss_fired = False
        wake = self._next_day
        if self._mark_ns and self._next_mark < wake:
            wake = self._next_mark
        for b in self.breakers.values():
            if b.reopen_at and b.reopen_at < wake:
                wake = b.reopen_at
        self._wake_at = wake

    def refresh_marks(self, ts: int) -> None:
        """Re-mark every instrument (last trade or mid) and revalue the positions and orders in it."""
        touched: set = set()
        for ir in self.instruments.values():
            self._remark(ir, ir.mark_now(self._mark_mid), ts, touched)
        if touched and (self._auto_loss or self._auto_margin):
            for a in sorted(touched, key=lambda a: a.account):
                self._check_account(a, ts)

    # ------------------------------------------------------------------ halts and kill switch

    def _on_trading_state(self, ev) -> None:
        b = self.breakers.get(ev.symbol)
        if ev.origin == BREAKER_ORIGIN:
            cause = "circuit_breaker"
        else:
            cause = "scheduler" if ev.origin == "scheduler" else "manual"
        if ev.state == _OPEN_TS and b is not None and b.tripped:
            b.reset()
        state = _TS_NAMES.get(ev.state, str(ev.state))
        if cause == "circuit_breaker":
            action = "circuit_breaker.halt" if ev.state == _HALTED_TS else "circuit_breaker.reopen"
        else:
            action = {"HALTED": "halt", "OPEN": "resume", "CLOSED": "close"}.get(state, "trading_state")
        metrics.HALTS.labels(symbol=ev.symbol, state=state, cause=cause).inc()
        self.audit.append(AuditRecord(ev.seq, ev.ts, action, "instrument", ev.symbol, state, ev.reason,
                                      ev.origin, cause))

    def _on_risk_state(self, ev: RiskStateChanged) -> None:
        metrics.KILL_SWITCH.labels(scope=ev.scope, state=ev.state, trigger=ev.trigger).inc()
        action = "kill_switch.release" if ev.state == "ACTIVE" else "kill_switch.activate"
        rec = AuditRecord(ev.seq, ev.ts, action, ev.scope, ev.target, ev.state, ev.reason, ev.who, ev.trigger)
        if ev.state == "ACTIVE":
            self.audit.append(rec)
        else:
            self._pending_kill_audit.append(rec)   # completed with the cancel count by MassCancelDone

    def validate_scope(self, scope: str, target: str) -> str:
        """Check a scope/target pair; returns the normalised target. Raises RejectError."""
        if scope not in SCOPES:
            raise RejectError(Reason.INVALID_ORDER, f"unknown kill-switch scope {scope!r}; use one of {list(SCOPES)}",
                              {"scope": str(scope)})
        target = "" if target is None else str(target)
        if scope == "global":
            return ""
        if not target:
            raise RejectError(Reason.INVALID_ORDER, f"scope {scope!r} needs a target", {"scope": scope})
        if scope == "account" and target not in self.oms.accounts:
            raise RejectError(Reason.UNKNOWN_ACCOUNT, f"unknown account {target!r}", {"target": target})
        if scope == "instrument" and target not in self.oms.instruments:
            raise RejectError(Reason.UNKNOWN_SYMBOL, f"unknown symbol {target!r}", {"target": target})
        return target

    def _on_kill_switch(self, cmd: KillSwitch, out: list) -> None:
        try:
            target = self.validate_scope(cmd.scope, cmd.target)
            if cmd.action == "release":
                state = ACTIVE
            elif cmd.action == "activate":
                state = parse_state(cmd.state)
                if state == ACTIVE:
                    raise ValueError("activation needs state HALTED or REDUCING")
            else:
                raise ValueError(f"unknown kill-switch action {cmd.action!r}")
        except (RejectError, ValueError) as exc:
            log.warning("ignoring invalid kill-switch command %r: %s", cmd, exc)
            return
        prev = self.kill.apply(cmd.scope, target, state, cmd.reason, cmd.who, cmd.trigger, cmd.ts)
        out.append(RiskStateChanged(cmd.ts, cmd.scope, target, STATE_NAMES[state], STATE_NAMES[prev], cmd.trigger,
                                    cmd.reason, cmd.who, cmd.origin))
        if state != ACTIVE:
            scope = cmd.scope
            self.oms.defer(MassCancel(
                cmd.ts,
                account=target if scope == "account" else None,
                symbol=target if scope == "instrument" else None,
                scope_origin=target if scope == "session" else None,
                origin=KILL_ORIGIN, cl_ord_id=f"kill:{scope}:{target}", reason=Reason.KILL_SWITCH.value))
        elif cmd.trigger == "manual" and cmd.scope == "account":
            a = self.accounts.get(target)
            if a is not None:
                # a manual release re-arms the margin-call trigger (the daily-loss one stays fired today)
                a.margin_fired = False

    def _on_venue_status(self, cmd: VenueStatus, out: list) -> None:
        connected = bool(cmd.connected)
        prev = self.venues.get(cmd.venue)
        self.venues[cmd.venue] = connected
        out.append(VenueStatusChanged(cmd.ts, cmd.venue, connected, cmd.reason, cmd.origin))
        cfg = self.settings.auto_kill.venue_loss
        tgt = cfg.venues.get(cmd.venue)
        if not (cfg.enabled and self.settings.enabled) or tgt is None:
            return
        targets = [""] if tgt.scope == "global" else list(tgt.targets)
        if not connected and prev is not False:
            for t in targets:
                self.oms.defer(KillSwitch(cmd.ts, "activate", tgt.scope, t, cfg.state,
                                          f"lost connection to venue {cmd.venue}: {cmd.reason}".rstrip(": "),
                                          "risk", "venue_loss", "risk"))
        elif connected and prev is False and cfg.release_on_reconnect:
            for t in targets:
                info = self.kill.info.get((tgt.scope, t))
                if info is not None and info.trigger == "venue_loss":
                    self.oms.defer(KillSwitch(cmd.ts, "release", tgt.scope, t, "ACTIVE",
                                              f"venue {cmd.venue} reconnected", "risk", "venue_loss", "risk"))

    # ------------------------------------------------------------------ snapshots (engine/snapshot.py extension)

    def snapshot_state(self) -> dict:
        """Everything the risk layer derived from events before the snapshot (JSON-able).
        Working quantities are not stored: `restore_state` recounts them from the
        restored OMS's open orders."""
        accounts = {}
        for name, a in self.accounts.items():
            slots = {sym: [s.pos, s.cost, s.realized_tl, s.fees_e8, [[list(k), t] for k, t in s.recent.items()]]
                     for sym, s in a.slots.items() if s.pos or s.cost or s.realized_tl or s.fees_e8 or s.recent}
            accounts[name] = {
                "realized_e8": a.realized_e8, "fees_e8": a.fees_e8, "day_start_e8": a.day_start_e8,
                "loss_fired": a.loss_fired, "margin_fired": a.margin_fired,
                "ord_tat": a.ord_rate.tat if a.ord_rate is not None else 0,
                "msg_tat": a.msg_rate.tat if a.msg_rate is not None else 0,
                "slots": slots,
            }
        sessions = {o: [s.ord_rate.tat if s.ord_rate is not None else 0,
                        s.msg_rate.tat if s.msg_rate is not None else 0] for o, s in self.sessions.items()}
        breakers = {sym: {"cur": b.cur, "lo": b.cur_lo, "hi": b.cur_hi, "past": [list(e) for e in b.past],
                          "tripped": b.tripped, "reopen_at": b.reopen_at, "last_trip": b.last_trip}
                    for sym, b in self.breakers.items()}
        return {
            "version": 1,
            "marks": {sym: ir.mark for sym, ir in self.instruments.items()},
            "accounts": accounts,
            "sessions": sessions,
            "kill": [[i.scope, i.target, i.state, i.reason, i.who, i.trigger, i.ts] for i in self.kill.info.values()],
            "breakers": breakers,
            "venues": dict(self.venues),
            "storms": {k: list(v) for k, v in self._storms.items()},
            "clock": [self._next_mark, self._next_day, self._wake_at],
            "audit": [r.to_dict() for r in list(self.audit._records)[-1000:]],
        }

    def restore_state(self, state: dict) -> None:
        """Load what `snapshot_state` saved, into controls built for a freshly restored OMS."""
        from risk.audit import AuditRecord as _Rec

        for sym, m in state.get("marks", {}).items():
            if sym in self.instruments:
                self.instruments[sym].set_mark(m)
        for name, st in state.get("accounts", {}).items():
            a = self.account(name)
            a.realized_e8 = st["realized_e8"]
            a.fees_e8 = st["fees_e8"]
            a.day_start_e8 = st["day_start_e8"]
            a.loss_fired = st["loss_fired"]
            a.margin_fired = st["margin_fired"]
            if a.ord_rate is not None:
                a.ord_rate.tat = st["ord_tat"]
            if a.msg_rate is not None:
                a.msg_rate.tat = st["msg_tat"]
            for sym, (pos, cost, realized, fees, recent) in st["slots"].items():
                if sym not in self.instruments:
                    continue
                s = self.slot(a, sym)
                s.pos, s.cost, s.realized_tl, s.fees_e8 = pos, cost, realized, fees
                s.recent = {tuple(k): t for k, t in recent}
        for origin, (ord_tat, msg_tat) in state.get("sessions", {}).items():
            sr = self.session(origin)
            if sr.ord_rate is not None:
                sr.ord_rate.tat = ord_tat
            if sr.msg_rate is not None:
                sr.msg_rate.tat = msg_tat
        for scope, target, st_, reason, who, trigger, ts in state.get("kill", []):
            self.kill.apply(scope, target, st_, reason, who, trigger, ts)
        for sym, b in state.get("breakers", {}).items():
            br = self.breakers.get(sym)
            if br is None:
                continue
            br.cur, br.cur_lo, br.cur_hi = b["cur"], b["lo"], b["hi"]
            br.past = [tuple(e) for e in b["past"]]
            br.tripped, br.reopen_at, br.last_trip = b["tripped"], b["reopen_at"], b["last_trip"]
        self.venues = dict(state.get("venues", {}))
        n = self._storm.max_rejects if self._storm is not None else None
        self._storms = {k: deque(v, maxlen=n) for k, v in state.get("storms", {}).items()}
        self._next_mark, self._next_day, self._wake_at = state.get("clock", [0, 0, 0])
        for rec in state.get("audit", []):
            self.audit._records.append(_Rec(**rec))
        # working orders: recounted from the restored OMS
        self.work.clear()
        for a in self.accounts.values():
            for s in a.slots.values():
                s.buy_leaves = s.sell_leaves = 0
        for acct, orders in self.oms.open_by_account.items():
            a = self.account(acct)
            for o in orders.values():
                if o.leaves:
                    self.work[o.order_id] = o.leaves
                    s = self.slot(a, o.symbol)
                    if o.side == 1:
                        s.buy_leaves += o.leaves
                    else:
                        s.sell_leaves += o.leaves
        for ir in self.instruments.values():
            ir.active = []
            for band in ir.bands.values():
                band.refresh()
        for a in self.accounts.values():
            for s in a.slots.values():
                s.unreal_e8 = s.gross_e8 = s.open_e8 = 0
                s.active = bool(s.pos or s.buy_leaves or s.sell_leaves)
                if s.active:
                    s.ir.active.append(s)
            a.unreal_e8 = a.gross_e8 = a.open_e8 = 0
            for s in a.slots.values():
                if s.active:
                    s.revalue()

    # ------------------------------------------------------------------ commands for callers (REST admin, CLI, router)

    def _ts(self, ts: int | None) -> int:
        if ts is not None:
            return ts
        if self.clock is not None:
            return self.clock()
        return self.oms.now + 1

    def kill_command(self, scope: str, target: str | None, reason: str, who: str, *, state: str = "HALTED",
                     ts: int | None = None, origin: str = "") -> KillSwitch:
        """A kill-switch activation to submit through the sequencer (journaled). Raises RejectError."""
        target = self.validate_scope(scope, target)
        try:
            code = parse_state(state)
        except ValueError as exc:
            raise RejectError(Reason.INVALID_ORDER, str(exc), {"state": str(state)}) from None
        if code == ACTIVE:
            raise RejectError(Reason.INVALID_ORDER, "activation needs state HALTED or REDUCING", {"state": str(state)})
        return KillSwitch(self._ts(ts), "activate", scope, target, STATE_NAMES[code], str(reason or ""), str(who or ""),
                          "manual", origin or f"admin:{who}")

    def release_command(self, scope: str, target: str | None, reason: str, who: str, *, ts: int | None = None,
                        origin: str = "") -> KillSwitch:
        target = self.validate_scope(scope, target)
        return KillSwitch(self._ts(ts), "release", scope, target, "ACTIVE", str(reason or ""), str(who or ""),
                          "manual", origin or f"admin:{who}")

    def halt_command(self, symbol: str, reason: str, who: str, *, ts: int | None = None) -> SetTradingState:
        self.validate_scope("instrument", symbol)
        return SetTradingState(self._ts(ts), symbol, _HALTED_TS, str(reason or "manual halt"), f"admin:{who}")

    def resume_command(self, symbol: str, reason: str, who: str, *, ts: int | None = None) -> SetTradingState:
        self.validate_scope("instrument", symbol)
        return SetTradingState(self._ts(ts), symbol, _OPEN_TS, str(reason or "manual resume"), f"admin:{who}")

    def venue_status_command(self, venue: str, connected: bool, reason: str = "", *, origin: str = "router",
                             ts: int | None = None) -> VenueStatus:
        return VenueStatus(self._ts(ts), str(venue), bool(connected), str(reason or ""), origin)

    # ------------------------------------------------------------------ queries (plain dicts, Decimals)

    def _acct(self, account: str) -> AccountRisk:
        if account not in self.oms.accounts:
            raise RejectError(Reason.UNKNOWN_ACCOUNT, f"unknown account {account!r}", {"account": account})
        return self.accounts.get(account) or self.account(account)

    def positions(self, account: str, *, include_flat: bool = False) -> list[dict]:
        """Per-instrument positions of an account (those with a position, P&L or working orders)."""
        a = self._acct(account)
        out = []
        for sym in sorted(a.slots):
            s = a.slots[sym]
            if include_flat or s.pos or s.realized_tl or s.fees_e8 or s.buy_leaves or s.sell_leaves:
                out.append(s.view())
        return out

    def position(self, account: str, symbol: str) -> dict:
        a = self._acct(account)
        if symbol not in self.instruments:
            raise RejectError(Reason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}", {"symbol": symbol})
        return (a.slots.get(symbol) or self.slot(a, symbol)).view()

    def balances(self, account: str) -> dict[str, Decimal]:
        a = self._acct(account)
        return {ccy: from_e8(v) for ccy, v in sorted(a.balances_e8().items())}

    def trading_state(self, account: str | None = None, origin: str | None = None, symbol: str | None = None) -> dict:
        """The kill-switch state that applies to an order with these attributes."""
        st, scope, target = self.kill.effective(account or "", origin or "", symbol or "")
        return {"state": STATE_NAMES[st], "scope": scope if st else None, "target": target if st else None}

    def summary(self, account: str) -> dict:
        a = self._acct(account)
        eq = a.equity_e8()
        used = a.margin_used_e8()
        lim = a.limits
        st = self.trading_state(account)
        gross = a.gross_e8 + a.open_e8
        return {
            "account": account,
            "margin_currency": self.settings.margin_currency,
            "collateral": from_e8(a.collateral_e8),
            "equity": from_e8(eq),
            "realized_pnl": from_e8(a.realized_e8),
            "unrealized_pnl": from_e8(a.unreal_e8),
            "fees": from_e8(a.fees_e8),
            "daily_pnl": from_e8(a.daily_pnl_e8()),
            "daily_loss_limit": lim.get("daily_loss_limit"),
            "position_exposure": from_e8(a.gross_e8),
            "working_order_exposure": from_e8(a.open_e8),
            "gross_exposure": from_e8(gross),
            "credit_limit": lim.get("credit_limit"),
            "leverage": (Decimal(gross) / Decimal(eq)).quantize(Decimal("0.0001")) if eq > 0 else None,
            "max_leverage": lim.get("max_leverage"),
            "initial_margin_pct": lim.get("initial_margin_pct"),
            "maintenance_margin_pct": lim.get("maintenance_margin_pct"),
            "margin_used": from_e8(used),
            "maintenance_margin": from_e8(a.maintenance_e8()),
            "margin_available": from_e8(eq - used),
            "open_orders": len(self.oms.open_by_account.get(account, ())),
            "max_open_orders": lim.get("max_open_orders"),
            "trading_state": st["state"],
            "trading_state_scope": st["scope"],
            "balances": self.balances(account),
            "positions": self.positions(account),
        }

    def limits(self, account: str, symbol: str | None = None) -> dict:
        """The configured limits in force (outside units; None = not enforced)."""
        a = self._acct(account)
        out = {k: (describe_rate(v) if k.endswith("_rate") else v) for k, v in a.limits.items()}
        if symbol is not None:
            if symbol not in self.instruments:
                raise RejectError(Reason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}", {"symbol": symbol})
            out["instrument"] = {symbol: dict(resolve_order_limits(self.settings, account, symbol))}
        out["checks_enabled"] = sorted(self.enabled_checks)
        return out

    def kill_switch_status(self) -> dict:
        return {"global": STATE_NAMES[self.kill.global_state], "scopes": self.kill.snapshot()}

    def audit_log(self, limit: int | None = None) -> list[dict]:
        return self.audit.records(limit)

    def circuit_breakers(self) -> list[dict]:
        out = []
        for sym, b in sorted(self.breakers.items()):
            v = b.view()
            v["state"] = _TS_NAMES.get(self.oms.books[sym].state)
            out.append(v)
        return out

    def venue_status(self) -> dict[str, bool]:
        return dict(self.venues)

    def describe(self) -> str:
        """One start-up line: which checks have a limit somewhere, marks, breakers, triggers."""
        st = self.settings
        if not st.enabled:
            return "checks off (positions, P&L and kill-switch state only)"
        limited = set()
        for a in self.accounts.values():
            if a.max_open < BIG:
                limited.add("max_open_orders")
            if a.credit_e8 < BIG:
                limited.add("credit_limit")
            if a.margin_ppm:
                limited.add("margin")
            if a.daily_loss_e8 < BIG:
                limited.add("daily_loss")
            if a.ord_rate is not None:
                limited.add("order_rate")
            if a.msg_rate is not None:
                limited.add("message_rate")
            for s in a.slots.values():
                for name, on in (("max_order_qty", s.max_qty < BIG), ("max_order_notional", s.max_notional < BIG),
                                 ("price_collar", s.collar_ppm), ("position_limit", s.max_long < BIG or
                                                                   s.max_short < BIG),
                                 ("reduce_only", s.reduce_only), ("restricted", s.restricted),
                                 ("duplicate_order", s.dup_ns)):
                    if on:
                        limited.add(name)
        if st.defaults.session_order_rate or any(x.order_rate for x in st.sessions.values()):
            limited.add("order_rate")
        if st.defaults.session_message_rate or any(x.message_rate for x in st.sessions.values()):
            limited.add("message_rate")
        order = [c for c in self.settings.enabled_checks() if c in limited or c in ("kill_switch", "reduce_only")]
        order = sorted(order, key=list(CHECKS).index)
        auto = [n for n, on in (("daily_loss", self._auto_loss), ("margin_call", self._auto_margin),
                                ("reject_storm", self._storm is not None),
                                ("venue_loss", st.auto_kill.venue_loss.enabled)) if on]
        mark = f"every {st.mark_interval_ms} ms" if st.mark_interval_ms else "on every trade"
        return (f"checks {', '.join(order)}; positions and P&L in {st.margin_currency}, marked at "
                f"{st.mark_price} {mark}; circuit breakers on {len(self.breakers)} instrument(s); "
                f"automatic kill switch: {', '.join(auto) or 'off'}")


def build_risk_controls(oms, raw_settings: dict | None = None, *, balances=None, reference_prices=None,
                        clock=None, install: bool = True) -> RiskControls:
    """Validate a raw `risk:` mapping and build (and install) the controls for `oms`."""
    from risk.settings import load_risk_section

    settings = load_risk_section(raw_settings or {})
    rc = RiskControls(oms, settings, balances=balances, reference_prices=reference_prices, clock=clock)
    return rc.install() if install else rc
