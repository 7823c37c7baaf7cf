"""`fixvenue run`: start the venue on the given (or default) configuration."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from app.config import DEFAULT_CONFIG, ConfigError, load_config

HELP = "start the venue: FIX acceptor, REST/WebSocket gateway, OMS and matching engine (Ctrl-C stops it)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=str(DEFAULT_CONFIG), help="venue YAML file (default: %(default)s)")
    p.add_argument("--fix-port", type=int, help="override the FIX acceptor port")
    p.add_argument("--rest-port", type=int, help="override the REST/WebSocket port")
    p.add_argument("--host", help="override the listen address of all gateways (default 127.0.0.1 from config)")
    p.add_argument("--data-dir", help="override venue.data_dir (SQLite file, journal, FIX stores)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=getattr(logging, args.log_level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # third-party chatter (migration plugins, access logs) only when asked for
    if args.log_level != "DEBUG":
        for noisy in ("alembic", "uvicorn.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    from app.venue import Venue

    overrides = {k: v for k, v in {"fix_port": args.fix_port, "rest_port": args.rest_port, "host": args.host,
                                    "data_dir": args.data_dir}.items() if v is not None}
    venue = Venue(config, args.config, overrides)
    try:
        venue.wire()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    def ready(lines: list[str]) -> None:
        for line in lines:
            print(line, flush=True)
        print("fixvenue is running; Ctrl-C stops it", flush=True)

    try:
        asyncio.run(venue.run_forever(ready))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # a port in use, an unreadable journal, a failed recovery...
        logging.getLogger("fixvenue").debug("start-up failed", exc_info=True)
        print(f"fixvenue: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
