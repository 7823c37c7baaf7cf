"""Wiring of the FIX gateway: the `fix:` config section -> an acceptor serving the venue's sessions.

`wire(venue)` adds a `FixComponent` (started and stopped with the venue) and publishes the
gateway's session status as `venue.services["fix"]` for the REST admin endpoint:

    venue.services["fix"].status()    ->  {"listening": "host:port", "comp_id": "FIXVENUE", "sessions": [...]}
    venue.services["fix"].sessions()  ->  [{"session_id", "comp_id", "begin_string", "role",
                                            "account", "accounts", "connected", "logged_on",
                                            "peer", "next_sender_seq", "next_target_seq"}, ...]

Message stores live under the venue data directory (`--data-dir` or `venue.data_dir`, then the
section's `store_dir`, default `fix/`), so sequence numbers survive restarts.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fix.gateway import FixGateway
from fix.store import MemoryStore
from fix.transport import Acceptor
from fix.venue_config import FixSection, load_section
from fix.venue_store import GroupCommitFileStore

log = logging.getLogger("fixvenue.fix")


class FixStatus:
    """What the admin endpoint shows about FIX (`status()`; `sessions()` for the list alone)."""

    def __init__(self, component: "FixComponent") -> None:
        self._component = component

    def sessions(self) -> list[dict]:
        return self._component.gateway.status()

    def status(self) -> dict:
        addr = self._component.address
        return {"listening": f"{addr[0]}:{addr[1]}" if addr else None,
                "comp_id": self._component.section.comp_id, "sessions": self.sessions()}

    def __call__(self) -> dict:
        return self.status()

    @property
    def ready(self) -> bool:
        """Up when the acceptor listens (the REST readiness probe reads this)."""
        return self._component.address is not None

    @property
    def address(self) -> tuple[str, int] | None:
        return self._component.address


class FixComponent:
    name = "fix"

    def __init__(self, venue, section: FixSection, host: str, port: int, store_dir: Path) -> None:
        self.venue = venue
        self.section = section
        self.host = host
        self.port = port
        self.store_dir = store_dir
        self.gateway = FixGateway(venue.sequencer, venue.instruments, section.sessions)
        self.acceptor: Acceptor | None = None

    def _store(self, sc):
        if self.section.store == "memory":
            return MemoryStore()
        return GroupCommitFileStore(self.store_dir, sc.key, fsync=self.section.fsync)

    async def start(self) -> None:
        if self.section.store == "file":
            self.store_dir.mkdir(parents=True, exist_ok=True)
        acceptor = Acceptor(self.section.acceptor_config(self.host, self.port), self.gateway, store_factory=self._store)
        self.gateway.attach(acceptor.handles)
        self.gateway.start()
        await acceptor.start()
        self.acceptor = acceptor

    async def stop(self) -> None:
        # the venue logs everyone out: a client too slow to answer is not "dropped without Logout"
        self.gateway.stopping = True
        if self.acceptor is not None:
            await self.acceptor.stop()
            self.acceptor = None
        self.gateway.stop()

    @property
    def address(self) -> tuple[str, int] | None:
        if self.acceptor is None:
            return None
        return self.acceptor.host, self.acceptor.port

    def describe(self) -> str:
        addr = self.address
        where = f"{addr[0]}:{addr[1]}" if addr else f"{self.host}:{self.port} (not started)"
        parts = []
        for s in self.section.sessions:
            if s.role == "drop_copy":
                parts.append(f"{s.comp_id} ({s.begin_string}, drop copy of {len(s.all_accounts)} accounts)")
            else:
                extra = f"+{len(s.all_accounts) - 1}" if len(s.all_accounts) > 1 else ""
                parts.append(f"{s.comp_id} ({s.begin_string}, {s.account}{extra})")
        store = f"stores in {self.store_dir}" if self.section.store == "file" else "in-memory stores"
        return (f"FIX acceptor on {where} as {self.section.comp_id}; {len(parts)} sessions: "
                + ", ".join(parts) + f"; {store}")


def wire(venue) -> None:
    raw = venue.config.fix
    if raw is None:
        return
    section = load_section(raw, venue.config)
    if not section.enabled:
        return
    host = venue.overrides.get("host") or section.host
    port = venue.overrides.get("fix_port")
    if port is None:
        port = section.port
    data_dir = venue.overrides.get("data_dir") or venue.config.venue.data_dir
    component = FixComponent(venue, section, host, int(port), section.store_path(data_dir))
    venue.add(component)
    venue.services["fix"] = FixStatus(component)
