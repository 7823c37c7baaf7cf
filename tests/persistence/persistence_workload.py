"""Command streams for the persistence tests: the engine tests' random streams (every
order type, time in force, self-trade mode, halts, expiries, mass cancels, bad input),
generated against an oracle OMS so cancels and replaces mostly hit live orders."""

from __future__ import annotations

import random
import sys
from pathlib import Path

_ENGINE_TESTS = str(Path(__file__).resolve().parents[1] / "engine")
if _ENGINE_TESTS not in sys.path:
    sys.path.insert(0, _ENGINE_TESTS)

from engine_fixtures import (  # noqa: E402  (the engine tests' shared generator)
    SYM,
    iter_commands,
    make_accounts,
    make_instruments,
    random_ops,
)

from engine.commands import RejectNew  # noqa: E402
from engine.oms import OMS  # noqa: E402


def make_oms(trade_history: int = 10_000) -> OMS:
    return OMS(make_instruments(), make_accounts(), trade_history=trade_history)


def commands(seed: int, n: int) -> list:
    """`n` random commands (plus an edge reject every ~50)."""
    rng = random.Random(seed)
    oracle = make_oms()
    out = []
    for i, cmd in enumerate(iter_commands(random_ops(rng, n), oracle)):
        oracle.process(cmd)
        out.append(cmd)
        if i % 50 == 49:
            rej = RejectNew(cmd.ts, "A", f"rej{i}", SYM, 1, "RISK_LIMIT", "over the limit", qty=3, price=100)
            oracle.process(rej)
            out.append(rej)
    return out


def feed(oms: OMS, cmds, group: int = 7):
    """Process `cmds` as the live sequencer would: group by group, market data collected
    after each group (what a journal record is). Returns every event, in order."""
    events = []
    for i in range(0, len(cmds), group):
        for c in cmds[i:i + group]:
            events.extend(oms.process(c))
        oms.collect_book_updates()
    return events
