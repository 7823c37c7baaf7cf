"""`fixvenue bench NAME`: run a benchmark and record its result under bench/results/."""

from __future__ import annotations

import argparse
import importlib

HELP = "run a benchmark (engine, codec, fix, rest, route) and record it under bench/results/"

BENCHMARKS = {
    "engine": "bench.engine",
    "codec": "bench.codec",
    "fix": "bench.fix",
    "rest": "bench.rest",
    "route": "bench.route",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options for that benchmark (see `fixvenue bench NAME --help`)")


def run(args: argparse.Namespace) -> int:
    mod = importlib.import_module(BENCHMARKS[args.name])
    return int(mod.main(args.rest) or 0)
