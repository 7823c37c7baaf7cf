"""Pre-trade risk controls, positions and P&L, the kill switch and circuit breakers.

The engine knows nothing of this package: `app/wiring_risk.py` builds one
`RiskControls` for the venue's OMS and installs it into the OMS's extension
points (pre-trade checks, event listeners, command handlers). Everything here
derives its state from commands and events, so a journal replay rebuilds it.

Modules:

- `settings`  the `risk:` configuration section (pydantic) and its loader;
- `limits`    resolving limits per account / instrument / session;
- `scaling`   money as e8 integers, exact conversion factors;
- `positions` per-instrument, per-account and per-account x instrument state;
- `throttle`  token buckets on command timestamps;
- `checks`    the pre-trade check (`PreTradeRisk`: check_new / check_replace);
- `killswitch`, `commands`  trading states per scope; the KillSwitch / VenueStatus
  commands and the RiskStateChanged / VenueStatusChanged events;
- `circuit`   circuit breakers;
- `audit`, `metrics`  the audit trail; Prometheus counters (default registry);
- `controls`  `RiskControls`: the whole, with the listener, handlers and queries.
"""

from risk.commands import KillSwitch, RiskStateChanged, VenueStatus, VenueStatusChanged
from risk.controls import RiskControls, build_risk_controls
from risk.settings import CHECKS, RiskSettings, load_risk_section

__all__ = [
    "RiskControls", "build_risk_controls", "RiskSettings", "load_risk_section", "CHECKS",
    "KillSwitch", "VenueStatus", "RiskStateChanged", "VenueStatusChanged",
]
