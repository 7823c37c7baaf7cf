"""Resolving the configured limits to what the checks compare: scaled integers.

`resolve_order_limits(settings, account, symbol)` walks the override chain
(account+instrument > account > instrument > defaults) field by field;
`account_limits` / `session_limits` do the same for account- and session-wide
limits. The risk state objects then store the results as ints in ticks, lots
and e8 units, with BIG for "no limit", so the hot path never branches on
whether a limit is configured or a check is switched off.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from risk.settings import OrderLimits, Rate, RiskSettings

_ORDER_FIELDS = tuple(OrderLimits.model_fields)

NS_PER_SEC = 1_000_000_000


def _pick(field: str, *layers) -> Any:
    for layer in layers:
        if layer is None:
            continue
        v = getattr(layer, field, None)
        if v is not None:
            return v
    return None


def resolve_order_limits(settings: RiskSettings, account: str, symbol: str) -> dict[str, Any]:
    """The per-instrument limits in force for `account` trading `symbol` (None = unset)."""
    acc = settings.accounts.get(account)
    layers = (
        acc.instruments.get(symbol) if acc is not None else None,
        acc,
        settings.instruments.get(symbol),
        settings.defaults,
    )
    out = {f: _pick(f, *layers) for f in _ORDER_FIELDS}
    if acc is not None and symbol in acc.restricted_instruments:
        out["restricted"] = True
    return out


def account_limits(settings: RiskSettings, account: str) -> dict[str, Any]:
    acc = settings.accounts.get(account)
    fields = ("max_open_orders", "order_rate", "message_rate", "credit_limit", "initial_margin_pct",
              "maintenance_margin_pct", "max_leverage", "daily_loss_limit")
    return {f: _pick(f, acc, settings.defaults) for f in fields}


def session_limits(settings: RiskSettings, origin: str) -> dict[str, Any]:
    sec = settings.sessions.get(origin)
    d = settings.defaults
    return {
        "order_rate": (sec.order_rate if sec is not None and sec.order_rate is not None else d.session_order_rate),
        "message_rate": (sec.message_rate if sec is not None and sec.message_rate is not None
                         else d.session_message_rate),
    }


def bucket(rate: Rate | None):
    """The token bucket of a configured rate, or None when there is no limit."""
    if rate is None:
        return None
    from risk.throttle import TokenBucket

    return TokenBucket(rate.count, int(rate.per_seconds * NS_PER_SEC), rate.burst)


def describe_rate(rate: Rate | None) -> str | None:
    if rate is None:
        return None
    burst = f" (burst {rate.burst})" if rate.burst is not None else ""
    return f"{rate.count}/{Decimal(rate.per_seconds).normalize()}s{burst}"
