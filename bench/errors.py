"""The benchmarks' one exception: a run that cannot produce trustworthy numbers stops with it."""

from __future__ import annotations

__all__ = ["BenchError"]


class BenchError(Exception):
    """A process did not start, a request failed, or a load generator's output was unreadable."""
