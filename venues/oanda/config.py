"""Configuration of the OANDA adapter, and how it points oandapyV20 at a host.

oandapyV20 0.7.2 picks its hosts from the module-level table
``oandapyV20.oandapyV20.TRADING_ENVIRONMENTS`` ("practice", "live"), read at
request time. To reach a simulator (or any other host) we add an entry to that
table - the library itself stays unmodified - and pass its name as the API's
``environment``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from oandapyV20.oandapyV20 import TRADING_ENVIRONMENTS


def register_environment(name: str, api_url: str, stream_url: str | None = None) -> str:
    """Add (or update) an oandapyV20 trading environment; returns its name."""
    TRADING_ENVIRONMENTS[name] = {"api": api_url.rstrip("/"), "stream": (stream_url or api_url).rstrip("/")}
    return name


@dataclass(frozen=True)
class OandaConfig:
    account_id: str
    token: str
    environment: str = "practice"  # "practice", "live", or a name given to register_environment
    api_url: str | None = None  # set to use another host (e.g. the simulator)
    stream_url: str | None = None  # defaults to api_url
    venue_name: str = "oanda"
    request_timeout: float = 10.0  # seconds a REST call may take before it counts as timed out
    connect_timeout: float = 5.0  # seconds for TCP connect, and for connect() to see the stream live
    stream_read_timeout: float = 20.0  # silence on a stream this long means it is dead (OANDA beats every 5 s)
    reconnect_initial: float = 0.2  # stream reconnect back-off, doubling up to reconnect_max
    reconnect_max: float = 5.0
    reconcile_attempts: int = 5  # lookups by client order id after an unanswered submit
    reconcile_delay: float = 0.2
    rate_limit_cooldown: float = 1.0  # wait this long after a 429 without Retry-After
    max_workers: int = 4  # threads running the synchronous oandapyV20 calls
    instrument_aliases: Mapping[str, str] = field(default_factory=dict)  # our symbol -> OANDA instrument

    def environment_name(self) -> str:
        """The oandapyV20 environment to use, registering api_url/stream_url if given."""
        if self.api_url is None:
            if self.environment not in TRADING_ENVIRONMENTS:
                raise ValueError(f"unknown OANDA environment {self.environment!r}")
            return self.environment
        name = f"fixvenue:{self.api_url.rstrip('/')}"
        return register_environment(name, self.api_url, self.stream_url)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "OandaConfig":
        """Build from a YAML/JSON mapping; unknown keys are an error, not silently ignored."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown OANDA config keys: {sorted(unknown)}")
        return cls(**dict(data))
