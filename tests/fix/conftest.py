"""Fixtures for tests/fix: a connected acceptor session and its counterparty."""

from __future__ import annotations

import pytest

from fix_harness import Counterparty, FakeClock, make_session


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def acceptor(clock):
    """A connected acceptor-side session and its counterparty (not yet logged on)."""
    session = make_session(clock)
    session.connection_made()
    return session, Counterparty(session, clock)


@pytest.fixture
def logged_on(acceptor):
    session, peer = acceptor
    replies = peer.logon()
    assert [m.msg_type for m in replies] == [b"A"]
    return session, peer
