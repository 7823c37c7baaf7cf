"""The `risk:` section: validated with the rest of the venue file (mistakes name file, key
and reason), resolved into the controls the venue wires in, and the `fixvenue kill`
command driving a running venue's kill switch over its REST admin API."""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from app.config import DEFAULT_CONFIG, ConfigError, parse_config
from risk.settings import load_risk_section

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


@pytest.mark.parametrize("risk, key, reason", [
    ({"checks": {"max_order_qty": True, "fat_finger": False}}, "risk.checks", "unknown check(s) ['fat_finger']"),
    ({"defaults": {"max_order_qty": "-1"}}, "risk.defaults.max_order_qty", "positive"),
    ({"defaults": {"price_collar_pct": "0"}}, "risk.defaults.price_collar_pct", "percentage"),
    ({"defaults": {"max_leverage": "abc"}}, "risk.defaults.max_leverage", ""),
    ({"defaults": {"order_rate": {"count": 0}}}, "risk.defaults.order_rate.count", ""),
    ({"accounts": {"NOBODY": {"max_open_orders": 3}}}, "risk", "unknown account 'NOBODY'"),
    ({"instruments": {"DOGE-USD": {"max_order_qty": "1"}}}, "risk", "unknown instrument 'DOGE-USD'"),
    ({"accounts": {"DEMO1": {"restricted_instruments": ["XYZ"]}}}, "risk", "unknown instrument 'XYZ'"),
    ({"auto_kill": {"reject_storm": {"scope": "planet"}}}, "risk.auto_kill.reject_storm.scope", ""),
    ({"auto_kill": {"venue_loss": {"venues": {"oanda": {"scope": "instrument"}}}}},
     "risk.auto_kill.venue_loss.venues.oanda", "needs at least one target"),
    ({"day_start_utc": "25:00"}, "risk.day_start_utc", "HH:MM"),
    ({"defaults": {"max_order_qtty": "1"}}, "risk.defaults.max_order_qtty", "unknown key"),
])
def test_bad_risk_section_names_key_and_reason(raw, risk, key, reason):
    raw["risk"] = risk
    with pytest.raises(ConfigError) as ei:
        parse_config(raw, "venue.yaml")
    assert ei.value.key == key, str(ei.value)
    assert reason in ei.value.reason


def test_instrument_quoted_in_another_currency_needs_a_conversion_rate(raw):
    inst = copy.deepcopy(raw["instruments"][0])
    inst.update(symbol="BTC-EUR", quote="EUR", reference_price="60000")
    raw["instruments"].append(inst)
    raw["risk"] = {}
    with pytest.raises(ConfigError) as ei:
        parse_config(raw, "venue.yaml")
    assert "conversion_rates has no rate from EUR" in ei.value.reason
    raw["risk"] = {"conversion_rates": {"EUR": "1.1"}, "defaults": {"max_order_notional": "66000"}}
    cfg = parse_config(raw, "venue.yaml")
    from app.venue import Venue

    venue = Venue(cfg, "venue.yaml")
    from app.wiring_risk import wire

    risk = wire(venue)
    from engine.commands import NewOrder

    inst = venue.instruments["BTC-EUR"]
    px = inst.price_to_ticks("60000")
    over = NewOrder(1, "DEMO1", "x", "BTC-EUR", 1, 2, 1, inst.qty_to_lots(Decimal("1.0001")), px)
    ok = NewOrder(1, "DEMO1", "y", "BTC-EUR", 1, 2, 1, inst.qty_to_lots(Decimal("1")), px)
    err = risk.check.check_new(over, venue.oms)
    assert err is not None and err.text == "max_order_notional: 66006.6 > limit 66000"   # EUR 60006 x 1.1
    assert risk.check.check_new(ok, venue.oms) is None


def test_default_configuration_wires_risk_into_the_venue(tmp_path):
    from app.config import load_config
    from app.venue import Venue

    venue = Venue(load_config(), str(DEFAULT_CONFIG), {"data_dir": str(tmp_path / "data")})
    venue.wire()
    risk = venue.services["risk"]
    assert risk.check in venue.oms.pre_trade
    assert risk.on_events in venue.oms.listeners
    assert venue.services["snapshot_extensions"]["risk"] is risk
    assert any(line.startswith("risk: ") for line in venue.summary())
    # starting balances and reference prices come from the file
    assert risk.balances("DEMO1")["USD"] == Decimal("1000000")
    assert risk.position("DEMO1", "BTC-USD")["mark_price"] == Decimal("65000")
    assert risk.limits("DEMO1")["max_open_orders"] == 100000
    assert load_risk_section(venue.config.risk, venue.config).margin_currency == "USD"


def _start_venue(tmp: Path) -> tuple[subprocess.Popen, str, Path]:
    out = tmp / "venue.out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run", "--rest-port", "0", "--fix-port", "0", "--host", "127.0.0.1",
         "--data-dir", str(tmp / "data"), "--log-level", "WARNING"],
        stdout=out.open("w"), stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        text = out.read_text()
        m = re.search(r"REST (http://127\.0\.0\.1:\d+)/api/v1", text)
        if m and "fixvenue is running" in text:
            return proc, m.group(1), out
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait(10)
    raise AssertionError(f"venue did not start:\n{out.read_text()[-2000:]}")


def test_fixvenue_kill_drives_the_running_venue(tmp_path, capsys):
    from app.cli import main

    proc, url, _ = _start_venue(tmp_path)
    try:
        assert main(["kill", "activate", "--scope", "account", "--target", "DEMO3", "--reason", "cli test",
                     "--url", url]) == 0
        assert "kill switch account DEMO3: ACTIVE -> HALTED" in capsys.readouterr().out
        assert main(["kill", "status", "--url", url]) == 0
        out = capsys.readouterr().out
        assert "global: ACTIVE" in out and "account DEMO3: HALTED (manual, by admin: cli test)" in out
        assert main(["kill", "activate", "--scope", "instrument", "--target", "NOPE", "--url", url]) == 1
        assert "UNKNOWN_SYMBOL" in capsys.readouterr().err
        assert main(["kill", "activate", "--scope", "account", "--url", url]) == 2     # no target
        capsys.readouterr()
        assert main(["kill", "release", "--scope", "account", "--target", "DEMO3", "--url", url, "--json"]) == 0
        out = capsys.readouterr().out
        assert '"state": "ACTIVE"' in out and '"previous": "HALTED"' in out
        # a wrong secret is refused by the venue
        assert main(["kill", "status", "--url", url, "--key-id", "admin", "--secret", "wrong-secret-0123456789"]) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
