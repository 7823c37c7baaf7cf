"""Shared set-up for the risk tests: a real OMS with two instruments and a few
accounts, the risk controls built from a plain `risk:` mapping (validated by the
same loader as the venue's YAML), and a small driver that numbers client order
ids and advances command timestamps, so every test speaks in outside units
(Decimal prices and quantities) and reads the engine's own events.

Nothing here is a stand-in: the OMS, the checks, the listener and the command
handlers are the production objects; tests drive them with real commands.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from engine.commands import CancelOrder, MassCancel, NewOrder, ReplaceOrder, SetTradingState, Tick
from engine.events import CancelReject, ExecReport, MassCancelDone, Trade, TradingStateChanged
from engine.instrument import Instrument
from engine.oms import OMS, AccountSpec
from engine.types import BUY, SELL, ExecType, OrdStatus, OrdType, StpMode, TimeInForce
from risk.commands import RiskStateChanged
from risk.controls import RiskControls
from risk.settings import load_risk_section

SYM = "BTC-USD"      # tick 0.01, lot 0.001, 0.001..1000
SYM2 = "ETH-USD"     # tick 0.05, lot 0.01, 0.01..10000
NS = 1_000_000_000
# Monday 2026-01-05 10:00:00 UTC
T0 = int(dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.timezone.utc).timestamp()) * NS

LIMIT = int(OrdType.LIMIT)
MARKET = int(OrdType.MARKET)
STOP = int(OrdType.STOP)
GTC = int(TimeInForce.GTC)
IOC = int(TimeInForce.IOC)
ACCOUNTS = ("A", "B", "C", "MM")


def make_instruments() -> list[Instrument]:
    return [
        Instrument(SYM, "BTC", "USD", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("1000")),
        Instrument(SYM2, "ETH", "USD", Decimal("0.05"), Decimal("0.01"), Decimal("0.01"), Decimal("10000")),
    ]


def make_accounts() -> list[AccountSpec]:
    # fees: 1 bps maker, 2 bps taker; no self-trade prevention (MM may cross itself in tests)
    return [AccountSpec(a, maker_fee_ppm=100, taker_fee_ppm=200, stp_mode=int(StpMode.CANCEL_NEWEST))
            for a in ACCOUNTS]


BALANCES = {a: {"USD": Decimal("1000000"), "BTC": Decimal("10")} for a in ACCOUNTS}


class Desk:
    """Drives an OMS with risk controls: numbered client order ids, monotonic timestamps."""

    def __init__(self, risk: dict | None = None, *, balances=None, refs=None, install: bool = True) -> None:
        self.oms = OMS(make_instruments(), make_accounts())
        self.settings = load_risk_section(risk or {})
        self.insts = self.oms.instruments
        self.risk = RiskControls(self.oms, self.settings, balances=BALANCES if balances is None else balances,
                                 reference_prices=refs if refs is not None else {SYM: Decimal("50000")})
        if install:
            self.risk.install()
        self.ts = T0
        self.n = 0
        self.events: list = []          # every event, in sequence order
        self.commands: list = []        # every command processed (the journal)

    # ------------------------------------------------------------------ time and commands

    def step(self, ns: int = 1_000_000) -> int:
        self.ts += ns
        return self.ts

    def process(self, cmd) -> list:
        self.commands.append(cmd)
        out = self.oms.process(cmd)
        self.events.extend(out)
        return out

    def clid(self) -> str:
        self.n += 1
        return f"o{self.n}"

    def px(self, price, symbol=SYM) -> int:
        return self.insts[symbol].price_to_ticks(Decimal(str(price)))

    def lots(self, qty, symbol=SYM) -> int:
        return self.insts[symbol].qty_to_lots(Decimal(str(qty)), check_bounds=False)

    def new(self, account, side, qty, price=None, *, symbol=SYM, tif=GTC, ord_type=None, origin="", stop=None,
            reduce_only=False, ts=None, clid=None) -> list:
        ot = ord_type if ord_type is not None else (LIMIT if price is not None else MARKET)
        cmd = NewOrder(self.step() if ts is None else ts, account, clid or self.clid(), symbol,
                       BUY if side == "buy" else SELL, ot, tif, self.lots(qty, symbol),
                       self.px(price, symbol) if price is not None else 0,
                       stop_px=self.px(stop, symbol) if stop is not None else 0, origin=origin,
                       reduce_only=reduce_only)
        return self.process(cmd)

    def replace(self, account, order_id, *, qty=None, price=None, origin="", symbol=SYM, ts=None) -> list:
        cmd = ReplaceOrder(self.step() if ts is None else ts, account, self.clid(), order_id=order_id,
                           qty=self.lots(qty, symbol) if qty is not None else 0,
                           price=self.px(price, symbol) if price is not None else 0, origin=origin)
        return self.process(cmd)

    def cancel(self, account, order_id, origin="") -> list:
        return self.process(CancelOrder(self.step(), account, self.clid(), order_id=order_id, origin=origin))

    def tick(self, ns: int = NS) -> list:
        return self.process(Tick(self.step(ns)))

    def halt(self, symbol=SYM, state=2, origin="admin:ops") -> list:
        return self.process(SetTradingState(self.step(), symbol, state, "manual", origin))

    def trade(self, price, qty="0.01", symbol=SYM, buyer="MM", seller="C") -> list:
        """A print at `price`: a resting sell of `seller` taken by `buyer`."""
        self.new(seller, "sell", qty, price, symbol=symbol)
        return self.new(buyer, "buy", qty, price, symbol=symbol, tif=IOC)


# ---------------------------------------------------------------- event filters

def execs(events, exec_type=None) -> list[ExecReport]:
    return [e for e in events if isinstance(e, ExecReport) and (exec_type is None or e.exec_type == exec_type)]


def rejected(events) -> ExecReport | None:
    r = execs(events, int(ExecType.REJECTED))
    return r[0] if r else None


def accepted(events) -> ExecReport | None:
    r = execs(events, int(ExecType.NEW))
    return r[0] if r else None


def cancel_rejects(events) -> list[CancelReject]:
    return [e for e in events if isinstance(e, CancelReject)]


def trades(events) -> list[Trade]:
    return [e for e in events if isinstance(e, Trade)]


def states(events) -> list[TradingStateChanged]:
    return [e for e in events if isinstance(e, TradingStateChanged)]


def risk_states(events) -> list[RiskStateChanged]:
    return [e for e in events if isinstance(e, RiskStateChanged)]


def mass_done(events) -> list[MassCancelDone]:
    return [e for e in events if isinstance(e, MassCancelDone)]


def open_ids(oms, account=None) -> set[int]:
    pools = [oms.open_by_account[account]] if account else list(oms.open_by_account.values())
    return {oid for pool in pools for oid in pool}


__all__ = [n for n in dir() if not n.startswith("_")] + ["OrdStatus", "ExecType", "MassCancel"]
