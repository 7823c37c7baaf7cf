"""The `rest:` section of the venue configuration: listen address, API keys, limits.

Validated at start-up with the rest of the file (app/config.py calls
`load_rest_section` through SECTION_LOADERS), so a typo in a key or an API key
naming an unknown account stops the venue with file, key and reason. This
module imports only pydantic: `fixvenue config` must not pay for FastAPI.
"""

from __future__ import annotations

import os
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Role(str, Enum):
    """What a key may do. A trader trades and reads its account; read-only reads it;
    admin runs the venue controls (halt/resume, kill switch, session status)."""

    TRADER = "trader"
    READ_ONLY = "read_only"
    ADMIN = "admin"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Strict):
    """Token bucket: `rate` requests per second on average, bursts up to `burst`."""

    rate: float = Field(gt=0, le=1_000_000)
    burst: int = Field(ge=1, le=10_000_000)


class KeyModel(_Strict):
    id: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    secret: str | None = Field(default=None, min_length=16, max_length=256)
    secret_env: str | None = Field(default=None, min_length=1, max_length=128)
    account: str | None = None
    role: Role = Role.TRADER
    rate_limit: RateLimit | None = None     # overrides the role's default

    @model_validator(mode="after")
    def _secret_source(self):
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError(f"API key {self.id!r} needs exactly one of secret or secret_env")
        if self.role != Role.ADMIN and not self.account:
            raise ValueError(f"API key {self.id!r} ({self.role.value}) needs an account")
        return self

    def resolve_secret(self) -> str:
        if self.secret is not None:
            return self.secret
        value = os.environ.get(self.secret_env or "")
        if not value:
            raise ValueError(f"API key {self.id!r}: environment variable {self.secret_env} is not set")
        return value


class WebSocketSettings(_Strict):
    queue_size: int = Field(default=2000, ge=10, le=1_000_000)   # messages waiting per connection
    max_subscriptions: int = Field(default=200, ge=1, le=10_000)
    max_message_bytes: int = Field(default=65536, ge=256, le=16 * 1024 * 1024)


def _default_limits() -> dict[Role, RateLimit]:
    return {
        Role.TRADER: RateLimit(rate=100, burst=200),
        Role.READ_ONLY: RateLimit(rate=20, burst=40),
        Role.ADMIN: RateLimit(rate=20, burst=40),
    }


class RestSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    signature_window_s: float = Field(default=30.0, gt=0, le=3600)   # stale timestamps are refused
    rate_limits: dict[Role, RateLimit] = Field(default_factory=_default_limits)
    public_rate_limit: RateLimit = RateLimit(rate=50, burst=100)     # per client address, no key
    websocket: WebSocketSettings = Field(default_factory=WebSocketSettings)
    keys: list[KeyModel] = Field(default_factory=list)
    docs: bool = True          # serve /docs and /openapi.json
    fast_order_entry: bool = True   # POST /orders through api.fastlane (same answers, less CPU)

    @field_validator("rate_limits")
    @classmethod
    def _all_roles(cls, v: dict[Role, RateLimit]) -> dict[Role, RateLimit]:
        merged = _default_limits()
        merged.update(v)
        return merged

    @model_validator(mode="after")
    def _unique(self):
        ids = [k.id for k in self.keys]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate API key id(s) {dup}")
        return self

    def limit_for(self, key: KeyModel) -> RateLimit:
        return key.rate_limit or self.rate_limits[key.role]


def load_rest_section(raw: dict[str, Any], venue_config: Any = None) -> RestSettings:
    """SECTION_LOADERS["rest"]: validate the section (and that keys name real accounts)."""
    settings = RestSettings.model_validate(raw or {})
    if venue_config is not None:
        accounts = {a.id for a in venue_config.accounts}
        for k in settings.keys:
            if k.account is not None and k.account not in accounts:
                raise ValueError(f"API key {k.id!r} names unknown account {k.account!r}")
    return settings
