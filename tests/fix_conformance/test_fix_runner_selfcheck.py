"""The acceptance runner checked on its own, and against the real QuickFIX engine.

The runner is the oracle our FIX engine is judged by, so it must be right
independently of that engine:

* its pieces (framing, BodyLength/CheckSum completion, time substitution, matching)
  are checked against messages QuickFIX itself serialises;
* every acceptance definition must PASS against QuickFIX's own acceptor running the
  acceptance echo application (the runner accepts correct behaviour);
* definitions deliberately made wrong must FAIL against QuickFIX, at the right line
  and for the right reason (the runner catches incorrect behaviour).

QuickFIX exclusions: none.  All 117 definitions pass against quickfix-ssl
1.15.1.post4 with the settings in ``quickfix_peer.acceptor_settings``.  A definition
QuickFIX itself fails would go in ``QUICKFIX_EXCLUSIONS`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

# loaded by conftest.py under these unique names
import fix_acceptance_runner as runner
import fix_quickfix_peer as quickfix_peer
from fix_acceptance_suite import (
    ACCEPTANCE_DIR,
    SPEC_DIR,
    definition_params,
    missing_shared_reason,
    selected_definitions,
    streams_for,
)

quickfix = pytest.importorskip("quickfix", reason="quickfix-ssl (import quickfix) is not installed")

QUICKFIX_EXCLUSIONS: dict[str, str] = {}
SOH = b"\x01"


def soh(text: str) -> bytes:
    return text.replace("|", "\x01").encode()


def qf_message(begin: str, msg_type: str, header: dict[int, str], body: list[tuple[int, str]]) -> bytes:
    """A message serialised by QuickFIX (BodyLength and CheckSum computed by QuickFIX)."""
    m = quickfix.Message()
    h = m.getHeader()
    h.setField(8, begin)
    h.setField(35, msg_type)
    for tag, value in header.items():
        h.setField(tag, value)
    for tag, value in body:
        m.setField(tag, value)
    return m.toString().encode("latin-1")


def strip_length_and_checksum(message: bytes) -> bytes:
    fields = [f for f in message.split(SOH)[:-1] if not f.startswith((b"9=", b"10="))]
    return SOH.join(fields) + SOH


SAMPLES = [
    qf_message("FIX.4.4", "A", {34: "1", 49: "TW44", 52: "20240102-03:04:05", 56: "ISLD"}, [(98, "0"), (108, "30")]),
    qf_message(
        "FIX.4.2",
        "D",
        {34: "12", 49: "TW42", 52: "20240102-03:04:05.678", 56: "ISLD", 43: "Y", 122: "20240102-03:04:00"},
        [(11, "ORDER-1"), (21, "3"), (38, "100"), (40, "1"), (54, "1"), (55, "INTC"), (58, "a text, with=sign")],
    ),
    qf_message("FIX.4.4", "0", {34: "1234567", 49: "TW44", 52: "20240102-03:04:05", 56: "ISLD"}, []),
]


# --------------------------------------------------------------------------- parsing


def _raw_lines():
    for path in runner.definition_files(ACCEPTANCE_DIR):
        for line in path.read_bytes().split(b"\n"):
            if line.strip() and not line.startswith(b"#"):
                yield line


@pytest.mark.skipif(missing_shared_reason() is not None, reason=str(missing_shared_reason()))
def test_every_definition_parses_into_one_step_per_line():
    paths = runner.definition_files(ACCEPTANCE_DIR)
    assert len(paths) == 117
    steps = [s for p in paths for s in runner.parse_definition(p).steps]
    lines = list(_raw_lines())
    assert len(steps) == len(lines)
    by_action: dict[str, int] = {}
    for s in steps:
        by_action[s.action] = by_action.get(s.action, 0) + 1
    assert by_action["send"] == sum(1 for line in lines if line.startswith(b"I"))
    assert by_action["expect"] == sum(1 for line in lines if line.startswith(b"E"))
    assert by_action["connect"] == sum(1 for line in lines if line.endswith(b"CONNECT") and not line.endswith(b"DISCONNECT"))
    multi = {(s.action, s.conn) for p in paths if "1b_" in p.name for s in runner.parse_definition(p).steps}
    assert ("connect", 2) in multi and ("expect_disconnect", 2) in multi and ("disconnect", 1) in multi


def test_parser_rejects_unknown_lines(tmp_path: Path):
    bad = tmp_path / "bad.def"
    bad.write_bytes(b"iCONNECT\nXnonsense\n")
    with pytest.raises(runner.DefinitionError, match="bad.def:2"):
        runner.parse_definition(bad)
    bad.write_bytes(b"eCONNECTED\n")
    with pytest.raises(runner.DefinitionError, match="unknown command"):
        runner.parse_definition(bad)


# --------------------------------------------------------------------------- message text


@pytest.mark.parametrize("sample", SAMPLES, ids=["logon44", "order42", "heartbeat44"])
def test_completed_message_equals_quickfix_serialisation(sample: bytes):
    assert runner.complete(strip_length_and_checksum(sample)) == sample


def test_explicit_or_malformed_fields_are_sent_as_written():
    out_of_order = soh("35=0|8=FIX.4.4|9=29|34=2|49=TW44|52=20240101-00:00:00|56=ISLD|10=121|")
    assert runner.complete(out_of_order) == out_of_order
    wrong_length = runner.complete(soh("8=FIX.4.4|9=30|35=0|34=2|49=TW44|56=ISLD|"))
    assert wrong_length.startswith(soh("8=FIX.4.4|9=30|35=0|"))
    assert wrong_length.endswith(b"10=" + runner.checksum(wrong_length[: wrong_length.rfind(b"10=")]) + SOH)
    wrong_sum = runner.complete(soh("8=FIX.4.4|35=0|34=2|49=TW44|56=ISLD|10=256|"))
    assert wrong_sum == soh("8=FIX.4.4|9=26|35=0|34=2|49=TW44|56=ISLD|10=256|")


def test_time_tokens_become_shifted_utc_timestamps():
    now = dt.datetime(2024, 2, 29, 23, 59, 30, 999000, tzinfo=dt.timezone.utc)
    out = runner.substitute_times(b"52=<TIME>|122=<TIME-121>|60=<TIME+31>|x=<TIME>", now)
    assert out == b"52=20240229-23:59:30|122=20240229-23:57:29|60=20240301-00:00:01|x=20240229-23:59:30"


# --------------------------------------------------------------------------- framing


def test_framer_cuts_a_bytewise_stream_of_quickfix_messages():
    framer = runner.Framer()
    got = []
    for byte in b"".join(SAMPLES):
        framer.feed(bytes([byte]))
        msg = framer.next_message()
        if msg is not None:
            got.append(msg)
    assert got == SAMPLES and framer.pending == b""


@pytest.mark.parametrize(
    "data, reason",
    [
        (SAMPLES[0][:-4] + b"000" + SOH, "CheckSum"),
        (re.sub(rb"\x019=\d+\x01", b"\x019=20\x01", SAMPLES[0]), "BodyLength"),
        (b"junk" + SAMPLES[0], "does not start with 8="),
        (runner.complete(soh("8=FIX.4.4|34=2|35=0|49=TW44|56=ISLD|")), "third field"),
    ],
    ids=["bad-checksum", "short-bodylength", "garbage-first", "msgtype-not-third"],
)
def test_framer_rejects_malformed_frames(data: bytes, reason: str):
    framer = runner.Framer()
    framer.feed(data + SAMPLES[2])
    with pytest.raises(runner.FramingError, match=reason):
        framer.next_message()


# --------------------------------------------------------------------------- matching

FORMATS = {
    10: re.compile(r"\d{3}"),
    52: re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}|\d{8}-\d{2}:\d{2}:\d{2}[.]\d{3}"),
    122: re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}"),
}
EXPECTED = soh(
    "8=FIX.4.4|9=99|35=3|34=2|49=ISLD|52=00000000-00:00:00.000|56=TW44|45=2|"
    "58=Required tag missing|371=11|372=D|373=1|10=0|"
)


def received(**changes: str) -> bytes:
    fields = dict(f.split("=", 1) for f in EXPECTED.decode().split("\x01")[:-1])
    fields.update({"9": "71", "52": "20240102-03:04:05.678", "10": "123"})
    for tag, value in changes.items():
        tag = tag.lstrip("t")
        if value is None:
            fields.pop(tag)
        else:
            fields[tag] = value
    return soh("|".join(f"{k}={v}" for k, v in fields.items()) + "|")


def test_matching_ignores_bodylength_order_and_timestamp_width():
    shuffled = soh(
        "8=FIX.4.4|9=5|35=3|49=ISLD|56=TW44|34=2|52=20240102-03:04:05|373=1|372=D|371=11|"
        "58=Required tag missing, field=11|45=2|10=001|"
    )
    assert runner.compare(EXPECTED, shuffled, FORMATS) == []
    assert runner.compare(EXPECTED, received(), FORMATS) == []


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"t45": "3"}, "tag 45: expected '2', received '3'"),
        ({"t371": None}, "missing tag 371"),
        ({"t43": "Y"}, "unexpected tag 43=Y"),
        ({"t52": "2024-01-02 03:04:05"}, "tag 52="),
        ({"t52": "20240102-03:04:05.678junk"}, "tag 52="),
        ({"t58": "Required tags missing"}, "tag 58 text"),
        ({"t58": "Required"}, "tag 58 text"),
    ],
    ids=["value", "missing", "extra", "bad-time", "time-with-junk", "text-word", "text-short"],
)
def test_matching_reports_each_difference(changes: dict, problem: str):
    problems = runner.compare(EXPECTED, received(**changes), FORMATS)
    assert any(problem in p for p in problems), problems


def test_repeated_tags_keep_their_order():
    expected = soh("8=FIX.4.4|35=D|336=PRE-OPEN|336=AFTER-HOURS|")
    assert runner.compare(expected, soh("8=FIX.4.4|35=D|336=PRE-OPEN|336=AFTER-HOURS|10=000|"), {}) == []
    assert runner.compare(expected, soh("8=FIX.4.4|35=D|336=AFTER-HOURS|336=PRE-OPEN|10=000|"), {})
    assert runner.compare(expected, soh("8=FIX.4.4|35=D|336=PRE-OPEN|10=000|"), {}) == [
        "tag 336 appears 1 times, expected 2"
    ]


def test_seconds_only_format_accepts_a_fraction_but_not_other_suffixes():
    exp = soh("8=FIX.4.4|35=0|122=00000000-00:00:00.000|")
    assert runner.compare(exp, soh("8=FIX.4.4|35=0|122=20240102-03:04:05.123|10=000|"), FORMATS) == []
    assert runner.compare(exp, soh("8=FIX.4.4|35=0|122=20240102-03:04:05|10=000|"), FORMATS) == []
    assert runner.compare(exp, soh("8=FIX.4.4|35=0|122=20240102-03:04:05Z|10=000|"), FORMATS)


def test_summary_lists_each_failure_with_its_first_mismatch():
    outcomes = {
        "fix44/a": runner.Outcome("fix44/a", True, "", 0.1),
        "fix42/b": runner.Outcome(
            "fix42/b",
            False,
            "fix42/b line 7: message does not match: tag 45: expected '2', received '3'\n"
            "  expected: 8=FIX.4.2|35=3|45=2|\n  received: 8=FIX.4.2|35=3|45=3|\n"
            "  definition line: E8=FIX.4.2|35=3|45=2|",
            0.2,
        ),
    }
    text = runner.summarize(outcomes, "T")
    assert "1/2 definitions pass." in text
    assert "- **fix42/b**: fix42/b line 7: message does not match: tag 45" in text
    assert "    - expected: 8=FIX.4.2|35=3|45=2|" in text and "    - received: 8=FIX.4.2|35=3|45=3|" in text
    assert "fix44/a" not in text


# --------------------------------------------------------------------------- against QuickFIX


@pytest.fixture(scope="module")
def quickfix_acceptor(tmp_path_factory, loopback_shim):
    reason = missing_shared_reason()
    if reason:
        pytest.skip(reason)
    with quickfix_peer.QuickFixAcceptor.start(SPEC_DIR, tmp_path_factory.mktemp("quickfix"), loopback_shim) as acc:
        yield acc


@pytest.fixture(scope="module")
def quickfix_outcomes(request, quickfix_acceptor, field_formats):
    names = [n for n in selected_definitions(request, __name__) if n not in QUICKFIX_EXCLUSIONS]
    return runner.run_streams(
        streams_for(names), lambda d: runner.play(d, quickfix_acceptor.port, field_formats)
    )


@pytest.mark.slow
@pytest.mark.parametrize("definition", definition_params())
def test_runner_passes_quickfix_acceptor(definition: str, quickfix_outcomes):
    if definition in QUICKFIX_EXCLUSIONS:
        pytest.skip(f"QuickFIX itself fails this definition: {QUICKFIX_EXCLUSIONS[definition]}")
    outcome = quickfix_outcomes[definition]
    assert outcome.passed, outcome.detail


LOGON = "I8=FIX.4.4|35=A|34=1|49=TW44|52=<TIME>|56=ISLD|98=0|108=30|"
LOGON_ACK = "E8=FIX.4.4|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW44|98=0|108=30|"
LOGOUT = "I8=FIX.4.4|35=5|34=2|49=TW44|52=<TIME>|56=ISLD|"
LOGOUT_ACK = "E8=FIX.4.4|35=5|34=2|49=ISLD|52=00000000-00:00:00.000|56=TW44|"

WRONG_DEFINITIONS = {
    # name: (lines, line number that must fail, text the failure must contain)
    "wrong-value": ([LOGON, LOGON_ACK.replace("108=30", "108=31")], 3, "tag 108: expected '31', received '30'"),
    "missing-field": ([LOGON, LOGON_ACK, LOGOUT, LOGOUT_ACK + "58=bye|"], 5, "missing tag 58"),
    "extra-field": ([LOGON, LOGON_ACK.replace("98=0|", "")], 3, "unexpected tag 98=0"),
    "silence": ([LOGON, LOGON_ACK, "E8=FIX.4.4|35=0|34=2|49=ISLD|52=<TIME>|56=TW44|"], 4, "no message within"),
    "no-disconnect": ([LOGON, LOGON_ACK, "eDISCONNECT"], 4, "did not close the connection"),
    "data-not-disconnect": ([LOGON, "eDISCONNECT"], 3, "expected a disconnect, received: 8=FIX.4.4|9="),
    "closed-while-expecting": (
        [LOGON.replace("49=TW44", "49=WT"), LOGON_ACK],
        3,
        "acceptor closed the connection",
    ),
}


@pytest.mark.parametrize("name", list(WRONG_DEFINITIONS))
def test_runner_fails_wrong_definitions_at_the_right_line(name, tmp_path, quickfix_acceptor, field_formats):
    lines, lineno, text = WRONG_DEFINITIONS[name]
    path = tmp_path / "fix44" / f"{name}.def"
    path.parent.mkdir()
    path.write_bytes(soh("\n".join(["iCONNECT", *lines]) + "\n"))
    with pytest.raises(runner.AcceptanceFailure) as info:
        runner.run_definition(
            path, quickfix_acceptor.port, field_formats, expect_timeout=1.5, disconnect_timeout=1.5
        )
    message = str(info.value)
    assert message.startswith(f"fix44/{name} line {lineno}:"), message
    assert text in message, message
