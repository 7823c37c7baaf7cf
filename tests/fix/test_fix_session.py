"""The sans-IO session state machine, driven without sockets (see conftest.Counterparty)."""

from __future__ import annotations

import pytest

from fix.codec import Message
from fix.errors import LocalProtocolError, RejectLogon
from fix.session import NEED_DATA, AppMessage, CloseConnection, LoggedOn, LoggedOut, RejectReceived, Session
from fix.store import MemoryStore
from fix.timestamps import format_utc

from fix_harness import Counterparty, FakeClock, make_session


def types(msgs):
    return [m.msg_type.decode() for m in msgs]


def closed(events):
    return any(isinstance(e, CloseConnection) for e in events)


# -- logon -----------------------------------------------------------------------------------------


def test_logon_is_answered_and_announced(acceptor):
    session, peer = acceptor
    replies = peer.logon(heartbeat=45)
    assert types(replies) == ["A"]
    reply = replies[0]
    assert reply.get(34) == b"1" and reply.get(49) == b"VENUE" and reply.get(56) == b"CLIENT"
    assert reply.get(108) == b"45" and reply.get(98) == b"0" and 141 not in reply
    assert isinstance(peer.events[0], LoggedOn)
    assert session.is_logged_on and session.heartbeat_interval == 45
    assert session.next_target_seq == 2 and session.next_sender_seq == 2


def test_logon_with_reset_flag_resets_and_echoes_it(logged_on):
    session, peer = logged_on
    for _ in range(3):
        peer.send("0")
    peer.seq = 1
    replies = peer.logon(extra=[(141, "Y")])
    assert types(replies) == ["A"] and replies[0].get(141) == b"Y" and replies[0].get(34) == b"1"
    assert session.next_target_seq == 2 and session.next_sender_seq == 2


def test_logon_seq_too_high_answers_logon_then_resend_request(acceptor):
    session, peer = acceptor
    peer.seq = 5
    replies = peer.logon()
    assert types(replies) == ["A", "2"]
    assert replies[1].get(7) == b"1" and replies[1].get(16) == b"0"


@pytest.mark.parametrize("kw", [dict(sender="WT"), dict(target="DLSI")])
def test_first_message_with_wrong_compid_disconnects(acceptor, kw):
    session, peer = acceptor
    events = peer.send("A", [(98, 0), (108, 30)], **kw)
    assert closed(events) and peer.replies() == []


def test_logon_with_bad_sending_time_disconnects_silently(acceptor):
    session, peer = acceptor
    events = peer.send("A", [(98, 0), (108, 30)], sending_time=b"20010101-00:00:00")
    assert closed(events) and peer.replies() == []


def test_first_message_not_logon_disconnects(acceptor):
    session, peer = acceptor
    assert closed(peer.send("0"))


def test_garbled_logon_disconnects(acceptor):
    session, peer = acceptor
    raw = peer.frame("A", [(98, 0), (108, 30)])
    assert closed(peer.feed(raw.replace(b"10=", b"10=9", 1)[:-2] + b"\x01"))


def test_credentials_are_checked(clock):
    session = make_session(clock, username="alice", password="s3cret")
    session.connection_made()
    peer = Counterparty(session, clock)
    events = peer.send("A", [(98, 0), (108, 30), (553, "alice"), (554, "wrong")])
    replies = peer.replies()
    assert types(replies) == ["5"] and replies[0].get(58) == b"Invalid username or password"
    assert closed(events) and not any(isinstance(e, LoggedOn) for e in events)
    session.connection_made()
    peer = Counterparty(session, clock)
    assert types(peer.logon(extra=[(553, "alice"), (554, "s3cret")])) == ["A"]


def test_logon_validator_can_refuse(clock):
    def refuse(msg):
        raise RejectLogon("not today")

    session = Session(make_session(clock).config, MemoryStore(), clock=clock, logon_validator=refuse)
    session.connection_made()
    peer = Counterparty(session, clock)
    events = peer.send("A", [(98, 0), (108, 30)])
    assert peer.replies()[0].get(58) == b"not today" and closed(events)


# -- heartbeats, test requests, timeouts ------------------------------------------------------------


def test_heartbeat_sent_after_interval_of_silence(logged_on, clock):
    session, peer = logged_on
    clock.advance(29)
    session.tick()
    assert peer.replies() == []
    clock.advance(1)
    session.tick()
    assert types(peer.replies()) == ["0"]


def test_test_request_then_disconnect_when_peer_is_silent(logged_on, clock):
    session, peer = logged_on
    sent = []
    for _ in range(80):
        clock.advance(1)
        session.tick()
        sent += peer.replies()
    trs = [m for m in sent if m.msg_type == b"1"]
    assert trs and trs[0].get(112) == b"TEST"
    events = peer.drain()
    assert any(isinstance(e, LoggedOut) for e in events) and closed(events)
    assert not session.is_logged_on


def test_test_request_is_answered_with_heartbeat(logged_on):
    session, peer = logged_on
    peer.send("1", [(112, "HELLO")])
    replies = peer.replies()
    assert types(replies) == ["0"] and replies[0].get(112) == b"HELLO"


def test_logon_timeout_for_silent_connection(acceptor, clock):
    session, peer = acceptor
    clock.advance(11)
    session.tick()
    assert closed(peer.drain())


# -- sequence numbers ------------------------------------------------------------------------------


def test_gap_triggers_resend_request_and_queued_messages_are_processed_in_order(logged_on):
    session, peer = logged_on
    peer.seq = 4
    events = peer.send("D", [(11, "C4"), (21, "1"), (55, "X"), (54, "1"), (60, "20231114-22:13:20"), (40, "1")])
    assert events == []
    rr = peer.replies()
    assert types(rr) == ["2"] and rr[0].get(7) == b"2" and rr[0].get(16) == b"0"
    peer.send("1", [(112, "LATE")], seq=5)  # also too high: queued, no second resend request
    assert peer.replies() == []
    # the gap (2, 3) is filled with a SequenceReset-GapFill; queued 4 and 5 follow
    events = peer.send("4", [(36, 4), (123, "Y")], seq=2, header=[(43, "Y"), (122, format_utc(peer.clock(), 0))])
    apps = [e for e in events if isinstance(e, AppMessage)]
    assert [e.message.get(11) for e in apps] == [b"C4"]
    events += peer.drain()
    replies = peer.replies()
    assert types(replies) == ["0"] and replies[0].get(112) == b"LATE"
    assert session.next_target_seq == 6


def test_seq_too_low_without_possdup_logs_out_and_disconnects(logged_on):
    session, peer = logged_on
    peer.send("0")
    events = peer.send("0", seq=2)
    replies = peer.replies()
    assert types(replies) == ["5"]
    assert replies[0].get(58) == b"MsgSeqNum too low, expecting 3 but received 2"
    assert closed(events)


def test_possdup_already_received_is_ignored(logged_on):
    session, peer = logged_on
    peer.send("0")
    now = format_utc(peer.clock(), 0)
    events = peer.send("0", seq=2, header=[(43, "Y"), (122, now)])
    assert events == [] and peer.replies() == [] and session.next_target_seq == 3


def test_possdup_without_orig_sending_time_is_rejected(logged_on):
    session, peer = logged_on
    peer.send("0")
    peer.send("0", seq=2, header=[(43, "Y")])
    replies = peer.replies()
    assert types(replies) == ["3"]
    assert replies[0].get(373) == b"1" and replies[0].get(371) == b"122"


def test_possdup_orig_sending_time_after_sending_time_rejected_and_logged_out(logged_on, clock):
    session, peer = logged_on
    peer.send("0")
    later = format_utc(clock() + 10, 0)
    peer.send("0", seq=2, header=[(43, "Y"), (122, later)])
    replies = peer.replies()
    assert types(replies) == ["3", "5"] and replies[0].get(373) == b"10"


def test_sequence_reset_reset_mode_moves_expected_and_rejects_lower(logged_on):
    session, peer = logged_on
    peer.send("4", [(36, 25)], seq=0)
    assert session.next_target_seq == 25
    peer.send("4", [(36, 3)], seq=0)
    rej = peer.replies()
    assert types(rej) == ["3"]
    assert rej[0].get(45) == b"0" and rej[0].get(373) == b"5" and 371 not in rej[0]
    assert session.next_target_seq == 25


def test_sequence_reset_gap_fill_with_seq_too_low_is_a_logout(logged_on):
    session, peer = logged_on
    peer.send("0")
    events = peer.send("4", [(36, 10), (123, "Y")], seq=1)
    assert types(peer.replies()) == ["5"] and closed(events)


# -- answering resend requests -----------------------------------------------------------------------


def _order(cl_ord_id: str) -> Message:
    return Message("8", [(37, "O1"), (17, "E" + cl_ord_id), (150, "0"), (39, "0"), (55, "X"), (54, "1"),
                         (151, "100"), (14, "0"), (6, "0"), (11, cl_ord_id)])


def test_resend_request_gets_gap_fills_and_possdup_copies(logged_on, clock):
    session, peer = logged_on  # our seq 1 = Logon
    peer.send("1", [(112, "a")])  # our 2 = Heartbeat
    s3 = session.send(_order("A"))  # 3
    s4 = session.send(_order("B"))  # 4
    clock.advance(5)
    peer.send("1", [(112, "b")])  # our 5 = Heartbeat
    peer.replies()
    assert (s3, s4) == (3, 4)
    peer.send("2", [(7, 1), (16, 0)])
    replies = peer.replies()
    assert types(replies) == ["4", "8", "8", "4"]
    gap1, a, b, gap2 = replies
    assert gap1.get(34) == b"1" and gap1.get(36) == b"3" and gap1.get(123) == b"Y" and gap1.get(43) == b"Y"
    assert a.get(34) == b"3" and a.get(43) == b"Y" and a.get(11) == b"A"
    assert a.get(122) is not None and a.get(122) != a.get(52)
    assert b.get(34) == b"4"
    assert gap2.get(34) == b"5" and gap2.get(36) == b"6"
    assert session.next_sender_seq == 6  # resends do not consume sequence numbers


def test_resend_request_beyond_store_is_gap_filled(logged_on):
    session, peer = logged_on
    peer.send("2", [(7, 1), (16, 1)])
    replies = peer.replies()
    assert types(replies) == ["4"] and replies[0].get(36) == b"2"


# -- validation and rejects --------------------------------------------------------------------------


def test_invalid_message_gets_reject_with_reason_and_seq_increments(logged_on):
    session, peer = logged_on
    peer.send("0", [(55, "MSFT")])
    rej = peer.replies()[0]
    assert rej.msg_type == b"3" and rej.get(45) == b"2" and rej.get(371) == b"55"
    assert rej.get(372) == b"0" and rej.get(373) == b"2"
    assert rej.get(58) == b"Tag not defined for this message type"
    assert session.next_target_seq == 3


def test_fix42_rejects_omit_reason_codes_above_11(clock):
    session = make_session(clock, begin_string="FIX.4.2")
    session.connection_made()
    peer = Counterparty(session, clock)
    peer.logon()
    peer.send("D", [(11, "ID"), (21, "1"), (40, "1"), (40, "2"), (54, "1"), (55, "X"), (60, "20231114-22:13:20")])
    rej = peer.replies()[0]
    assert rej.get(58) == b"Tag appears more than once" and rej.get(371) == b"40" and 373 not in rej


def test_reject_reverses_routing_fields(logged_on):
    session, peer = logged_on
    peer.send("D", [(11, "ID"), (21, "1"), (40, "w"), (54, "1"), (55, "X"), (60, "20231114-22:13:20")],
              header=[(115, "JCD"), (116, "CS")])
    rej = peer.replies()[0]
    assert rej.get(128) == b"JCD" and rej.get(129) == b"CS" and 115 not in rej


def test_sending_time_out_of_range_rejected_and_logged_out(logged_on, clock):
    session, peer = logged_on
    peer.send("0", sending_time=format_utc(clock() - 121, 0))
    replies = peer.replies()
    assert types(replies) == ["3", "5"]
    assert replies[0].get(373) == b"10" and replies[0].get(58) == b"SendingTime accuracy problem"
    # the peer's logout completes the handshake
    events = peer.send("5")
    assert closed(events)


def test_compid_problem_rejected_and_logged_out(logged_on):
    session, peer = logged_on
    peer.send("0", sender="WT")
    replies = peer.replies()
    assert types(replies) == ["3", "5"] and replies[0].get(373) == b"9"


def test_wrong_begin_string_after_logon_is_a_logout(logged_on, clock):
    session, peer = logged_on
    peer.send("1", [(112, "x")], begin="FIX.4.2")
    replies = peer.replies()
    assert types(replies) == ["5"] and replies[0].get(58) == b"Incorrect BeginString"
    clock.advance(3)
    session.tick()
    assert closed(peer.drain())  # logout timeout


def test_garbled_message_dropped_silently(logged_on):
    session, peer = logged_on
    raw = peer.frame("0")
    events = peer.feed(raw[:-4] + b"000\x01" if not raw.endswith(b"000\x01") else raw[:-4] + b"001\x01")
    assert events == [] and peer.replies() == [] and session.next_target_seq == 2


def test_received_reject_is_reported(logged_on):
    session, peer = logged_on
    events = peer.send("3", [(45, 1)])
    assert len(events) == 1 and isinstance(events[0], RejectReceived)


# -- application API -----------------------------------------------------------------------------------


def test_application_message_event_and_business_reject(logged_on):
    session, peer = logged_on
    events = peer.send("D", [(11, "ID"), (21, "1"), (40, "1"), (54, "1"), (55, "X"), (60, "20231114-22:13:20")])
    assert len(events) == 1 and isinstance(events[0], AppMessage)
    session.business_reject(events[0].message, 3)
    bmr = peer.replies()[0]
    assert bmr.msg_type == b"j" and bmr.get(380) == b"3" and bmr.get(372) == b"D" and bmr.get(45) == b"2"
    assert bmr.get(58) == b"Unsupported Message Type"
    assert session.next_target_seq == 3


def test_application_can_send_session_reject(logged_on):
    session, peer = logged_on
    events = peer.send("D", [(11, "ID"), (21, "1"), (40, "1"), (54, "1"), (55, "X"), (60, "20231114-22:13:20")])
    session.reject(events[0].message, 5, tag=55, text="Unknown symbol")
    rej = peer.replies()[0]
    assert rej.get(371) == b"55" and rej.get(58) == b"Unknown symbol" and rej.get(373) == b"5"


def test_app_cannot_send_admin_messages(logged_on):
    session, _ = logged_on
    with pytest.raises(LocalProtocolError):
        session.send(Message("0"))
    with pytest.raises(LocalProtocolError):
        session.send(Message())


def test_messages_sent_while_offline_are_stored_for_resend(acceptor):
    session, peer = acceptor
    seq = session.send(_order("OFF"))
    assert seq == 1 and peer.replies() == []
    assert session.store.get_range(1, 1)[0][0] == 1


# -- logout ----------------------------------------------------------------------------------------------


def test_logout_handshake_initiated_by_peer(logged_on):
    session, peer = logged_on
    events = peer.send("5")
    assert types(peer.replies()) == ["5"]
    assert any(isinstance(e, LoggedOut) for e in events) and closed(events)


def test_logout_initiated_by_us_waits_for_answer(logged_on):
    session, peer = logged_on
    session.logout("bye")
    out = peer.replies()
    assert types(out) == ["5"] and out[0].get(58) == b"bye"
    assert peer.drain() == []
    events = peer.send("5")
    assert closed(events) and peer.replies() == []


def test_reset_on_logout_policy(clock):
    session = make_session(clock, reset_on_logout=True)
    session.connection_made()
    peer = Counterparty(session, clock)
    peer.logon()
    peer.send("5")
    assert session.next_sender_seq == 1 and session.next_target_seq == 1


def test_reset_on_disconnect_policy(clock):
    session = make_session(clock, reset_on_disconnect=True)
    session.connection_made()
    peer = Counterparty(session, clock)
    peer.logon()
    session.connection_lost()
    assert session.next_sender_seq == 1 and session.next_target_seq == 1


def test_input_after_close_is_ignored(logged_on):
    session, peer = logged_on
    peer.send("5")
    peer.replies()
    assert peer.send("0") == [] and session.next_event() is NEED_DATA


# -- initiator <-> acceptor, both sans-IO ----------------------------------------------------------------


def pump(a: Session, b: Session, rounds: int = 10) -> tuple[list, list]:
    ev_a, ev_b = [], []
    for _ in range(rounds):
        da, db = a.data_to_send(), b.data_to_send()
        if not da and not db:
            break
        if da:
            b.receive_data(da)
        if db:
            a.receive_data(db)
        for s, evs in ((a, ev_a), (b, ev_b)):
            while (e := s.next_event()) is not NEED_DATA:
                evs.append(e)
    return ev_a, ev_b


def test_initiator_and_acceptor_log_on_exchange_and_log_out():
    clock = FakeClock()
    ini = make_session(clock, initiator=True, sender_comp_id="CLIENT", target_comp_id="VENUE",
                       heartbeat_interval=20, username="u", password="p")
    acc = make_session(clock, username="u", password="p")
    acc.connection_made()
    ini.connection_made()
    ev_i, ev_a = pump(ini, acc)
    assert any(isinstance(e, LoggedOn) for e in ev_i) and any(isinstance(e, LoggedOn) for e in ev_a)
    assert acc.heartbeat_interval == 20
    ini.send(Message("D", [(11, "ID"), (21, "1"), (40, "1"), (54, "1"), (55, "X"), (60, "20231114-22:13:20")]))
    ev_i, ev_a = pump(ini, acc)
    assert [e.message.get(11) for e in ev_a if isinstance(e, AppMessage)] == [b"ID"]
    ini.logout()
    ev_i, ev_a = pump(ini, acc)
    assert closed(ev_i) and closed(ev_a)


def test_initiator_reset_on_logon_sends_reset_flag():
    clock = FakeClock()
    ini = make_session(clock, initiator=True, sender_comp_id="CLIENT", target_comp_id="VENUE", reset_on_logon=True)
    ini.store.set_next_sender_seq(40)
    ini.connection_made()
    out = Counterparty(ini, clock).replies()
    assert out[0].get(141) == b"Y" and out[0].get(34) == b"1"


# -- hostile input ----------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), cut=st.integers(min_value=0, max_value=400), junk=st.binary(max_size=20))
def test_arbitrary_and_mutated_input_never_raises(data, cut, junk):
    clock = FakeClock()
    session = make_session(clock, max_message_size=2048)
    session.connection_made()
    peer = Counterparty(session, clock)
    peer.logon()
    good = peer.frame("D", [(11, "ID"), (21, "1"), (40, "1"), (54, "1"), (55, "X"), (60, "20231114-22:13:20")])
    mutated = good[:cut] + junk + good[cut:]
    for chunk in (data, mutated, good):
        session.receive_data(chunk)
        for _ in range(100):
            if session.next_event() is NEED_DATA:
                break
        session.tick()
        session.data_to_send()


def test_fix42_logon_carries_credentials_although_fix42_lacks_553_554():
    clock = FakeClock()
    ini = make_session(clock, initiator=True, begin_string="FIX.4.2", sender_comp_id="CLIENT", target_comp_id="VENUE",
                       username="u", password="p")
    acc = make_session(clock, begin_string="FIX.4.2", username="u", password="p")
    acc.connection_made()
    ini.connection_made()
    ev_i, ev_a = pump(ini, acc)
    assert any(isinstance(e, LoggedOn) for e in ev_a) and any(isinstance(e, LoggedOn) for e in ev_i)
