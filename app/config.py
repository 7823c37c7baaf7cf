"""Venue configuration: the YAML schema, its validation, and the engine objects it builds.

`load_config(path)` reads a YAML file and validates it against `VenueConfig`
(pydantic, unknown keys refused). Any problem raises `ConfigError`, whose
message names the file, the key path and the reason, e.g.

    config error in config/venue.yaml at instruments[2].tick_size: must be positive

Each part of the venue owns the schema of its section (FIX sessions in `fix/`,
REST in `api/`, risk in `risk/`, routing in `venues/`); this module composes
them, so the whole file is checked before anything starts.
"""

from __future__ import annotations

import datetime as _dt
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.instrument import PPM, Instrument, TradingSession
from engine.oms import AccountSpec
from engine.translate import STP_MODES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "venue.yaml"
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


class ConfigError(Exception):
    """A configuration problem: names the file, the key and the reason."""

    def __init__(self, path: str | os.PathLike, key: str, reason: str) -> None:
        self.path = str(path)
        self.key = key
        self.reason = reason
        where = f" at {key}" if key else ""
        super().__init__(f"config error in {self.path}{where}: {reason}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionModel(Strict):
    open: str = "00:00"
    close: str = "24:00"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))

    @field_validator("open", "close")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parts = v.split(":")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError("expected HH:MM")
        h, m = int(parts[0]), int(parts[1])
        if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
            raise ValueError("expected a time between 00:00 and 24:00")
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if d.lower() not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown weekday(s) {bad}; use {list(WEEKDAYS)}")
        if not v:
            raise ValueError("at least one trading day is needed")
        return [d.lower() for d in v]

    @model_validator(mode="after")
    def _order(self):
        if _seconds(self.open) >= _seconds(self.close):
            raise ValueError("open must be before close")
        return self

    def build(self) -> TradingSession:
        return TradingSession(_seconds(self.open), _seconds(self.close), frozenset(WEEKDAYS[d] for d in self.days))


def _seconds(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 3600 + int(m) * 60


class InstrumentModel(Strict):
    symbol: str = Field(min_length=1, max_length=32)
    asset_class: str = Field(pattern="^(crypto|fx|equity|future|other)$")
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    price_precision: int = Field(ge=0, le=12)
    reference_price: Decimal | None = None
    market_protection_bps: int = Field(default=500, ge=1, le=10_000)
    session: SessionModel = Field(default_factory=SessionModel)
    description: str = ""

    @field_validator("tick_size", "lot_size", "min_qty", "max_qty")
    @classmethod
    def _positive(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or v <= 0:
            raise ValueError("must be a positive number")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        try:
            self.build()
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        if self.reference_price is not None:
            t = self.reference_price / self.tick_size
            if self.reference_price <= 0 or t != t.to_integral_value():
                raise ValueError("reference_price must be a positive multiple of tick_size")
        return self

    def build(self) -> Instrument:
        return Instrument(
            symbol=self.symbol, base=self.base, quote=self.quote, tick_size=self.tick_size,
            lot_size=self.lot_size, min_qty=self.min_qty, max_qty=self.max_qty, asset_class=self.asset_class,
            price_precision=self.price_precision, session=self.session.build(),
            market_protection_bps=self.market_protection_bps, description=self.description,
        )


class FeeTierModel(Strict):
    maker_bps: Decimal
    taker_bps: Decimal

    @field_validator("maker_bps", "taker_bps")
    @classmethod
    def _range(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or abs(v) > 1000:
            raise ValueError("fee must be between -1000 and 1000 bps")
        if (v * 100) != (v * 100).to_integral_value():
            raise ValueError("fee resolution is 0.01 bps")
        return v


class AccountModel(Strict):
    id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = ""
    fee_tier: str
    stp: str = "cancel_newest"
    balances: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("stp")
    @classmethod
    def _stp(cls, v: str) -> str:
        if v not in STP_MODES:
            raise ValueError(f"unknown self-trade prevention mode; use one of {sorted(STP_MODES)}")
        return v


class VenueSection(Strict):
    name: str = "fixvenue"
    data_dir: str = "var"


class VenueConfig(Strict):
    venue: VenueSection = Field(default_factory=VenueSection)
    instruments: list[InstrumentModel] = Field(min_length=1)
    fee_tiers: dict[str, FeeTierModel] = Field(min_length=1)
    accounts: list[AccountModel] = Field(min_length=1)
    # sections owned by the other layers; each is validated by its own schema (see module docstring)
    fix: dict[str, Any] | None = None
    rest: dict[str, Any] | None = None
    risk: dict[str, Any] | None = None
    routing: dict[str, Any] | None = None
    storage: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _references(self):
        syms = [i.symbol for i in self.instruments]
        dup = {s for s in syms if syms.count(s) > 1}
        if dup:
            raise ValueError(f"duplicate instrument symbol(s) {sorted(dup)}")
        ids = [a.id for a in self.accounts]
        dup = {s for s in ids if ids.count(s) > 1}
        if dup:
            raise ValueError(f"duplicate account id(s) {sorted(dup)}")
        for a in self.accounts:
            if a.fee_tier not in self.fee_tiers:
                raise ValueError(f"account {a.id!r} names unknown fee_tier {a.fee_tier!r}")
        return self

    # --- engine objects -------------------------------------------------------

    def build_instruments(self) -> list[Instrument]:
        return [i.build() for i in self.instruments]

    def build_accounts(self) -> list[AccountSpec]:
        out = []
        for a in self.accounts:
            tier = self.fee_tiers[a.fee_tier]
            out.append(AccountSpec(a.id, int(tier.maker_bps * 100), int(tier.taker_bps * 100), STP_MODES[a.stp]))
        return out

    def reference_prices(self) -> dict[str, Decimal]:
        return {i.symbol: i.reference_price for i in self.instruments if i.reference_price is not None}


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _section_loc(loc: tuple) -> tuple:
    # pydantic reports model-level validator failures with an empty loc or a type tag; keep real keys only
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith(("function-", "model-"))))


def parse_config(data: Any, path: str | os.PathLike = "<config>") -> VenueConfig:
    if not isinstance(data, dict):
        raise ConfigError(path, "", "the file must hold a mapping of sections (venue, instruments, ...)")
    try:
        cfg = VenueConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err.get("msg", "invalid value")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err.get("type") == "extra_forbidden":
            msg = "unknown key (not part of the schema)"
        raise ConfigError(path, _format_loc(_section_loc(tuple(err.get("loc", ())))), msg) from None
    # sections owned by other layers validate themselves
    for section, loader in SECTION_LOADERS.items():
        raw = getattr(cfg, section)
        if raw is not None and loader is not None:
            try:
                loader(raw, cfg)
            except ValidationError as exc:
                err = exc.errors()[0]
                msg = err.get("msg", "invalid value").removeprefix("Value error, ")
                if err.get("type") == "extra_forbidden":
                    msg = "unknown key (not part of the schema)"
                key = section + ("." + _format_loc(_section_loc(tuple(err.get("loc", ())))) if err.get("loc") else "")
                raise ConfigError(path, key.rstrip("."), msg) from None
            except ValueError as exc:
                raise ConfigError(path, section, str(exc)) from None
    return cfg


def load_config(path: str | os.PathLike | None = None) -> VenueConfig:
    p = Path(path) if path else DEFAULT_CONFIG
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(p, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(p, "", f"cannot read file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(p, where, f"not valid YAML: {problem}") from None
    return parse_config(data, p)


# section name -> callable(raw_section_dict, venue_config) that validates (raising
# pydantic ValidationError or ValueError); filled by the layers as they are wired in.
SECTION_LOADERS: dict[str, Any] = {"fix": None, "rest": None, "risk": None, "routing": None, "storage": None}
from engine.store.settings import load_section as _load_storage_section  # noqa: E402 (storage: engine/store)
SECTION_LOADERS["storage"] = _load_storage_section
from api.settings import load_rest_section as _load_rest  # noqa: E402
SECTION_LOADERS["rest"] = _load_rest
from fix.venue_config import load_section as _load_fix  # noqa: E402 (fix: the venue's FIX sessions)
SECTION_LOADERS["fix"] = _load_fix
from venues.router.policy import load_section as _load_routing  # noqa: E402 (routing: venues/router)
SECTION_LOADERS["routing"] = _load_routing
from risk.settings import load_risk_section as _load_risk  # noqa: E402 (risk: limits, kill switch, breakers)
SECTION_LOADERS["risk"] = _load_risk


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


__all__ = ["ConfigError", "VenueConfig", "load_config", "parse_config", "DEFAULT_CONFIG", "PROJECT_ROOT", "PPM"]
