"""Dictionaries (shipped JSON, converter) and validation with QuickFIX's reject reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fix
from fix.codec import decode, encode_fields
from fix.dictionary import DICTIONARY_DIR, load
from fix.errors import ConfigError, ValidationError
from fix.tools.convert_dictionary import convert
from fix.validation import check_format, validate

SPEC = Path(fix.__file__).resolve().parent.parent.parent / "shared" / "fix-spec"
DD42, DD44 = load("FIX.4.2"), load("FIX.4.4")
HDR = [(8, "FIX.4.4"), (49, "CLIENT"), (56, "VENUE"), (34, 2), (52, "20231114-22:13:20")]


def msg(msg_type: str, body, header=HDR, begin: str | None = None):
    pairs = [header[0] if begin is None else (8, begin), (35, msg_type), *header[1:], *body]
    return decode(encode_fields(pairs))


def reject_of(m, dd=DD44):
    with pytest.raises(ValidationError) as info:
        validate(m, dd)
    return info.value.reason, info.value.tag_text


GOOD_NOS = [(11, "ID"), (21, "1"), (55, "INTC"), (54, "1"), (60, "20231114-22:13:20"), (40, "1"), (38, "100")]


def test_dictionaries_ship_under_config_and_load_by_begin_string():
    assert DICTIONARY_DIR == Path(fix.__file__).resolve().parent.parent / "config" / "fix"
    assert (DICTIONARY_DIR / "FIX42.json").exists() and (DICTIONARY_DIR / "FIX44.json").exists()
    assert DD44.begin_string == "FIX.4.4" and DD42.begin_string == "FIX.4.2"
    assert DD44.field(55).name == "Symbol"
    assert DD44.tag("ClOrdID") == 11
    assert DD44.message("D").name == "NewOrderSingle"
    assert DD44.is_admin(b"A") and not DD44.is_admin(b"D")
    with pytest.raises(ConfigError):
        load("FIX.9.9")


def test_components_are_flattened_with_required_flags():
    nos = DD44.message("D")
    # Instrument and OrderQtyData are required components whose fields are optional in
    # QuickFIX's FIX44.xml: their tags are in the message but not required
    assert b"11" in nos.required and b"40" in nos.required
    assert b"55" in nos.fields and b"55" not in nos.required
    assert b"38" in nos.fields and b"38" not in nos.required
    parties = DD44.group("D", 453)
    assert parties.delimiter == b"448" and b"452" in parties.member_set
    assert b"802" in parties.groups  # nested NoPartySubIDs


@pytest.mark.skipif(not SPEC.exists(), reason=f"QuickFIX XML dictionaries not found at {SPEC}")
@pytest.mark.parametrize("name", ["FIX42", "FIX44"])
def test_shipped_json_is_what_the_converter_produces(name):
    produced = convert(SPEC / f"{name}.xml")
    shipped = json.loads((DICTIONARY_DIR / f"{name}.json").read_text())
    assert produced == shipped


@pytest.mark.skipif(not SPEC.exists(), reason=f"QuickFIX XML dictionaries not found at {SPEC}")
def test_converter_handles_fixt_and_fix50sp2(tmp_path):
    from fix.dictionary import DataDictionary

    t11 = DataDictionary(convert(SPEC / "FIXT11.xml"))
    sp2 = DataDictionary(convert(SPEC / "FIX50SP2.xml"))
    assert t11.begin_string == "FIXT.1.1" and t11.message("A") is not None
    assert sp2.message("D") is not None and b"11" in sp2.message("D").required


def test_valid_messages_pass():
    validate(msg("D", GOOD_NOS), DD44)
    validate(msg("0", []), DD44)
    validate(msg("d", [(320, "R1"), (322, "X"), (323, "1"), (55, "TBS"), (454, 0)]), DD44)


@pytest.mark.parametrize(
    "body, reason, tag",
    [
        ([*GOOD_NOS, (999, "HI")], 0, b"999"),                                        # undefined tag
        ([t for t in GOOD_NOS if t[0] != 11], 1, b"11"),                            # required missing
        ([*GOOD_NOS, (112, "X")], 2, b"112"),                                       # not in message
        ([*GOOD_NOS, (1, "")], 4, b"1"),                                            # no value
        ([*[t for t in GOOD_NOS if t[0] != 40], (40, "w")], 5, b"40"),              # bad enum
        ([*[t for t in GOOD_NOS if t[0] != 38], (38, "+200")], 6, b"38"),           # bad format
        ([*GOOD_NOS, (40, "2")], 13, b"40"),                                        # repeated
        ([*GOOD_NOS, (386, 3), (336, "A"), (336, "B")], 16, b"386"),                # group count
    ],
)
def test_each_reject_reason(body, reason, tag):
    assert reject_of(msg("D", body)) == (reason, tag)


def test_invalid_msg_type_and_header_out_of_order():
    assert reject_of(msg("*", []))[0] == 11
    raw = encode_fields([(8, "FIX.4.4"), (35, "D"), (11, "id"), (21, "1"), (34, 2), (49, "CLIENT"),
                         (52, "20231114-22:13:20"), (56, "VENUE"), (55, "X"), (54, "1"), (60, "20231114-22:13:20"), (40, "1")])
    assert reject_of(decode(raw)) == (14, b"34")


def test_header_fields_are_checked_before_body_fields():
    # an empty routing header field is reported before the body's bad enum
    m = msg("D", [(145, ""), *[t for t in GOOD_NOS if t[0] != 40], (40, "w")])
    assert reject_of(m) == (4, b"145")


def test_required_header_field_missing():
    m = decode(encode_fields([(8, "FIX.4.4"), (35, "0"), (49, "CLIENT"), (56, "VENUE"), (52, "20231114-22:13:20")]))
    assert reject_of(m) == (1, b"34")


def test_zero_count_group_and_group_member_required():
    validate(msg("D", [*GOOD_NOS, (453, 0)]), DD44)
    # PartyID (448) is the delimiter; an entry with 447 only starts an entry lacking nothing required
    assert reject_of(msg("D", [*GOOD_NOS, (453, 2), (448, "P1")]))[0] == 16


@pytest.mark.parametrize(
    "ftype, good, bad",
    [
        ("INT", [b"0", b"-12", b"007"], [b"1.0", b"+1", b"", b"x"]),
        ("QTY", [b"1", b"1.5", b".5", b"5.", b"-0.25", b"002000.00"], [b"+200.00", b"1e5", b".", b"-", b"1.2.3"]),
        ("CHAR", [b"A"], [b"AB"]),
        ("BOOLEAN", [b"Y", b"N"], [b"y", b"1"]),
        ("UTCTIMESTAMP", [b"20231114-22:13:20", b"20231114-22:13:20.123"], [b"20040415", b"20231314-22:13:20", b"20231114-22:13:20."]),
        ("UTCTIMEONLY", [b"22:13:20", b"22:13:20.5"], [b"25:00:00"]),
        ("UTCDATEONLY", [b"20231114"], [b"2023111", b"20231132"]),
        ("STRING", [b"anything"], []),
    ],
)
def test_type_formats(ftype, good, bad):
    assert all(check_format(ftype, v) for v in good)
    assert not any(check_format(ftype, v) for v in bad)


def test_fix42_dictionary_semantics():
    m = msg("D", [(11, "ID"), (21, "1"), (40, "1"), (54, "1"), (60, "20231114-22:13:20")],
            header=[(8, "FIX.4.2"), *HDR[1:]])
    assert reject_of(m, DD42) == (1, b"55")
    ok = msg("D", [(11, "ID"), (21, "1"), (40, "1"), (54, "1"), (55, "X"), (60, "20231114-22:13:20"), (167, "FUT")],
             header=[(8, "FIX.4.2"), *HDR[1:]])
    validate(ok, DD42)
