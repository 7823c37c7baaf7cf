"""The simulators' shared matching book, triggers, ladders and fault plan."""

from decimal import Decimal as D

import pytest

from venues.sim.book import BUY, SELL, Book
from venues.sim.faults import Fault, FaultPlan
from venues.sim.liquidity import MM, Ladder, reseed
from venues.sim.server import check_loopback
from venues.sim.triggers import STOP, TOUCH, TRAIL, Trigger


def test_price_then_time_priority():
    book = Book("X")
    book.add("a1", "a", SELL, D(1), D("10.1"))
    book.add("a2", "b", SELL, D(1), D("10.0"))
    book.add("a3", "c", SELL, D(1), D("10.0"))
    result = book.add("t", "taker", BUY, D("2.5"), D("10.1"))
    assert [(m.maker_id, m.price, m.quantity) for m in result.matches] == [
        ("a2", D("10.0"), D(1)),
        ("a3", D("10.0"), D(1)),
        ("a1", D("10.1"), D("0.5")),
    ]
    assert result.remaining == 0 and not result.rested
    assert book.get("a1").remaining == D("0.5")
    assert book.best_ask() == D("10.1")


def test_limit_remainder_rests_and_market_remainder_does_not():
    book = Book("X")
    book.add("s", "mm", SELL, D(1), D(100))
    limit = book.add("b1", "c", BUY, D(3), D(100))
    assert limit.filled == D(1) and limit.rested and book.best_bid() == D(100)
    market = book.add("s2", "c", SELL, D(5))
    assert market.filled == D(2) and market.remaining == D(3) and not market.rested
    assert book.best_bid() is None and book.get("s2") is None


def test_ioc_drops_remainder_and_fok_is_all_or_nothing():
    book = Book("X")
    book.add("s", "mm", SELL, D(2), D(100))
    fok = book.add("f", "c", BUY, D(3), D(100), "FOK")
    assert fok.killed and not fok.matches and book.available(BUY, D(100)) == D(2)
    ioc = book.add("i", "c", BUY, D(3), D(100), "IOC")
    assert ioc.filled == D(2) and ioc.remaining == D(1) and not ioc.rested
    assert book.best_ask() is None and book.best_bid() is None


def test_post_only_refuses_to_take():
    book = Book("X")
    book.add("s", "mm", SELL, D(1), D(100))
    result = book.add("p", "c", BUY, D(1), D(100), post_only=True)
    assert result.would_cross and not result.matches and book.get("p") is None


def test_cancel_depth_and_bad_input():
    book = Book("X")
    book.add("b1", "c", BUY, D(1), D(99))
    book.add("b2", "c", BUY, D(2), D(99))
    book.add("b3", "c", BUY, D(1), D(98))
    assert book.depth(5) == ([(D(99), D(3)), (D(98), D(1))], [])
    assert book.cancel("b1").order_id == "b1"
    assert book.cancel("b1") is None
    assert book.depth(1) == ([(D(99), D(2))], [])
    with pytest.raises(ValueError):
        book.add("b2", "c", BUY, D(1), D(99))  # duplicate id
    with pytest.raises(ValueError):
        book.add("z", "c", BUY, D(0), D(99))
    with pytest.raises(ValueError):
        book.add("z", "c", "up", D(1), D(99))


def test_reseed_crosses_resting_client_orders():
    book = Book("X")
    lad = Ladder(D(100), D("0.5"), D("0.5"), levels=2, quantity=D(10))
    reseed(book, lad)
    assert book.best_bid() == D("99.5") and book.best_ask() == D("100.5")
    book.add("client-buy", "client", BUY, D(3), D(99))
    lad.mid = D(98)  # market falls through the client's bid
    matches = reseed(book, lad)
    assert [(m.maker_id, m.quantity, m.price) for m in matches] == [("client-buy", D(3), D(99))]
    assert all(o.owner == MM for o in book.orders_of(MM)) and book.get("client-buy") is None


@pytest.mark.parametrize(
    "kind,side,level,bid,ask,fired",
    [
        (TOUCH, BUY, D(100), D(99), D(100), True),  # limit buy: ask came down to the limit
        (TOUCH, BUY, D(100), D(100), D(101), False),
        (TOUCH, SELL, D(100), D(100), D(101), True),
        (STOP, BUY, D(100), D(99), D(100), True),  # stop buy: ask rose to the stop
        (STOP, BUY, D(100), D(98), D(99), False),
        (STOP, SELL, D(100), D(100), D(101), True),
        (STOP, SELL, D(100), D(101), D(102), False),
    ],
)
def test_trigger_rules(kind, side, level, bid, ask, fired):
    assert Trigger(kind, side, level).fired(bid, ask) is fired


def test_trailing_stop_follows_the_market_one_way():
    trail = Trigger(TRAIL, SELL, None, D(1))
    trail.observe(D(100), D(101))
    assert trail.level == D(99)
    trail.observe(D(105), D(106))
    assert trail.level == D(104)
    trail.observe(D("104.5"), D("105.5"))  # a dip does not lower the level
    assert trail.level == D(104) and not trail.fired(D("104.5"), D("105.5"))
    assert trail.fired(D(104), D(105))


def test_fault_plan_counts_and_matching():
    plan = FaultPlan()
    plan.add(Fault("rate_limit", count=2, method="POST", path="/orders"))
    assert plan.take({"rate_limit"}, "GET", "/v3/accounts/1/orders") is None
    assert plan.take({"timeout"}, "POST", "/v3/accounts/1/orders") is None
    assert plan.take({"rate_limit"}, "post", "/v3/accounts/1/orders") is not None
    assert plan.take({"rate_limit"}, "POST", "/v3/accounts/1/orders") is not None
    assert plan.take({"rate_limit"}, "POST", "/v3/accounts/1/orders") is None
    assert plan.fired == [("rate_limit", "post", "/v3/accounts/1/orders"),
                          ("rate_limit", "POST", "/v3/accounts/1/orders")]
    with pytest.raises(ValueError):
        Fault("explode")
    with pytest.raises(ValueError):
        Fault.from_json({"kind": "timeout", "bogus": 1})


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com", "::"])
def test_simulators_refuse_non_loopback_hosts(host):
    with pytest.raises(ValueError):
        check_loopback(host)
    check_loopback("127.0.0.1")
    check_loopback("::1")
