"""Wiring of the risk controls: pre-trade checks, positions and P&L, kill switch,
circuit breakers — built from the `risk:` section and plugged into the OMS.

`wire(venue)` validates the section against the venue's instruments and
accounts, builds one `RiskControls` with the accounts' starting balances and
the instruments' reference prices, installs it (`oms.pre_trade`,
`oms.listeners`, the KillSwitch / VenueStatus command handlers) and publishes
it as `venue.services["risk"]` — the REST admin endpoints (kill switch),
account views (positions, balances, summary) and the router's venue-loss
notice use it from there. It also registers as a snapshot extension, so a
restart from a snapshot keeps positions, P&L and kill-switch states (the
journal tail after the snapshot replays through the listener as usual).

Wired before the router and the gateways, so its check runs before any
routing decision and its handlers exist before the journal replays.
"""

from __future__ import annotations

from app.config import ConfigError
from risk.controls import RiskControls
from risk.settings import load_risk_section


class RiskComponent:
    """The risk layer as a venue component: nothing to start (it lives inside the OMS);
    it describes itself at start-up."""

    name = "risk"

    def __init__(self, controls: RiskControls) -> None:
        self.controls = controls

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def describe(self) -> str:
        return self.controls.describe()


def wire(venue) -> RiskControls:
    raw = venue.config.risk or {}
    try:
        settings = load_risk_section(raw, venue.config)
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        msg = errors()[0]["msg"] if callable(errors) else str(exc)
        raise ConfigError(venue.config_path, "risk", msg.removeprefix("Value error, ")) from None
    controls = RiskControls(
        venue.oms,
        settings,
        balances={a.id: dict(a.balances) for a in venue.config.accounts},
        reference_prices=venue.config.reference_prices(),
        clock=venue.clock,
    ).install()
    venue.services["risk"] = controls
    venue.services.setdefault("snapshot_extensions", {})["risk"] = controls
    venue.add(RiskComponent(controls))
    return controls
