"""Determinism: the same commands always give the same events, byte for byte —
across fresh OMS instances, through the journal's record form (to_record /
command_from_record, via JSON), and across interpreter runs with different
hash seeds. A journal replay is only a rebuild if this holds."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from engine.commands import (
    COMMAND_TYPES,
    CancelOrder,
    MassCancel,
    NewOrder,
    RejectNew,
    ReplaceOrder,
    SetTradingState,
    Tick,
    command_from_record,
)
from engine.oms import OMS
from engine.reference import ReferenceOMS
from engine_fixtures import iter_commands, make_accounts, make_instruments, random_ops

HERE = Path(__file__).resolve().parent


def long_stream(seed: int = 20260105, n: int = 2500) -> list:
    """A long mixed command stream; cancels/replaces aimed with a reference run."""
    oracle = ReferenceOMS(make_instruments(), make_accounts())
    cmds = []
    for cmd in iter_commands(random_ops(random.Random(seed), n), oracle):
        oracle.process(cmd)
        cmds.append(cmd)
    return cmds


def run(impl, cmds) -> list[bytes]:
    """Every event's encoding, plus the market data collected every 7 commands."""
    oms = impl(make_instruments(), make_accounts())
    out = []
    for i, cmd in enumerate(cmds):
        out += [e.encode() for e in oms.process(cmd)]
        if i % 7 == 0:
            out += [e.encode() for e in oms.collect_book_updates()]
    return out


@pytest.fixture(scope="module")
def stream() -> list:
    return long_stream()


def test_stream_is_rich_enough_to_mean_something(stream):
    events = run(OMS, stream)
    text = b"\n".join(events)
    assert len(stream) == 2500 and len(events) > 3500
    for needle in (b"trade(", b"book(", b"'EXPIRED'", b"'SELF_TRADE'", b"'MASS_CANCEL'", b"trading_state(",
                   b"'FOK_NOT_FILLED'", b"'MIN_QTY_NOT_MET'", b"'PRICE_PROTECTION'", b"cancel_reject(",
                   b"mass_cancel_done("):
        assert needle in text, needle
    assert text.count(b"trade(") > 150


def test_two_fresh_engines_give_byte_identical_events(stream):
    assert run(OMS, stream) == run(OMS, stream)


def test_two_fresh_references_give_byte_identical_events(stream):
    assert run(ReferenceOMS, stream) == run(ReferenceOMS, stream)


def test_replay_from_journal_records_gives_identical_events(stream):
    journal = [json.dumps(cmd.to_record()) for cmd in stream]
    replayed = [command_from_record(json.loads(line)) for line in journal]
    assert replayed == stream
    assert run(OMS, replayed) == run(OMS, stream)


def test_events_do_not_depend_on_the_hash_seed():
    script = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]);"
        "import test_engine_determinism as t; from engine.oms import OMS;"
        "print(hashlib.sha256(b'|'.join(t.run(OMS, t.long_stream(7, 800)))).hexdigest())"
    )
    digests = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        res = subprocess.run([sys.executable, "-c", script, str(HERE)], env=env, capture_output=True, text=True,
                             timeout=120, check=True)
        digests.add(res.stdout.strip())
    assert len(digests) == 1
    assert digests == {hashlib.sha256(b"|".join(run(OMS, long_stream(7, 800)))).hexdigest()}


ALL_FIELDS = [
    NewOrder(11, "A", "c1", "BTC-USD", 2, 4, 6, 7, price=101, stop_px=100, display_qty=2, hidden=False,
             post_only=False, min_qty=3, expire_ts=99, trail_ticks=0, trail_ppm=0, stp=3, origin="FIX:X",
             reduce_only=True),
    NewOrder(12, "B", "c2", "ETH-USD", 1, 6, 1, 5, trail_ppm=20_000, hidden=True, post_only=True),
    CancelOrder(13, "A", "c3", orig_cl_ord_id="c1", order_id=0, origin="REST:k", reason="CANCEL_ON_DISCONNECT"),
    ReplaceOrder(14, "A", "c4", orig_cl_ord_id="c3", order_id=9, qty=6, price=102, stop_px=101, origin="FIX:X"),
    MassCancel(15, account="A", symbol="BTC-USD", side=1, origin="admin", cl_ord_id="m1", reason="KILL_SWITCH",
               scope_origin="FIX:X"),
    MassCancel(16),
    SetTradingState(17, "BTC-USD", 2, reason="volatility", origin="admin"),
    Tick(18),
    RejectNew(19, "A", "c5", "BTC-USD", 1, "RISK_LIMIT", "too big", ord_type=1, qty=9, price=0, origin="REST:k"),
]


@pytest.mark.parametrize("cmd", ALL_FIELDS, ids=lambda c: type(c).__name__)
def test_each_command_round_trips_through_its_record(cmd):
    rec = cmd.to_record()
    assert rec["kind"] == cmd.kind and COMMAND_TYPES[rec["kind"]] is type(cmd)
    back = command_from_record(json.loads(json.dumps(rec)))
    assert type(back) is type(cmd) and back == cmd and back.to_record() == rec
    assert repr(back) == repr(cmd)


def test_records_differ_when_commands_differ():
    a = NewOrder(1, "A", "c1", "BTC-USD", 1, 2, 1, 5, 100)
    b = NewOrder(1, "A", "c1", "BTC-USD", 1, 2, 1, 5, 101)
    assert a != b and a.to_record() != b.to_record()
    assert command_from_record(b.to_record()) != a
