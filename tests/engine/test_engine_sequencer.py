"""The sequencer: events reach subscribers only after the journal commit, in order."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from engine.commands import NewOrder
from engine.instrument import Instrument
from engine.oms import OMS, AccountSpec
from engine.sequencer import Clock, Sequencer


def make_oms() -> OMS:
    inst = Instrument("BTC-USD", "BTC", "USD", Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"), Decimal("100"))
    return OMS([inst], [AccountSpec("A"), AccountSpec("B")])


class RecordingJournal:
    def __init__(self, log: list) -> None:
        self.log = log
        self.pending = []

    def append(self, cmd) -> None:
        self.pending.append(cmd)
        self.log.append(("append", cmd.cl_ord_id))

    def commit(self) -> None:
        self.log.append(("commit", len(self.pending)))
        self.pending.clear()


def test_events_are_delivered_after_commit_in_one_batch_per_loop_turn():
    log: list = []
    seq = Sequencer(make_oms(), RecordingJournal(log))
    seq.subscribe(lambda evs: log.append(("deliver", [e.kind for e in evs])))

    async def main():
        seq.submit(NewOrder(1, "A", "a1", "BTC-USD", 2, 2, 1, 10, 100))
        seq.submit(NewOrder(2, "B", "b1", "BTC-USD", 1, 2, 1, 10, 100))
        assert not any(entry[0] == "deliver" for entry in log), "nothing may leave before the commit"
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert log[0] == ("append", "a1") and log[1] == ("append", "b1")
    assert log[2] == ("commit", 2)
    kinds = log[3][1]
    assert log[3][0] == "deliver"
    # ack, ack, maker fill, taker fill, trade print — then the conflated book update
    assert kinds == ["exec", "exec", "exec", "exec", "trade", "book"]


def test_execute_waits_for_durable_delivery_and_returns_the_events():
    log: list = []
    seq = Sequencer(make_oms(), RecordingJournal(log))
    delivered = []
    seq.subscribe(delivered.extend)

    async def main():
        evs = await seq.execute(NewOrder(1, "A", "a1", "BTC-USD", 2, 2, 1, 10, 100))
        assert ("commit", 1) in log
        return evs

    evs = asyncio.run(main())
    assert evs[0].cl_ord_id == "a1" and evs[0] in delivered


def test_a_failing_subscriber_does_not_stop_the_others():
    seq = Sequencer(make_oms())
    got = []

    def broken(_):
        raise RuntimeError("boom")

    seq.subscribe(broken)
    seq.subscribe(got.extend)
    seq.submit(NewOrder(1, "A", "a1", "BTC-USD", 2, 2, 1, 10, 100))  # no loop: flushes at once
    assert got and got[0].cl_ord_id == "a1"


def test_clock_never_goes_backwards():
    values = iter([5, 3, 3, 10])
    clock = Clock(lambda: next(values))
    assert [clock(), clock(), clock(), clock()] == [5, 6, 7, 10]


def test_book_updates_carry_a_gap_free_per_instrument_sequence():
    oms = make_oms()
    seq = Sequencer(oms)
    books = []
    seq.subscribe(lambda evs: books.extend(e for e in evs if e.kind == "book"))
    for i in range(5):
        seq.submit(NewOrder(i + 1, "A", f"a{i}", "BTC-USD", 2, 2, 1, 1, 100 + i))
    assert [b.seq for b in books] == [1, 2, 3, 4, 5]
    assert books[-1].levels == ((2, 104, 1, 1),)
