"""The real QuickFIX engine, as initiator, trades with our acceptor.

QuickFIX (quickfix-ssl, in a subprocess) logs on to `fixvenue conformance-server` as
TW44 (FIX.4.4) and TW42 (FIX.4.2) and runs the scenario in
``quickfix_peer.run_initiator_scenario``: orders echoed by the acceptance echo
application, a sequence gap on QuickFIX's side (our acceptor must ask for a resend and
accept QuickFIX's GapFill), a gap on our side (our acceptor must resend or gap-fill
what QuickFIX asks for, never resending admin messages as such), a SequenceReset in
reset mode, and a Logout handshake.

The same scenario is first run against QuickFIX's own acceptor: the checks below must
hold there, which shows they ask for standard behaviour, not our engine's quirks.
"""

from __future__ import annotations

import pytest

import fix_quickfix_peer as quickfix_peer  # loaded by conftest.py

VERSIONS = ["FIX.4.4", "FIX.4.2"]
REQUIRED_STEPS = [
    "logon",
    "echo_1",
    "echo_2",
    "settled_3",
    "acceptor_resend_request",
    "our_gap_fill",
    "settled_4",
    "our_resend_request",
    "echo_4",
    "settled_5",
    "echo_5",
    "acceptor_logout",
    "logged_out",
]
ADMIN_TYPES = {"0", "1", "2", "5", "A"}  # admin messages are gap-filled, never resent


def problems_in(report: dict) -> list[str]:
    """Everything in the scenario report that breaks the FIX session rules."""
    steps, seqs, events = report["steps"], report["seqs"], report["events"]
    problems = [f"step {name!r} did not complete" for name in REQUIRED_STEPS if steps.get(name) is not True]
    if steps.get("echo_3_count", 0) > 1:
        problems.append(f"IOP-3 (sent across a gap) was echoed {steps['echo_3_count']} times")
    received = [
        (i, quickfix_peer.parse_fix(ev["msg"]))
        for i, ev in enumerate(events)
        if ev["cb"] in ("fromAdmin", "fromApp")
    ]
    if "resend_from" in seqs:
        covered: set[int] = set()
        for _, f in received:
            if f.get("35") == "4" and f.get("123") == "Y":
                covered.update(range(int(f["34"]), int(f.get("36", "0"))))
            elif f.get("43") == "Y":
                if f.get("35") in ADMIN_TYPES:
                    problems.append(f"admin message resent instead of gap-filled: {f}")
                else:
                    covered.add(int(f["34"]))
                    if "122" not in f:
                        problems.append(f"resent message without OrigSendingTime (122): {f}")
        wanted = set(range(seqs["resend_from"], seqs["resend_to"] + 1))
        if not wanted <= covered:
            problems.append(f"resend request for {sorted(wanted)} left {sorted(wanted - covered)} unanswered")
    rejects = [f for _, f in received if f.get("35") == "3"]
    if rejects:
        problems.append(f"session-level rejects from the acceptor: {rejects}")
    if "after_reset_start" in seqs:
        late = [f for i, f in received if i >= seqs["after_reset_start"] and f.get("35") == "2"]
        if late:
            problems.append(f"acceptor asked for a resend after SequenceReset (reset mode): {late}")
    return problems


def transcript(report: dict) -> str:
    return "\n".join(f"  {ev['cb']:9} {ev['msg']}" for ev in report["events"])


def run_scenario(begin: str, port: int, spec_dir, workdir) -> dict:
    try:
        return quickfix_peer.run_quickfix_initiator(begin, port, spec_dir, workdir)
    except quickfix_peer.PeerError as exc:
        pytest.fail(str(exc))


@pytest.mark.parametrize("begin", VERSIONS)
def test_scenario_checks_hold_against_quickfix_acceptor(begin, quickfix_echo_acceptor, quickfix_spec_dir, tmp_path):
    report = run_scenario(begin, quickfix_echo_acceptor.port, quickfix_spec_dir, tmp_path)
    problems = problems_in(report)
    assert problems == [], "\n".join(problems) + "\n" + transcript(report)


@pytest.mark.parametrize("begin", VERSIONS)
def test_quickfix_initiator_trades_with_our_acceptor(begin, our_conformance_server, quickfix_spec_dir, tmp_path):
    report = run_scenario(begin, our_conformance_server.port, quickfix_spec_dir, tmp_path)
    problems = problems_in(report)
    assert problems == [], (
        "\n".join(problems)
        + "\n"
        + transcript(report)
        + f"\n--- conformance server output:\n{our_conformance_server.output_tail()}"
    )
