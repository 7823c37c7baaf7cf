"""The `storage:` section of the venue configuration and where its files live.

Validated at config load time (registered in app/config.py SECTION_LOADERS), so
a typo in `storage:` stops the venue before anything starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DB_FILE = "fixvenue.sqlite"


class StorageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    journal: bool = Field(True, description="journal every command (durable before acknowledged); "
                                            "off = nothing survives a restart")
    fsync: bool = Field(True, description="fsync each group commit; off survives a process crash but not power loss")
    snapshot_every_commands: int = Field(100_000, ge=1_000, description="snapshot after this many commands "
                                         "(bounds the journal tail a restart replays)")
    snapshot_interval_s: float = Field(600.0, gt=0, description="...or after this long, if anything happened")
    keep_snapshots: int = Field(3, ge=1, le=100)
    prune_journal: bool = Field(False, description="delete journal segments older than the oldest kept snapshot "
                                                   "(default keeps the full command history)")
    sql: bool = Field(True, description="keep the SQL store (orders, trades, positions, balances, audit log)")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite file in the data dir; "
                                                       "the DATABASE_URL environment variable wins")
    sql_batch_max: int = Field(5_000, ge=1, le=1_000_000, description="events per SQL transaction at most")
    sql_flush_interval_ms: int = Field(50, ge=1, le=60_000, description="how often the writer wakes up")


def load_section(raw: dict[str, Any], venue_config: Any = None) -> StorageSettings:
    """SECTION_LOADERS["storage"]: validate the raw section (raises pydantic ValidationError)."""
    return StorageSettings.model_validate(raw or {})


def database_url(settings: StorageSettings, data_dir: Path | str, env: dict | None = None) -> str:
    """DATABASE_URL (environment) > storage.database_url > sqlite:///<data_dir>/fixvenue.sqlite.

    A bare postgresql:// or postgres:// URL is taken to mean the installed psycopg 3 driver."""
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL") or settings.database_url
    if not url:
        return f"sqlite:///{Path(data_dir).resolve() / DB_FILE}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redact(url: str) -> str:
    """The URL without its password, for logs and describe()."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
