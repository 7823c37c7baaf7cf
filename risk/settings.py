"""The `risk:` section of the venue configuration: which controls run, and their limits.

Validated with the rest of the file at start-up (app/config.py calls
`load_risk_section` through SECTION_LOADERS), so a limit naming an unknown
account or instrument, or a percentage out of range, stops the venue with file,
key and reason. This module imports only pydantic and the standard library.

Limits are resolved from the most specific place that sets them:

    accounts.<A>.instruments.<S>  >  accounts.<A>  >  instruments.<S>  >  defaults

Per-order and per-position limits (quantity, notional, collar, position, reduce
only, duplicate window, restricted) may be set at all four levels; account-wide
limits (open orders, rates, credit, margin, leverage, daily loss) at `defaults`
and `accounts.<A>`; session (gateway connection) rates at `defaults` and
`sessions.<origin>`. A limit left unset is not enforced. Every check can also be
switched off as a whole in `checks:`.

Quantities are in the instrument's units (e.g. BTC), prices in its quote
currency, money amounts in `margin_currency`, percentages as numbers (5 = 5%).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# every check the pre-trade layer runs, in evaluation order; `checks:` switches them
CHECKS: tuple[str, ...] = (
    "kill_switch",        # ACTIVE / REDUCING / HALTED per scope (global, account, session, instrument)
    "order_rate",         # new orders per window, per session and per account
    "message_rate",       # new orders + replaces per window, per session and per account
    "restricted",         # restricted instruments per account
    "max_order_qty",
    "max_order_notional",
    "price_collar",       # distance from the reference price
    "max_open_orders",    # per account
    "reduce_only",        # the order's reduce-only flag and configured reduce-only state
    "position_limit",     # long / short, counting working orders
    "credit_limit",       # gross exposure (positions at mark + working orders) against a cap
    "margin",             # initial margin and max leverage against equity
    "daily_loss",         # realized + unrealized since the start of the day
    "duplicate_order",    # identical order (account/symbol/side/qty/price) inside a window
)

SCOPES = ("global", "account", "session", "instrument")
STATES = ("ACTIVE", "REDUCING", "HALTED")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _positive(v: Decimal | None, what: str = "value") -> Decimal | None:
    if v is not None and (not v.is_finite() or v <= 0):
        raise ValueError(f"{what} must be a positive number")
    return v


class Rate(_Strict):
    """`count` messages per `per_seconds` on average, in bursts of up to `burst` (default
    `count`): a token bucket (see risk/throttle.py for the exact guarantee)."""

    count: int = Field(ge=1, le=100_000_000)
    per_seconds: Decimal = Decimal(1)
    burst: int | None = Field(default=None, ge=1, le=100_000_000)

    @field_validator("per_seconds")
    @classmethod
    def _window(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or v <= 0 or v > 86_400:
            raise ValueError("per_seconds must be in (0, 86400]")
        return v


class OrderLimits(_Strict):
    """Limits on one account's orders and position in one instrument."""

    max_order_qty: Decimal | None = None
    max_order_notional: Decimal | None = None
    price_collar_pct: Decimal | None = None
    collar_reference: Literal["last", "mid", "reference"] | None = None
    max_position_long: Decimal | None = None
    max_position_short: Decimal | None = None
    reduce_only: bool | None = None
    restricted: bool | None = None
    duplicate_window_ms: int | None = Field(default=None, ge=0, le=86_400_000)

    @field_validator("max_order_qty", "max_order_notional")
    @classmethod
    def _pos(cls, v):
        return _positive(v)

    @field_validator("max_position_long", "max_position_short")
    @classmethod
    def _nonneg(cls, v):
        if v is not None and (not v.is_finite() or v < 0):
            raise ValueError("must be zero or a positive number")
        return v

    @field_validator("price_collar_pct")
    @classmethod
    def _pct(cls, v):
        if v is not None and (not v.is_finite() or v <= 0 or v > 1000):
            raise ValueError("must be a percentage in (0, 1000]")
        return v


class AccountLimits(OrderLimits):
    """Account-wide limits (plus defaults for its per-instrument limits)."""

    max_open_orders: int | None = Field(default=None, ge=0, le=10_000_000)
    order_rate: Rate | None = None
    message_rate: Rate | None = None
    credit_limit: Decimal | None = None            # max gross exposure, margin currency
    initial_margin_pct: Decimal | None = None
    maintenance_margin_pct: Decimal | None = None
    max_leverage: Decimal | None = None
    daily_loss_limit: Decimal | None = None        # margin currency, positive number

    @field_validator("credit_limit", "daily_loss_limit", "max_leverage")
    @classmethod
    def _pos2(cls, v):
        return _positive(v)

    @field_validator("initial_margin_pct", "maintenance_margin_pct")
    @classmethod
    def _margin(cls, v):
        if v is not None and (not v.is_finite() or v <= 0 or v > 100):
            raise ValueError("must be a percentage in (0, 100]")
        return v


class DefaultLimits(AccountLimits):
    session_order_rate: Rate | None = None
    session_message_rate: Rate | None = None


class SessionLimits(_Strict):
    order_rate: Rate | None = None
    message_rate: Rate | None = None


class AccountSection(AccountLimits):
    restricted_instruments: list[str] = Field(default_factory=list)
    instruments: dict[str, OrderLimits] = Field(default_factory=dict)


class BreakerModel(_Strict):
    """Halt an instrument when its trade price moves more than `move_pct` within
    `window_s` seconds; reopen it `cooldown_s` seconds later."""

    move_pct: Decimal
    window_s: Decimal = Decimal(60)
    cooldown_s: Decimal = Decimal(300)

    @field_validator("move_pct")
    @classmethod
    def _pct(cls, v):
        if not v.is_finite() or v <= 0 or v > 1000:
            raise ValueError("must be a percentage in (0, 1000]")
        return v

    @field_validator("window_s", "cooldown_s")
    @classmethod
    def _secs(cls, v):
        if not v.is_finite() or v <= 0 or v > 86_400:
            raise ValueError("must be in (0, 86400] seconds")
        return v


class CircuitBreakerSection(_Strict):
    enabled: bool = True
    default: BreakerModel | None = None
    instruments: dict[str, BreakerModel | None] = Field(default_factory=dict)   # None = no breaker


class AutoTrigger(_Strict):
    enabled: bool = True
    state: Literal["REDUCING", "HALTED"] = "HALTED"


class RejectStormTrigger(AutoTrigger):
    max_rejects: int = Field(default=50, ge=1, le=1_000_000)
    window_s: Decimal = Decimal(10)
    scope: Literal["session", "account"] = "session"

    @field_validator("window_s")
    @classmethod
    def _secs(cls, v):
        if not v.is_finite() or v <= 0 or v > 86_400:
            raise ValueError("must be in (0, 86400] seconds")
        return v


class VenueLossTarget(_Strict):
    scope: Literal["global", "account", "session", "instrument"] = "instrument"
    targets: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _targets(self):
        if self.scope != "global" and not self.targets:
            raise ValueError(f"scope {self.scope!r} needs at least one target")
        return self


class VenueLossTrigger(AutoTrigger):
    venues: dict[str, VenueLossTarget] = Field(default_factory=dict)
    release_on_reconnect: bool = False


class AutoKillSection(_Strict):
    daily_loss: AutoTrigger = Field(default_factory=lambda: AutoTrigger(enabled=False))
    margin_call: AutoTrigger = Field(default_factory=lambda: AutoTrigger(enabled=False, state="REDUCING"))
    reject_storm: RejectStormTrigger = Field(default_factory=lambda: RejectStormTrigger(enabled=False))
    venue_loss: VenueLossTrigger = Field(default_factory=lambda: VenueLossTrigger(enabled=False))


class RiskSettings(_Strict):
    enabled: bool = True
    checks: dict[str, bool] = Field(default_factory=dict)
    margin_currency: str = "USD"
    conversion_rates: dict[str, Decimal] = Field(default_factory=dict)   # 1 unit of ccy in margin currency
    mark_price: Literal["last", "mid"] = "last"
    # how often (venue time) risk marks are refreshed and every account revalued; 0 = on every trade
    mark_interval_ms: int = Field(default=1000, ge=0, le=3_600_000)
    day_start_utc: str = "00:00"
    defaults: DefaultLimits = Field(default_factory=DefaultLimits)
    instruments: dict[str, OrderLimits] = Field(default_factory=dict)
    accounts: dict[str, AccountSection] = Field(default_factory=dict)
    sessions: dict[str, SessionLimits] = Field(default_factory=dict)
    circuit_breakers: CircuitBreakerSection = Field(default_factory=CircuitBreakerSection)
    auto_kill: AutoKillSection = Field(default_factory=AutoKillSection)

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, v: dict[str, bool]) -> dict[str, bool]:
        bad = sorted(set(v) - set(CHECKS))
        if bad:
            raise ValueError(f"unknown check(s) {bad}; known: {list(CHECKS)}")
        return v

    @field_validator("conversion_rates")
    @classmethod
    def _rates(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for ccy, r in v.items():
            if not r.is_finite() or r <= 0:
                raise ValueError(f"conversion rate for {ccy} must be a positive number")
        return v

    @field_validator("day_start_utc")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parts = v.split(":")
        ok = len(parts) == 2 and all(p.isdigit() for p in parts)
        if not ok or not (0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60):
            raise ValueError("expected HH:MM between 00:00 and 23:59")
        return v

    def enabled_checks(self) -> frozenset[str]:
        if not self.enabled:
            return frozenset()
        return frozenset(c for c in CHECKS if self.checks.get(c, True))

    def day_start_s(self) -> int:
        h, m = self.day_start_utc.split(":")
        return int(h) * 3600 + int(m) * 60

    def validate_against(self, symbols: set[str], accounts: set[str], quote_ccys: dict[str, str]) -> None:
        """Cross-check names against the venue's instruments and accounts."""
        for s in self.instruments:
            if s not in symbols:
                raise ValueError(f"instruments: unknown instrument {s!r}")
        for a, sec in self.accounts.items():
            if a not in accounts:
                raise ValueError(f"accounts: unknown account {a!r}")
            for s in list(sec.instruments) + list(sec.restricted_instruments):
                if s not in symbols:
                    raise ValueError(f"accounts.{a}: unknown instrument {s!r}")
        for s in self.circuit_breakers.instruments:
            if s not in symbols:
                raise ValueError(f"circuit_breakers.instruments: unknown instrument {s!r}")
        for sym, ccy in quote_ccys.items():
            if ccy != self.margin_currency and ccy not in self.conversion_rates:
                raise ValueError(f"instrument {sym!r} is quoted in {ccy} but conversion_rates has no rate "
                                 f"from {ccy} to the margin currency {self.margin_currency}")
        vl = self.auto_kill.venue_loss
        for name, tgt in vl.venues.items():
            for t in tgt.targets:
                if tgt.scope == "instrument" and t not in symbols:
                    raise ValueError(f"auto_kill.venue_loss.venues.{name}: unknown instrument {t!r}")
                if tgt.scope == "account" and t not in accounts:
                    raise ValueError(f"auto_kill.venue_loss.venues.{name}: unknown account {t!r}")


def load_risk_section(raw: dict[str, Any] | None, venue_config: Any = None) -> RiskSettings:
    """SECTION_LOADERS["risk"]: validate the section (and the names it uses)."""
    settings = RiskSettings.model_validate(raw or {})
    if venue_config is not None:
        symbols = {i.symbol for i in venue_config.instruments}
        accounts = {a.id for a in venue_config.accounts}
        quotes = {i.symbol: i.quote for i in venue_config.instruments}
        settings.validate_against(symbols, accounts, quotes)
    return settings
