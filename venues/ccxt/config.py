"""Configuration of the CCXT adapter (any exchange id ccxt.async_support knows).

`base_url` points an exchange at another host (the simulator) by rebasing every
entry of the exchange's ``urls['api']`` table onto it, keeping each entry's path
(Binance: ``https://api.binance.com/api/v3`` -> ``http://127.0.0.1:P/api/v3``).
`api_urls` overrides single entries by key and wins over `base_url`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


def binance_spot_options() -> dict[str, Any]:
    """ccxt options so binance only loads spot markets and needs no sapi/fapi endpoints."""
    return {
        "defaultType": "spot",
        "fetchMarkets": {"types": ["spot"]},
        "fetchCurrencies": False,
        "fetchMargins": False,
    }


@dataclass(frozen=True)
class CcxtConfig:
    exchange_id: str  # "binance", "kraken", ...
    api_key: str
    secret: str
    password: str | None = None
    venue_name: str | None = None  # defaults to exchange_id
    base_url: str | None = None  # rebase every urls['api'] entry onto this host
    api_urls: Mapping[str, str] = field(default_factory=dict)  # per-key urls['api'] overrides
    options: Mapping[str, Any] = field(default_factory=dict)  # ccxt exchange options
    timeout: float = 10.0  # seconds per request (ccxt `timeout`)
    symbols: tuple[str, ...] = ()  # symbols to watch for fills / open orders besides those we trade
    symbol_aliases: Mapping[str, str] = field(default_factory=dict)  # our symbol -> ccxt unified symbol
    client_id_param: str = "clientOrderId"  # ccxt's unified client-order-id parameter
    client_id_pattern: str = r"^[A-Za-z0-9_\-]{1,36}$"  # Binance's newClientOrderId rule
    poll_interval: float = 1.0  # seconds between order / fill polls for events()
    reconcile_attempts: int = 5
    reconcile_delay: float = 0.2
    rate_limit_cooldown: float = 1.0  # after a 429 without Retry-After
    close_grace_ms: int | None = None  # ccxt's timeout_on_exit (TLS teardown wait); None keeps ccxt's default

    @property
    def name(self) -> str:
        return self.venue_name or self.exchange_id

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "CcxtConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown CCXT config keys: {sorted(unknown)}")
        values = dict(data)
        if "symbols" in values:
            values["symbols"] = tuple(values["symbols"])
        return cls(**values)
