"""Telemetry built from the ``telemetry:`` config: tracer provider, metric state, exporters, access log.

Nothing here touches OpenTelemetry's global providers: they can be set once per process, and a test
run builds many gateways. A :class:`Telemetry` owns what it builds; a span exporter, metric exporter
or metric reader passed in (tests pass the SDK's ``InMemorySpanExporter`` and
``InMemoryMetricReader``) is used as given and left to its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client import CollectorRegistry, generate_latest
from starlette.types import Scope

from agentgw._version import __version__
from agentgw.config.telemetry import TelemetryConfig
from agentgw.gateway import Gateway
from agentgw.telemetry.access_log import configure_access_logger
from agentgw.telemetry.metrics import MetricSet, PrometheusCollector
from agentgw.telemetry.observer import TelemetryObserver
from agentgw.telemetry.otlp import OTLPSpanSink
from agentgw.telemetry.rejections import rejection
from agentgw.telemetry.spans import SDKSpanSink, SpanSink
from agentgw.telemetry.upstream_health import UpstreamHealth

__all__ = ["Telemetry"]

log = logging.getLogger("agentgw")

_EXPORT_TIMEOUT_S = 5.0


class Telemetry:
    """The process's telemetry: an observer for the routes, ``/metrics`` text, and OTLP export.

    Start it with :meth:`start` (from the app's lifespan) and stop it with :meth:`stop`, which pushes
    the last metrics and flushes spans.
    """

    def __init__(
        self,
        config: TelemetryConfig,
        *,
        span_exporter: SpanExporter | None = None,
        metric_exporter: MetricExporter | None = None,
        metric_reader: MetricReader | None = None,
    ) -> None:
        self.config = config
        self.resource = Resource.create({"service.name": config.service_name, "service.version": __version__})
        headers = {name: value.get_secret_value() for name, value in config.otlp_headers.items()}
        endpoint = config.otlp_endpoint
        self.spans: SpanSink | None = None
        if config.traces and span_exporter is not None:
            scope = InstrumentationScope("agentgw", __version__)
            self.spans = SDKSpanSink(span_exporter, self.resource, scope)
        elif config.traces and endpoint is not None:
            self.spans = OTLPSpanSink(
                endpoint,
                headers=headers,
                resource=dict(self.resource.attributes),
                scope=("agentgw", __version__),
                timeout_s=_EXPORT_TIMEOUT_S,
                delay_s=config.span_export_delay_s,
            )
        self.metrics = MetricSet() if config.metrics else None
        self.registry: CollectorRegistry | None = None
        if self.metrics is not None and config.prometheus:
            self.registry = CollectorRegistry(auto_describe=False)
            self.registry.register(PrometheusCollector(self.metrics))
        self._owns_metric_exporter = False
        if metric_exporter is None and self.metrics is not None and endpoint is not None:
            metric_exporter = OTLPMetricExporter(
                endpoint=f"{endpoint}/v1/metrics", headers=headers, timeout=_EXPORT_TIMEOUT_S
            )
            self._owns_metric_exporter = True
        self._metric_exporter = metric_exporter if self.metrics is not None else None
        if metric_reader is not None and self.metrics is not None:
            _attach(metric_reader, self.metrics, self.resource)
        self._export_task: asyncio.Task[None] | None = None
        self.observer = TelemetryObserver(
            spans=self.spans,
            metrics=self.metrics,
            access_log=configure_access_logger() if config.access_log else None,
            capture_content=config.capture_content,
            sample_ratio=config.sample_ratio,
        )

    async def start(self) -> None:
        """Start exporting: spans in batches, metrics every ``export_interval_s``."""
        if self.spans is not None:
            await self.spans.start()
        if self._metric_exporter is not None and self._export_task is None:
            self._export_task = asyncio.create_task(self._export_periodically())

    async def stop(self) -> None:
        """Push the last metrics, flush spans, and close what this object created."""
        if self._export_task is not None:
            self._export_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._export_task
            self._export_task = None
        if self._metric_exporter is not None:
            await self.export_metrics()
            if self._owns_metric_exporter:
                await asyncio.to_thread(self._metric_exporter.shutdown)
        if self.spans is not None:
            await self.spans.stop()

    async def export_metrics(self) -> None:
        """Push a cumulative snapshot of every metric to the metric exporter (in a worker thread)."""
        if self._metric_exporter is None or self.metrics is None:
            return
        # The snapshot is taken on the event loop, where the metrics are recorded: no lock needed.
        data = self.metrics.metrics_data(self.resource)
        await asyncio.to_thread(self._metric_exporter.export, data, timeout_millis=_EXPORT_TIMEOUT_S * 1000)

    def watch(self, gateway: Gateway) -> None:
        """Read ``gateway``'s upstream health for the ``agentgw.upstream.up`` gauge."""
        if self.metrics is None:
            return
        health = UpstreamHealth(gateway)
        self.metrics.upstream_health = health.read
        self.observer.agent_outcome = health.agent_called

    def refused(self, scope: Scope, status: int) -> None:
        """Count and log a request answered ``status`` before any route took it (issue 9; the places
        that refuse so call :func:`agentgw.refusals.refused`, which finds this on the app)."""
        if self.metrics is not None or self.config.access_log:
            self.observer.rejected(rejection(scope, status))

    def prometheus_text(self) -> bytes:
        """The metrics in the Prometheus text exposition format (0.0.4).

        Raises:
            RuntimeError: Prometheus exposition is off.
        """
        if self.registry is None:
            raise RuntimeError("Prometheus exposition is off (telemetry.metrics or telemetry.prometheus)")
        return generate_latest(self.registry)

    async def _export_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.export_interval_s)
            await self.export_metrics()


def _attach(reader: MetricReader, metrics: MetricSet, resource: Resource) -> None:
    """Make ``reader`` (the SDK's ``InMemoryMetricReader``, a ``PeriodicExportingMetricReader``, ...)
    read ``metrics``.

    A reader pulls through the collect callback its ``MeterProvider`` registers; the gateway has no
    provider (see :mod:`agentgw.telemetry.metrics`), so it registers its own: a cumulative snapshot.
    """

    def collect(reader: MetricReader, timeout_millis: float = 10_000) -> MetricsData:
        return metrics.metrics_data(resource)

    reader._set_collect_callback(collect)
