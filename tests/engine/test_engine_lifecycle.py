"""The order lifecycle as the execution reports tell it: every (exec type,
status) transition, with quantities that always add up."""

from __future__ import annotations

from engine_fixtures import (
    GTD,
    T0,
    S,
    X,
    execs,
    oid,
    venue,  # noqa: F401  (fixture)
)


def story(evs_list, order_id):
    return [(e.exec_type, e.status, e.qty, e.cum, e.leaves)
            for evs in evs_list for e in execs(evs, order_id)]


def test_new_partially_filled_replaced_filled(venue):
    steps = [venue.sell("A", 10, 100)]
    o = oid(steps[0])
    steps.append(venue.buy("B", 4, 100))
    steps.append(venue.replace("A", o, qty=8))
    steps.append(venue.buy("B", 4, 100))
    assert story(steps, o) == [
        (X.NEW, S.NEW, 10, 0, 10),
        (X.TRADE, S.PARTIALLY_FILLED, 10, 4, 6),
        (X.REPLACED, S.PARTIALLY_FILLED, 8, 4, 4),
        (X.TRADE, S.FILLED, 8, 8, 0),
    ]


def test_new_then_canceled(venue):
    steps = [venue.sell("A", 3, 100)]
    o = oid(steps[0])
    steps.append(venue.cancel("A", o))
    assert story(steps, o) == [(X.NEW, S.NEW, 3, 0, 3), (X.CANCELED, S.CANCELED, 3, 0, 0)]


def test_new_then_expired(venue):
    steps = [venue.sell("A", 3, 100, tif=GTD, expire_ts=T0 + 10)]
    o = oid(steps[0])
    steps.append(venue.tick(T0 + 10))
    assert story(steps, o) == [(X.NEW, S.NEW, 3, 0, 3), (X.EXPIRED, S.EXPIRED, 3, 0, 0)]


def test_rejected_has_nothing_left(venue):
    evs = venue.sell("A", 3, 0)
    assert story([evs], oid(evs)) == [(X.REJECTED, S.REJECTED, 3, 0, 0)]


def test_every_report_adds_up(venue):
    reports = []
    reports += venue.sell("A", 10, 100, display_qty=3)
    reports += venue.sell("C", 5, 101, hidden=True)
    reports += venue.buy("B", 7, 101)
    reports += venue.replace("A", 1, qty=9)
    reports += venue.buy("B", 9, 102)
    reports += venue.sell("A", 4, 99)
    reports += venue.cancel("A", 6)
    for e in execs(reports):
        assert 0 <= e.cum <= e.qty
        if e.status in (S.NEW, S.PARTIALLY_FILLED):
            assert e.qty == e.cum + e.leaves, e
        else:
            assert e.leaves == 0, e
        if e.cum:
            assert e.cum_notional >= e.cum    # every fill has a positive price
