"""Counting windows: the minute of a rate limit, the UTC day or month of a budget.

A window is named by where it starts (``202611`` for November 2026), so every replica, whatever its
clock's offset within the window, counts into the same counter; a counter expires some time after
its window ends (the TTL) and the next window starts from zero. Time is passed in (seconds since
the epoch), so tests move it with an injected clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["Window", "budget_window", "minute_window"]

_MINUTE = 60
_DAY = 86_400
# Kept past the end of the window: long enough for the corrections of requests still running.
_GRACE_S = 3_600


@dataclass(frozen=True, slots=True)
class Window:
    id: str
    """Appended to the counter's key."""
    reset_s: float
    """Seconds until the window (or, sliding, the current minute) ends."""
    ttl_s: int
    previous_id: str | None = None
    weight: float = 0.0
    """Sliding windows: the share of the previous minute still inside the last 60 seconds."""


def minute_window(now: float, *, sliding: bool) -> Window:
    """The per-minute window at ``now``; ``sliding`` also names the previous minute and its weight."""
    index = math.floor(now / _MINUTE)
    elapsed = now - index * _MINUTE
    reset = _MINUTE - elapsed
    if not sliding:
        return Window(f"M{index}", reset, 2 * _MINUTE)
    # Cloudflare-style sliding window counter: the previous minute counts for the part of it that is
    # still within the last 60 s (exact for uniform traffic, never more than the true count).
    return Window(f"M{index}", reset, 3 * _MINUTE, f"M{index - 1}", (_MINUTE - elapsed) / _MINUTE)


def budget_window(now: float, period: str) -> Window:
    """The calendar ``day`` or ``month`` (UTC) at ``now``."""
    moment = datetime.fromtimestamp(now, UTC)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start.timestamp() + _DAY
        name = f"d{start:%Y%m%d}"
    else:
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        end = following.timestamp()
        name = f"m{start:%Y%m}"
    reset = end - now
    return Window(name, reset, math.ceil(reset) + _GRACE_S)
