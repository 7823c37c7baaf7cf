"""Test support for the router: a venue wired with routing (and optionally risk) against
the real OANDA and Binance simulators on loopback, driven at the sequencer level.

* `sims()` starts an OANDA v20 simulator (with a BTC_USD instrument besides the FX
  pairs, so one symbol trades at both simulators) and a Binance spot simulator.
* `routing_config(oanda, binance, instruments=..., **extra)` is a venue config dict
  whose `routing:` section points at them.
* `Harness` builds `app.venue.Venue` from such a config, wires risk (when asked) and
  routing exactly as `fixvenue run` does (app/wiring_risk.py, app/wiring_routing.py),
  starts the router, and collects every delivered event. Clients are plain commands
  through `venue.sequencer` (the gateways are tested separately).

Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import importlib
from decimal import Decimal as D
from typing import Any, Callable

from app.config import parse_config
from app.venue import Venue
from engine.commands import CancelOrder, MassCancel, NewOrder, ReplaceOrder
from engine.types import ExecType, OrdStatus, OrdType, TimeInForce
from venues.sim.binance import BinanceSim
from venues.sim.oanda import OandaSim, SimInstrument, default_instruments

WAIT = 10.0
BUY, SELL = 1, 2
MARKET, LIMIT = int(OrdType.MARKET), int(OrdType.LIMIT)
GTC, IOC, FOK, DAY = int(TimeInForce.GTC), int(TimeInForce.IOC), int(TimeInForce.FOK), int(TimeInForce.DAY)
X = ExecType
S = OrdStatus


def oanda_sim(**kw) -> OandaSim:
    insts = default_instruments() + [
        SimInstrument("BTC_USD", D("50000.00"), 2, D("1.00"), D("1.00"), units_precision=4,
                      minimum_units=D("0.0001"), margin_rate=D("0.05")),
    ]
    kw.setdefault("heartbeat", 0.2)
    kw.setdefault("balance", D(10_000_000))
    return OandaSim(instruments=insts, **kw)


def binance_sim(**kw) -> BinanceSim:
    kw.setdefault("balances", {"USDT": D(10_000_000), "BTC": D(100), "ETH": D(1000)})
    return BinanceSim(**kw)


INSTRUMENTS = [
    {"symbol": "EUR/USD", "asset_class": "fx", "base": "EUR", "quote": "USD", "tick_size": "0.00001",
     "lot_size": "1", "min_qty": "1", "max_qty": "50000000", "price_precision": 5, "reference_price": "1.10000"},
    {"symbol": "BTC-USD", "asset_class": "crypto", "base": "BTC", "quote": "USD", "tick_size": "0.01",
     "lot_size": "0.0001", "min_qty": "0.0001", "max_qty": "100", "price_precision": 2,
     "reference_price": "50000"},
    {"symbol": "ETH-USD", "asset_class": "crypto", "base": "ETH", "quote": "USD", "tick_size": "0.01",
     "lot_size": "0.001", "min_qty": "0.001", "max_qty": "1000", "price_precision": 2,
     "reference_price": "3000"},
]

BIG = {"USD": "100000000", "BTC": "1000", "ETH": "10000", "EUR": "100000000"}


def routing_config(oanda: OandaSim | None, binance: BinanceSim | None, instruments: dict | None = None, *,
                   oanda_extra: dict | None = None, binance_extra: dict | None = None, **routing: Any) -> dict:
    venues = {}
    if oanda is not None:
        venues["oanda"] = {"type": "oanda", "taker_fee_bps": "0.5", "config": {
            "account_id": oanda.account_id, "token": oanda.token, "api_url": oanda.base_url,
            "request_timeout": 1.5, "connect_timeout": 3.0, "stream_read_timeout": 1.5,
            "reconnect_initial": 0.05, "reconnect_max": 0.3, "reconcile_delay": 0.05, "reconcile_attempts": 3,
            "instrument_aliases": {"BTC-USD": "BTC_USD"}, **(oanda_extra or {})}}
    if binance is not None:
        venues["binance"] = {"type": "ccxt", "taker_fee_bps": "10", "config": {
            "exchange_id": "binance", "api_key": binance.api_key, "secret": binance.secret,
            "base_url": binance.base_url, "timeout": 1.5, "poll_interval": 0.05, "reconcile_delay": 0.05,
            "reconcile_attempts": 3, "close_grace_ms": 0,
            "symbol_aliases": {"BTC-USD": "BTC/USDT", "ETH-USD": "ETH/USDT"}, **(binance_extra or {})}}
    section = {"account": "ROUTER", "internal_accounts": ["MM"], "venues": venues, "instruments": instruments or {},
               "retry_initial_s": 0.05, "retry_max_s": 0.3, "fill_grace_s": 0.2, "connect_timeout_s": 5.0,
               "quote_timeout_s": 1.5, "rate_limit_max_wait_s": 0.5}
    section.update(routing)
    return {
        "venue": {"name": "routing-test", "data_dir": "var"},
        "instruments": INSTRUMENTS,
        "fee_tiers": {"std": {"maker_bps": "1.0", "taker_bps": "2.0"}, "mm": {"maker_bps": "0", "taker_bps": "0"}},
        "accounts": [
            {"id": "C1", "fee_tier": "std", "balances": BIG},
            {"id": "C2", "fee_tier": "std", "balances": BIG},
            {"id": "MM", "fee_tier": "mm", "stp": "cancel_oldest", "balances": BIG},
            {"id": "ROUTER", "fee_tier": "mm", "stp": "none", "balances": BIG},
        ],
        "routing": section,
    }


def wire_risk(venue) -> None:
    """risk/ as the venue wires it: app/wiring_risk.py when it exists, else the same
    RiskControls built straight from risk/ (installed into the OMS, in venue.services)."""
    try:
        mod = importlib.import_module("app.wiring_risk")
    except ModuleNotFoundError as exc:
        if exc.name != "app.wiring_risk":
            raise
        from risk import build_risk_controls

        cfg = venue.config
        rc = build_risk_controls(venue.oms, cfg.risk or {}, balances={a.id: dict(a.balances) for a in cfg.accounts},
                                 reference_prices=cfg.reference_prices(), clock=venue.clock)
        venue.services["risk"] = rc
        venue.services.setdefault("snapshot_extensions", {})
        return
    mod.wire(venue)


class Harness:
    """A venue with routing wired (and risk when `risk=True`), driven through its sequencer."""

    def __init__(self, config: dict, *, risk: bool = False, data_dir: str = "var", journal_dir=None) -> None:
        self.config = parse_config(config, "<routing-test>")
        self.venue = Venue(self.config, "<routing-test>", {"data_dir": data_dir})
        if risk:
            wire_risk(self.venue)
        self.journal = None
        importlib.import_module("app.wiring_routing").wire(self.venue)
        self.recovered = None
        if journal_dir is not None:
            # like app/wiring_store.py: replay what is there (handlers and listeners wired), then append
            from engine.journal import FileJournal
            from engine.recovery import recover

            self.journal = FileJournal.open(journal_dir, fsync=False)
            self.recovered = recover(self.venue.oms, journal_dir)
            self.venue.sequencer.journal = self.journal
            clock = self.venue.clock
            clock._last = max(clock._last, self.venue.oms.now)
        self.router = self.venue.services["router"]
        self.core = self.venue.services["router_core"]
        self.seq = self.venue.sequencer
        self.oms = self.venue.oms
        self.events: list = []
        self.seq.subscribe(self.events.extend)
        self._n = 0

    async def __aenter__(self) -> "Harness":
        await self.router.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.router.stop()
        self.seq.flush()
        if self.journal is not None:
            self.journal.close()

    # ------------------------------------------------------------------ commands

    def ts(self) -> int:
        return self.venue.clock()

    def new(self, account: str, symbol: str, side: int, qty: str, price: str | None = None, *,
            ord_type: int | None = None, tif: int = GTC, clid: str | None = None, origin: str = "TEST") -> str:
        inst = self.venue.instruments[symbol]
        self._n += 1
        clid = clid or f"{account}-{self._n}"
        ot = ord_type if ord_type is not None else (LIMIT if price is not None else MARKET)
        self.seq.submit(NewOrder(self.ts(), account, clid, symbol, side, ot, tif, inst.qty_to_lots(D(qty)),
                                 inst.price_to_ticks(D(price)) if price is not None else 0, origin=origin))
        return clid

    def cancel(self, account: str, clid: str, new_clid: str = "", origin: str = "TEST") -> None:
        self.seq.submit(CancelOrder(self.ts(), account, new_clid, clid, origin=origin))

    def replace(self, account: str, clid: str, new_clid: str, qty: str | None = None, price: str | None = None,
                symbol: str = "", origin: str = "TEST") -> None:
        o = self.oms.get_by_clid(account, clid)
        inst = self.venue.instruments[o.symbol]
        self.seq.submit(ReplaceOrder(self.ts(), account, new_clid, clid,
                                     qty=inst.qty_to_lots(D(qty)) if qty else 0,
                                     price=inst.price_to_ticks(D(price)) if price else 0, origin=origin))

    def mass_cancel(self, **kw) -> None:
        self.seq.submit(MassCancel(self.ts(), **kw))

    # ------------------------------------------------------------------ looking

    def order(self, account: str, clid: str):
        o = self.oms.get_by_clid(account, clid)
        if o is None:   # rejected orders do not keep their client order id
            o = next((x for x in reversed(self.oms.orders.values())
                      if x.account == account and x.cl_ord_id == clid), None)
        return o

    def reports(self, order_id: int) -> list:
        return [e for e in self.events if e.kind == "exec" and e.order_id == order_id]

    def exec_types(self, order_id: int) -> list[int]:
        return [e.exec_type for e in self.reports(order_id)]

    def children(self, order_id: int) -> list[dict]:
        return self.router.children_of(order_id)

    async def until(self, predicate: Callable[[], bool], timeout: float = WAIT, what: str = "condition") -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def done(self, account: str, clid: str, timeout: float = WAIT):
        """Wait until the order is terminal and its router work is over; returns the order."""
        await self.until(lambda: (o := self.order(account, clid)) is not None and not o.is_open,
                         timeout, f"order {clid} to finish")
        await self.router.settled(timeout)
        await asyncio.sleep(0)
        return self.order(account, clid)

    async def status(self, account: str, clid: str, status: int, timeout: float = WAIT):
        await self.until(lambda: (o := self.order(account, clid)) is not None and o.status == status,
                         timeout, f"order {clid} to reach status {status}")
        return self.order(account, clid)


def check_aggregation(h: Harness, order_id: int) -> None:
    """The parent's reports are consistent: CumQty is the running sum of LastQty, AvgPx
    notional the running sum of the fills', and the final figures match the children."""
    cum = 0
    for ev in h.reports(order_id):
        if ev.exec_type == int(X.TRADE):
            cum += ev.last_qty
            assert ev.cum == cum, (ev.cum, cum)
            assert ev.leaves == ev.qty - ev.cum or ev.status in (int(S.CANCELED), int(S.EXPIRED))
    o = h.oms.get(order_id)
    kids = h.children(order_id)
    assert o.cum == cum == sum(k["cum"] for k in kids)
    assert o.cum_notional == sum(k["notional"] for k in kids)
