"""`fixvenue config`: validate a venue configuration file and print what it defines."""

from __future__ import annotations

import argparse
import sys

from app.config import DEFAULT_CONFIG, ConfigError, load_config

HELP = "validate a venue YAML file (default: the embedded one) and summarise it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default=str(DEFAULT_CONFIG))


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{args.path}: OK")
    print(f"  instruments: {', '.join(i.symbol for i in cfg.instruments)}")
    print(f"  accounts: {', '.join(a.id for a in cfg.accounts)}")
    for section in ("fix", "rest", "risk", "routing", "storage"):
        if getattr(cfg, section) is not None:
            print(f"  {section}: configured")
    return 0
