"""Durable mode of `fixvenue bench engine`: the journal's cost and the restart time.

`--durable`: the engine benchmark's command stream goes through a `Sequencer`
twice in the same process — without a journal, and with a `FileJournal` (fsync
group commit) on a temporary directory, in adjacent pairs whose order alternates
(the machine is shared: drift hits both alike); the headline ratio is the
median of the pairs' ratios. The driver submits `--group-commit N`
commands per event-loop turn and then yields, so the sequencer's flush — the
journal commit + fsync, then delivery — runs once per N commands exactly as it
does per loop turn in the venue (target: durable >= 60% of non-durable). A
sweep over a few group sizes and the disk's fsync latency at the time are
recorded as well.

`--restart`: journals `--restart-commands` (default 1,000,000) commands of the
same mix through a durable sequencer with a snapshot every
`--snapshot-every` commands (the venue's default policy; the setup run does
not fsync — the bytes are the same — so it does not take minutes on a busy
disk), stops just before
the next snapshot would be due — the worst case: a crash with the longest
tail — and measures a restart: fresh OMS + newest snapshot + journal tail
(target <= 10 s). A full replay from command 0 without snapshots is timed
too, and both rebuilt states are checked equal to the live one.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.record import Progress
from engine.journal import FileJournal
from engine.recovery import recover
from engine.sequencer import Sequencer
from engine.snapshot import Capturer, SnapshotStore, state_digest


def run_sequenced(prefill, ops, make_oms, group: int, journal_dir: Path | None, fsync: bool = True) -> dict:
    """Throughput of `ops` through a Sequencer, `group` commands per loop turn."""
    oms = make_oms()
    for c in prefill:
        oms.process(c)
    journal = FileJournal.open(journal_dir, fsync=fsync) if journal_dir is not None else None
    seq = Sequencer(oms, journal)
    delivered = [0]

    def sink(evs):   # a subscriber, as a gateway would be (counts only)
        delivered[0] += len(evs)

    seq.subscribe(sink)

    async def drive() -> float:
        submit = seq.submit
        n = len(ops)
        t0 = time.perf_counter()
        for i in range(0, n, group):
            for c in ops[i:i + group]:
                submit(c)
            await asyncio.sleep(0)     # end of the loop turn: the sequencer flushes (commit + fsync + deliver)
        await asyncio.sleep(0)
        return time.perf_counter() - t0

    gc.collect()
    gc.disable()
    try:
        dt = asyncio.run(drive())
    finally:
        gc.enable()
    out = {"ops_per_sec": len(ops) / dt, "flushes": seq.flushes, "events": delivered[0]}
    if journal is not None:
        out["commits"] = journal.commits
        out["bytes_per_command"] = round(journal.bytes_written / max(1, len(ops)), 1)
        journal.close()
    return out


def fsync_latency_ms(directory: Path, samples: int = 50, size: int = 80_000) -> dict:
    """p50/p90 of write + fdatasync of one group-commit-sized record on this disk, right now
    (the machine is shared: this is what the durable figures were measured against)."""
    import os

    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    lat = []
    try:
        buf = b"x" * size
        for _ in range(samples):
            t = time.perf_counter()
            os.write(fd, buf)
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    lat.sort()
    return {"p50": round(lat[len(lat) // 2], 3), "p90": round(lat[int(len(lat) * 0.9)], 3)}


def durable_comparison(prefill, ops, make_oms, group: int, repeats: int, sweep=(64, 256, 1000, 4000)) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="fixvenue-bench-journal-"))
    try:
        fsync_before = fsync_latency_ms(tmp)
        plain, durable = [], []
        bar = Progress(repeats * 2 + len(sweep), "durable")
        done = 0
        bytes_per_cmd = None
        pairs = []
        for r in range(repeats):
            # adjacent pairs, alternating which goes first (ABBA), so drift on a shared machine cancels
            order = ("plain", "durable") if r % 2 == 0 else ("durable", "plain")
            got = {}
            for variant in order:
                if variant == "plain":
                    got[variant] = run_sequenced(prefill, ops, make_oms, group, None)["ops_per_sec"]
                else:
                    d = tmp / f"j{r}"
                    res = run_sequenced(prefill, ops, make_oms, group, d)
                    got[variant] = res["ops_per_sec"]
                    bytes_per_cmd = res["bytes_per_command"]
                    shutil.rmtree(d, ignore_errors=True)
                done += 1
                bar.update(done)
            plain.append(got["plain"])
            durable.append(got["durable"])
            pairs.append(got["durable"] / got["plain"])
        sweep_res = {}
        for g in sweep:
            d = tmp / f"s{g}"
            sweep_res[str(g)] = round(run_sequenced(prefill, ops, make_oms, g, d)["ops_per_sec"])
            shutil.rmtree(d, ignore_errors=True)
            done += 1
            bar.update(done)
        bar.close()
        fsync_after = fsync_latency_ms(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    p, d = statistics.median(plain), statistics.median(durable)
    return {
        "group_commit": group,
        "non_durable_ops_per_sec_median": round(p),
        "durable_ops_per_sec_median": round(d),
        "non_durable_runs": [round(x) for x in plain],
        "durable_runs": [round(x) for x in durable],
        "durable_vs_non_durable": round(statistics.median(pairs), 3),
        "pair_ratios": [round(x, 3) for x in pairs],
        "ratio_of_medians": round(d / p, 3),
        "target_ratio": 0.6,
        "journal_bytes_per_command": bytes_per_cmd,
        "durable_ops_per_sec_by_group_commit": sweep_res,
        "fsync_ms_before": fsync_before,
        "fsync_ms_after": fsync_after,
    }


def restart_benchmark(generate, make_oms, n_commands: int, snapshot_every: int, group: int, seed: int,
                      n_instruments: int, n_accounts: int, depth: int) -> dict:
    print(f"restart bench: generating {n_commands:,} commands", file=sys.stderr)
    n_ops = n_commands - n_instruments * depth
    prefill, ops, _kinds = generate(n_ops, n_instruments, n_accounts, depth, seed)
    commands = prefill + ops
    total = len(commands)
    tmp = Path(tempfile.mkdtemp(prefix="fixvenue-bench-restart-"))
    try:
        jdir, sdir = tmp / "journal", tmp / "snapshots"
        oms = make_oms()
        # setup only: the journal's bytes are the same with or without fsync, and on a shared disk
        # a million commands of fsyncs can take minutes that say nothing about the restart
        journal = FileJournal.open(jdir, fsync=False)
        seq = Sequencer(oms, journal)
        snaps = SnapshotStore(sdir)
        capturer = Capturer()
        snap_times = []
        capture_times = []
        bar = Progress(total, "journal")
        t0 = time.perf_counter()
        next_snap = snapshot_every
        submit = seq.submit
        for i in range(0, total, group):
            for c in commands[i:i + group]:
                submit(c)
            seq.flush()            # one group commit, as at the end of a loop turn (no loop here)
            if journal.next_index >= next_snap and total - journal.next_index >= group:
                ts = time.perf_counter()
                snap = capturer.capture(oms, journal.next_index)   # the part that pauses matching in the venue
                capture_times.append(time.perf_counter() - ts)
                journal.rotate()
                snaps.write(snap)                              # the venue does this in a worker thread
                snap_times.append(time.perf_counter() - ts)
                next_snap += snapshot_every
            if i % (group * 200) == 0:
                bar.update(i)
        journal.close()
        bar.close()
        journal_s = time.perf_counter() - t0
        live = state_digest(oms)
        live_orders = len(oms.orders)
        del oms, seq, commands, prefill, ops
        gc.collect()

        fresh = make_oms()
        cpu0 = time.process_time()
        rep = recover(fresh, jdir, sdir)
        restart_cpu = time.process_time() - cpu0
        restart_digest = state_digest(fresh)
        del fresh
        gc.collect()
        full = make_oms()
        cpu0 = time.process_time()
        rep_full = recover(full, jdir, None, use_snapshot=False)
        full_cpu = time.process_time() - cpu0
        full_digest = state_digest(full)
        journal_bytes = sum(p.stat().st_size for p in jdir.glob("*.fxj"))
        snap_bytes = rep.snapshot.path.stat().st_size if rep.snapshot else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "commands": total,
        "snapshot_every": snapshot_every,
        "group_commit": group,
        "journaling_s": round(journal_s, 2),
        "snapshots_taken": len(snap_times),
        "snapshot_capture_s_max": round(max(capture_times), 3) if capture_times else None,
        "snapshot_write_s_max": round(max(snap_times), 3) if snap_times else None,
        "orders_in_state": live_orders,
        "journal_mb": round(journal_bytes / 1e6, 1),
        "snapshot_mb": round(snap_bytes / 1e6, 1),
        "restart": {
            "snapshot_at": rep.snapshot.journal_pos if rep.snapshot else None,
            "snapshot_load_s": round(rep.snapshot_s, 3),
            "tail_commands": rep.commands_replayed,
            "tail_replay_s": round(rep.replay_s, 3),
            "total_s": round(rep.total_s, 3),
            "cpu_s": round(restart_cpu, 3),
            "state_equal": restart_digest == live,
        },
        "full_replay": {
            "commands": rep_full.commands_replayed,
            "total_s": round(rep_full.total_s, 3),
            "cpu_s": round(full_cpu, 3),
            "commands_per_s": round(rep_full.commands_replayed / rep_full.replay_s),
            "state_equal": full_digest == live,
        },
        "target_restart_s": 10,
    }


def print_durable(d: dict) -> None:
    print(f"durable {d['durable_ops_per_sec_median']:>10,} ops/s vs non-durable {d['non_durable_ops_per_sec_median']:,} "
          f"ops/s through the sequencer (group commit {d['group_commit']}): ratio {d['durable_vs_non_durable']:.3f} "
          f"(median of adjacent pairs {d['pair_ratios']}; target >= {d['target_ratio']}); "
          f"{d['journal_bytes_per_command']} journal bytes/command")
    print("        durable ops/s by group commit: "
          + ", ".join(f"{g}: {v:,}" for g, v in d["durable_ops_per_sec_by_group_commit"].items())
          + f"; fsync p50 {d['fsync_ms_before']['p50']} ms before, {d['fsync_ms_after']['p50']} ms after")


def restart_main(args, generate, make_oms) -> int:
    """`fixvenue bench engine --restart`: record under bench/results/engine-restart-*.json."""
    from bench.record import record

    res = restart_benchmark(generate, lambda: make_oms(args.instruments, args.accounts), args.restart_commands,
                            args.snapshot_every, args.group_commit, args.seed, args.instruments, args.accounts,
                            args.depth)
    path = record("engine-restart", res, args.json)
    r, f = res["restart"], res["full_replay"]
    print(f"journaled {res['commands']:,} commands in {res['journaling_s']} s ({res['journal_mb']} MB journal, "
          f"{res['snapshots_taken']} snapshots of {res['snapshot_mb']} MB, {res['orders_in_state']:,} orders; "
          f"state copy paused matching for at most {res['snapshot_capture_s_max']} s)")
    print(f"restart: snapshot @ {r['snapshot_at']:,} loaded in {r['snapshot_load_s']} s + {r['tail_commands']:,} "
          f"commands replayed in {r['tail_replay_s']} s = {r['total_s']} s wall, {r['cpu_s']} s CPU "
          f"(target <= {res['target_restart_s']} s); state equal: {r['state_equal']}")
    print(f"full replay without snapshot: {f['commands']:,} commands in {f['total_s']} s wall, {f['cpu_s']} s CPU "
          f"({f['commands_per_s']:,}/s); state equal: {f['state_equal']}")
    print(f"recorded {path}")
    return 0 if r["state_equal"] and f["state_equal"] else 1
