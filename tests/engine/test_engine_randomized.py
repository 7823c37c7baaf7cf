"""Randomized differential test: long command streams through the real `OMS`
and the naive `ReferenceOMS`, every event compared byte for byte
(`ev.encode()`), displayed depth, conflated market data, every level's queue
order and the armed trigger orders (with their stop prices) compared, the
engine's invariants checked after every command (book never crossed, qty ==
cum + leaves, fills never worse than the limit, level totals, open index), and
every command round-tripped through its journal record.

Streams mix every order type and time in force, icebergs, hidden and post-only
orders, minimum quantities, per-order STP overrides, several accounts (each
STP mode, fees and rebates, self-trades), two instruments, cancels and
replaces (by order id and by client order id, wrong owners, duplicate client
ids), mass cancels, trading-state changes and time moving across midnight and
GTD expiries.

Ops are made by `engine_fixtures.make_op` from hypothesis-drawn seeds and turned into
commands by `engine_fixtures.iter_commands`, which knows that every NewOrder
consumes exactly one order id and asks the reference which orders are open, so
cancels and replaces mostly aim at live orders. Deterministic: derandomized,
no example database. Shrinking is off by default so a failure is reported fast
(the message shows the diverging command and the commands before it); set
ENGINE_FUZZ_SHRINK=1 to shrink, and ENGINE_FUZZ_EXAMPLES=N for a longer run.
"""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from engine.commands import command_from_record
from engine.oms import OMS
from engine.reference import ReferenceOMS
from engine_fixtures import (
    SYM,
    SYM2,
    check_invariants,
    engine_queues,
    engine_waiting,
    iter_commands,
    make_accounts,
    make_instruments,
    make_op,
)

EXAMPLES = int(os.environ.get("ENGINE_FUZZ_EXAMPLES", "200"))
PHASES = (Phase.explicit, Phase.reuse, Phase.generate) + (
    (Phase.shrink,) if os.environ.get("ENGINE_FUZZ_SHRINK") else ())
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- ops ------------------------------------------------------------------------------------------

def op_strategy():
    """One op per drawn integer: hypothesis picks (and, with shrinking, removes and
    simplifies) the ops, a seeded `random.Random` fills in each op's fields — one draw
    per op instead of a dozen, which keeps generation from dominating the run time."""
    return st.integers(0, 2**32 - 1).map(lambda seed: make_op(random.Random(seed).choice))


# --- running --------------------------------------------------------------------------------------

def _context(cmds, i) -> str:
    lo = max(0, i - 12)
    return "\n".join(f"  [{j}] {cmds[j]!r}" for j in range(lo, i + 1))


def compare_streams(ops) -> None:
    """Both implementations, command by command: events byte for byte, depth, market data
    (when the op says to collect it), the engine's invariants, and each command's record."""
    instruments = make_instruments()
    real = OMS(instruments, make_accounts())
    ref = ReferenceOMS(instruments, make_accounts())
    cmds = []
    for i, cmd in enumerate(iter_commands(ops, ref)):
        cmds.append(cmd)
        assert command_from_record(cmd.to_record()) == cmd, f"record round trip broke {cmd!r}"
        got = real.process(cmd)
        want = ref.process(cmd)
        if [e.encode() for e in got] != [e.encode() for e in want]:
            lines = [f"engine and reference disagree on command [{i}]:", _context(cmds, i), "engine events:"]
            lines += [f"  {e!r}" for e in got]
            lines += ["reference events:"] + [f"  {e!r}" for e in want]
            raise AssertionError("\n".join(lines))
        try:
            check_invariants(real, got)
        except AssertionError as exc:
            raise AssertionError(f"invariant broken after command [{i}]: {exc}\n{_context(cmds, i)}") from None
        for sym in (SYM, SYM2):
            assert real.depth(sym) == ref.depth(sym), f"depth differs after [{i}]\n{_context(cmds, i)}"
            assert engine_queues(real, sym) == ref.queues(sym), f"queue order differs after [{i}]\n{_context(cmds, i)}"
            assert engine_waiting(real, sym) == ref.waiting(sym), f"armed orders differ after [{i}]\n{_context(cmds, i)}"
        if ops[i]["md"] or i == len(ops) - 1:
            g = [e.encode() for e in real.collect_book_updates()]
            w = [e.encode() for e in ref.collect_book_updates()]
            assert g == w, f"book updates differ after [{i}]\n{_context(cmds, i)}\nengine: {g}\nreference: {w}"


@FUZZ
@given(st.lists(op_strategy(), min_size=20, max_size=90))
def test_engine_matches_reference_on_random_streams(ops):
    compare_streams(ops)


@settings(FUZZ, max_examples=max(3, EXAMPLES // 20))
@given(st.lists(op_strategy(), min_size=300, max_size=500))
def test_engine_matches_reference_on_long_random_streams(ops):
    compare_streams(ops)
