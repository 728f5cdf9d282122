"""The ledger writer's counters on ``/metrics``: records written, waiting and dropped.

A Prometheus collector read at each scrape, registered on the telemetry's registry by the app: the
counters live in the writer, and nothing is recorded on the request path for them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agentgw.accounting.writer import LedgerWriter

__all__ = ["LedgerCollector"]


class LedgerCollector(Collector):
    def __init__(self, writer: LedgerWriter) -> None:
        self._writer = writer

    def collect(self) -> Iterator[Metric]:
        writer = self._writer
        yield CounterMetricFamily(
            "agentgw_usage_records_written", "Usage records written to the ledger.", value=writer.written
        )
        yield CounterMetricFamily(
            "agentgw_usage_records_dropped",
            "Usage records lost: the ledger was unavailable and the buffer full, or at shutdown.",
            value=writer.dropped,
        )
        yield CounterMetricFamily(
            "agentgw_usage_ledger_write_failures",
            "Failed ledger write attempts (retried).",
            value=writer.failures,
        )
        yield GaugeMetricFamily(
            "agentgw_usage_records_pending", "Usage records waiting to be written.", value=writer.pending
        )
