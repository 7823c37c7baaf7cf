"""The venue's group-commit message store keeps FileStore's files and FileStore's promises."""

from __future__ import annotations

import asyncio

from fix.store import FileStore
from fix.venue_store import GroupCommitFileStore


def test_what_it_writes_a_file_store_reads_back(tmp_path):
    s = GroupCommitFileStore(tmp_path, "k")
    for seq in range(1, 6):
        s.save(seq, b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01-%d" % seq)
    s.set_next_target_seq(42)
    s.close()
    f = FileStore(tmp_path, "k")
    assert (f.next_sender_seq(), f.next_target_seq()) == (6, 42)
    assert [seq for seq, _ in f.get_range(2, 4)] == [2, 3, 4]
    assert f.get_range(5, 5)[0][1].endswith(b"-5")
    f.close()
    again = GroupCommitFileStore(tmp_path, "k")
    assert (again.next_sender_seq(), again.next_target_seq()) == (6, 42)
    again.save(6, b"six")
    assert [r for _, r in again.get_range(5, 6)][-1] == b"six"   # buffered writes are visible to resends
    again.reset()
    assert (again.next_sender_seq(), again.next_target_seq(), again.get_range(1, 10)) == (1, 1, [])
    again.close()
    assert (FileStore(tmp_path, "k").next_sender_seq()) == 1


async def test_changes_are_committed_once_per_loop_turn(tmp_path):
    s = GroupCommitFileStore(tmp_path, "k")
    before = s.commits
    for seq in range(1, 51):
        s.save(seq, b"m%d" % seq)
        s.set_next_target_seq(seq + 1)
    assert s.commits == before                # nothing written yet in this turn
    await asyncio.sleep(0)
    assert s.commits == before + 1            # one commit for the whole turn
    reader = FileStore(tmp_path, "k")
    assert (reader.next_sender_seq(), reader.next_target_seq()) == (51, 51)
    assert len(reader.get_range(1, 50)) == 50
    reader.close()
    s.close()
