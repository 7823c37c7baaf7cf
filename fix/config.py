"""Session and transport configuration (pydantic v2).

One `SessionConfig` per counterparty: CompIDs, FIX version, heartbeat, credentials,
allowed source addresses, reset policy, schedule, store. An `AcceptorConfig` serves
many sessions on one port (routed by CompIDs); an `InitiatorConfig` connects one
session to a remote acceptor. Both can use TLS (Python's ssl module).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import ssl
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from .errors import ConfigError
from .store import FileStore, MemoryStore, MessageStore, SqlStore, session_key

BeginString = Literal["FIX.4.2", "FIX.4.4"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ScheduleConfig(_Model):
    """A daily session window in UTC. Outside it logons are refused and a logged-on
    session is logged out; with `daily_reset` the sequence numbers restart at 1 when
    a new window begins (QuickFIX's StartTime/EndTime)."""

    start_time: _dt.time = _dt.time(0, 0, 0)
    end_time: _dt.time = _dt.time(0, 0, 0)
    daily_reset: bool = True

    def _window(self, now: _dt.datetime) -> tuple[_dt.datetime, _dt.datetime]:
        """The window containing `now`, or the next one if `now` is outside any."""
        day = now.date()
        start = _dt.datetime.combine(day, self.start_time, _dt.timezone.utc)
        end = _dt.datetime.combine(day, self.end_time, _dt.timezone.utc)
        if end <= start:  # overnight (or 24h when equal)
            if now < end or (self.start_time == self.end_time and now < start):
                start -= _dt.timedelta(days=1)
            else:
                end += _dt.timedelta(days=1)
        elif now >= end:
            start += _dt.timedelta(days=1)
            end += _dt.timedelta(days=1)
        return start, end

    def is_in_session(self, t: float) -> bool:
        if self.start_time == self.end_time:
            return True
        now = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
        start, end = self._window(now)
        return start <= now < end

    def session_start(self, t: float) -> float:
        """Start (epoch seconds) of the window that contains or precedes `t`."""
        now = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
        start, _ = self._window(now)
        if start > now:
            start -= _dt.timedelta(days=1)
        return start.timestamp()


class StoreConfig(_Model):
    kind: Literal["memory", "file", "sql"] = "memory"
    path: str | None = Field(default=None, description="directory for the file store")
    url: str | None = Field(default=None, description="SQLAlchemy URL for the sql store (default sqlite in path)")
    fsync: bool = True

    def create(self, key: str) -> MessageStore:
        if self.kind == "memory":
            return MemoryStore()
        if self.kind == "file":
            if not self.path:
                raise ConfigError("file store needs 'path'")
            return FileStore(self.path, key, fsync=self.fsync)
        url = self.url or f"sqlite:///{Path(self.path or '.') / 'fixstore.sqlite3'}"
        return SqlStore(url, key)


class SessionConfig(_Model):
    begin_string: BeginString = "FIX.4.4"
    sender_comp_id: str = Field(min_length=1)
    target_comp_id: str = Field(min_length=1)
    heartbeat_interval: int = Field(default=30, ge=0, le=3600, description="seconds; initiator sends it, acceptor adopts the peer's")
    username: str | None = None
    password: SecretStr | None = None
    allowed_addresses: list[str] = Field(default_factory=list, description="IPs or CIDR networks; empty = any")
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    schedule: ScheduleConfig | None = None
    check_latency: bool = True
    max_latency: int = Field(default=120, ge=1, description="SendingTime accuracy window, seconds")
    logon_timeout: float = Field(default=10.0, gt=0)
    logout_timeout: float = Field(default=2.0, gt=0)
    timestamp_precision: Literal[0, 3, 6] = 3
    max_message_size: int = Field(default=1 << 20, ge=256)
    store: StoreConfig = Field(default_factory=StoreConfig)

    @field_validator("sender_comp_id", "target_comp_id")
    @classmethod
    def _no_soh(cls, v: str) -> str:
        if "\x01" in v or "=" in v:
            raise ValueError("CompID must not contain SOH or '='")
        return v

    @field_validator("allowed_addresses")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            ipaddress.ip_network(item, strict=False)
        return v

    @property
    def key(self) -> str:
        return session_key(self.begin_string, self.sender_comp_id, self.target_comp_id)

    @property
    def session_id(self) -> tuple[str, str, str]:
        return (self.begin_string, self.sender_comp_id, self.target_comp_id)

    def address_allowed(self, host: str | None) -> bool:
        if not self.allowed_addresses:
            return True
        if not host:
            return False
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(n, strict=False) for n in self.allowed_addresses)

    def create_store(self) -> MessageStore:
        return self.store.create(self.key)


class TLSConfig(_Model):
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None
    require_client_cert: bool = False
    verify_server: bool = True
    server_hostname: str | None = None

    def server_context(self) -> ssl.SSLContext:
        if not self.cert_file or not self.key_file:
            raise ConfigError("TLS acceptor needs cert_file and key_file")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        if self.ca_file:
            ctx.load_verify_locations(self.ca_file)
        if self.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        if not self.verify_server:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file and self.key_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


class AcceptorConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=9878, ge=0, le=65535)
    tls: TLSConfig | None = None
    sessions: list[SessionConfig] = Field(default_factory=list)
    logon_timeout: float = Field(default=10.0, gt=0, description="seconds a new connection has to log on")
    max_message_size: int = Field(default=1 << 20, ge=256)

    @model_validator(mode="after")
    def _unique(self) -> "AcceptorConfig":
        seen = set()
        for s in self.sessions:
            if s.session_id in seen:
                raise ValueError(f"duplicate session {s.session_id}")
            seen.add(s.session_id)
        return self


class InitiatorConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    tls: TLSConfig | None = None
    session: SessionConfig
    connect_timeout: float = Field(default=10.0, gt=0)
