"""Pre-trade risk controls, positions and P&L, the kill switch and circuit breakers.

The engine knows nothing of this package: `app/wiring_risk.py` builds a
`RiskControls` for the venue's OMS and installs it into the OMS's extension
points (pre-trade checks, event listeners, command handlers). Everything here
derives its state from commands and events, so a journal replay rebuilds it.
"""

from risk.commands import KillSwitch, RiskStateChanged, VenueStatus, VenueStatusChanged
from risk.controls import RiskControls, build_risk_controls
from risk.settings import CHECKS, RiskSettings, load_risk_section

__all__ = [
    "RiskControls", "build_risk_controls", "RiskSettings", "load_risk_section", "CHECKS",
    "KillSwitch", "VenueStatus", "RiskStateChanged", "VenueStatusChanged",
]
