"""`fixvenue bench engine`: the matching engine under an exchange-core style mix.

Books are pre-filled with about 1,000 resting orders per instrument around a
mid price; then a seeded stream of ~9% new GTC limits (some marketable), 3% IOC,
6% cancels and 82% cancel/replaces that move the price runs through the OMS with
full events (execution reports, trade prints, book updates).

The command stream is generated first (by running it once through an OMS, so
cancels and replaces target orders that are really live), then replayed into a
fresh OMS: once untimed per operation for throughput, once with a timer around
each operation for the latency distribution. Memory per resting order is
measured separately with 1,000,000 resting orders.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from decimal import Decimal

from bench.record import Progress, record
from engine.commands import CancelOrder, NewOrder, ReplaceOrder
from engine.instrument import Instrument
from engine.oms import OMS, AccountSpec
from engine.types import BUY, SELL, OrdType, StpMode, TimeInForce

SYMBOLS = ("BTC-USD", "ETH-USD", "EUR/USD", "AAPL", "SOL-USD", "GBP/USD", "MSFT", "XRP-USD")
MID = 100_000  # ticks


def make_instruments(n: int) -> list[Instrument]:
    return [
        Instrument(symbol=s, base=s[:3], quote="USD", tick_size=Decimal("0.01"), lot_size=Decimal("0.0001"),
                   min_qty=Decimal("0.0001"), max_qty=Decimal("1000"))
        for s in SYMBOLS[:n]
    ]


def make_accounts(n: int) -> list[AccountSpec]:
    return [AccountSpec(f"ACC{i}", maker_fee_ppm=-20, taker_fee_ppm=50, stp_mode=int(StpMode.NONE)) for i in range(n)]


def make_oms(n_instruments: int, n_accounts: int, checks_factory=None) -> OMS:
    oms = OMS(make_instruments(n_instruments), make_accounts(n_accounts))
    if checks_factory is not None:
        # the factory gets the OMS: the risk controls also install their event listener on it
        oms.pre_trade.extend(checks_factory(oms_hint=oms))
    return oms


def generate(n_ops: int, n_instruments: int, n_accounts: int, depth: int, seed: int):
    """Return (prefill_commands, op_commands, op_kinds) for the mix."""
    rng = random.Random(seed)
    oms = make_oms(n_instruments, n_accounts)
    symbols = list(oms.instruments)
    live: dict[str, list] = {s: [] for s in symbols}   # (account, clid) of possibly-live orders
    clid_n = 0
    ts = 1_700_000_000_000_000_000

    def next_clid() -> str:
        nonlocal clid_n
        clid_n += 1
        return f"c{clid_n}"

    prefill = []
    for s in symbols:
        for i in range(depth):
            side = BUY if i % 2 == 0 else SELL
            off = rng.randint(1, 200)
            px = MID - off if side == BUY else MID + off
            acct = f"ACC{rng.randrange(n_accounts)}"
            cmd = NewOrder(ts, acct, next_clid(), s, side, int(OrdType.LIMIT), int(TimeInForce.GTC),
                           rng.randint(1, 100), px)
            ts += 1000
            prefill.append(cmd)
            oms.process(cmd)
            live[s].append((acct, cmd.cl_ord_id))
    ops = []
    kinds = []
    for _ in range(n_ops):
        s = symbols[rng.randrange(len(symbols))]
        r = rng.random()
        ts += 1000
        book = oms.books[s]
        mid = (book.bids.best() + book.asks.best()) // 2 if book.bids.prices and book.asks.prices else MID
        if r < 0.09 or (r >= 0.12 and not live[s]):
            side = BUY if rng.random() < 0.5 else SELL
            marketable = rng.random() < 0.15
            off = rng.randint(1, 200)
            if marketable:
                px = mid + rng.randint(1, 20) if side == BUY else mid - rng.randint(1, 20)
            else:
                px = mid - off if side == BUY else mid + off
            acct = f"ACC{rng.randrange(n_accounts)}"
            cmd = NewOrder(ts, acct, next_clid(), s, side, int(OrdType.LIMIT), int(TimeInForce.GTC),
                           rng.randint(1, 100), max(1, px))
            kind = "gtc"
        elif r < 0.12:
            side = BUY if rng.random() < 0.5 else SELL
            px = mid + rng.randint(-5, 30) if side == BUY else mid - rng.randint(-5, 30)
            acct = f"ACC{rng.randrange(n_accounts)}"
            cmd = NewOrder(ts, acct, next_clid(), s, side, int(OrdType.LIMIT), int(TimeInForce.IOC),
                           rng.randint(1, 100), max(1, px))
            kind = "ioc"
        else:
            # pick a live order (drop dead ones lazily)
            lst = live[s]
            while lst:
                j = rng.randrange(len(lst))
                acct, clid = lst[j]
                o = oms.get_by_clid(acct, clid)
                if o is not None and o.is_open and o.cl_ord_id == clid:
                    break
                lst[j] = lst[-1]
                lst.pop()
            else:
                continue
            if r < 0.18:
                cmd = CancelOrder(ts, acct, next_clid(), clid)
                kind = "cancel"
            else:
                off = rng.randint(1, 200)
                px = mid - off if o.side == BUY else mid + off
                cmd = ReplaceOrder(ts, acct, next_clid(), clid, qty=o.qty, price=max(1, px))
                kind = "move"
                lst[j] = (acct, cmd.cl_ord_id)
        ops.append(cmd)
        kinds.append(kind)
        oms.process(cmd)
        if kind == "gtc":
            live[s].append((cmd.account, cmd.cl_ord_id))
    return prefill, ops, kinds


def run_throughput(prefill, ops, n_instruments, n_accounts, checks_factory=None) -> float:
    oms = make_oms(n_instruments, n_accounts, checks_factory)
    process = oms.process
    for c in prefill:
        process(c)
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for c in ops:
            process(c)
        dt = time.perf_counter() - t0
    finally:
        gc.enable()
    return len(ops) / dt


def run_latency(prefill, ops, n_instruments, n_accounts, checks_factory=None) -> list[int]:
    oms = make_oms(n_instruments, n_accounts, checks_factory)
    process = oms.process
    for c in prefill:
        process(c)
    clock = time.perf_counter_ns
    lat = [0] * len(ops)
    gc.collect()
    gc.disable()
    try:
        for i, c in enumerate(ops):
            t0 = clock()
            process(c)
            lat[i] = clock() - t0
    finally:
        gc.enable()
    return lat


def percentile(sorted_vals: list[int], p: float) -> float:
    if not sorted_vals:
        return 0.0
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return float(sorted_vals[k])


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource
    return pages * resource.getpagesize()


def measure_memory(n_orders: int, progress: bool = True) -> float:
    """Bytes per resting order: RSS growth while 1,000,000 non-crossing orders rest."""
    insts = make_instruments(4)
    oms = OMS(insts, make_accounts(100))
    rng = random.Random(7)
    symbols = list(oms.instruments)
    cmds = []
    ts = 1
    for i in range(n_orders):
        side = BUY if i % 2 == 0 else SELL
        off = rng.randint(1, 5000)
        px = MID - off if side == BUY else MID + off
        cmds.append((i, side, px))
    gc.collect()
    before = _rss_bytes()
    bar = Progress(n_orders, "memory") if progress else None
    process = oms.process
    for i, side, px in cmds:
        process(NewOrder(ts + i, f"ACC{i % 100}", f"m{i}", symbols[i % 4], side, 2, 1, 1 + i % 100, px))
        if bar and i % 50_000 == 0:
            bar.update(i)
    if bar:
        bar.close()
    gc.collect()
    after = _rss_bytes()
    resting = sum(len(b.bids) + len(b.asks) for b in oms.books.values())
    return (after - before) / resting


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fixvenue bench engine", description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=300_000, help="operations per run (default 300000)")
    p.add_argument("--instruments", type=int, default=4)
    p.add_argument("--accounts", type=int, default=100)
    p.add_argument("--depth", type=int, default=1000, help="resting orders per instrument before the run")
    p.add_argument("--repeats", type=int, default=5, help="throughput runs; the median is reported")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--memory-orders", type=int, default=1_000_000, help="0 skips the memory measurement")
    p.add_argument("--risk", action="store_true", help="also run with every pre-trade check enabled and compare")
    p.add_argument("--json", metavar="FILE", help="also write the result document here ('-' = stdout)")
    p.add_argument("--durable", action="store_true",
                   help="also run through the sequencer without and with the journal (fsync group commit) and compare")
    p.add_argument("--group-commit", type=int, default=1000, metavar="N",
                   help="durable/restart modes: commands per event-loop turn, i.e. per fsync (default 1000)")
    p.add_argument("--restart", action="store_true",
                   help="only the restart benchmark: journal --restart-commands commands, time snapshot + replay")
    p.add_argument("--restart-commands", type=int, default=1_000_000)
    p.add_argument("--snapshot-every", type=int, default=100_000,
                   help="restart mode: snapshot policy in commands (default 100000, as storage: in config/venue.yaml)")
    args = p.parse_args(argv)
    if args.restart:
        from bench.engine_durable import restart_main
        return restart_main(args, generate, make_oms)

    print(f"engine bench: generating {args.ops} ops over {args.instruments} instruments "
          f"(depth {args.depth}, seed {args.seed})", file=sys.stderr)
    prefill, ops, kinds = generate(args.ops, args.instruments, args.accounts, args.depth, args.seed)
    mix = {k: round(kinds.count(k) / len(kinds) * 100, 1) for k in sorted(set(kinds))}

    variants = [("plain", None)]
    if args.risk:
        from bench.risk_setup import checks_factory  # provided with the risk controls
        variants.append(("risk", checks_factory))

    results: dict[str, dict] = {}
    bar = Progress(args.repeats * len(variants) + len(variants), "engine")
    done = 0
    tput: dict[str, list[float]] = {name: [] for name, _ in variants}
    for _ in range(args.repeats):
        # interleave variants so a noisy neighbour hits both alike
        for name, factory in variants:
            tput[name].append(run_throughput(prefill, ops, args.instruments, args.accounts, factory))
            done += 1
            bar.update(done)
    for name, factory in variants:
        lat = sorted(run_latency(prefill, ops, args.instruments, args.accounts, factory))
        done += 1
        bar.update(done)
        results[name] = {
            "ops_per_sec_median": round(statistics.median(tput[name])),
            "ops_per_sec_runs": [round(x) for x in tput[name]],
            "latency_ns": {
                "p50": percentile(lat, 50), "p99": percentile(lat, 99), "p99_9": percentile(lat, 99.9),
                "max": float(lat[-1]),
            },
        }
    bar.close()
    mem = None
    if args.memory_orders:
        mem = round(measure_memory(args.memory_orders), 1)

    doc = {
        "params": {"ops": len(ops), "instruments": args.instruments, "accounts": args.accounts,
                   "depth": args.depth, "repeats": args.repeats, "seed": args.seed, "mix_pct": mix},
        "targets": {"ops_per_sec": 300_000, "p99_us": 20, "bytes_per_resting_order": 500},
        "results": results,
        "bytes_per_resting_order": mem,
    }
    if args.risk:
        doc["risk_vs_plain"] = round(results["risk"]["ops_per_sec_median"] / results["plain"]["ops_per_sec_median"], 3)
    if args.durable:
        from bench.engine_durable import durable_comparison
        doc["durable"] = durable_comparison(prefill, ops, lambda: make_oms(args.instruments, args.accounts),
                                            args.group_commit, args.repeats)
    path = record("engine", doc, args.json)
    for name, r in results.items():
        l = r["latency_ns"]
        print(f"{name:6s} {r['ops_per_sec_median']:>10,} ops/s (median of {args.repeats})   "
              f"p50 {l['p50']/1000:.2f} us  p99 {l['p99']/1000:.2f} us  p99.9 {l['p99_9']/1000:.2f} us")
    if mem is not None:
        print(f"memory  {mem:.0f} bytes per resting order ({args.memory_orders:,} resting)")
    if args.risk:
        print(f"risk/plain throughput ratio {doc['risk_vs_plain']:.3f}")
    if args.durable:
        from bench.engine_durable import print_durable
        print_durable(doc["durable"])
    print(f"recorded {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
