"""The `routing:` section of the venue config: external venues and per-instrument policies.

    routing:
      account: ROUTER              # internal routing account (only needed when a policy
                                   # places children on our own book: venue "internal")
      internal_accounts: [MM1]     # accounts whose orders always stay on the internal book
      default: {policy: internal}
      on_venue_loss: keep          # keep | cancel | failover (see below)
      venues:
        oanda:
          type: oanda              # venues.oanda.OandaConfig fields under `config`
          taker_fee_bps: "0.8"     # what the venue charges us (best-price comparison)
          config: {account_id: ..., token_env: OANDA_TOKEN, api_url: http://127.0.0.1:9001}
        binance:
          type: ccxt               # venues.ccxt.CcxtConfig fields under `config`
          taker_fee_bps: "10"
          config: {exchange_id: binance, api_key_env: K, secret_env: S, base_url: ...,
                   symbol_aliases: {BTC-USD: BTC/USDT}}
      instruments:
        EUR/USD: {policy: venue, venue: oanda, failover: [internal]}
        BTC-USD: {policy: split, venues: [internal, binance, oanda]}
        ETH-USD: {policy: best_price, venues: [internal, binance]}

Policies:

* ``internal``   — the order is not routed: it rests on / matches the internal book.
* ``venue``      — the whole order goes to `venue`; if that venue refuses it, cannot
                   be reached, or is down, the next one in `failover` takes it.
* ``best_price`` — the unrouted quantity sweeps the combined, fee-adjusted price
                   ladder of `venues` (the internal book and external books), best
                   effective price first; what no displayed level covers goes to the
                   venue with the best fee-adjusted top of book.
* ``split``      — the quantity is split across `venues` pro rata to the liquidity
                   each displays within the order's limit price (for market orders:
                   within the `depth` levels read).

``on_venue_loss`` says what happens to children working at a venue whose
connection is lost: ``keep`` leaves them there and reconciles on reconnect;
``cancel`` cancels them as soon as the venue answers again and ends the
parent's remainder; ``failover`` cancels them likewise and routes the unfilled
remainder to the next venue. A child is never re-routed before its venue has
confirmed it is gone: an order in doubt is never duplicated.

`load_section(raw, venue_config)` validates (pydantic, unknown keys refused) and
is registered as the config's SECTION_LOADERS["routing"].
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from venues.router.children import INTERNAL

POLICIES = ("internal", "venue", "best_price", "split")
_SECRET_KEYS = {"oanda": ("token",), "ccxt": ("api_key", "secret", "password")}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VenueModel(_Strict):
    type: Literal["oanda", "ccxt"]
    taker_fee_bps: Decimal = Decimal(0)
    maker_fee_bps: Decimal = Decimal(0)
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("taker_fee_bps", "maker_fee_bps")
    @classmethod
    def _fee(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or abs(v) > 1000:
            raise ValueError("fee must be between -1000 and 1000 bps")
        if (v * 100) != (v * 100).to_integral_value():
            raise ValueError("fee resolution is 0.01 bps")
        return v

    @property
    def taker_fee_ppm(self) -> int:
        return int(self.taker_fee_bps * 100)

    def adapter_config(self, name: str):
        """The adapter's own config object (secrets read from `<key>_env` variables)."""
        data = dict(self.config)
        for key in _SECRET_KEYS[self.type]:
            env = data.pop(f"{key}_env", None)
            if env is not None:
                if key in data:
                    raise ValueError(f"venue {name!r}: give {key} or {key}_env, not both")
                value = os.environ.get(str(env))
                if value is None:
                    raise ValueError(f"venue {name!r}: environment variable {env!r} ({key}) is not set")
                data[key] = value
        if self.type == "oanda":
            from venues.oanda.config import OandaConfig

            data.setdefault("venue_name", name)
            return OandaConfig.from_mapping(data)
        from venues.ccxt.config import CcxtConfig, binance_spot_options

        data.setdefault("venue_name", name)
        if data.get("exchange_id") == "binance" and "options" not in data:
            data["options"] = binance_spot_options()
        return CcxtConfig.from_mapping(data)


class PolicyModel(_Strict):
    policy: Literal["internal", "venue", "best_price", "split"] = "internal"
    venue: str | None = None                 # policy venue
    failover: list[str] = Field(default_factory=list)
    venues: list[str] = Field(default_factory=list)   # best_price / split
    depth: int = Field(default=10, ge=1, le=100)     # book levels read from each venue
    min_child_qty: Decimal | None = None             # smaller legs are merged into the best one

    @model_validator(mode="after")
    def _shape(self):
        if self.policy == "venue":
            if not self.venue:
                raise ValueError("policy 'venue' needs `venue`")
            if self.venues:
                raise ValueError("policy 'venue' takes `venue` and `failover`, not `venues`")
            chain = [self.venue, *self.failover]
            if len(set(chain)) != len(chain):
                raise ValueError("a venue appears twice in venue + failover")
        elif self.policy in ("best_price", "split"):
            if not self.venues:
                raise ValueError(f"policy {self.policy!r} needs `venues`")
            if self.venue or self.failover:
                raise ValueError(f"policy {self.policy!r} takes `venues`, not `venue`/`failover`")
            if len(set(self.venues)) != len(self.venues):
                raise ValueError("a venue appears twice in `venues`")
        elif self.venue or self.failover or self.venues:
            raise ValueError("policy 'internal' takes no venues")
        return self

    def chain(self) -> list[str]:
        """Every venue this policy may use, in preference order."""
        if self.policy == "venue":
            return [self.venue, *self.failover]  # type: ignore[list-item]
        return list(self.venues)


class RoutingSettings(_Strict):
    account: str = "ROUTER"
    internal_accounts: list[str] = Field(default_factory=list)   # never routed (e.g. market makers)
    child_prefix: str = Field(default="FV", pattern=r"^[A-Za-z0-9]{1,6}$")
    default: PolicyModel = Field(default_factory=PolicyModel)
    instruments: dict[str, PolicyModel] = Field(default_factory=dict)
    venues: dict[str, VenueModel] = Field(default_factory=dict)
    on_venue_loss: Literal["keep", "cancel", "failover"] = "keep"
    notify_risk: bool = True                 # tell risk/ when a venue is lost or back (VenueStatus)
    quote_timeout_s: float = Field(default=1.0, gt=0, le=30)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    rate_limit_retries: int = Field(default=2, ge=0, le=10)
    rate_limit_max_wait_s: float = Field(default=2.0, ge=0, le=60)
    fill_grace_s: float = Field(default=0.25, ge=0, le=10)
    reconcile_interval_s: float = Field(default=30.0, gt=0, le=3600)
    retry_initial_s: float = Field(default=0.1, gt=0, le=10)
    retry_max_s: float = Field(default=2.0, gt=0, le=60)

    @model_validator(mode="after")
    def _venue_names(self):
        for name in self.venues:
            if name == INTERNAL or not name or not all(ch.isalnum() or ch in "-_." for ch in name):
                raise ValueError(f"venue name {name!r} is reserved or not [A-Za-z0-9._-]")
        for sym, pol in [("default", self.default), *self.instruments.items()]:
            for v in pol.chain():
                if v != INTERNAL and v not in self.venues:
                    raise ValueError(f"policy of {sym} names unknown venue {v!r} (known: "
                                     f"{sorted(self.venues) + [INTERNAL]})")
        return self

    def policy_for(self, symbol: str) -> PolicyModel:
        return self.instruments.get(symbol, self.default)

    def uses_internal_children(self, symbols) -> bool:
        return any(self.policy_for(s).policy != "internal" and INTERNAL in self.policy_for(s).chain() for s in symbols)


def load_section(raw: dict, venue_config=None) -> RoutingSettings:
    """Validate the `routing` section (SECTION_LOADERS["routing"]); raises ValueError."""
    settings = RoutingSettings.model_validate(raw or {})
    if venue_config is not None:
        symbols = {i.symbol for i in venue_config.instruments}
        unknown = sorted(set(settings.instruments) - symbols)
        if unknown:
            raise ValueError(f"routing.instruments names unknown instrument(s) {unknown}")
        accounts = {a.id for a in venue_config.accounts}
        unknown = sorted(set(settings.internal_accounts) - accounts)
        if unknown:
            raise ValueError(f"routing.internal_accounts names unknown account(s) {unknown}")
        if settings.uses_internal_children(symbols) and settings.account not in accounts:
            raise ValueError(f"a policy places children on the internal book: routing.account "
                             f"{settings.account!r} must be one of the configured accounts")
        for name, v in settings.venues.items():
            try:
                v.adapter_config(name) if not _has_env_refs(v) else None
            except (TypeError, ValueError) as exc:
                raise ValueError(f"routing.venues.{name}.config: {exc}") from None
    return settings


def _has_env_refs(v: VenueModel) -> bool:
    """Secrets from the environment are checked when the venue is wired, not at config check."""
    return any(k.endswith("_env") for k in v.config)
