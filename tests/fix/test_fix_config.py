"""Session configuration: validation, address filters, schedules (and their effect on a session)."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError as PydanticError

from fix.config import AcceptorConfig, ScheduleConfig, SessionConfig
from fix.session import CloseConnection
from fix_harness import Counterparty, FakeClock, make_session


def ts(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc).timestamp()


def test_session_config_defaults_and_validation():
    cfg = SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT", password="pw")
    assert cfg.begin_string == "FIX.4.4" and cfg.heartbeat_interval == 30 and cfg.max_latency == 120
    assert cfg.password.get_secret_value() == "pw" and "pw" not in repr(cfg)
    assert cfg.session_id == ("FIX.4.4", "VENUE", "CLIENT")
    with pytest.raises(PydanticError):
        SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT", begin_string="FIX.4.3")
    with pytest.raises(PydanticError):
        SessionConfig(sender_comp_id="VE\x01NUE", target_comp_id="CLIENT")
    with pytest.raises(PydanticError):
        SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT", allowed_addresses=["not-an-ip"])
    with pytest.raises(PydanticError):
        SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT", unknown_option=1)


def test_acceptor_config_rejects_duplicate_sessions():
    s = SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT")
    with pytest.raises(PydanticError):
        AcceptorConfig(sessions=[s, s.model_copy()])


def test_allowed_addresses():
    cfg = SessionConfig(sender_comp_id="V", target_comp_id="C", allowed_addresses=["127.0.0.1", "10.1.0.0/16"])
    assert cfg.address_allowed("127.0.0.1") and cfg.address_allowed("10.1.2.3")
    assert not cfg.address_allowed("10.2.0.1") and not cfg.address_allowed(None)
    assert SessionConfig(sender_comp_id="V", target_comp_id="C").address_allowed("192.0.2.1")


def test_schedule_windows():
    day = ScheduleConfig(start_time=dt.time(8, 0), end_time=dt.time(17, 0))
    assert day.is_in_session(ts("2024-03-04 09:00")) and not day.is_in_session(ts("2024-03-04 18:00"))
    assert day.session_start(ts("2024-03-04 09:00")) == ts("2024-03-04 08:00")
    assert day.session_start(ts("2024-03-04 07:00")) == ts("2024-03-03 08:00")
    night = ScheduleConfig(start_time=dt.time(22, 0), end_time=dt.time(6, 0))
    assert night.is_in_session(ts("2024-03-04 23:00")) and night.is_in_session(ts("2024-03-05 05:00"))
    assert not night.is_in_session(ts("2024-03-05 12:00"))
    assert night.session_start(ts("2024-03-05 05:00")) == ts("2024-03-04 22:00")
    always = ScheduleConfig()
    assert always.is_in_session(ts("2024-03-04 12:34"))


def test_logon_outside_schedule_is_refused():
    clock = FakeClock(ts("2024-03-04 18:30"))
    session = make_session(clock, schedule=ScheduleConfig(start_time=dt.time(8, 0), end_time=dt.time(17, 0)))
    session.connection_made()
    assert any(isinstance(e, CloseConnection) for e in Counterparty(session, clock).drain())


def test_daily_reset_restarts_sequence_numbers_in_a_new_window():
    clock = FakeClock(ts("2024-03-04 09:00"))
    sched = ScheduleConfig(start_time=dt.time(8, 0), end_time=dt.time(17, 0), daily_reset=True)
    session = make_session(clock, schedule=sched)
    session.store._created = clock()  # the store was created inside today's window
    session.connection_made()
    peer = Counterparty(session, clock)
    peer.logon()
    peer.send("0")
    session.logout()
    peer.send("5")
    assert session.next_sender_seq > 1
    clock.t = ts("2024-03-05 08:30")  # next day's window
    session.connection_made()
    assert session.next_sender_seq == 1 and session.next_target_seq == 1


def test_session_end_logs_out_a_logged_on_session():
    clock = FakeClock(ts("2024-03-04 16:59"))
    session = make_session(clock, schedule=ScheduleConfig(start_time=dt.time(8, 0), end_time=dt.time(17, 0), daily_reset=False))
    session.store._created = clock()
    session.connection_made()
    peer = Counterparty(session, clock)
    peer.logon()
    clock.t = ts("2024-03-04 17:00")
    session.tick()
    out = peer.replies()
    assert [m.msg_type for m in out] == [b"5"] and out[0].get(58) == b"Outside session time"
    clock.advance(3)  # no answer: the logout times out and the connection closes
    session.tick()
    assert any(isinstance(e, CloseConnection) for e in peer.drain())
