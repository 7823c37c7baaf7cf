"""Shared set-up for the engine tests: instruments, accounts, a small driver
(`Venue`) that numbers client order ids and timestamps, event filters, the
invariant checks the randomized test runs after every command, and the random
command streams (`make_op`, `random_ops`, `iter_commands`) shared by the
randomized and the determinism tests.

`venue` is a pytest fixture parametrized over the real `OMS` and the naive
`ReferenceOMS`, so every behavioural unit test pins down both: the reference
is only a useful oracle if it is itself right on the hand-written cases.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.commands import (
    CancelOrder,
    MassCancel,
    NewOrder,
    RejectCancel,
    RejectNew,
    ReplaceOrder,
    SetTradingState,
    Tick,
)
from engine.events import BookUpdate, CancelReject, ExecReport, MassCancelDone, Trade, TradingStateChanged
from engine.instrument import Instrument
from engine.oms import OMS, AccountSpec
from engine.reference import ReferenceOMS
from engine.types import BUY, SELL, ExecType, OrdStatus, OrdType, StpMode, TimeInForce

SYM = "BTC-USD"
SYM2 = "ETH-USD"

# Monday 2026-01-05 10:00:00 UTC, in ns: far from midnight, so DAY orders live until the test moves time.
T0 = int(dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000
MIDNIGHT = int(dt.datetime(2026, 1, 6, 0, 0, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000

LIMIT = int(OrdType.LIMIT)
MARKET = int(OrdType.MARKET)
STOP = int(OrdType.STOP)
STOP_LIMIT = int(OrdType.STOP_LIMIT)
MIT = int(OrdType.MARKET_IF_TOUCHED)
TRAILING = int(OrdType.TRAILING_STOP)

GTC = int(TimeInForce.GTC)
DAY = int(TimeInForce.DAY)
IOC = int(TimeInForce.IOC)
FOK = int(TimeInForce.FOK)
GTD = int(TimeInForce.GTD)

X = ExecType
S = OrdStatus


def make_instruments() -> list[Instrument]:
    return [
        # 0.01 USD ticks, 0.001 BTC lots, 1..1000 lots; market orders trade at most 3% from the best
        Instrument(SYM, "BTC", "USD", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("1"),
                   market_protection_bps=300),
        Instrument(SYM2, "ETH", "USD", Decimal("0.05"), Decimal("0.01"), Decimal("0.01"), Decimal("10"),
                   market_protection_bps=200),
    ]


def make_accounts() -> list[AccountSpec]:
    return [
        AccountSpec("A", maker_fee_ppm=-50, taker_fee_ppm=200),                      # cancel newest (default)
        AccountSpec("B", maker_fee_ppm=100, taker_fee_ppm=300),
        AccountSpec("C"),
        AccountSpec("OLD", stp_mode=int(StpMode.CANCEL_OLDEST)),
        AccountSpec("BOTH", stp_mode=int(StpMode.CANCEL_BOTH)),
        AccountSpec("DEC", stp_mode=int(StpMode.DECREMENT_AND_CANCEL)),
        AccountSpec("NONE", stp_mode=int(StpMode.NONE)),
    ]


IMPLEMENTATIONS = {"engine": OMS, "reference": ReferenceOMS}


class Venue:
    """Drives one OMS-like object: fills in timestamps and client order ids."""

    def __init__(self, impl=OMS, instruments=None, accounts=None) -> None:
        self.instruments = instruments or make_instruments()
        self.oms = impl(self.instruments, accounts or make_accounts())
        self.ts = T0
        self._n = 0
        self.log: list = []

    # --- commands --------------------------------------------------------

    def run(self, cmd) -> list:
        self.log.append(cmd)
        return self.oms.process(cmd)

    def next_ts(self, ts: int | None) -> int:
        if ts is None:
            self.ts += 1
        else:
            self.ts = ts
        return self.ts

    def new(self, account, side, qty, price=0, ord_type=LIMIT, tif=GTC, *, clid=None, symbol=SYM, ts=None, **kw):
        self._n += 1
        clid = clid or f"{account}-{self._n}"
        return self.run(NewOrder(self.next_ts(ts), account, clid, symbol, side, ord_type, tif, qty, price, **kw))

    def buy(self, account, qty, price=0, **kw):
        return self.new(account, BUY, qty, price, **kw)

    def sell(self, account, qty, price=0, **kw):
        return self.new(account, SELL, qty, price, **kw)

    def cancel(self, account, order_id=0, *, orig="", clid="", ts=None, **kw):
        return self.run(CancelOrder(self.next_ts(ts), account, clid, orig, order_id, **kw))

    def replace(self, account, order_id=0, *, qty=0, price=0, stop_px=0, clid=None, orig="", ts=None):
        self._n += 1
        clid = f"{account}-r{self._n}" if clid is None else clid
        return self.run(ReplaceOrder(self.next_ts(ts), account, clid, orig, order_id, qty, price, stop_px))

    def mass_cancel(self, ts=None, **kw):
        return self.run(MassCancel(self.next_ts(ts), **kw))

    def set_state(self, state, symbol=SYM, ts=None, reason=""):
        return self.run(SetTradingState(self.next_ts(ts), symbol, int(state), reason))

    def tick(self, ts):
        return self.run(Tick(self.next_ts(ts)))

    def reject_new(self, account, reason, text, ts=None, **kw):
        self._n += 1
        return self.run(RejectNew(self.next_ts(ts), account, f"{account}-{self._n}", SYM, BUY, reason, text, **kw))

    # --- views -----------------------------------------------------------

    def depth(self, symbol=SYM):
        return self.oms.depth(symbol)

    def order(self, order_id):
        return self.oms.get(order_id)


# --- event filters ---------------------------------------------------------

def execs(events, order_id=None, exec_type=None) -> list[ExecReport]:
    return [e for e in events if isinstance(e, ExecReport)
            and (order_id is None or e.order_id == order_id)
            and (exec_type is None or e.exec_type == exec_type)]


def trades(events) -> list[Trade]:
    return [e for e in events if isinstance(e, Trade)]


def book_updates(events) -> list[BookUpdate]:
    return [e for e in events if isinstance(e, BookUpdate)]


def cancel_rejects(events) -> list[CancelReject]:
    return [e for e in events if isinstance(e, CancelReject)]


def mass_done(events) -> list[MassCancelDone]:
    return [e for e in events if isinstance(e, MassCancelDone)]


def state_changes(events) -> list[TradingStateChanged]:
    return [e for e in events if isinstance(e, TradingStateChanged)]


def oid(events) -> int:
    """The order id of the first execution report of a command (the order it entered)."""
    return execs(events)[0].order_id


def kinds(events) -> list[tuple]:
    """A compact trace: (kind, order id, exec type) per event, for asserting event order."""
    out = []
    for e in events:
        if isinstance(e, ExecReport):
            out.append(("exec", e.order_id, int(e.exec_type)))
        elif isinstance(e, Trade):
            out.append(("trade", e.maker_order_id, e.taker_order_id))
        else:
            out.append((e.kind,))
    return out


# --- fixtures --------------------------------------------------------------

@pytest.fixture(params=list(IMPLEMENTATIONS), ids=list(IMPLEMENTATIONS))
def venue(request) -> Venue:
    return Venue(IMPLEMENTATIONS[request.param])


# --- white-box views of the real engine (compared with the reference's) --------------------

def engine_queues(oms: OMS, symbol: str) -> dict[tuple[int, int], list[int]]:
    """Resting order ids per (side, price) in the order they would trade: displayed
    orders in queue order, then hidden ones (the engine keeps both in one list)."""
    out = {}
    book = oms.books[symbol]
    for side_no, side in ((BUY, book.bids), (SELL, book.asks)):
        for lv in side.iter_levels():
            members = list(lv.orders())
            out[(side_no, lv.price)] = ([o.order_id for o in members if not o.hidden]
                                        + [o.order_id for o in members if o.hidden])
    return out


def engine_waiting(oms: OMS, symbol: str) -> list[tuple[int, int]]:
    return [(o.order_id, o.ext.stop_px) for o in oms.books[symbol].stops.values()]


# --- invariants on the real engine -------------------------------------------

_OPEN = {int(S.NEW), int(S.PARTIALLY_FILLED), int(S.PENDING_NEW)}


def check_invariants(oms: OMS, events=()) -> None:
    """What must hold after every command, whatever the command was."""
    # no fill is worse than its limit (market orders carry price 0: nothing to compare)
    for e in events:
        if isinstance(e, ExecReport) and e.exec_type == X.TRADE and e.price:
            if e.side == BUY:
                assert e.last_px <= e.price, f"buy filled above its limit: {e}"
            else:
                assert e.last_px >= e.price, f"sell filled below its limit: {e}"
        if isinstance(e, ExecReport):
            assert 0 <= e.cum <= e.qty, f"cum outside [0, qty]: {e}"
    for symbol, book in oms.books.items():
        bb, ba = book.bids.best(), book.asks.best()
        assert not (bb and ba and bb >= ba), f"{symbol} book crossed: bid {bb} >= ask {ba}"
        for side in (book.bids, book.asks):
            assert side.prices == sorted(side.prices)
            assert set(side.prices) == set(side.levels)
            for price, lv in side.levels.items():
                members = list(lv.orders())
                assert members, f"empty level {price} kept"
                shown = [o for o in members if not o.hidden]
                assert lv.count == len(members)
                assert lv.hidden == len(members) - len(shown)
                assert lv.qty == sum(o.visible for o in shown), f"level {price} total != sum of displayed"
                for o in members:
                    assert o.price == price and o.level is lv
                    assert (o.side == BUY) == side.is_bid
                    assert o.status in _OPEN and o.leaves > 0
                    if o.hidden:
                        assert o.visible == 0
                    else:
                        assert 0 < o.visible <= o.leaves
                        if o.iceberg:
                            assert o.visible <= o.ext.display_qty
                        else:
                            assert o.visible == o.leaves
        for o in book.stops.values():
            assert o.status in _OPEN and o.level is None and o.symbol == symbol
    indexed = {o.order_id for d in oms.open_by_account.values() for o in d.values()}
    for o in oms.orders.values():
        assert 0 <= o.cum <= o.qty, f"cum outside [0, qty]: {o}"
        is_open = o.status in _OPEN
        assert (o.order_id in indexed) == is_open, f"open index disagrees with status: {o}"
        if is_open:
            assert o.qty == o.cum + o.leaves, f"qty != cum + leaves on an open order: {o}"
            book = oms.books[o.symbol]
            assert (o.level is not None) != (o.order_id in book.stops), f"open order neither resting nor armed: {o}"
        else:
            assert o.leaves == 0 and o.level is None, f"finished order still live: {o}"


# --- random command streams (randomized and determinism tests) ---------------------------------

STREAM_START = MIDNIGHT - 2_000     # streams start just before a session end: DAY orders expire mid-stream
ACCOUNTS = ["A", "B", "C", "OLD", "BOTH", "DEC", "NONE"]

_DTS = [0, 1, 1, 1, 2, 5, 20, 100, 400]
_PRICES = list(range(97, 104))
# buys lean low and sells high, overlapping in the middle: orders cross often, and the outer
# prices build queues several orders deep (priority rules only show in deep queues)
_BUY_PRICES = [96, 97, 97, 98, 98, 99, 100, 101]
_SELL_PRICES = [99, 100, 101, 102, 102, 103, 103, 104]
_QTYS = list(range(1, 13)) * 3 + [0, 1001]      # ~5% outside the bounds
_KINDS = ["limit"] * 6 + ["iceberg", "hidden", "market", "post_only", "stop", "stop_limit", "mit",
                           "trail_ticks", "trail_ppm", "bad"]
_TIFS = [GTC] * 5 + [DAY, IOC, IOC, GTD, FOK]
_OPS = ["new"] * 80 + ["cancel"] * 6 + ["replace"] * 20 + ["state"] * 10 + ["tick"] * 4 + ["mass", "edge_reject"]


def make_op(pick) -> dict:
    """One random op, as plain data; `pick(options)` chooses one element (a seeded
    `random.Random(...).choice`)."""
    op = {"op": pick(_OPS), "dt": pick(_DTS), "md": pick([True, True, False])}
    kind = op["op"]
    if kind == "new":
        side = pick([BUY, SELL])
        op.update(
            account=pick(ACCOUNTS + ["DEC", "OLD", "BOTH"]),    # STP accounts more often: more self-trades
            symbol=pick([SYM, SYM, SYM, SYM2]),
            side=side,
            kind=pick(_KINDS),
            tif=pick(_TIFS),
            qty=pick(_QTYS),
            price=pick(_BUY_PRICES if side == BUY else _SELL_PRICES),
            stop_px=pick(_PRICES),
            display=pick([1, 2, 3, 4]),
            min_qty=pick([0] * 8 + [2, 3]),
            stp=pick([None] * 6 + [0, 1, 2, 3, 4]),
            gtd=pick([-1, 1, 10, 300, 2_000, 20_000]),
            reuse_clid=pick([None] * 60 + [0, 3, 7, 30]),   # ~6% reuse a client order id
        )
    elif kind in ("cancel", "replace", "edge_reject"):
        op.update(
            target=pick(list(range(40))),
            by=pick(["id", "id", "id", "clid", "clid", "other_account"]),
            aim=pick(["open", "open", "open", "any"]),
            new_clid=pick(["", "fresh", "fresh", "dup"]),
        )
        if kind == "replace":
            op.update(qty=pick([0, 0, 1, 2, 3, 5, 8, 12, 20, 1001]), price=pick([0, 0] + _PRICES[::2]),
                      stop_px=pick([0, 0, 0] + _PRICES[::2]))
    elif kind == "mass":
        op.update(account=pick([None] + ACCOUNTS), symbol=pick([None, SYM, SYM2]), side=pick([None, BUY, SELL]),
                  tif=pick([None, None, None, DAY, GTC]))
    elif kind == "state":
        op.update(symbol=pick([SYM, SYM2]), state=pick([1] * 19 + [2, 3]))   # markets are halted/closed ~10% of the time
    else:
        op["dt"] = pick([1, 50, 300, 1000])
    return op


def random_ops(rng, n: int) -> list[dict]:
    return [make_op(rng.choice) for _ in range(n)]


def iter_commands(ops: list[dict], oracle=None):
    """Turn ops into commands, one command per op.

    Order ids are predictable (each NewOrder takes the next one), so cancels and
    replaces can name earlier orders. With an `oracle` (an OMS-like object the
    caller feeds each command to before asking for the next), most of them aim
    at an order that is still open, so the interesting paths run often."""
    news: list[tuple[str, str]] = []   # (account, clid) of the NewOrder that got order id i+1
    ts = STREAM_START
    for n, op in enumerate(ops, 1):
        ts += op["dt"]
        kind = op["op"]
        if kind == "new":
            k = op["kind"]
            clid = f"c{n}"
            if op["reuse_clid"] is not None and news:
                clid = news[op["reuse_clid"] % len(news)][1]     # a duplicate if the same account used it
            args = dict(stp=op["stp"])
            ord_type, price, tif = LIMIT, op["price"], op["tif"]
            if k == "market":
                ord_type, price = MARKET, 0
            elif k == "iceberg":
                args["display_qty"] = op["display"]
            elif k == "hidden":
                args["hidden"] = True
            elif k == "post_only":
                args["post_only"] = True
            elif k == "stop":
                ord_type, price, args["stop_px"] = STOP, 0, op["stop_px"]
            elif k == "stop_limit":
                ord_type, args["stop_px"] = STOP_LIMIT, op["stop_px"]
            elif k == "mit":
                ord_type, price, args["stop_px"] = MIT, 0, op["stop_px"]
            elif k == "trail_ticks":
                ord_type, price, args["trail_ticks"] = TRAILING, 0, op["display"]
            elif k == "trail_ppm":
                ord_type, price, args["trail_ppm"] = TRAILING, 0, op["display"] * 10_000
            elif k == "bad":   # shapes the validation must refuse
                if n % 3 == 0:
                    args["stop_px"] = op["stop_px"]                        # stop price on a limit order
                elif n % 3 == 1:
                    args.update(hidden=True, display_qty=op["display"])   # hidden iceberg
                else:
                    ord_type = 9                                           # no such order type
            if op["min_qty"]:
                args["min_qty"] = op["min_qty"]
            if tif == GTD:
                args["expire_ts"] = ts + op["gtd"]
            news.append((op["account"], clid))
            yield NewOrder(ts, op["account"], clid, op["symbol"], op["side"], ord_type, tif, op["qty"], price, **args)
        elif kind in ("cancel", "replace", "edge_reject"):
            if not news:
                yield Tick(ts)
                continue
            live = oracle.open_orders() if oracle is not None and op["aim"] == "open" else []
            if live:
                target = live[op["target"] % len(live)]
                i = target.order_id - 1
                account, clid = target.account, target.cl_ord_id
            else:
                i = max(0, len(news) - 1 - op["target"] % 13)     # one of the latest orders
                account, clid = news[i]
            order_id, orig = (i + 1, "") if op["by"] != "clid" else (0, clid)
            if op["by"] == "other_account":
                account = ACCOUNTS[(ACCOUNTS.index(account) + 1) % len(ACCOUNTS)]
            new_clid = {"": "", "fresh": f"x{n}", "dup": news[(i + 1) % len(news)][1]}[op["new_clid"]]
            if kind == "cancel":
                yield CancelOrder(ts, account, new_clid, orig, order_id)
            elif kind == "edge_reject":     # a cancel/replace the gateway refused (e.g. price off the tick)
                yield RejectCancel(ts, account, new_clid, orig, order_id, n % 2 == 0, "INVALID_PRICE", "off tick")
            else:
                yield ReplaceOrder(ts, account, new_clid, orig, order_id, op["qty"], op["price"], op["stop_px"])
        elif kind == "mass":
            yield MassCancel(ts, account=op["account"], symbol=op["symbol"], side=op["side"], cl_ord_id=f"m{n}",
                             tif=op["tif"])
        elif kind == "state":
            yield SetTradingState(ts, op["symbol"], op["state"], "test")
        else:
            yield Tick(ts)
