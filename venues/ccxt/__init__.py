"""CCXT venues: one adapter for any ccxt.async_support exchange id (proven on Binance spot)."""

from venues.ccxt.adapter import CcxtAdapter
from venues.ccxt.config import CcxtConfig, binance_spot_options

__all__ = ["CcxtAdapter", "CcxtConfig", "binance_spot_options"]
