"""app/wiring_store.py in a real Venue: recovery before anything else starts, the journal
installed into the sequencer, the SQL store following, snapshots and a graceful stop."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from app import wiring_store
from app.config import ConfigError
from app.venue import Venue
from engine.snapshot import state_digest
from engine.store import models as m
from persistence_config import write_test_config
from persistence_workload import commands


@pytest.fixture
def store_url(db_url, monkeypatch) -> str:
    """The test's database, named in the config; a DATABASE_URL in the caller's environment must not win."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return db_url


def make_venue(tmp_path, db_url: str, data_dir=None, **storage) -> Venue:
    path, config = write_test_config(tmp_path, {"database_url": db_url, "sql_flush_interval_ms": 5, **storage})
    venue = Venue(config, str(path), {"data_dir": str(data_dir or tmp_path / "data")})
    wiring_store.wire(venue)
    return venue


async def drive(venue: Venue, cmds, group: int = 11) -> None:
    """Submit as gateways do: a group per loop turn, waiting for the durable delivery of each."""
    for i in range(0, len(cmds), group):
        waits = [asyncio.ensure_future(venue.sequencer.execute(c)) for c in cmds[i:i + group]]
        await asyncio.gather(*waits)


def store_counts(engine) -> dict:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (m.orders, m.executions, m.trades, m.audit_log)}


def test_a_restarted_venue_has_the_same_state_and_a_complete_store(tmp_path, store_url):
    db_url = store_url
    cmds = commands(51, 1200)

    async def first_life():
        venue = make_venue(tmp_path, db_url)
        await venue.start()
        comp = venue.services["storage"]
        assert venue.sequencer.journal is comp.journal
        assert comp.report.summary() == "fresh start (empty journal)"
        await drive(venue, cmds[:600])
        info = await comp.snapshot_now()
        assert info.journal_pos >= 600          # (+ the venue clock's ticks)
        await drive(venue, cmds[600:])
        digest = state_digest(venue.oms)
        seq = venue.oms.seq
        await venue.stop()                      # graceful: final snapshot, store drained
        return digest, seq

    digest, seq = asyncio.run(first_life())

    async def second_life():
        venue = make_venue(tmp_path, db_url)
        await venue.start()
        comp = venue.services["storage"]
        try:
            assert state_digest(venue.oms) == digest
            assert comp.report.snapshot is not None and comp.report.snapshot.journal_pos >= len(cmds)
            assert comp.report.commands_replayed == 0
            assert "recovered: snapshot @ command" in comp.describe()
            assert comp.sql.last_event_seq == seq
            counts = store_counts(comp.db)
            assert counts["orders"] == len(venue.oms.orders)
            assert counts["audit_log"] >= len(cmds)
            assert venue.clock() > venue.oms.now           # new commands stamp later than anything replayed
        finally:
            await venue.stop()

    asyncio.run(second_life())


def test_a_venue_that_died_is_rebuilt_from_snapshot_and_journal_and_the_store_catches_up(tmp_path, store_url):
    db_url = store_url
    """No stop(): like a kill, nothing is flushed by shutdown code (the journal has it all)."""
    cmds = commands(52, 900)
    state = {}

    async def life_that_dies():
        venue = make_venue(tmp_path, db_url)
        await venue.start()
        comp = venue.services["storage"]
        await drive(venue, cmds[:400])
        await comp.snapshot_now()
        comp.writer._task.cancel()                # the SQL writer falls behind and then the process dies
        await drive(venue, cmds[400:])
        state["digest"] = state_digest(venue.oms)
        state["orders"] = len(venue.oms.orders)
        comp.journal.close()                      # the kernel closes files of a dead process
        comp.db.dispose()

    asyncio.run(life_that_dies())

    async def restart():
        venue = make_venue(tmp_path, db_url)
        await venue.start()
        comp = venue.services["storage"]
        try:
            assert state_digest(venue.oms) == state["digest"]
            rep = comp.report
            assert rep.snapshot is not None and rep.snapshot.journal_pos >= 400
            assert rep.commands_replayed == rep.end_index - rep.snapshot.journal_pos >= len(cmds) - rep.snapshot.journal_pos
            await asyncio.wait_for(comp.writer.drain(), 60)
            assert comp.sql.last_event_seq == venue.oms.seq
            assert store_counts(comp.db)["orders"] == state["orders"]
        finally:
            await venue.stop()

    asyncio.run(restart())


def test_a_store_behind_the_snapshots_is_refilled_from_the_journal(tmp_path, store_url):
    db_url = store_url
    cmds = commands(53, 700)
    sqlite_first = f"sqlite:///{tmp_path / 'first.sqlite'}"

    async def life(url, work):
        venue = make_venue(tmp_path, url)
        await venue.start()
        comp = venue.services["storage"]
        await drive(venue, work)
        result = (state_digest(venue.oms), len(venue.oms.orders), comp)
        await venue.stop()
        return result

    digest, n_orders, _ = asyncio.run(life(sqlite_first, cmds))

    async def with_new_store():
        venue = make_venue(tmp_path, db_url)        # an empty database: its watermark is 0
        await venue.start()
        comp = venue.services["storage"]
        try:
            assert comp.report.snapshot is None and comp.report.commands_replayed >= len(cmds)
            assert state_digest(venue.oms) == digest
            await asyncio.wait_for(comp.writer.drain(), 60)
            assert store_counts(comp.db)["orders"] == n_orders
        finally:
            await venue.stop()

    asyncio.run(with_new_store())


def test_snapshots_follow_the_configured_policy(tmp_path, store_url):
    db_url = store_url
    cmds = commands(54, 2600)

    async def main():
        venue = make_venue(tmp_path, db_url, snapshot_every_commands=1000, keep_snapshots=2, prune_journal=True)
        await venue.start()
        comp = venue.services["storage"]
        try:
            for i in range(0, len(cmds), 500):
                await drive(venue, cmds[i:i + 500])
                await asyncio.sleep(1.2)                    # the snapshot task looks once a second
            infos = comp.snapshots.list()
            assert len(infos) == 2 and comp.last_snapshot is not None
            assert all(i.journal_pos >= 1000 for i in infos)
            first_segment = comp.journal.segments()[0][0]
            assert first_segment == infos[0].journal_pos       # older segments pruned
        finally:
            await venue.stop()

    asyncio.run(main())


def test_a_bad_storage_section_names_the_key(tmp_path):
    with pytest.raises(ConfigError) as err:
        write_test_config(tmp_path, {"snapshot_every_commands": 5})      # loads the file it wrote
    assert "storage.snapshot_every_commands" in str(err.value)
    with pytest.raises(ConfigError, match="storage.jurnal"):
        write_test_config(tmp_path, {"jurnal": True})


def test_the_database_url_environment_variable_wins(tmp_path):
    from engine.store.settings import StorageSettings, database_url

    s = StorageSettings(database_url="sqlite:///x.sqlite")
    assert database_url(s, tmp_path, env={"DATABASE_URL": "postgres://u@h/db"}) == "postgresql+psycopg://u@h/db"
    assert database_url(s, tmp_path, env={}) == "sqlite:///x.sqlite"
    assert database_url(StorageSettings(), tmp_path, env={}) == f"sqlite:///{tmp_path.resolve() / 'fixvenue.sqlite'}"
