"""A venue configuration whose instruments and accounts are those of the engine tests'
random streams (tests/engine/engine_fixtures.py), so a journal written by a bare OMS in
a test can be replayed by `fixvenue replay` and exported by `fixvenue export`."""

from __future__ import annotations

from pathlib import Path

import yaml

from app.config import load_config

CONFIG = {
    "venue": {"name": "persistence-test", "data_dir": "var"},
    "instruments": [
        {"symbol": "BTC-USD", "asset_class": "crypto", "base": "BTC", "quote": "USD", "tick_size": "0.01",
         "lot_size": "0.001", "min_qty": "0.001", "max_qty": "1", "price_precision": 2,
         "market_protection_bps": 300},
        {"symbol": "ETH-USD", "asset_class": "crypto", "base": "ETH", "quote": "USD", "tick_size": "0.05",
         "lot_size": "0.01", "min_qty": "0.01", "max_qty": "10", "price_precision": 2,
         "market_protection_bps": 200},
    ],
    "fee_tiers": {"a": {"maker_bps": "-0.5", "taker_bps": "2"}, "b": {"maker_bps": "1", "taker_bps": "3"},
                  "zero": {"maker_bps": "0", "taker_bps": "0"}},
    "accounts": [
        {"id": "A", "fee_tier": "a", "stp": "cancel_newest", "balances": {"USD": "100000", "BTC": "5"}},
        {"id": "B", "fee_tier": "b", "stp": "cancel_newest", "balances": {"USD": "250000.5", "ETH": "40"}},
        {"id": "C", "fee_tier": "zero", "stp": "cancel_newest"},
        {"id": "OLD", "fee_tier": "zero", "stp": "cancel_oldest"},
        {"id": "BOTH", "fee_tier": "zero", "stp": "cancel_both"},
        {"id": "DEC", "fee_tier": "zero", "stp": "decrement_and_cancel"},
        {"id": "NONE", "fee_tier": "zero", "stp": "none"},
    ],
}


def write_test_config(directory: Path, storage: dict | None = None):
    """Write the YAML (with an optional storage: section) and return (path, VenueConfig)."""
    doc = dict(CONFIG)
    if storage:
        doc["storage"] = storage
    path = Path(directory) / "venue-test.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, load_config(path)
