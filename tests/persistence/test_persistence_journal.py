"""The command journal: round trips, group commit, torn tails, corruption, locking, failure."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import zlib

import pytest

from engine.commands import COMMAND_TYPES, Command, NewOrder, Tick, register_command_type
from engine.journal import (
    FileJournal,
    JournalClosed,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalReader,
    list_segments,
    read_commands,
)
from engine.sequencer import Sequencer
from persistence_workload import commands, make_oms


def write(directory, cmds, group=10, rotate_at=()):
    j = FileJournal.open(directory)
    for i in range(0, len(cmds), group):
        for c in cmds[i:i + group]:
            j.append(c)
        j.commit()
        if i in rotate_at:
            j.rotate()
    j.close()


def test_every_command_kind_round_trips_in_order(tmp_path):
    cmds = commands(3, 600)
    assert {c.kind for c in cmds} >= {"new", "cancel", "replace", "mass_cancel", "trading_state", "tick", "reject_new"}
    write(tmp_path, cmds, group=13)
    back = [c for _, c in read_commands(tmp_path)]
    assert back == cmds
    assert [type(c) for c in back] == [type(c) for c in cmds]


def test_one_record_per_commit_and_indexes_continue_across_rotation_and_reopen(tmp_path):
    cmds = commands(4, 300)
    j = FileJournal.open(tmp_path)
    for c in cmds[:100]:
        j.append(c)
    assert j.committed_index == 0 and j.next_index == 100
    j.commit()
    assert j.commits == 1 and j.committed_index == 100
    j.rotate()
    for c in cmds[100:150]:
        j.append(c)
    j.commit()
    j.close()
    j = FileJournal.open(tmp_path)
    assert j.next_index == 150
    for c in cmds[150:]:
        j.append(c)
    j.commit()
    j.close()
    assert [first for first, _ in list_segments(tmp_path)] == [0, 100]
    got = list(read_commands(tmp_path, start=120))
    assert [i for i, _ in got] == list(range(120, len(cmds)))
    assert [c for _, c in got] == cmds[120:]


def _last_record_offset(path) -> int:
    data = path.read_bytes()
    pos, last = 16, 16
    while pos < len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        last = pos
        pos += 21 + length
    return last


@pytest.mark.parametrize("cut", [1, 5, 20, 21, 22, -1])
def test_a_torn_tail_is_cut_and_appending_continues(tmp_path, cut):
    cmds = commands(5, 60)[:60]
    write(tmp_path, cmds, group=20)
    seg = list_segments(tmp_path)[-1][1]
    start = _last_record_offset(seg)
    size = seg.stat().st_size
    keep = start + cut if cut > 0 else size + cut       # inside the last record's header or payload
    with open(seg, "r+b") as f:
        f.truncate(keep)
    j = FileJournal.open(tmp_path)
    assert j.torn is not None and j.torn.offset == start
    assert j.next_index == 40                           # the last group of 20 was never committed
    assert seg.stat().st_size == start
    j.append(Tick(999))
    j.commit()
    j.close()
    back = [c for _, c in read_commands(tmp_path)]
    assert back == cmds[:40] + [Tick(999)]


def test_a_flipped_bit_in_the_last_record_is_a_torn_tail_but_elsewhere_it_is_corruption(tmp_path):
    cmds = commands(6, 90)[:90]
    write(tmp_path, cmds, group=30, rotate_at=(30,))
    segs = list_segments(tmp_path)
    assert len(segs) == 2
    first_seg, last_seg = segs[0][1], segs[1][1]
    # last segment, last record: a torn tail (the crash happened while writing it)
    data = bytearray(last_seg.read_bytes())
    data[-3] ^= 0x40
    last_seg.write_bytes(bytes(data))
    reader = JournalReader(tmp_path)
    assert reader.scan_end() == 60 and reader.torn is not None
    # an earlier segment: real damage, refused loudly
    data = bytearray(first_seg.read_bytes())
    data[40] ^= 0x01
    first_seg.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt) as err:
        list(read_commands(tmp_path))
    assert str(first_seg) in str(err.value)


def test_a_missing_segment_is_corruption(tmp_path):
    cmds = commands(7, 60)[:60]
    write(tmp_path, cmds, group=20, rotate_at=(0, 20))
    segs = list_segments(tmp_path)
    assert [s for s, _ in segs] == [0, 20, 40]
    segs[1][1].unlink()
    with pytest.raises(JournalCorrupt, match="missing segment"):
        list(read_commands(tmp_path))


def test_a_segment_whose_header_a_crash_cut_is_dropped(tmp_path):
    cmds = commands(8, 40)[:40]
    write(tmp_path, cmds, group=20, rotate_at=(20,))
    last = list_segments(tmp_path)[-1][1]
    last.write_bytes(last.read_bytes()[:7])
    j = FileJournal.open(tmp_path)
    assert j.next_index == 40 and not last.exists()
    j.append(Tick(1))
    j.commit()
    j.close()
    assert [c for _, c in read_commands(tmp_path)][-1] == Tick(1)


def test_only_one_process_may_write_a_journal(tmp_path):
    j = FileJournal.open(tmp_path)
    with pytest.raises(JournalLocked):
        FileJournal.open(tmp_path)
    j.close()
    FileJournal.open(tmp_path).close()


def test_after_a_write_error_the_journal_refuses_everything(tmp_path):
    j = FileJournal.open(tmp_path)
    failures = []
    j.on_failure.append(failures.append)
    j.append(Tick(1))
    os.close(j._fd)          # the disk "goes away" under the journal
    with pytest.raises(JournalError):
        j.commit()
    assert failures and j.failed is not None and not j.ready
    with pytest.raises(JournalError):
        j.append(Tick(2))
    j._fd = None
    j.close()


def test_a_closed_journal_refuses_commands(tmp_path):
    j = FileJournal.open(tmp_path)
    j.append(Tick(1))
    j.close()                     # commits what was pending
    with pytest.raises(JournalClosed):
        j.append(Tick(2))
    assert [c for _, c in read_commands(tmp_path)] == [Tick(1)]


def test_strings_any_client_could_send_survive(tmp_path):
    odd = ["ünïcødé-€", "nul\x00byte", "lone\udc80surrogate", "x" * 5000, 'quote"back\\slash\nnewline']
    cmds = [NewOrder(i, "A", s, "BTC-USD", 1, 2, 1, 1, 100, origin=s) for i, s in enumerate(odd)]
    write(tmp_path, cmds)
    assert [c for _, c in read_commands(tmp_path)] == cmds


def test_an_unregistered_command_class_is_refused_before_it_is_processed(tmp_path):
    class Stray(Command):
        __slots__ = ("ts",)
        kind = "stray-not-registered"

        def __init__(self, ts):
            self.ts = ts

    j = FileJournal.open(tmp_path)
    with pytest.raises(JournalError, match="not registered"):
        j.append(Stray(1))
    assert j.next_index == 0
    j.close()


def test_other_layers_commands_are_journaled_and_an_older_layout_still_reads(tmp_path):
    @register_command_type
    class ProbeCommand(Command):
        __slots__ = ("ts", "scope", "level", "note")
        kind = "test.persistence_probe"

        def __init__(self, ts, scope, level=3, note="default note"):
            self.ts = ts
            self.scope = scope
            self.level = level
            self.note = note

    try:
        write(tmp_path / "a", [ProbeCommand(1, "global", 2, "hi"), Tick(2)])
        assert [c for _, c in read_commands(tmp_path / "a")] == [ProbeCommand(1, "global", 2, "hi"), Tick(2)]
        # a journal written before the class grew `note`: the reader maps by name and fills the default
        d = tmp_path / "b"
        d.mkdir()
        seg = d / "00000000000000000000.fxj"
        head = struct.pack("<4sQ", b"FXJ1", 0)
        body = head + struct.pack("<I", zlib.crc32(head))

        def record(rtype, first, count, payload):
            tail = struct.pack("<BQI", rtype, first, count) + payload
            return struct.pack("<II", len(payload), zlib.crc32(tail)) + tail

        body += record(1, 0, 0, json.dumps({"test.persistence_probe": ["ts", "scope", "level"]}).encode())
        body += record(2, 0, 1, json.dumps([["test.persistence_probe", 5, "account", 1]]).encode())
        seg.write_bytes(body)
        assert [c for _, c in read_commands(d)] == [ProbeCommand(5, "account", 1, "default note")]
    finally:
        COMMAND_TYPES.pop("test.persistence_probe", None)


def test_sequencer_delivers_only_what_is_already_on_disk(tmp_path):
    """Durable before acknowledged: when a subscriber sees an event, its command is in the file."""
    cmds = commands(9, 200)
    journal = FileJournal.open(tmp_path)
    seq = Sequencer(make_oms(), journal)
    checked = []

    def subscriber(events):
        on_disk = JournalReader(tmp_path).scan_end()
        checked.append((on_disk, journal.next_index))

    seq.subscribe(subscriber)

    async def main():
        for i in range(0, len(cmds), 25):
            for c in cmds[i:i + 25]:
                seq.submit(c)
            await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    journal.close()
    assert len(checked) == -(-len(cmds) // 25)
    assert all(on_disk == submitted for on_disk, submitted in checked)
