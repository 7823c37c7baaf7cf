"""Codec: framing, BodyLength/CheckSum, field lists, encoding, lazy groups."""

from __future__ import annotations

from decimal import Decimal

import pytest
import simplefix

from fix.codec import Encoder, FrameReader, Message, checksum, decode, encode_fields
from fix.dictionary import load
from fix.errors import GarbledMessage, LocalProtocolError

DD44 = load("FIX.4.4")


def frame(pairs) -> bytes:
    return encode_fields(pairs)


NOS = [(8, "FIX.4.4"), (35, "D"), (34, 7), (49, "CLIENT"), (52, "20231114-22:13:20.123"), (56, "VENUE"),
       (11, "ORD1"), (21, "1"), (55, "EUR/USD"), (54, "1"), (60, "20231114-22:13:20"), (38, "100"), (40, "2"),
       (44, "1.0835")]


def test_checksum_matches_byte_sum_for_all_lengths():
    for n in (0, 1, 255, 256, 257, 1000, 70000):
        data = bytes((i * 37 + 11) % 256 for i in range(n))
        assert checksum(data) == sum(data) % 256


def test_encode_fields_writes_length_and_checksum_simplefix_agrees():
    raw = frame(NOS)
    parser = simplefix.FixParser()
    parser.append_buffer(raw)
    parsed = parser.get_message()
    assert parsed is not None
    assert parsed.get(55) == b"EUR/USD"
    body = raw[raw.index(b"\x0135=") + 1 : raw.rindex(b"10=")]
    assert int(parsed.get(9)) == len(body)
    assert int(parsed.get(10)) == sum(raw[: raw.rindex(b"10=")]) % 256


def test_decode_round_trip_keeps_order_and_values():
    raw = frame(NOS)
    msg = decode(raw)
    assert [t for t, _ in msg.fields()][:3] == [8, 9, 35]
    assert [t for t, _ in msg.fields()][-1] == 10
    assert msg.get(44) == b"1.0835"
    assert msg.get_int(34) == 7
    assert msg.get_decimal(44) == Decimal("1.0835")
    assert msg.msg_type == b"D"
    assert msg.raw == raw
    assert 55 in msg and 99 not in msg


def test_decode_simplefix_frame():
    m = simplefix.FixMessage()
    for t, v in NOS:
        m.append_pair(t, v, header=t in (8, 35, 34, 49, 52, 56))
    msg = decode(m.encode())
    assert msg.get(11) == b"ORD1"


@pytest.mark.parametrize(
    "mutate, why",
    [
        (lambda r: r[:-4] + b"000\x01" if not r.endswith(b"000\x01") else r[:-4] + b"001\x01", "checksum"),
        (lambda r: r.replace(b"\x019=", b"\x019=1", 1), "body length"),
        (lambda r: r.replace(b"\x0149=CLIENT", b"\x014x9=CLIENT"), "tag syntax"),
        (lambda r: r[: r.rindex(b"10=")], "no checksum"),
    ],
)
def test_garbled_frames_raise(mutate, why):
    raw = frame(NOS)
    bad = mutate(raw)
    assert bad != raw, why
    with pytest.raises(GarbledMessage):
        decode(bad)


def test_first_three_fields_must_be_8_9_35():
    raw = encode_fields([(8, "FIX.4.4"), (34, 1), (35, "0"), (49, "A"), (52, "20231114-22:13:20"), (56, "B")])
    # encode_fields keeps 35 where it was put: second after 8/9 is 34 here
    with pytest.raises(GarbledMessage):
        decode(raw)


def test_equal_sign_inside_value_and_negative_tag():
    raw = frame([(8, "FIX.4.4"), (35, "0"), (49, "A"), (56, "B"), (58, "a=b=c")])
    msg = decode(raw)
    assert msg.get(58) == b"a=b=c"
    body = b"35=0\x0149=A\x01-1=HI\x01"
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    raw2 = head + body + b"10=%03d\x01" % checksum(head + body)
    assert decode(raw2).tags[4] == b"-1"


def test_data_field_may_contain_soh_and_equals():
    data = b"ab\x01c=d"
    m = Message(b"B").append(148, "headline")
    m.append_data(95, 96, data)
    enc = Encoder("FIX.4.4", "S", "T", DD44.header_tags)
    raw = enc.encode(m, 1, 1_700_000_000.0)
    back = decode(raw)
    assert back.get(96) == data
    assert back.get_int(95) == len(data)


def test_encoder_header_order_and_extra_header():
    enc = Encoder("FIX.4.2", "ISLD", "TW42", load("FIX.4.2").header_tags)
    m = Message("D").append(11, "X").append(97, "Y").append(115, "JCD")
    raw = enc.encode(m, 5, 1_700_000_000.5, [(43, b"Y"), (122, b"20231114-22:13:19")])
    tags = [t for t, _ in decode(raw).fields()]
    assert tags == [8, 9, 35, 34, 43, 49, 52, 56, 97, 115, 122, 11, 10]
    fast = enc.encode(Message("D").append(11, "X"), 6, 1_700_000_000.5)
    assert [t for t, _ in decode(fast).fields()] == [8, 9, 35, 34, 49, 52, 56, 11, 10]
    assert decode(fast).get(52) == b"20231114-22:13:20.500"


def test_encoder_drops_possdup_and_origsendingtime_from_application_messages():
    enc = Encoder("FIX.4.4", "S", "T", DD44.header_tags)
    m = Message("D").append(43, "Y").append(122, "20231114-22:13:19").append(11, "X")
    out = decode(enc.encode(m, 1, 1_700_000_000.0))
    assert 43 not in out and 122 not in out and out.get(11) == b"X"


def test_message_editing_and_value_types():
    m = Message("8")
    m.append(38, 100).append(44, Decimal("1.25")).append(59, True).append(58, "héllo")
    assert m.get(38) == b"100" and m.get(44) == b"1.25" and m.get(59) == b"Y"
    assert m.get_str(58) == "héllo"
    m.set(38, 200)
    assert m.get(38) == b"200"
    assert m.remove(59) and 59 not in m
    assert not m.remove(59)
    with pytest.raises(LocalProtocolError):
        m.append(58, "bad\x01value")
    with pytest.raises(LocalProtocolError):
        m.append(-5, "x")
    assert m == Message("8", [(38, 200), (44, Decimal("1.25")), (58, "héllo")])


def test_parsed_message_editing_keeps_views_consistent():
    msg = decode(frame(NOS))
    msg.append(1, "ACC")
    assert msg.get(1) == b"ACC"
    msg.set(55, "GBP/USD")
    assert msg.get(55) == b"GBP/USD"
    assert msg.tags[-1] == b"1"


def test_repeated_tag_lookup_returns_first_occurrence():
    msg = decode(frame([(8, "FIX.4.4"), (35, "0"), (49, "A"), (56, "B"), (58, "one"), (58, "two")]))
    assert msg.get(58) == b"one"
    assert msg.get_all(58) == [b"one", b"two"]
    assert msg.count(58) == 2


def test_lazy_group_parsing_with_dictionary_definition():
    raw = frame([(8, "FIX.4.4"), (35, "D"), (49, "A"), (56, "B"), (11, "X"), (453, 2),
                 (448, "P1"), (447, "D"), (452, 1), (448, "P2"), (447, "D"), (452, 3), (55, "EUR/USD")])
    msg = decode(raw)
    gdef = DD44.group("D", 453)
    assert gdef is not None and gdef.delimiter == b"448"
    parties = msg.group(453, gdef)
    assert [p.get(448) for p in parties] == [b"P1", b"P2"]
    assert parties[1].get(452) == b"3"
    assert msg.group(454, DD44.group("D", 454)) == []


class TestFrameReader:
    def test_reassembles_split_frames_and_skips_garbage(self):
        a, b = frame(NOS), frame([(8, "FIX.4.4"), (35, "0"), (49, "A"), (56, "B")])
        stream = b"garbage\x01" + a + b"noise" + b
        r = FrameReader()
        out = []
        for i in range(0, len(stream), 7):
            r.feed(stream[i : i + 7])
            while (f := r.next_frame()) is not None:
                out.append(f)
        assert out == [a, b]

    def test_short_body_length_still_isolates_the_frame(self):
        good = frame(NOS)
        short = good.replace(b"9=%d" % (len(good) - good.index(b"35=") - 7), b"9=30", 1)
        r = FrameReader()
        r.feed(short + good)
        first = r.next_frame()
        assert first == short
        assert r.next_frame() == good
        with pytest.raises(GarbledMessage):
            decode(first)

    def test_long_body_length_swallows_next_message_like_quickfix(self):
        good = frame(NOS)
        declared = len(good) - good.index(b"35=") - 7
        long = good.replace(b"9=%d" % declared, b"9=%d" % (declared + 14), 1)
        r = FrameReader()
        r.feed(long)
        assert r.next_frame() is None  # waits for the declared length
        r.feed(good)
        swallowed = r.next_frame()
        assert swallowed == long + good
        with pytest.raises(GarbledMessage):
            decode(swallowed)

    def test_oversized_declared_length_is_cut_and_reader_recovers(self):
        r = FrameReader(max_message_size=512)
        r.feed(b"8=FIX.4.4\x019=999999\x0135=D\x01" + b"x" * 100)
        assert r.next_frame() is None
        good = frame(NOS)
        r.feed(good)
        assert r.next_frame() == good
        assert r.discarded >= 1

    def test_endless_message_keeps_buffer_bounded(self):
        r = FrameReader(max_message_size=1024)
        r.feed(b"8=FIX.4.4\x019=500\x0135=D\x01")
        for _ in range(200):
            r.feed(b"58=" + b"y" * 100 + b"\x01")
            assert r.next_frame() is None
            assert r.buffered <= 1024 + 200
        good = frame(NOS)
        r.feed(good)
        assert r.next_frame() == good
