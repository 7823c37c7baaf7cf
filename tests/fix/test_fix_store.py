"""Message stores and sessions resuming after a process restart."""

from __future__ import annotations

import os

import pytest

from fix.codec import Message
from fix.config import SessionConfig, StoreConfig
from fix.store import FileStore, MemoryStore, MessageStore, SqlStore, session_key
from fix_harness import Counterparty, FakeClock, make_session

KEY = session_key("FIX.4.4", "VENUE", "CLIENT")


def _stores(tmp_path):
    return {
        "memory": lambda: MemoryStore(),
        "file": lambda: FileStore(tmp_path / "files", KEY),
        "sql": lambda: SqlStore(f"sqlite:///{tmp_path / 'store.sqlite3'}", KEY),
    }


@pytest.mark.parametrize("kind", ["memory", "file", "sql"])
def test_store_contract(tmp_path, kind):
    store = _stores(tmp_path)[kind]()
    assert isinstance(store, MessageStore)
    assert (store.next_sender_seq(), store.next_target_seq()) == (1, 1)
    store.save(1, b"one")
    store.save(2, b"two")
    store.save(4, b"four")
    store.set_next_target_seq(9)
    assert store.next_sender_seq() == 5 and store.next_target_seq() == 9
    assert store.get_range(2, 10) == [(2, b"two"), (4, b"four")]
    assert store.get_range(3, 3) == []
    store.save(2, b"TWO")  # overwrite (a resend of a reset session reuses numbers)
    assert store.get_range(2, 2) == [(2, b"TWO")]
    created = store.creation_time()
    store.reset()
    assert (store.next_sender_seq(), store.next_target_seq()) == (1, 1)
    assert store.get_range(1, 100) == []
    assert store.creation_time() >= created
    store.close()


@pytest.mark.parametrize("kind", ["file", "sql"])
def test_store_survives_reopen(tmp_path, kind):
    make = _stores(tmp_path)[kind]
    s1 = make()
    s1.save(1, b"8=FIX.4.4\x01hello\x01with\nnewline")
    s1.set_next_target_seq(7)
    s1.close()
    s2 = make()
    assert s2.next_sender_seq() == 2 and s2.next_target_seq() == 7
    assert s2.get_range(1, 1) == [(1, b"8=FIX.4.4\x01hello\x01with\nnewline")]
    s2.close()


def test_file_store_ignores_torn_last_record(tmp_path):
    s1 = FileStore(tmp_path, KEY)
    s1.save(1, b"complete")
    s1.close()
    with open(tmp_path / f"{KEY}.messages", "ab") as f:
        f.write(b"2 100\npartial")
    s2 = FileStore(tmp_path, KEY)
    assert s2.get_range(1, 5) == [(1, b"complete")]
    s2.save(2, b"next")
    s2.close()
    s3 = FileStore(tmp_path, KEY)
    assert s3.get_range(1, 5) == [(1, b"complete"), (2, b"next")]


@pytest.mark.postgres
def test_sql_store_on_postgresql(pg_database):
    url = pg_database  # a fresh database (tests/conftest.py); skipped with a how-to when there is no server
    store = SqlStore(url, KEY + "-pgtest")
    store.reset()
    store.save(1, b"x")
    assert store.get_range(1, 1) == [(1, b"x")]
    store.reset()


def _order(cl_ord_id: str) -> Message:
    return Message("8", [(37, "O1"), (17, "E" + cl_ord_id), (150, "0"), (39, "0"), (55, "X"), (54, "1"),
                         (151, "100"), (14, "0"), (6, "0"), (11, cl_ord_id)])


@pytest.mark.parametrize("kind", ["file", "sql"])
def test_session_resumes_after_restart_and_resends_stored_messages(tmp_path, kind):
    clock = FakeClock()
    make = _stores(tmp_path)[kind]
    session = make_session(clock, store=make())
    session.connection_made()
    peer = Counterparty(session, clock)
    peer.logon()
    session.send(_order("A"))
    session.send(_order("B"))
    peer.send("0")
    assert (session.next_sender_seq, session.next_target_seq) == (4, 3)
    session.store.close()  # the process dies here: no logout, nothing else flushed

    restarted = make_session(clock, store=make())
    assert (restarted.next_sender_seq, restarted.next_target_seq) == (4, 3)
    restarted.connection_made()
    peer.session = restarted
    replies = peer.logon()
    assert [m.msg_type for m in replies] == [b"A"] and replies[0].get(34) == b"4"
    peer.send("2", [(7, 2), (16, 0)])
    resent = peer.replies()
    assert [m.get(11) for m in resent if m.msg_type == b"8"] == [b"A", b"B"]
    assert all(m.get(43) == b"Y" for m in resent)


def test_store_config_creates_each_kind(tmp_path):
    cfg = SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT", store=StoreConfig(kind="file", path=str(tmp_path)))
    assert isinstance(cfg.create_store(), FileStore)
    cfg = SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT", store=StoreConfig(kind="sql", path=str(tmp_path)))
    assert isinstance(cfg.create_store(), SqlStore)
    assert isinstance(SessionConfig(sender_comp_id="A", target_comp_id="B").create_store(), MemoryStore)
