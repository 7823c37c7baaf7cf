"""Crash recovery: snapshot + journal tail = full replay = the live venue; the snapshot is
chosen with the SQL store in mind; `fixvenue replay` rebuilds the same state offline."""

from __future__ import annotations

import json

import pytest

from app.cli import main as cli
from engine.journal import FileJournal
from engine.recovery import RecoveryError, recover
from engine.snapshot import SnapshotStore, capture, state_digest
from persistence_config import write_test_config
from persistence_workload import commands, make_oms

GROUP = 9


def run_live(data, cmds, snapshot_at=(), prune=False):
    """Journal `cmds` group by group as the venue does, with snapshots (and rotation) at the
    given command counts; returns the live OMS."""
    oms = make_oms()
    journal = FileJournal.open(data / "journal")
    snaps = SnapshotStore(data / "snapshots")
    for i in range(0, len(cmds), GROUP):
        for c in cmds[i:i + GROUP]:
            journal.append(c)
            oms.process(c)
        journal.commit()
        oms.collect_book_updates()
        if any(i < s <= i + GROUP for s in snapshot_at):
            snaps.write(capture(oms, journal.next_index))
            journal.rotate()
            if prune:
                journal.prune(journal.next_index)
    journal.close()
    return oms


def test_snapshot_plus_tail_equals_full_replay_equals_live(tmp_path):
    cmds = commands(31, 3000)
    live = run_live(tmp_path, cmds, snapshot_at=(900, 2000))
    a = make_oms()
    rep = recover(a, tmp_path / "journal", tmp_path / "snapshots")
    assert rep.snapshot is not None and rep.snapshot.journal_pos == 2007
    assert rep.commands_replayed == len(cmds) - 2007 and rep.end_index == len(cmds)
    b = make_oms()
    rep_full = recover(b, tmp_path / "journal", tmp_path / "snapshots", use_snapshot=False)
    assert rep_full.snapshot is None and rep_full.commands_replayed == len(cmds)
    assert state_digest(a) == state_digest(b) == state_digest(live)
    assert "commands replayed" in rep.summary()


def test_the_snapshot_is_never_ahead_of_the_sql_store(tmp_path):
    cmds = commands(32, 1500)
    live = run_live(tmp_path, cmds, snapshot_at=(450, 900))
    snaps = SnapshotStore(tmp_path / "snapshots").list()
    older, newer = snaps
    fed = []
    oms = make_oms()
    rep = recover(oms, tmp_path / "journal", tmp_path / "snapshots", max_event_seq=newer.event_seq - 1,
                  on_events=fed.extend)
    assert rep.snapshot == older                          # the newest one is past what the store holds
    assert fed[0].seq <= older.event_seq + 1               # so the store is fed from there on: no hole
    assert state_digest(oms) == state_digest(live)
    oms = make_oms()
    rep = recover(oms, tmp_path / "journal", tmp_path / "snapshots", max_event_seq=0)
    assert rep.snapshot is None and rep.commands_replayed == len(cmds)   # an empty store: replay everything


def test_a_damaged_newest_snapshot_falls_back_to_the_one_before(tmp_path):
    cmds = commands(33, 1200)
    live = run_live(tmp_path, cmds, snapshot_at=(300, 800))
    newest = SnapshotStore(tmp_path / "snapshots").list()[-1]
    newest.path.write_bytes(newest.path.read_bytes()[:-10])
    oms = make_oms()
    rep = recover(oms, tmp_path / "journal", tmp_path / "snapshots")
    assert rep.snapshot is not None and rep.snapshot.journal_pos < 800
    assert any("truncated" in w or "checksum" in w for w in rep.warnings)
    assert state_digest(oms) == state_digest(live)


def test_a_pruned_journal_needs_its_snapshot(tmp_path):
    cmds = commands(34, 900)
    live = run_live(tmp_path, cmds, snapshot_at=(400,), prune=True)
    oms = make_oms()
    rep = recover(oms, tmp_path / "journal", tmp_path / "snapshots")
    assert rep.snapshot is not None and state_digest(oms) == state_digest(live)
    for info in SnapshotStore(tmp_path / "snapshots").list():
        info.path.unlink()
    with pytest.raises(RecoveryError, match="no snapshot covers"):
        recover(make_oms(), tmp_path / "journal", tmp_path / "snapshots")


def test_a_torn_tail_is_reported_and_not_replayed(tmp_path):
    cmds = commands(35, 300)[:297]
    run_live(tmp_path, cmds)
    seg = sorted((tmp_path / "journal").glob("*.fxj"))[-1]
    seg.write_bytes(seg.read_bytes()[:-5])
    expected = make_oms()
    for c in cmds[:-GROUP]:
        expected.process(c)
    oms = make_oms()
    rep = recover(oms, tmp_path / "journal", None)
    assert rep.torn is not None and rep.commands_replayed == len(cmds) - GROUP
    assert state_of_orders(oms) == state_of_orders(expected)


def state_of_orders(oms):
    return [(o.order_id, o.status, o.cum, o.leaves) for o in oms.orders.values()]


def test_replay_command_rebuilds_the_same_state_offline(tmp_path, capsys):
    cmds = commands(36, 2000)
    data = tmp_path / "data"
    live = run_live(data, cmds, snapshot_at=(1000,))
    config_path, _ = write_test_config(tmp_path)
    out_json = tmp_path / "summary.json"
    assert cli(["replay", str(data), "--config", str(config_path), "--engine-only", "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    doc = json.loads(out_json.read_text())
    assert doc["commands"] == len(cmds) and doc["from_snapshot"] is None
    assert doc["digest"] == state_digest(live)
    assert f"state digest {state_digest(live)}" in text
    assert doc["trades"] == live.trade_seq and doc["orders"] == len(live.orders)
    assert cli(["replay", str(data / "journal"), "--config", str(config_path), "--engine-only",
                "--from-snapshot", "--json", str(out_json)]) == 0
    doc = json.loads(out_json.read_text())
    assert doc["from_snapshot"] == 1008 and doc["digest"] == state_digest(live)
    # --until shows an earlier state: the one after exactly that many commands
    assert cli(["replay", str(data), "--config", str(config_path), "--engine-only", "--until", "500",
                "--json", str(out_json)]) == 0
    early = make_oms()
    for c in cmds[:500]:
        early.process(c)
    doc = json.loads(out_json.read_text())
    assert doc["commands"] == 500 and doc["event_seq"] == early.seq and doc["orders"] == len(early.orders)


def test_replay_command_explains_a_missing_journal(tmp_path, capsys):
    config_path, _ = write_test_config(tmp_path)
    assert cli(["replay", str(tmp_path / "nothing"), "--config", str(config_path)]) == 2
    assert "no journal segments" in capsys.readouterr().err
