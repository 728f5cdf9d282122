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

__all__ = ["Window", "Windows", "budget_window", "minute_window"]

_MINUTE = 60
_DAY = 86_400
# Kept past the end of the window: long enough for the corrections of requests still running.
_GRACE_S = 3_600


@dataclass(frozen=True, slots=True)
class Window:
    id: str
    """Appended to the counter's key."""
    start: float
    end: float
    """Where the window (for a sliding window: the current minute) starts and ends, epoch seconds."""
    keep_s: int
    """How long a counter must outlive the window's end (read as the previous minute; late corrections)."""
    previous_id: str | None = None
    """Sliding windows: the previous minute, whose count is weighed by :meth:`weight`."""

    def reset_s(self, now: float) -> float:
        """Seconds until the window (or, sliding, the current minute) ends."""
        return self.end - now

    def ttl_s(self, now: float) -> int:
        """The expiry of a counter of this window written at ``now``."""
        return math.ceil(self.end - now) + self.keep_s

    def weight(self, now: float) -> float:
        """The share of the previous minute still inside the last 60 seconds (0 for fixed windows)."""
        return 0.0 if self.previous_id is None else (self.end - now) / _MINUTE


class Windows:
    """The current window of each period, computed again only when ``now`` leaves it."""

    def __init__(self, *, sliding: bool) -> None:
        self._sliding = sliding
        self._current: dict[str, Window] = {}

    def get(self, period: str, now: float) -> Window:
        window = self._current.get(period)
        if window is None or not window.start <= now < window.end:
            window = (
                minute_window(now, sliding=self._sliding)
                if period == "minute"
                else budget_window(now, period)
            )
            self._current[period] = window
        return window


def minute_window(now: float, *, sliding: bool) -> Window:
    """The per-minute window at ``now``; ``sliding`` also names the previous minute."""
    index = math.floor(now / _MINUTE)
    start = index * _MINUTE
    if not sliding:
        return Window(f"M{index}", start, start + _MINUTE, _MINUTE)
    # Cloudflare-style sliding window counter: the previous minute counts for the part of it that is
    # still within the last 60 s (exact for uniform traffic, never more than the true count).
    return Window(f"M{index}", start, start + _MINUTE, 2 * _MINUTE, f"M{index - 1}")


def budget_window(now: float, period: str) -> Window:
    """The calendar ``day`` or ``month`` (UTC) at ``now``."""
    moment = datetime.fromtimestamp(now, UTC)
    if period == "day":
        first = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        start = first.timestamp()
        end = start + _DAY
        name = f"d{first:%Y%m%d}"
    else:
        first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (
            first.replace(year=first.year + 1, month=1)
            if first.month == 12
            else first.replace(month=first.month + 1)
        )
        start, end = first.timestamp(), following.timestamp()
        name = f"m{first:%Y%m}"
    return Window(name, start, end, _GRACE_S)
