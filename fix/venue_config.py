"""The `fix:` section of the venue configuration: which FIX sessions the venue serves and how.

The FIX engine's own models (`fix.config.SessionConfig`, `AcceptorConfig`) describe sessions
as a FIX engine sees them (CompIDs, heartbeats, stores). The venue adds what a *venue* needs
to know about each counterparty: which account it trades for (and which further accounts it
may name in Account (1)), whether it is a read-only drop copy, and what happens to its DAY
orders when it drops without a Logout. This module validates that section against the rest
of the venue configuration (accounts must exist) and builds the engine's models from it.

Example (the shipped default lives in config/venue.yaml)::

    fix:
      port: 9878
      comp_id: FIXVENUE
      sessions:
        - {comp_id: CLIENT1, begin_string: FIX.4.4, account: DEMO1}
        - {comp_id: DROPCOPY, role: drop_copy, accounts: [DEMO1, DEMO2]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from .config import AcceptorConfig, SessionConfig, StoreConfig

ORIGIN_PREFIX = "FIX:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VenueSessionModel(_Strict):
    """One counterparty of the venue (the venue is always the acceptor)."""

    comp_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$",
                         description="the client's SenderCompID (the venue's TargetCompID)")
    begin_string: Literal["FIX.4.2", "FIX.4.4"] = "FIX.4.4"
    role: Literal["trading", "drop_copy"] = "trading"
    account: str | None = Field(default=None, description="account used when Account (1) is absent")
    accounts: list[str] = Field(default_factory=list,
                                description="trading: further accounts allowed in Account (1); drop copy: accounts copied")
    cancel_on_disconnect: Literal["none", "day", "all"] = Field(
        default="day", description="orders of this session cancelled when it drops without Logout")
    heartbeat_interval: int = Field(default=30, ge=1, le=3600)
    username: str | None = None
    password: SecretStr | None = None
    allowed_addresses: list[str] = Field(default_factory=list)
    reset_on_logon: bool = False
    min_price_increment: bool = Field(
        default=True, description="send MinPriceIncrement (969, a FIX 5.0 tag) in SecurityList entries")

    @model_validator(mode="after")
    def _role_needs(self):
        if self.role == "trading" and not self.account:
            raise ValueError(f"trading session {self.comp_id!r} needs an account")
        if self.role == "drop_copy" and not (self.accounts or self.account):
            raise ValueError(f"drop copy session {self.comp_id!r} needs accounts to copy")
        return self

    @property
    def origin(self) -> str:
        return ORIGIN_PREFIX + self.comp_id

    @property
    def all_accounts(self) -> tuple[str, ...]:
        out = [self.account] if self.account else []
        out += [a for a in self.accounts if a not in out]
        return tuple(out)


class FixSection(_Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9878, ge=0, le=65535)
    comp_id: str = Field(default="FIXVENUE", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    store: Literal["file", "memory"] = Field(default="file", description="file: under <data_dir>/<store_dir>")
    store_dir: str = "fix"
    fsync: bool = Field(default=False, description="fsync the message stores at each commit")
    logon_timeout: float = Field(default=10.0, gt=0)
    max_message_size: int = Field(default=1 << 20, ge=1024)
    sessions: list[VenueSessionModel] = Field(default_factory=list)

    @field_validator("sessions")
    @classmethod
    def _unique(cls, v: list[VenueSessionModel]) -> list[VenueSessionModel]:
        seen: set[str] = set()
        for s in v:
            if s.comp_id in seen:
                raise ValueError(f"duplicate session comp_id {s.comp_id!r}")
            seen.add(s.comp_id)
        return v

    def store_path(self, data_dir: str | Path) -> Path:
        p = Path(self.store_dir)
        return p if p.is_absolute() else Path(data_dir) / p

    def acceptor_config(self, host: str | None = None, port: int | None = None) -> AcceptorConfig:
        """The FIX engine's acceptor model (stores are created by the gateway's store factory)."""
        sessions = [
            SessionConfig(
                begin_string=s.begin_string, sender_comp_id=self.comp_id, target_comp_id=s.comp_id,
                heartbeat_interval=s.heartbeat_interval, username=s.username, password=s.password,
                allowed_addresses=list(s.allowed_addresses), reset_on_logon=s.reset_on_logon,
                logon_timeout=self.logon_timeout, max_message_size=self.max_message_size,
                store=StoreConfig(kind="memory"),
            )
            for s in self.sessions
        ]
        return AcceptorConfig(host=host or self.host, port=self.port if port is None else port, sessions=sessions,
                              logon_timeout=self.logon_timeout, max_message_size=self.max_message_size)


def load_section(raw: dict[str, Any], venue_config: Any = None) -> FixSection:
    """Validate the raw `fix:` mapping (and its account references); raises ValidationError/ValueError.

    Registered as `app.config.SECTION_LOADERS["fix"]`."""
    section = FixSection.model_validate(raw)
    if venue_config is not None:
        known = {a.id for a in venue_config.accounts}
        for i, s in enumerate(section.sessions):
            for acct in s.all_accounts:
                if acct not in known:
                    raise ValueError(f"sessions[{i}] ({s.comp_id}) names unknown account {acct!r}")
    return section
