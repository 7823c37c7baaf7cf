"""Allocation: how much of an order each venue gets. Pure functions, integers only.

Inputs are each candidate venue's displayed book on the side the order would
take (asks for a buy, bids for a sell) as (price ticks, qty lots) levels best
first, and the fee that venue charges (ppm of notional). Fees enter as an
effective price — a buy pays px*(1+fee), a sell receives px*(1-fee) — so a
venue quoting one tick better but charging 10 bps more loses to a cheaper one.
The order's limit applies to the raw price, as it does at the venue.

Ties go to the venue listed first in the policy (the operator's preference).
Nothing here knows about venues' I/O; the dispatcher fetches the books and
journals the resulting plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BUY = 1
PPM = 1_000_000


@dataclass
class VenueDepth:
    venue: str
    levels: list[tuple[int, int]] = field(default_factory=list)   # (price ticks, qty lots), best first
    fee_ppm: int = 0


def _within(side: int, px: int, limit: int) -> bool:
    if not limit:
        return True
    return px <= limit if side == BUY else px >= limit


def _key(side: int, px: int, fee_ppm: int, pref: int) -> tuple[int, int]:
    """Sort key: smaller is better for both sides."""
    if side == BUY:
        return px * (PPM + fee_ppm), pref
    return -px * (PPM - fee_ppm), pref


def best_venue(side: int, depths: list[VenueDepth], limit: int = 0) -> str | None:
    """The venue with the best fee-adjusted top of book within the limit (None if no levels)."""
    best = None
    for pref, d in enumerate(depths):
        if d.levels and _within(side, d.levels[0][0], limit):
            k = _key(side, d.levels[0][0], d.fee_ppm, pref)
            if best is None or k < best[0]:
                best = (k, d.venue)
    return best[1] if best else None


def displayed(side: int, d: VenueDepth, limit: int) -> int:
    return sum(q for px, q in d.levels if q > 0 and _within(side, px, limit))


def sweep(side: int, qty: int, depths: list[VenueDepth], limit: int = 0, min_qty: int = 0) -> list[tuple[str, int]]:
    """Best price: walk the merged fee-adjusted ladder, best level first, until `qty` is
    covered; the rest goes to the best venue (a limit order rests there)."""
    if qty <= 0 or not depths:
        return []
    ladder = []
    for pref, d in enumerate(depths):
        for px, q in d.levels:
            if q > 0 and _within(side, px, limit):
                ladder.append((_key(side, px, d.fee_ppm, pref), d.venue, q))
    ladder.sort(key=lambda x: x[0])
    alloc: dict[str, int] = {}
    left = qty
    for _, venue, q in ladder:
        if not left:
            break
        take = q if q < left else left
        alloc[venue] = alloc.get(venue, 0) + take
        left -= take
    if left:
        target = best_venue(side, depths, limit) or depths[0].venue
        alloc[target] = alloc.get(target, 0) + left
    return _finish(side, alloc, depths, min_qty, limit)


def pro_rata(side: int, qty: int, depths: list[VenueDepth], limit: int = 0, min_qty: int = 0) -> list[tuple[str, int]]:
    """Split: each venue gets a share proportional to the liquidity it displays within the
    limit; rounding lots go to the better venues; beyond the total displayed, the rest
    goes to the best venue."""
    if qty <= 0 or not depths:
        return []
    shown = {d.venue: displayed(side, d, limit) for d in depths}
    total = sum(shown.values())
    best = best_venue(side, depths, limit) or depths[0].venue
    alloc: dict[str, int] = {}
    if total == 0:
        alloc[best] = qty
        return _finish(side, alloc, depths, min_qty, limit)
    if total <= qty:
        alloc = {v: s for v, s in shown.items() if s}
        if qty - total:
            alloc[best] = alloc.get(best, 0) + qty - total
        return _finish(side, alloc, depths, min_qty, limit)
    for v, s in shown.items():
        if s:
            alloc[v] = qty * s // total
    left = qty - sum(alloc.values())
    for v in _ranked(side, depths, limit):
        if not left:
            break
        room = shown[v] - alloc.get(v, 0)
        if room > 0:
            take = room if room < left else left
            alloc[v] = alloc.get(v, 0) + take
            left -= take
    if left:
        alloc[best] = alloc.get(best, 0) + left
    return _finish(side, alloc, depths, min_qty, limit)


def single(side: int, qty: int, depths: list[VenueDepth], limit: int = 0) -> list[tuple[str, int]]:
    """All at one venue (fill-or-kill cannot be split): the best venue that displays the
    whole quantity within the limit, else the best venue."""
    if qty <= 0 or not depths:
        return []
    full = [d for d in depths if displayed(side, d, limit) >= qty]
    target = best_venue(side, full, limit) if full else None
    return [(target or best_venue(side, depths, limit) or depths[0].venue, qty)]


def _ranked(side: int, depths: list[VenueDepth], limit: int) -> list[str]:
    keyed = []
    for pref, d in enumerate(depths):
        top = next((px for px, q in d.levels if q > 0 and _within(side, px, limit)), None)
        if top is not None:
            keyed.append((_key(side, top, d.fee_ppm, pref), d.venue))
    keyed.sort()
    return [v for _, v in keyed]


def _finish(side: int, alloc: dict[str, int], depths: list[VenueDepth], min_qty: int, limit: int) -> list[tuple[str, int]]:
    """Legs in preference order; legs below `min_qty` are merged into the largest leg."""
    legs = {v: q for v, q in alloc.items() if q > 0}
    if min_qty and len(legs) > 1:
        small = [v for v, q in legs.items() if q < min_qty]
        if len(small) < len(legs):
            keep = max((v for v in legs if v not in small), key=lambda v: legs[v])
            for v in small:
                legs[keep] += legs.pop(v)
        else:
            best = best_venue(side, depths, limit) or next(iter(legs))
            total = sum(legs.values())
            legs = {best: total}
    order = [d.venue for d in depths]
    return sorted(legs.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
