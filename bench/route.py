"""`fixvenue bench route`: what the smart order router adds to a routed order's round trip.

A venue simulator runs as its own process (`fixvenue sim oanda|binance` on a free
loopback port, with `--latency-ms` of configured latency per request), so its CPU
is not the router's. In this process: the venue's OMS and sequencer (with the
command journal, group commit + fsync, unless `--no-journal`), the router wired
by app/wiring_routing.py exactly as `fixvenue run` wires it, with the real adapter.

Measured:

* **direct** — the adapter alone: `adapter.submit(market order)` round trip. This is
  the floor any router pays: the simulator's configured latency plus HTTP and the
  client library.
* **routed** — a client market order through the router, one at a time: from
  `sequencer.submit(NewOrder)` to the delivery (after the journal commit) of the
  parent's FILLED execution report. In between: the OMS and the router's accept,
  the plan (journaled), the child's submit, the venue's answer and fill (journaled
  as router commands), the parent's aggregated TRADE.
  Reported as p50/p99, and as overhead over the configured latency and over direct.
* **throughput** — routed market orders with `--concurrency` in flight: orders/s
  completed (FILLED delivered).

Orders alternate buy/sell so the simulator's liquidity ladder is not exhausted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from app.config import PROJECT_ROOT, parse_config
from bench.record import Progress, record

_URL = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def _ms(values: list[float]) -> dict:
    return {"p50": round(_pct(values, 50) * 1000, 3), "p90": round(_pct(values, 90) * 1000, 3),
            "p99": round(_pct(values, 99) * 1000, 3), "mean": round(statistics.fmean(values) * 1000, 3),
            "n": len(values)}


def start_sim(venue: str, latency_ms: float) -> tuple[subprocess.Popen, str]:
    args = [sys.executable, "-m", "app.cli", "sim", venue, "--port", "0", "--latency-ms", str(latency_ms)]
    if venue == "oanda":
        args += ["--heartbeat", "1"]
    proc = subprocess.Popen(args, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = _URL.search(line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError(f"the {venue} simulator did not start")


def venue_config(venue: str, url: str, data_dir: str) -> tuple[dict, str, Decimal]:
    """A minimal venue: one instrument routed to the simulator; returns (config, symbol, qty)."""
    if venue == "oanda":
        from venues.sim.oanda import DEFAULT_ACCOUNT, DEFAULT_TOKEN

        inst = {"symbol": "EUR/USD", "asset_class": "fx", "base": "EUR", "quote": "USD", "tick_size": "0.00001",
                "lot_size": "1", "min_qty": "1", "max_qty": "10000000", "price_precision": 5}
        vcfg = {"type": "oanda", "taker_fee_bps": "0.5", "config": {
            "account_id": DEFAULT_ACCOUNT, "token": DEFAULT_TOKEN, "api_url": url, "max_workers": 8}}
        qty = Decimal(1000)
    else:
        from venues.sim.binance import DEFAULT_API_KEY, DEFAULT_SECRET

        inst = {"symbol": "BTC-USD", "asset_class": "crypto", "base": "BTC", "quote": "USD", "tick_size": "0.01",
                "lot_size": "0.00001", "min_qty": "0.00001", "max_qty": "100", "price_precision": 2}
        vcfg = {"type": "ccxt", "taker_fee_bps": "10", "config": {
            "exchange_id": "binance", "api_key": DEFAULT_API_KEY, "secret": DEFAULT_SECRET, "base_url": url,
            "poll_interval": 0.02, "close_grace_ms": 0, "symbol_aliases": {"BTC-USD": "BTC/USDT"}}}
        qty = Decimal("0.001")
    cfg = {
        "venue": {"name": "bench-route", "data_dir": data_dir},
        "instruments": [inst],
        "fee_tiers": {"std": {"maker_bps": "1", "taker_bps": "2"}},
        "accounts": [{"id": "C1", "fee_tier": "std"}],
        "routing": {"venues": {venue: vcfg}, "instruments": {inst["symbol"]: {"policy": "venue", "venue": venue}},
                    "fill_grace_s": 0.5},
    }
    return cfg, inst["symbol"], qty


MODES = {"fsync": "journal on, fsync group commit (the venue's default)", "nofsync": "journal on, no fsync",
         "off": "no journal (the router's own cost)"}


async def run_mode(args, mode: str, url: str) -> dict:
    import importlib

    from app.venue import Venue
    from engine.commands import NewOrder
    from engine.journal import FileJournal
    from engine.types import OrdStatus, OrdType, TimeInForce
    from venues.adapter import OrderType, Side, TimeInForce as VTif, VenueOrderRequest

    tmp = tempfile.mkdtemp(prefix="bench-route-")
    journal = None
    router = None
    try:
        raw, symbol, qty = venue_config(args.venue, url, tmp)
        cfg = parse_config(raw, "<bench>")
        venue = Venue(cfg, "<bench>", {"data_dir": tmp})
        router = importlib.import_module("app.wiring_routing").wire(venue)
        if mode != "off":
            journal = FileJournal.open(Path(tmp) / "journal", fsync=mode == "fsync")
            venue.sequencer.journal = journal
        inst = venue.instruments[symbol]
        lots = inst.qty_to_lots(qty)
        await router.start()
        adapter = router.adapters[args.venue]
        tag = f"{os.getpid()}{mode}"

        # --- direct: the adapter alone (the floor)
        direct: list[float] = []
        prog = Progress(args.orders, f"[{mode}] direct adapter")
        for i in range(args.warmup + args.orders):
            req = VenueOrderRequest(f"bd-{tag}-{i}", symbol, Side.BUY if i % 2 == 0 else Side.SELL,
                                    OrderType.MARKET, qty, time_in_force=VTif.IOC)
            t0 = time.perf_counter()
            await adapter.submit(req)
            if i >= args.warmup:
                direct.append(time.perf_counter() - t0)
                prog.update(len(direct))
        prog.close()

        # --- routed: submit -> the parent's terminal report delivered (after the journal commit)
        waiting: dict[str, tuple[float, asyncio.Future]] = {}
        filled = int(OrdStatus.FILLED)
        terminal = {filled, int(OrdStatus.CANCELED), int(OrdStatus.REJECTED), int(OrdStatus.EXPIRED)}

        def on_events(events) -> None:
            now = time.perf_counter()
            for ev in events:
                if ev.kind == "exec" and ev.status in terminal:
                    w = waiting.pop(ev.cl_ord_id, None)
                    if w is not None and not w[1].done():
                        w[1].set_result((now - w[0], ev.status))

        venue.sequencer.subscribe(on_events)
        loop = asyncio.get_running_loop()
        n = [0]

        async def one(i: int) -> tuple[float, int]:
            n[0] += 1
            clid = f"r-{n[0]}"
            fut = loop.create_future()
            waiting[clid] = (time.perf_counter(), fut)
            venue.sequencer.submit(NewOrder(venue.clock(), "C1", clid, symbol, 1 if i % 2 == 0 else 2,
                                            int(OrdType.MARKET), int(TimeInForce.IOC), lots, origin="BENCH"))
            return await asyncio.wait_for(fut, 30)

        routed: list[float] = []
        failures = 0
        prog = Progress(args.orders, f"[{mode}] routed, one at a time")
        for i in range(args.warmup + args.orders):
            dt, st = await one(i)
            if st != filled:
                failures += 1
            if i >= args.warmup:
                routed.append(dt)
                prog.update(len(routed))
        prog.close()

        # --- throughput: `concurrency` orders in flight
        sem = asyncio.Semaphore(args.concurrency)
        done = [0]
        not_filled: list[int] = []
        prog = Progress(args.throughput_orders, f"[{mode}] routed, {args.concurrency} in flight")

        async def limited(i: int) -> None:
            async with sem:
                _dt, st = await one(i)
                if st != filled:
                    not_filled.append(i)
                done[0] += 1
                prog.update(done[0])

        cpu0 = time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(*(limited(i) for i in range(args.throughput_orders)))
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        prog.close()
        await router.settled(10)
        venue.sequencer.flush()
        commands = venue.sequencer.commands
        lat = args.latency_ms / 1000
        return {
            "journal": MODES[mode],
            "direct_adapter_rtt_ms": _ms(direct),
            "routed_rtt_ms": _ms(routed),
            "overhead_over_simulator_latency_ms": {
                "p50": round((_pct(routed, 50) - lat) * 1000, 3), "p99": round((_pct(routed, 99) - lat) * 1000, 3)},
            "overhead_over_direct_adapter_ms": {
                "p50": round((_pct(routed, 50) - _pct(direct, 50)) * 1000, 3),
                "p99": round((_pct(routed, 99) - _pct(direct, 99)) * 1000, 3)},
            "throughput": {"orders": args.throughput_orders, "concurrency": args.concurrency,
                           "seconds": round(elapsed, 3), "orders_per_s": round(args.throughput_orders / elapsed, 1),
                           "process_cpu_ms_per_order": round(cpu / args.throughput_orders * 1000, 3),
                           "not_filled": len(not_filled)},
            "sequential_not_filled": failures,
            "journaled_commands_per_routed_order": round(commands / (args.warmup + args.orders
                                                                      + args.throughput_orders), 2),
        }
    finally:
        if router is not None:
            await router.stop()
        if journal is not None:
            journal.close()
        shutil.rmtree(tmp, ignore_errors=True)


async def run(args) -> dict:
    sim, url = start_sim(args.venue, args.latency_ms)
    try:
        modes = {}
        for mode in args.modes.split(","):
            modes[mode] = await run_mode(args, mode, url)
        return {"venue": args.venue, "simulator_latency_ms": args.latency_ms, "orders": args.orders,
                "warmup": args.warmup, "modes": modes}
    finally:
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fixvenue bench route", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--venue", choices=["oanda", "binance"], default="oanda", help="simulator to route to")
    p.add_argument("--latency-ms", type=float, default=5.0, help="the simulator's configured latency per request")
    p.add_argument("--orders", type=int, default=200, help="sequential orders measured (direct and routed)")
    p.add_argument("--warmup", type=int, default=20, help="orders before measuring")
    p.add_argument("--throughput-orders", type=int, default=1000, help="orders in the throughput run")
    p.add_argument("--concurrency", type=int, default=32, help="routed orders in flight in the throughput run")
    p.add_argument("--modes", default="fsync,off",
                   help="journal modes to measure, comma-separated: fsync (the venue's default), nofsync, off")
    p.add_argument("--json", metavar="FILE", help="also write the result as JSON ('-' = stdout)")
    args = p.parse_args(argv)
    bad = [m for m in args.modes.split(",") if m not in MODES]
    if bad:
        p.error(f"unknown mode(s) {bad}; use {sorted(MODES)}")
    result = asyncio.run(run(args))
    path = record("route", result, args.json)
    print(f"route via the {result['venue']} simulator ({result['simulator_latency_ms']} ms configured latency)")
    for mode, r in result["modes"].items():
        d, rt = r["direct_adapter_rtt_ms"], r["routed_rtt_ms"]
        o, od, t = r["overhead_over_simulator_latency_ms"], r["overhead_over_direct_adapter_ms"], r["throughput"]
        print(f"[{r['journal']}]")
        print(f"  direct adapter RTT   p50 {d['p50']:.2f} ms  p99 {d['p99']:.2f} ms")
        print(f"  routed order RTT     p50 {rt['p50']:.2f} ms  p99 {rt['p99']:.2f} ms")
        print(f"  overhead vs latency  p50 {o['p50']:.2f} ms  p99 {o['p99']:.2f} ms")
        print(f"  overhead vs direct   p50 {od['p50']:.2f} ms  p99 {od['p99']:.2f} ms")
        print(f"  throughput           {t['orders_per_s']:.0f} routed orders/s ({t['concurrency']} in flight, "
              f"{t['process_cpu_ms_per_order']:.2f} ms CPU/order in this process, {t['not_filled']} not filled)")
    print(f"recorded {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
