"""Snapshots: a restored OMS is indistinguishable from the original, now and for every
command after; files are checked; extensions carry state the OMS does not hold."""

from __future__ import annotations

import pytest

from engine.events import Event
from engine.oms import OMS
from engine.snapshot import (
    SnapshotError,
    SnapshotStore,
    capture,
    decode,
    encode,
    restore,
    state_digest,
    state_of,
)
from engine.types import ExecType
from persistence_workload import commands, feed, make_oms

GROUP = 7


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_restored_oms_behaves_exactly_like_the_original(seed):
    cmds = commands(seed, 2400)
    for cut in (GROUP * 40, GROUP * 170, GROUP * 300):
        original = make_oms()
        feed(original, cmds[:cut], GROUP)
        snap = decode(encode(capture(original, cut)))      # through the file format
        restored = make_oms()
        restore(restored, snap)
        assert state_of(restored) == state_of(original)
        rest = cmds[cut:]
        a = feed(original, rest, GROUP)
        b = feed(restored, rest, GROUP)
        assert [e.encode() for e in a] == [e.encode() for e in b], f"events diverge after a restore at {cut}"
        assert state_digest(restored) == state_digest(original)
        # the stream must exercise what a snapshot has to carry
        assert any(b.stops for b in original.books.values()) or any(
            o.ext is not None and o.ext.stop_px for o in original.orders.values())


def test_resting_priority_icebergs_and_hidden_orders_keep_their_place():
    from engine.commands import NewOrder

    oms = make_oms()
    t = 10**18
    for i, (acct, qty, kw) in enumerate([("A", 5, {}), ("B", 9, {"display_qty": 2}), ("C", 4, {"hidden": True}),
                                         ("A", 3, {}), ("B", 6, {"display_qty": 1})]):
        oms.process(NewOrder(t + i, acct, f"o{i}", "BTC-USD", 2, 2, 1, qty, 100, **kw))
    restored = make_oms()
    restore(restored, decode(encode(capture(oms, 5))))
    level = restored.books["BTC-USD"].asks.levels[100]
    assert [o.cl_ord_id for o in level.orders()] == ["o0", "o1", "o2", "o3", "o4"]
    assert (level.qty, level.count, level.hidden) == (5 + 2 + 3 + 1, 5, 1)
    take = NewOrder(t + 9, "NONE", "take", "BTC-USD", 1, 2, 3, 20, 100)
    fills_a = [(e.order_id, e.last_qty) for e in oms.process(take) if getattr(e, "exec_type", 0) == ExecType.TRADE]
    fills_b = [(e.order_id, e.last_qty) for e in restored.process(take) if getattr(e, "exec_type", 0) == ExecType.TRADE]
    assert fills_a == fills_b and len(fills_a) > 5


def test_the_snapshot_knows_every_piece_of_engine_state():
    """Fails when the engine grows state this snapshot does not carry (teach engine/snapshot.py)."""
    oms = make_oms()
    known = {
        # state carried by the snapshot
        "orders", "by_clid", "open_by_account", "seq", "trade_seq", "last_order_id", "trades", "_expiry", "now",
        "_deferred", "routed",
        # built from the configuration / wiring, not state (the router's state is its own extension)
        "instruments", "books", "accounts", "_maker", "_taker", "_stp", "pre_trade", "listeners", "_handlers",
        "router",
    }
    unknown = set(vars(oms)) - known
    assert not unknown, f"OMS attributes the snapshot does not know: {sorted(unknown)}"
    book = oms.books["BTC-USD"]
    snap = capture(oms, 0)
    values = snap["books"]["BTC-USD"]["values"]
    assert set(values) | {"instrument", "symbol", "bids", "asks", "stops", "oms"} == set(type(book).__slots__)
    from engine.book import BookSide, Level

    assert set(BookSide.__slots__) == {"is_bid", "levels", "prices", "dirty"}
    assert set(Level.__slots__) == {"price", "head", "tail", "qty", "count", "hidden"}


class FillCounter:
    """An OMS listener with state of its own, the way risk positions are."""

    def __init__(self) -> None:
        self.fills: dict[str, int] = {}

    def __call__(self, events: list[Event]) -> None:
        for e in events:
            if getattr(e, "exec_type", None) == ExecType.TRADE:
                self.fills[e.account] = self.fills.get(e.account, 0) + e.last_qty

    def snapshot_state(self):
        return dict(self.fills)

    def restore_state(self, state) -> None:
        self.fills = dict(state)


def _with_counter() -> tuple[OMS, FillCounter]:
    oms = make_oms()
    counter = FillCounter()
    oms.listeners.append(counter)
    return oms, counter


def test_extension_state_survives_a_snapshot_and_keeps_counting():
    cmds = commands(21, 1500)
    original, c1 = _with_counter()
    feed(original, cmds[:700])
    snap = decode(encode(capture(original, 700, {"fills": c1})))
    restored, c2 = _with_counter()
    warnings = restore(restored, snap, {"fills": c2})
    assert warnings == [] and c2.fills == c1.fills and c1.fills
    feed(original, cmds[700:])
    feed(restored, cmds[700:])
    assert c2.fills == c1.fills


def test_a_missing_or_unused_extension_state_is_reported():
    oms, counter = _with_counter()
    snap = capture(oms, 0, {"old": counter})
    fresh, c2 = _with_counter()
    warnings = restore(fresh, snap, {"fills": c2})
    assert any("'fills'" in w and "starts empty" in w for w in warnings)
    assert any("'old'" in w and "not used" in w for w in warnings)


def test_a_snapshot_for_an_instrument_the_configuration_dropped_is_refused():
    from engine.instrument import Instrument

    oms = make_oms()
    snap = capture(oms, 0)
    only_btc = OMS([i for i in oms.instruments.values() if i.symbol == "BTC-USD"], oms.accounts.values())
    with pytest.raises(SnapshotError, match="ETH-USD"):
        restore(only_btc, snap)
    assert isinstance(next(iter(oms.instruments.values())), Instrument)


def test_damaged_and_half_written_snapshot_files_are_detected(tmp_path):
    oms = make_oms()
    feed(oms, commands(22, 300))
    store = SnapshotStore(tmp_path)
    info = store.write(capture(oms, 300))
    assert store.load(info)["event_seq"] == oms.seq
    data = bytearray(info.path.read_bytes())
    data[len(data) // 2] ^= 0x10
    info.path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="checksum"):
        store.load(info)
    info.path.write_bytes(bytes(data[:100]))
    with pytest.raises(SnapshotError):
        store.load(info)
    # an interrupted write leaves only a temporary file, which is neither listed nor kept
    (tmp_path / ".tmp-snap-00000000000000000400-00000000000000000001.fxs-999999").write_bytes(b"partial")
    assert [i.journal_pos for i in store.list()] == [300]
    store.prune(keep=5)
    assert not list(tmp_path.glob(".tmp-*"))


def test_prune_keeps_the_newest_snapshots(tmp_path):
    oms = make_oms()
    store = SnapshotStore(tmp_path)
    cmds = commands(23, 400)
    for n in range(1, 6):
        feed(oms, cmds[(n - 1) * 70:n * 70])
        store.write(capture(oms, n * 70))
    store.prune(keep=2)
    assert [i.journal_pos for i in store.list()] == [280, 350]


@pytest.mark.parametrize("seed", [61, 62])
def test_incremental_captures_equal_full_ones(seed):
    """The venue's Capturer re-reads only open and new orders; it must see exactly what a full copy sees."""
    from engine.snapshot import Capturer

    cmds = commands(seed, 3000)
    oms = make_oms(trade_history=25)          # a small recent-trades ring: it overflows between captures
    capturer = Capturer()
    earlier = []
    for cut in range(0, len(cmds), 250):
        feed(oms, cmds[cut:cut + 250], GROUP)
        inc = capturer.capture(oms, cut)
        full = capture(oms, cut)
        assert inc == full, f"incremental capture differs after {cut + 250} commands"
        earlier.append((inc, encode(inc)))
    assert capturer.full_captures == 1
    assert oms.trade_seq > 2 * 25
    # captures handed out earlier (maybe still being written by another thread) never change
    for snap, data in earlier:
        assert encode(snap) == data
