"""OANDA v20 venue: adapter on oandapyV20, instrument and reject mapping, config."""

from venues.oanda.adapter import OandaAdapter
from venues.oanda.config import OandaConfig, register_environment

__all__ = ["OandaAdapter", "OandaConfig", "register_environment"]
