"""The limiter's counters on ``/metrics``: refusals and store failures.

A Prometheus collector read at each scrape, registered on the telemetry's registry by the app: the
counts live in :class:`~agentgw.limits.limiter.Limits`, and nothing more is recorded on the request
path for them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from agentgw.limits.limiter import Limits

__all__ = ["LimitsCollector"]


class LimitsCollector(Collector):
    def __init__(self, limits: Limits) -> None:
        self._limits = limits

    def collect(self) -> Iterator[Metric]:
        limits = self._limits
        refused = CounterMetricFamily(
            "agentgw_limits_refused",
            "Requests refused by a rate limit (rate_limit_exceeded) or a budget (insufficient_quota).",
            labels=["reason"],
        )
        for reason, count in limits.refused.items():
            refused.add_metric([reason], count)
        yield refused
        yield CounterMetricFamily(
            "agentgw_limits_store_errors",
            "Times the limits store (Redis) failed or timed out.",
            value=limits.store_errors,
        )
        yield CounterMetricFamily(
            "agentgw_limits_uncounted",
            "Requests let through uncounted while the limits store failed (on_store_error: allow).",
            value=limits.uncounted,
        )
