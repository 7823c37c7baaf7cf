"""`fixvenue conformance-server`: our FIX acceptor with the acceptance-suite echo application.

SenderCompID ISLD; counterparties TW42 (FIX.4.2) and TW44 (FIX.4.4); ResetOnLogon=Y.
Prints where it listens, then serves until interrupted (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

HELP = "run the FIX acceptor with the acceptance-suite echo application (ISLD <-> TW42/TW44)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9878, help="TCP port (0 = any free port; default 9878)")
    p.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")


async def _serve(host: str, port: int) -> int:
    from fix.conformance import EchoApplication, acceptor_config
    from fix.transport import Acceptor

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    acceptor = Acceptor(acceptor_config(host, port), EchoApplication())
    await acceptor.start()
    sessions = ", ".join(f"{b} {s}->{t}" for (b, s, t) in acceptor.handles)
    print(f"fixvenue conformance-server listening on {acceptor.host}:{acceptor.port} ({sessions})", flush=True)
    await stop.wait()
    await acceptor.stop(timeout=2.0)
    return 0


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return asyncio.run(_serve(args.host, args.port))
