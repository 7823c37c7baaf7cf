"""`fixvenue replay JOURNAL`: rebuild the venue's state offline from its journal.

Read-only: the journal is not modified (a torn tail is reported, not cut) and
nothing listens. The OMS is built from the configuration and — unless
`--engine-only` — wired with the same OMS-level parts as the live venue (risk
checks and listeners, routing handlers; not the gateways nor the store), so
the replay takes the same decisions the venue took. The summary ends with a
state digest: equal digests mean identical venues (compare a full replay with
`--from-snapshot`, or with another copy of the data dir).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from app.config import DEFAULT_CONFIG, ConfigError, load_config

HELP = "rebuild the venue state offline from a journal and print a summary (orders, books, trades, digest)"

# wiring modules that do not change what the OMS decides (I/O only); everything else is wired for a replay
_IO_ONLY = {"app.wiring_store", "app.wiring_fix", "app.wiring_rest"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("journal", help="journal directory, a data dir holding journal/, or one segment file")
    p.add_argument("--config", "-c", default=str(DEFAULT_CONFIG), help="venue YAML the journal was written with")
    p.add_argument("--from-snapshot", action="store_true",
                   help="start from the newest snapshot next to the journal instead of command 0")
    p.add_argument("--until", type=int, metavar="INDEX", help="stop before this command index")
    p.add_argument("--engine-only", action="store_true",
                   help="replay into a bare OMS (no risk/routing wiring) — only right if the venue ran without them")
    p.add_argument("--depth", type=int, default=3, help="price levels per side to print (default 3)")
    p.add_argument("--json", metavar="FILE", help="also write the summary as JSON ('-' = stdout)")


def _locate(path: Path) -> tuple[Path, Path]:
    """(journal dir, snapshot dir) from what the user pointed at."""
    if path.is_file():
        path = path.parent
    if (path / "journal").is_dir():
        return path / "journal", path / "snapshots"
    return path, path.parent / "snapshots"


def build_oms(config, config_path: str, engine_only: bool):
    """An OMS wired like the live venue's (minus I/O parts); returns (oms, extensions, wired module names)."""
    if engine_only:
        from engine.oms import OMS

        return OMS(config.build_instruments(), config.build_accounts()), {}, []
    import importlib

    from app.venue import WIRING, Venue

    venue = Venue(config, config_path, {"offline": True})
    wired = []
    for mod in WIRING:
        if mod in _IO_ONLY:
            continue
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        m.wire(venue)
        wired.append(mod.rsplit(".", 1)[-1])
    return venue.oms, venue.services.get("snapshot_extensions", {}), wired


def summarize(oms, report, instruments, depth: int) -> dict:
    from engine.snapshot import state_digest
    from engine.translate import STATUS_NAMES

    books = {}
    for sym, b in oms.books.items():
        inst = instruments[sym]
        bids, asks = oms.depth(sym, depth)
        books[sym] = {
            "state": {1: "open", 2: "halted", 3: "closed"}.get(b.state, str(b.state)),
            "last_price": str(inst.ticks_to_price(b.last_px)) if b.last_px else None,
            "resting": len(b.bids) + len(b.asks),
            "stops": len(b.stops),
            "bids": [[str(inst.ticks_to_price(p)), str(inst.lots_to_qty(q)), n] for p, q, n in bids],
            "asks": [[str(inst.ticks_to_price(p)), str(inst.lots_to_qty(q)), n] for p, q, n in asks],
        }
    status: dict[str, int] = {}
    for o in oms.orders.values():
        name = STATUS_NAMES.get(o.status, str(o.status))
        status[name] = status.get(name, 0) + 1
    open_by_account = {a: len(d) for a, d in oms.open_by_account.items() if d}
    return {
        "commands": report.commands_replayed,
        "from_snapshot": report.snapshot.journal_pos if report.snapshot else None,
        "end_index": report.end_index,
        "seconds": round(report.total_s, 3),
        "commands_per_s": round(report.commands_replayed / report.replay_s) if report.replay_s else None,
        "event_seq": oms.seq,
        "orders": len(oms.orders),
        "orders_by_status": dict(sorted(status.items())),
        "open_orders_by_account": open_by_account,
        "trades": oms.trade_seq,
        "books": books,
        "torn_tail_bytes": report.torn.discarded if report.torn else 0,
        "command_errors": report.command_errors,
        "warnings": report.warnings,
        "digest": state_digest(oms),
    }


def run(args: argparse.Namespace) -> int:
    from bench.record import Progress
    from engine.journal import JournalReader
    from engine.recovery import RecoveryError, recover

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    journal_dir, snapshot_dir = _locate(Path(args.journal))
    reader = JournalReader(journal_dir)
    if not reader.segments:
        print(f"fixvenue replay: no journal segments in {journal_dir}", file=sys.stderr)
        return 2
    try:
        oms, extensions, wired = build_oms(config, args.config, args.engine_only)
    except Exception as exc:  # a wiring module that cannot be built offline
        print(f"fixvenue replay: cannot wire the venue offline ({exc}); try --engine-only", file=sys.stderr)
        return 2
    use_snapshot = args.from_snapshot or reader.first_index > 0
    total = reader.scan_end() - (0 if not use_snapshot else reader.first_index)
    bar = Progress(max(1, total), "replay")
    step = max(1, total // 200)
    last = [0]

    def progress(done: int, tot: int) -> None:
        if done - last[0] >= step:
            last[0] = done
            bar.total = max(1, tot)
            bar.update(done)

    t0 = time.perf_counter()
    try:
        report = recover(oms, journal_dir, snapshot_dir if use_snapshot else None, extensions=extensions,
                         use_snapshot=use_snapshot, progress=progress, until=args.until)
    except RecoveryError as exc:
        print(f"fixvenue replay: {exc}", file=sys.stderr)
        return 1
    bar.total = max(1, report.commands_replayed)
    bar.close()
    wall = time.perf_counter() - t0
    instruments = {i.symbol: i for i in config.build_instruments()}
    doc = summarize(oms, report, instruments, args.depth)
    doc["wired"] = wired
    _print(doc, journal_dir, wall)
    if args.json == "-":
        print(json.dumps(doc, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


def _print(doc: dict, journal_dir: Path, wall: float) -> None:
    src = f"snapshot @ command {doc['from_snapshot']:,} + " if doc["from_snapshot"] is not None else ""
    print(f"journal {journal_dir}: {src}{doc['commands']:,} commands replayed in {wall:.2f} s"
          + (f" ({doc['commands_per_s']:,}/s)" if doc["commands_per_s"] else ""))
    print(f"wired: engine + {', '.join(doc['wired'])}" if doc["wired"] else "wired: engine only")
    print(f"event seq {doc['event_seq']:,}; {doc['orders']:,} orders "
          f"({', '.join(f'{k} {v:,}' for k, v in doc['orders_by_status'].items()) or 'none'}); "
          f"{doc['trades']:,} trades")
    if doc["open_orders_by_account"]:
        print("open orders: " + ", ".join(f"{a} {n}" for a, n in sorted(doc["open_orders_by_account"].items())))
    for sym, b in doc["books"].items():
        bid = b["bids"][0] if b["bids"] else None
        ask = b["asks"][0] if b["asks"] else None
        print(f"  {sym:10s} {b['state']:7s} last {b['last_price'] or '-':>12}  "
              f"bid {bid[1] + ' @ ' + bid[0] if bid else '-':>22}  ask {ask[1] + ' @ ' + ask[0] if ask else '-':>22}  "
              f"{b['resting']} resting, {b['stops']} waiting stops")
    if doc["torn_tail_bytes"]:
        print(f"torn tail: {doc['torn_tail_bytes']} bytes at the end of the journal were not replayed "
              f"(an interrupted, never acknowledged commit)")
    if doc["command_errors"]:
        print(f"{doc['command_errors']} commands raised during replay (as they did live)")
    for w in doc["warnings"]:
        print(f"warning: {w}")
    print(f"state digest {doc['digest']}")
