"""UTC timestamps in FIX format (YYYYMMDD-HH:MM:SS[.sss]), fast in both directions.

Formatting caches the per-second prefix because every outbound message carries a
SendingTime (52) and strftime is the slowest part of building a header.
"""

from __future__ import annotations

import calendar
import time

_cache_sec = -1
_cache_prefix = b""
_cache_ms = -1
_cache_ms_text = b""


def format_utc(t: float, precision: int = 3) -> bytes:
    """`t` (seconds since the epoch) as a FIX UTCTimestamp with 0, 3 or 6 fractional digits."""
    global _cache_sec, _cache_prefix, _cache_ms, _cache_ms_text
    if precision == 3:
        ms = int(t * 1000)
        if ms == _cache_ms:
            return _cache_ms_text
        sec = ms // 1000
        if sec != _cache_sec:
            _cache_prefix = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(sec)).encode()
            _cache_sec = sec
        _cache_ms_text = b"%s.%03d" % (_cache_prefix, ms - sec * 1000)
        _cache_ms = ms
        return _cache_ms_text
    sec = int(t)
    if sec != _cache_sec:
        _cache_prefix = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(sec)).encode()
        _cache_sec = sec
    if precision == 0:
        return _cache_prefix
    if precision == 6:
        return b"%s.%06d" % (_cache_prefix, int((t - sec) * 1_000_000))
    raise ValueError(f"unsupported timestamp precision {precision}")


def parse_utc(value: bytes) -> float | None:
    """Parse a FIX UTCTimestamp; None when the text is not one (callers reject with 373=6)."""
    n = len(value)
    if n < 17 or value[8:9] != b"-" or value[11:12] != b":" or value[14:15] != b":":
        return None
    d, h, m, s = value[0:8], value[9:11], value[12:14], value[15:17]
    if not (d.isdigit() and h.isdigit() and m.isdigit() and s.isdigit()):
        return None
    frac = 0.0
    if n > 17:
        if value[17:18] != b"." or n == 18:
            return None
        digits = value[18:]
        if not digits.isdigit() or len(digits) > 9:
            return None
        frac = int(digits) / (10 ** len(digits))
    year, month, day = int(d[0:4]), int(d[4:6]), int(d[6:8])
    hour, minute, second = int(h), int(m), int(s)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    try:
        return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + frac
    except (ValueError, OverflowError):
        return None


def is_utc_timestamp(value: bytes) -> bool:
    return parse_utc(value) is not None


def is_utc_time_only(value: bytes) -> bool:
    """HH:MM:SS[.sss]"""
    n = len(value)
    if n < 8 or value[2:3] != b":" or value[5:6] != b":":
        return False
    h, m, s = value[0:2], value[3:5], value[6:8]
    if not (h.isdigit() and m.isdigit() and s.isdigit()):
        return False
    if int(h) > 23 or int(m) > 59 or int(s) > 60:
        return False
    if n > 8:
        return value[8:9] == b"." and n > 9 and value[9:].isdigit() and n - 9 <= 9
    return True


def is_utc_date(value: bytes) -> bool:
    """YYYYMMDD"""
    if len(value) != 8 or not value.isdigit():
        return False
    month, day = int(value[4:6]), int(value[6:8])
    return 1 <= month <= 12 and 1 <= day <= 31
