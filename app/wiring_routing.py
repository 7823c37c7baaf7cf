"""Wiring of the smart order router: adapters and router from the `routing:` section.

`wire(venue)` validates the section, builds the deterministic core
(`SmartOrderRouter`) and installs it as `venue.oms.router` — with its command
handlers, its OMS listener and its snapshot extension, so recovery and
`fixvenue replay` rebuild routed orders exactly — and, unless the venue is
built offline (replay), one adapter per configured external venue and the
`RouterDispatcher` component that connects them at start and closes them at
stop. `venue.services["router"]` is the dispatcher (halt / resume / status /
children_of / audit_of); `venue.services["router_core"]` the core.

If risk/ is wired (`venue.services["risk"]` with `venue_status_command`), the
router tells it when an external venue is lost or back (risk's VenueStatus
command, deferred inside the router's own journaled VenueState command), so a
`risk.auto_kill.venue_loss` rule can act on it.
"""

from __future__ import annotations

import logging

from app.config import ConfigError
from venues.router.dispatch import RouterDispatcher
from venues.router.policy import RoutingSettings, load_section
from venues.router.router import SmartOrderRouter

log = logging.getLogger("fixvenue.routing")


def build_adapters(settings: RoutingSettings) -> dict:
    adapters = {}
    for name, v in settings.venues.items():
        cfg = v.adapter_config(name)
        if v.type == "oanda":
            from venues.oanda import OandaAdapter

            adapters[name] = OandaAdapter(cfg)
        else:
            from venues.ccxt import CcxtAdapter

            adapters[name] = CcxtAdapter(cfg)
    return adapters


def wire(venue) -> RouterDispatcher:
    raw = venue.config.routing or {}
    try:
        settings = load_section(raw, venue.config)
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise ConfigError(venue.config_path, "routing", str(exc).splitlines()[0]) from None
    risk = venue.services.get("risk")
    hook = None
    if settings.notify_risk and risk is not None and hasattr(risk, "venue_status_command"):
        def hook(ts: int, name: str, up: bool, reason: str):
            return risk.venue_status_command(name, up, reason, origin="router", ts=ts)
    core = SmartOrderRouter(venue.oms, settings, venue_status_hook=hook).install()
    venue.services.setdefault("snapshot_extensions", {})["router"] = core
    offline = bool(venue.overrides.get("offline"))
    try:
        adapters = {} if offline else build_adapters(settings)
    except (TypeError, ValueError) as exc:
        raise ConfigError(venue.config_path, "routing.venues", str(exc).splitlines()[0]) from None
    dispatcher = RouterDispatcher(core, venue.sequencer, adapters, venue.instruments, clock=venue.clock)
    venue.services["router"] = dispatcher
    venue.services["router_core"] = core
    if not offline:
        venue.add(dispatcher)
    return dispatcher
