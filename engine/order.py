"""The order record.

One `Order` object per order, alive from acceptance to the end of its life.
Resting orders are linked into their price level (`prev`/`next`), so cancel and
replace are O(1) without searching. Fields that only some order types need live
in `OrderExt`, so a plain limit order — most of a book — stays small (memory per
resting order is a benchmark target).
"""

from __future__ import annotations

from engine.types import F_HIDDEN, F_ICEBERG, F_POST_ONLY, TERMINAL_STATUSES


class OrderExt:
    """Attributes of the less common order types (stops, icebergs, min qty, expiry...)."""

    __slots__ = ("stop_px", "trail_ticks", "trail_ppm", "display_qty", "min_qty", "expire_ts", "stp", "triggered")

    def __init__(self, stop_px=0, trail_ticks=0, trail_ppm=0, display_qty=0, min_qty=0, expire_ts=0, stp=None):
        self.stop_px = stop_px          # trigger price in ticks (stop, stop-limit, MIT, trailing)
        self.trail_ticks = trail_ticks  # trailing offset as an amount in ticks
        self.trail_ppm = trail_ppm      # trailing offset as a share of the price (ppm)
        self.display_qty = display_qty  # iceberg: displayed slice in lots
        self.min_qty = min_qty          # minimum quantity of the immediate execution
        self.expire_ts = expire_ts      # GTD/DAY expiry (ns); 0 = none
        self.stp = stp                  # per-order self-trade mode override (StpMode) or None
        self.triggered = False


class Order:
    __slots__ = (
        "order_id", "cl_ord_id", "account", "symbol", "side", "ord_type", "tif",
        "price", "qty", "leaves", "cum", "cum_notional", "status", "flags", "visible",
        "ts", "origin", "prev", "next", "level", "ext",
    )

    def __init__(self, order_id, cl_ord_id, account, symbol, side, ord_type, tif, price, qty, flags, ts, origin, ext):
        self.order_id = order_id
        self.cl_ord_id = cl_ord_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.ord_type = ord_type
        self.tif = tif
        self.price = price        # limit price in ticks; 0 for market
        self.qty = qty            # order quantity in lots
        self.leaves = qty
        self.cum = 0
        self.cum_notional = 0     # sum of fill ticks * lots (average price = cum_notional / cum)
        self.status = 10          # OrdStatus.PENDING_NEW until accepted
        self.flags = flags
        self.visible = 0          # displayed quantity while resting (iceberg slice; 0 when hidden)
        self.ts = ts
        self.origin = origin      # which gateway session entered it (cancel-on-disconnect, drop copy)
        self.prev = None
        self.next = None
        self.level = None         # the Level it rests in, or None
        self.ext = ext            # OrderExt or None

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL_STATUSES

    @property
    def post_only(self) -> bool:
        return bool(self.flags & F_POST_ONLY)

    @property
    def hidden(self) -> bool:
        return bool(self.flags & F_HIDDEN)

    @property
    def iceberg(self) -> bool:
        return bool(self.flags & F_ICEBERG)

    @property
    def stop_px(self) -> int:
        return self.ext.stop_px if self.ext is not None else 0

    @property
    def expire_ts(self) -> int:
        return self.ext.expire_ts if self.ext is not None else 0

    def __repr__(self) -> str:
        return (
            f"Order(id={self.order_id}, clid={self.cl_ord_id!r}, acct={self.account!r}, {self.symbol} "
            f"side={self.side} type={self.ord_type} px={self.price} qty={self.qty} leaves={self.leaves} "
            f"cum={self.cum} status={self.status})"
        )
