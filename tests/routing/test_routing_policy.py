"""The routing config section and the allocation rules (pure, no venues)."""

import pytest

from app.config import ConfigError, parse_config
from venues.router import planner
from venues.router.planner import VenueDepth
from venues.router.policy import RoutingSettings, load_section

BUY, SELL = 1, 2


def base_config(routing: dict) -> dict:
    return {
        "instruments": [{"symbol": "EUR/USD", "asset_class": "fx", "base": "EUR", "quote": "USD",
                         "tick_size": "0.00001", "lot_size": "1", "min_qty": "1", "max_qty": "1000000",
                         "price_precision": 5}],
        "fee_tiers": {"std": {"maker_bps": "1", "taker_bps": "2"}},
        "accounts": [{"id": "C1", "fee_tier": "std"}, {"id": "ROUTER", "fee_tier": "std"}],
        "routing": routing,
    }


OANDA = {"type": "oanda", "taker_fee_bps": "0.5",
         "config": {"account_id": "101-001-1-001", "token": "t", "api_url": "http://127.0.0.1:1"}}


def test_default_section_routes_nothing():
    s = load_section({})
    assert s.policy_for("EUR/USD").policy == "internal" and s.venues == {}


def test_a_valid_section_loads_through_the_venue_config():
    cfg = parse_config(base_config({"venues": {"oanda": OANDA},
                                    "instruments": {"EUR/USD": {"policy": "venue", "venue": "oanda",
                                                                "failover": ["internal"]}}}))
    s = load_section(cfg.routing, cfg)
    assert s.policy_for("EUR/USD").chain() == ["oanda", "internal"]
    assert s.venues["oanda"].taker_fee_ppm == 50
    assert s.venues["oanda"].adapter_config("oanda").venue_name == "oanda"


@pytest.mark.parametrize("routing, fragment", [
    ({"instruments": {"EUR/USD": {"policy": "venue", "venue": "nowhere"}}}, "unknown venue 'nowhere'"),
    ({"instruments": {"XAU/USD": {"policy": "internal"}}}, "unknown instrument"),
    ({"instruments": {"EUR/USD": {"policy": "venue"}}}, "needs `venue`"),
    ({"instruments": {"EUR/USD": {"policy": "split"}}}, "needs `venues`"),
    ({"instruments": {"EUR/USD": {"policy": "teleport"}}}, "routing.instruments.EUR/USD.policy"),
    ({"venues": {"oanda": dict(OANDA, taker_fee_bps="0.001")}}, "0.01 bps"),
    ({"venues": {"oanda": dict(OANDA, config={"account_id": "a", "token": "t", "bogus": 1})}}, "bogus"),
    ({"venues": {"internal": OANDA}}, "reserved"),
    ({"on_venue_loss": "panic"}, "routing.on_venue_loss"),
    ({"account": "NOBODY", "instruments": {"EUR/USD": {"policy": "split", "venues": ["internal", "oanda"]}},
      "venues": {"oanda": OANDA}}, "must be one of the configured accounts"),
    ({"internal_accounts": ["GHOST"]}, "GHOST"),
    ({"surprise": True}, "unknown key"),
])
def test_bad_sections_name_the_key_and_reason(routing, fragment):
    with pytest.raises(ConfigError) as exc:
        parse_config(base_config(routing))
    assert fragment in str(exc.value), str(exc.value)
    assert "routing" in str(exc.value)


def test_secrets_may_come_from_the_environment(monkeypatch):
    v = RoutingSettings.model_validate({"venues": {"oanda": dict(OANDA, config={
        "account_id": "a", "token_env": "ROUTING_TEST_TOKEN", "api_url": "http://127.0.0.1:1"})}}).venues["oanda"]
    with pytest.raises(ValueError, match="ROUTING_TEST_TOKEN"):
        v.adapter_config("oanda")
    monkeypatch.setenv("ROUTING_TEST_TOKEN", "sekret")
    assert v.adapter_config("oanda").token == "sekret"


# ------------------------------------------------------------------ allocation


def test_sweep_takes_the_best_fee_adjusted_levels_first():
    # B quotes one tick better but charges 10 bps more than A: A's levels come first
    a = VenueDepth("A", [(100_000, 5), (100_001, 5)], fee_ppm=0)
    b = VenueDepth("B", [(99_999, 50)], fee_ppm=1000)
    assert planner.sweep(BUY, 8, [a, b]) == [("A", 8)]
    assert planner.sweep(BUY, 12, [a, b]) == [("A", 10), ("B", 2)]
    # without the fee difference B is simply better
    b0 = VenueDepth("B", [(99_999, 50)], fee_ppm=0)
    assert planner.sweep(BUY, 12, [a, b0]) == [("B", 12)]


def test_sweep_respects_the_limit_and_rests_the_rest_at_the_best_venue():
    a = VenueDepth("A", [(100, 3), (105, 100)])
    b = VenueDepth("B", [(101, 2)])
    assert planner.sweep(BUY, 10, [a, b], limit=101) == [("A", 8), ("B", 2)]
    # sells: higher is better
    a = VenueDepth("A", [(100, 3), (95, 100)])
    b = VenueDepth("B", [(99, 2)])
    assert planner.sweep(SELL, 4, [a, b], limit=99) == [("A", 3), ("B", 1)]


def test_pro_rata_splits_by_displayed_liquidity_within_the_limit():
    a = VenueDepth("A", [(100, 30), (102, 1000)])
    b = VenueDepth("B", [(101, 10)])
    assert planner.pro_rata(BUY, 20, [a, b], limit=101) == [("A", 15), ("B", 5)]
    # more than is displayed: everything displayed, the rest at the best venue
    assert planner.pro_rata(BUY, 50, [a, b], limit=101) == [("A", 40), ("B", 10)]
    # nothing displayed within the limit: all to the first (preferred) venue
    assert planner.pro_rata(BUY, 5, [a, b], limit=99) == [("A", 5)]


def test_pro_rata_rounding_lots_go_to_better_venues_and_sum_is_exact():
    depths = [VenueDepth("A", [(100, 7)]), VenueDepth("B", [(99, 7)]), VenueDepth("C", [(101, 7)])]
    legs = planner.pro_rata(BUY, 10, depths)
    assert sum(q for _, q in legs) == 10
    assert dict(legs) == {"A": 3, "B": 4, "C": 3}


def test_small_legs_merge_and_fok_stays_on_one_venue():
    a = VenueDepth("A", [(100, 95)])
    b = VenueDepth("B", [(100, 5)])
    assert planner.pro_rata(BUY, 100, [a, b], min_qty=10) == [("A", 100)]
    assert planner.single(BUY, 50, [b, a]) == [("A", 50)]
    assert planner.single(BUY, 500, [b, a]) == [("B", 500)]   # nobody shows it all: the best (first) venue


def test_wiring_installs_the_router_and_describes_venues_and_policies(monkeypatch):
    from app.venue import Venue
    from app.wiring_routing import wire

    monkeypatch.delenv("ROUTING_TEST_TOKEN", raising=False)
    raw = base_config({"venues": {"oanda": dict(OANDA, config={"account_id": "a", "token_env": "ROUTING_TEST_TOKEN",
                                                               "api_url": "http://127.0.0.1:1"})},
                       "instruments": {"EUR/USD": {"policy": "venue", "venue": "oanda", "failover": ["internal"]}}})
    cfg = parse_config(raw)                       # secrets from the environment are checked when wired
    with pytest.raises(ConfigError, match="ROUTING_TEST_TOKEN"):
        wire(Venue(cfg, "<t>", {}))
    monkeypatch.setenv("ROUTING_TEST_TOKEN", "x")
    venue = Venue(cfg, "<t>", {})
    dispatcher = wire(venue)
    assert venue.oms.router is venue.services["router_core"] and venue.services["router"] is dispatcher
    assert dispatcher in venue.components and "router" in venue.services["snapshot_extensions"]
    text = dispatcher.describe()
    assert "oanda (oanda, taker 0.5 bps, disconnected)" in text and "EUR/USD=venue[oanda,internal]" in text
    # offline (replay): the same core, no adapters, no component
    offline = Venue(cfg, "<t>", {"offline": True})
    d2 = wire(offline)
    assert d2.adapters == {} and d2 not in offline.components and offline.oms.router is not None
