"""Configuration: the default file loads, and every kind of mistake stops start-up
with the file, the key and the reason."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from app.config import DEFAULT_CONFIG, ConfigError, load_config, parse_config


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def write(tmp_path: Path, data) -> Path:
    p = tmp_path / "venue.yaml"
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return p


def test_default_config_loads_with_instruments_across_asset_classes():
    cfg = load_config()
    classes = {i.asset_class for i in cfg.instruments}
    assert {"crypto", "fx", "equity"} <= classes
    symbols = {i.symbol for i in cfg.instruments}
    assert {"BTC-USD", "ETH-USD", "EUR/USD", "AAPL"} <= symbols
    insts = {i.symbol: i for i in cfg.build_instruments()}
    assert insts["EUR/USD"].tick_size == Decimal("0.00001")
    accounts = {a.account_id: a for a in cfg.build_accounts()}
    # fee tiers resolve to integer ppm: 1.0 bps maker = 100 ppm, -0.2 bps = -20 ppm
    assert accounts["DEMO1"].maker_fee_ppm == 100
    assert accounts["MM1"].maker_fee_ppm == -20


@pytest.mark.parametrize(
    "mutate, key, reason",
    [
        (lambda d: d["instruments"][1].__setitem__("tick_size", "-0.01"), "instruments[1].tick_size", "positive"),
        (lambda d: d["instruments"][0].__setitem__("tick_sise", "0.01"), "instruments[0].tick_sise", "unknown key"),
        (lambda d: d["accounts"][0].__setitem__("fee_tier", "gold"), "", "unknown fee_tier 'gold'"),
        (lambda d: d["accounts"][2].__setitem__("stp", "cancel_everything"), "accounts[2].stp", "self-trade"),
        (lambda d: d["instruments"][3]["session"].__setitem__("open", "25:00"), "instruments[3].session.open", "between"),
        (lambda d: d["instruments"][0].__setitem__("min_qty", "0.00015"), "instruments[0]", "multiples of lot_size"),
        (lambda d: d["instruments"].append(copy.deepcopy(d["instruments"][0])), "", "duplicate instrument symbol"),
        (lambda d: d.__setitem__("instruments", []), "instruments", "at least 1"),
    ],
)
def test_bad_config_names_file_key_and_reason(tmp_path, raw, mutate, key, reason):
    mutate(raw)
    path = write(tmp_path, raw)
    with pytest.raises(ConfigError) as ei:
        load_config(path)
    err = ei.value
    assert err.path == str(path)
    assert err.key == key
    assert reason in err.reason
    assert str(path) in str(err) and reason in str(err)


def test_invalid_yaml_reports_line(tmp_path):
    path = write(tmp_path, "venue:\n  name: [unclosed\n")
    with pytest.raises(ConfigError) as ei:
        load_config(path)
    assert "line" in ei.value.key and "YAML" in ei.value.reason


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as ei:
        load_config(tmp_path / "nope.yaml")
    assert ei.value.reason == "file not found"


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError) as ei:
        parse_config(["a", "b"], "x.yaml")
    assert "mapping" in ei.value.reason
