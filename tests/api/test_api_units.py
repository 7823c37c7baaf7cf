"""The gateway's pure parts, without a server: signing and replay guard, key checks,
token buckets, symbol spellings, candles and 24h statistics, the `rest:` config
section, and the tape's snapshot round trip."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from decimal import Decimal

import pytest
import yaml
from pydantic import ValidationError

from api.candles import INTERVALS, CandleSeries, RollingDay
from api.envelope import ApiError, dumps
from api.keys import ApiKey, KeyStore
from api.limits import RateLimiter, TokenBucket
from api.settings import RestSettings, Role, load_rest_section
from api.signing import ReplayGuard, sign_request, signature
from api.symbols import SymbolResolver
from api.tape import Tape
from app.config import DEFAULT_CONFIG, ConfigError, load_config, parse_config
from engine.commands import NewOrder
from engine.oms import OMS, AccountSpec
from engine.instrument import Instrument

MIN = 60 * 10**9


def test_signature_is_hmac_sha256_over_timestamp_method_target_body():
    expected = hmac.new(b"s3cret", b"1700000000000POST/api/v1/orders?x=1{}", hashlib.sha256).hexdigest()
    assert signature("s3cret", 1700000000000, "post", "/api/v1/orders?x=1", b"{}") == expected
    h1 = sign_request("k", "s3cret", "GET", "/a")
    h2 = sign_request("k", "s3cret", "GET", "/a")
    assert int(h2["X-API-Timestamp"]) > int(h1["X-API-Timestamp"]), "timestamps never repeat"
    assert h1["X-API-Signature"] != h2["X-API-Signature"]


def test_replay_guard_forgets_only_after_two_windows():
    g = ReplayGuard(window_ms=1000)
    assert g.first_use("a", 10_000) and not g.first_use("a", 10_500)
    assert not g.first_use("a", 12_000)          # still inside 2 windows of its first sight
    assert g.first_use("b", 12_001) and len(g) == 1   # "a" expired and was dropped
    assert g.first_use("a", 12_002)


def _store(now_ms: int, window_s: float = 30) -> KeyStore:
    k = ApiKey("k1", b"secret-secret-123", "A", Role.TRADER, 10, 10)
    return KeyStore([k], window_s, clock_ms=lambda: now_ms)


@pytest.mark.parametrize("case,fragment", [
    ("missing", "signed request required"), ("unknown key", "unknown API key"), ("bad ts", "milliseconds"),
    ("stale", "stale"), ("wrong sig", "bad signature"), ("replay", "replayed"),
])
def test_keystore_verify_refusals(case, fragment):
    now = 1_700_000_000_000
    store = _store(now)
    ts = str(now)
    sig = signature("secret-secret-123", ts, "GET", "/x", b"")
    args = {"missing": ("k1", ts, None), "unknown key": ("k9", ts, sig), "bad ts": ("k1", "12ab", sig),
            "stale": ("k1", str(now - 31_000), signature("secret-secret-123", str(now - 31_000), "GET", "/x", b"")),
            "wrong sig": ("k1", ts, "00" * 32), "replay": ("k1", ts, sig)}[case]
    if case == "replay":
        assert store.verify(*args, "GET", "/x", b"").account == "A"
    with pytest.raises(ApiError) as info:
        store.verify(*args, "GET", "/x", b"")
    assert info.value.status == 401 and info.value.code == "UNAUTHORIZED" and fragment in info.value.message


def test_token_bucket_refills_at_its_rate():
    b = TokenBucket(rate=2, burst=3, now=0.0)
    assert [b.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take(0.0) == pytest.approx(0.5)
    assert b.take(0.5) == 0.0 and b.take(0.5) > 0
    assert RateLimiter.retry_after(0.01) == "1" and RateLimiter.retry_after(2.2) == "3"


def test_rate_limiter_keeps_buckets_apart_and_prunes_idle_ones():
    t = [0.0]
    lim = RateLimiter(clock=lambda: t[0], max_idle_buckets=2)
    assert lim.check("a", 1, 1) == 0 and lim.check("a", 1, 1) > 0 and lim.check("b", 1, 1) == 0
    t[0] = 100.0
    assert lim.check("c", 1, 1) == 0 and lim.check("a", 1, 1) == 0


def test_symbol_spellings():
    r = SymbolResolver(["EUR/USD", "BTC-USD", "AAPL"])
    for s in ("EUR/USD", "EUR-USD", "EUR_USD", "eur-usd", "EUR%2FUSD", "eur%2fusd"):
        assert r.resolve(s) == "EUR/USD"
    assert r.resolve("btc/usd") == "BTC-USD" and r.resolve("aapl") == "AAPL"
    assert r.resolve("EURUSD") is None and r.resolve("") is None and r.resolve(None) is None
    assert r.url_form("EUR/USD") == "EUR-USD" and r.url_form("AAPL") == "AAPL"
    clash = SymbolResolver(["A-B", "A_B"])
    assert clash.resolve("A-B") == "A-B" and clash.resolve("A_B") == "A_B" and clash.resolve("A/B") is None


def test_candles_bucket_by_interval_and_fold_out_of_order_prints():
    s = CandleSeries(INTERVALS["1m"])
    s.add(0 * MIN + 5, 100, 1)
    s.add(0 * MIN + 9, 105, 2)
    s.add(0 * MIN + 20, 95, 1)
    s.add(1 * MIN, 101, 4)
    s.add(1 * MIN - 1, 99, 1)       # clock stepped back: folded into the latest candle
    a, b = s.candles
    assert (a.open, a.high, a.low, a.close, a.volume, a.trades) == (100, 105, 95, 95, 4, 3)
    assert (b.start, b.open, b.high, b.low, b.close, b.volume, b.trades) == (MIN, 101, 101, 99, 99, 5, 2)
    assert [c.start for c in s.select(since=MIN)] == [MIN] and s.select(limit=1) == [b]


def test_rolling_day_covers_exactly_the_last_24_hours():
    s = CandleSeries(INTERVALS["1m"], keep=5000)
    day = RollingDay(s)
    s.add(0, 100, 1)                  # falls out of the window later
    s.add(10 * MIN, 120, 2)
    s.add(1000 * MIN, 90, 3)
    st = day.stats(1000 * MIN + 1)
    assert st == {**st, "open": 100, "high": 120, "low": 90, "close": 90, "volume": 6, "trades": 3}
    s.add(1000 * MIN + 2, 130, 1)      # same minute, cache must see it
    assert day.stats(1000 * MIN + 3)["high"] == 130
    later = day.stats(1440 * MIN + 5 * MIN)   # the first candle is now older than 24h
    assert later["open"] == 120 and later["volume"] == 6
    assert RollingDay(CandleSeries(MIN)).stats(0) is None


def test_rest_section_validation():
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    cfg = parse_config(raw)
    s = load_rest_section(raw["rest"], cfg)
    assert s.port == 8080 and {k.role for k in s.keys} == {Role.TRADER, Role.READ_ONLY, Role.ADMIN}
    assert {k.account for k in s.keys if k.role == Role.TRADER} == {
        "DEMO1", "DEMO2", "DEMO3", "DEMO4", "DEMO5", "DEMO6", "DEMO7", "DEMO8", "DEMO42", "MM1"}
    with pytest.raises(ValidationError):
        RestSettings.model_validate({"keys": [{"id": "abc", "secret": "x" * 20, "account": "A"}] * 2})
    with pytest.raises(ValidationError):
        RestSettings.model_validate({"keys": [{"id": "abc", "account": "A"}]})            # no secret
    with pytest.raises(ValidationError):
        RestSettings.model_validate({"keys": [{"id": "abc", "secret": "x" * 20}]})        # trader without account
    with pytest.raises(ValidationError):
        RestSettings.model_validate({"colour": "red"})


def test_config_errors_name_the_rest_key(tmp_path):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    bad = copy.deepcopy(raw)
    bad["rest"]["keys"][0]["account"] = "NOBODY"
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert info.value.key == "rest" and "NOBODY" in info.value.reason
    bad = copy.deepcopy(raw)
    bad["rest"]["port"] = 70000
    p.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert info.value.key == "rest.port"


def test_envelope_renders_decimals_exactly():
    assert dumps({"p": Decimal("1E+2"), "q": Decimal("0.00001000")}) == b'{"p":"100","q":"0.00001000"}'


def test_tape_snapshot_round_trip():
    inst = Instrument("X-USD", "X", "USD", Decimal("0.01"), Decimal("1"), Decimal("1"), Decimal("1000"))
    oms = OMS([inst], [AccountSpec("A"), AccountSpec("B")])
    tape = Tape(oms.instruments, oms.accounts)
    oms.listeners.append(tape)
    oms.process(NewOrder(10 * MIN, "A", "a1", "X-USD", 2, 2, 1, 10, 500))
    oms.process(NewOrder(10 * MIN + 1, "B", "b1", "X-USD", 1, 2, 1, 4, 500))
    state = tape.snapshot_state()
    state = json.loads(json.dumps(state))     # it must be JSON-able
    fresh = Tape(oms.instruments, oms.accounts)
    fresh.restore_state(state)
    assert fresh.net == {("A", "X-USD"): -4, ("B", "X-USD"): 4}
    c = fresh.candles["X-USD"]["1m"].candles[-1]
    assert (c.open, c.volume, c.trades) == (500, 4, 1)
    f = fresh.fills_for("B")
    assert len(f) == 1 and f[0].last_qty == 4 and f[0].cl_ord_id == "b1"
