"""The `fixvenue` command line.

Each sub-command lives in its own module under `app.commands`; a module exposes
`HELP` (one line), `add_arguments(parser)` and `run(args) -> int`. Modules are
imported lazily so `fixvenue --help` stays fast and a broken optional part never
stops the others from starting.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command name -> module under app.commands
COMMANDS: dict[str, str] = {
    "run": "run",
    "bench": "bench",
    "conformance-server": "conformance_server",
    "sim": "sim",
    "kill": "kill",
    "replay": "replay",
    "export": "export",
    "config": "config_check",
}


def _load(module: str):
    return importlib.import_module(f"app.commands.{module}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fixvenue",
        description="fixvenue: a trading venue and broker-adapter engine "
        "(FIX and REST gateways, one OMS, price-time matching, pre-trade risk, smart order routing).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        mod = _load(module)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
