"""The `fix:` section is checked with the rest of the venue configuration at start-up."""

from __future__ import annotations

import copy

import pytest
import yaml

from app.config import DEFAULT_CONFIG, ConfigError, parse_config
from fix.venue_config import load_section


def _default() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def test_default_configuration_ships_the_demo_sessions():
    cfg = parse_config(_default())
    section = load_section(cfg.fix, cfg)
    by_id = {s.comp_id: s for s in section.sessions}
    assert (section.comp_id, section.port, section.store) == ("FIXVENUE", 9878, "file")
    for i in range(1, 9):
        s = by_id[f"CLIENT{i}"]
        assert (s.begin_string, s.account, s.role, s.cancel_on_disconnect) == ("FIX.4.4", f"DEMO{i}", "trading", "day")
    assert (by_id["CLIENT42"].begin_string, by_id["CLIENT42"].account) == ("FIX.4.2", "DEMO42")
    dc = by_id["DROPCOPY"]
    assert dc.role == "drop_copy" and set(dc.all_accounts) == {f"DEMO{i}" for i in range(1, 9)} | {"DEMO42"}
    acceptor = section.acceptor_config(port=0)
    assert {sc.target_comp_id for sc in acceptor.sessions} == set(by_id)
    assert all(sc.sender_comp_id == "FIXVENUE" for sc in acceptor.sessions)


@pytest.mark.parametrize("change, words", [
    (lambda f: f["sessions"][0].update(account="NOBODY"), "unknown account 'NOBODY'"),
    (lambda f: f["sessions"][0].pop("account"), "needs an account"),
    (lambda f: f["sessions"].append(dict(f["sessions"][0])), "duplicate session comp_id"),
    (lambda f: f["sessions"][0].update(begin_string="FIX.4.3"), "FIX.4.2"),
    (lambda f: f["sessions"][0].update(cancel_on_disconnect="sometimes"), "day"),
    (lambda f: f.update(port=70000), "65535"),
    (lambda f: f.update(colour="blue"), "unknown key"),
])
def test_mistakes_name_the_key_and_the_reason(change, words):
    data = _default()
    change(data["fix"])
    with pytest.raises(ConfigError) as exc:
        parse_config(copy.deepcopy(data), "venue.yaml")
    assert str(exc.value).startswith("config error in venue.yaml at fix")
    assert words in str(exc.value)
