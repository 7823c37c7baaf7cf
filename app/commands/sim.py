"""`fixvenue sim oanda|binance`: run a local venue simulator on loopback.

Prints where it listens and the credentials to use, then serves until Ctrl-C
(or SIGTERM). Faults can be injected while it runs through its admin API,
e.g. ``curl -X POST 127.0.0.1:P/_sim/faults -d '{"kind":"rate_limit","count":3}'``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

HELP = "run a local OANDA v20 or Binance spot simulator on 127.0.0.1 (for tests and demos)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("venue", choices=["oanda", "binance"], help="which venue to simulate")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free port)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request")
    p.add_argument("--account", help="OANDA account id to serve")
    p.add_argument("--token", help="OANDA bearer token to accept")
    p.add_argument("--heartbeat", type=float, default=5.0, help="OANDA stream heartbeat seconds (default 5)")
    p.add_argument("--api-key", help="Binance API key to accept")
    p.add_argument("--secret", help="Binance API secret for the HMAC-SHA256 signatures")


def build(args: argparse.Namespace):
    latency = max(0.0, args.latency_ms) / 1000.0
    if args.venue == "oanda":
        from venues.sim.oanda import DEFAULT_ACCOUNT, DEFAULT_TOKEN, OandaSim

        return OandaSim(
            account_id=args.account or DEFAULT_ACCOUNT,
            token=args.token or DEFAULT_TOKEN,
            heartbeat=args.heartbeat,
            host=args.host,
            port=args.port,
            latency=latency,
        )
    from venues.sim.binance import DEFAULT_API_KEY, DEFAULT_SECRET, BinanceSim

    return BinanceSim(api_key=args.api_key or DEFAULT_API_KEY, secret=args.secret or DEFAULT_SECRET,
                      host=args.host, port=args.port, latency=latency)


def describe(args: argparse.Namespace, sim) -> list[str]:
    url = sim.base_url
    if args.venue == "oanda":
        return [
            f"OANDA v20 simulator listening on {url} (REST and streams)",
            f"  account id : {sim.account_id}",
            f"  token      : {sim.token}   (Authorization: Bearer <token>)",
            f"  instruments: {', '.join(sorted(sim.instruments))}",
            f"  oandapyV20 : register_environment('sim', '{url}') then API(token, environment='sim')",
            f"  admin      : POST {url}/_sim/faults | /_sim/price | /_sim/halt | /_sim/streams",
        ]
    return [
        f"Binance spot simulator listening on {url} (REST /api/v3)",
        f"  api key    : {sim.api_key}",
        f"  secret     : {sim.secret}",
        f"  symbols    : {', '.join(sorted(sim.symbols))}",
        f"  ccxt       : CcxtConfig('binance', key, secret, base_url='{url}', options=binance_spot_options())",
        f"  admin      : POST {url}/_sim/faults | /_sim/price | /_sim/halt | /_sim/balance",
    ]


async def serve(args: argparse.Namespace) -> int:
    try:
        sim = build(args)
    except ValueError as exc:
        print(f"fixvenue sim: {exc}", file=sys.stderr)
        return 2
    try:
        await sim.start()
    except OSError as exc:
        print(f"fixvenue sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    for line in describe(args, sim):
        print(line)
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await stop.wait()
    finally:
        await sim.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))
