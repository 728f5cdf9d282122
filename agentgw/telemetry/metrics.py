"""The gateway's metric instruments, aggregated in process, read out as Prometheus text and OTLP.

Why not the OpenTelemetry SDK's ``MeterProvider`` on the request path: measured on this machine
(SDK 1.45), one ``Histogram.record`` costs about 6 µs per metric reader (attribute-set hashing,
a lock, exemplar sampling), and a request records five to seven values, about 40 µs, against the
gateway's 75-100 µs of CPU for a whole proxied chat completion: far over the 5% budget of issue 9.
Here a record is a dict lookup on a flat tuple of label values, a bisect and a few additions (well
under 1 µs), all on the event loop thread, so no lock is needed. An LLM request's GenAI histograms
(duration, input and output tokens, time to first chunk) share their labels but for the token type
and ``error.type``: :meth:`MetricSet.llm_series` finds all of their series with one lookup. The
instruments keep the semantic conventions' names, units and bucket boundaries; readers take
cumulative snapshots: :class:`PrometheusCollector` for ``/metrics`` and
:meth:`MetricSet.metrics_data` for the SDK's OTLP exporter.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.export import Gauge as GaugeData
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from agentgw._version import __version__
from agentgw.telemetry.native import speedups

__all__ = [
    "Counter",
    "Gauge",
    "Histogram",
    "HistogramSeries",
    "HistogramSeriesPy",
    "LLMSeries",
    "LabelValues",
    "MetricSet",
    "PrometheusCollector",
    "attributes_of",
]

log = logging.getLogger("agentgw")

AttributeValue = str | bool | int | float
LabelValues = tuple[AttributeValue | None, ...]
"""A series' label values in its instrument's ``labels`` order, ``None`` for an absent label."""

_SERIES_LIMIT = 2000
_LLM_GROUP_LIMIT = 4 * _SERIES_LIMIT  # groups are a cache: past this, a group is made per request
_OVERFLOW: LabelValues = ("otel.metric.overflow",)

# GenAI semantic conventions, gen-ai-metrics.md: ExplicitBucketBoundaries advice.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# MCP semantic conventions, mcp.md: mcp.server.operation.duration.
MCP_DURATION_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class HistogramSeriesPy:
    """One series of a :class:`Histogram`: bucket counts, sum, min and max (:data:`HistogramSeries`:
    this, or the same in C)."""

    __slots__ = ("bounds", "counts", "max", "min", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")

    @property
    def count(self) -> int:
        return sum(self.counts)  # read at collection only: not kept up to date on every record

    def record(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value


HistogramSeries: type[HistogramSeriesPy] = (
    HistogramSeriesPy if speedups is None else cast(type[HistogramSeriesPy], speedups.HistogramSeries)
)
"""The series class recorded into: :class:`HistogramSeriesPy`, or its C counterpart when built
(:mod:`agentgw.telemetry.native`), which an LLM request's records skip Python for altogether
(``_speedups.record_llm``): Python's were some 15k instructions per request, a third of the 5%
budget of issue 9."""


class Histogram:
    """An explicit-bucket histogram; bucket ``i`` counts values in ``(bounds[i-1], bounds[i]]``.

    A series is keyed by its label values, in the order of ``labels``; ``None`` means the label is
    absent. A call site passes a flat tuple it builds anyway: no name/value pairs, no dict.
    """

    kind = "histogram"

    def __init__(
        self, name: str, unit: str, description: str, bounds: Sequence[float], labels: tuple[str, ...]
    ) -> None:
        self.name = name
        self.unit = unit
        self.description = description
        self.labels = labels
        self.bounds = tuple(float(b) for b in bounds)
        self.series: dict[LabelValues, HistogramSeriesPy] = {}

    def record(self, value: float, labels: LabelValues) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series_of(labels)
        series.record(value)

    def series_of(self, labels: LabelValues) -> HistogramSeriesPy:
        """The series of ``labels``, made if new (the overflow series past the series limit)."""
        series = self.series.get(labels)
        if series is None:
            if len(self.series) >= _SERIES_LIMIT:
                labels = _OVERFLOW
            series = self.series.setdefault(labels, HistogramSeries(self.bounds))
        return series


class LLMSeries:
    """The series of an LLM request's GenAI histograms for one set of labels.

    The duration series is made with the group; the others when first recorded (an embeddings
    model has no output tokens, an unstreamed one no first chunk: no empty series is exported).
    """

    __slots__ = ("_first_chunk", "_input", "_labels", "_metrics", "_output", "duration")

    def __init__(self, metrics: MetricSet, labels: LabelValues, error: str | None) -> None:
        self._metrics = metrics
        self._labels = labels
        self.duration = metrics.operation_duration.series_of((*labels, error))
        self._input: HistogramSeriesPy | None = None
        self._output: HistogramSeriesPy | None = None
        self._first_chunk: HistogramSeriesPy | None = None

    def record(
        self, duration: float, input_tokens: int | None, output_tokens: int | None, first_chunk: float | None
    ) -> None:
        """One request's values; ``None`` for one it does not have."""
        self.duration.record(duration)
        if input_tokens is not None:
            series = self._input
            if series is None:
                series = self._input = self._metrics.token_usage.series_of((*self._labels, "input"))
            series.record(input_tokens)
        if output_tokens is not None:
            series = self._output
            if series is None:
                series = self._output = self._metrics.token_usage.series_of((*self._labels, "output"))
            series.record(output_tokens)
        if first_chunk is not None:
            series = self._first_chunk
            if series is None:
                series = self._first_chunk = self._metrics.time_to_first_chunk.series_of(self._labels)
            series.record(first_chunk)


class Counter:
    """A monotonic sum; series keyed like :class:`Histogram`'s."""

    kind = "counter"

    def __init__(self, name: str, unit: str, description: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.unit = unit
        self.description = description
        self.labels = labels
        self.series: dict[LabelValues, int] = {}

    def add(self, value: int, labels: LabelValues) -> None:
        # Two hashes of the label tuple (a tuple does not cache its hash), not three.
        series = self.series
        count = series.get(labels)
        if count is None:
            if len(series) >= _SERIES_LIMIT:
                labels = _OVERFLOW
            count = series.get(labels, 0)
        series[labels] = count + value


class Gauge:
    """A value read when the metrics are: ``read`` returns each series' current value."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        unit: str,
        description: str,
        labels: tuple[str, ...],
        read: Callable[[], Mapping[LabelValues, float]],
    ) -> None:
        self.name = name
        self.unit = unit
        self.description = description
        self.labels = labels
        self.read = read

    @property
    def series(self) -> Mapping[LabelValues, float]:
        try:
            return self.read()
        except Exception:  # a reading must never break a scrape: the gauge is left out
            log.exception("metric %s: reading failed", self.name)
            return {}


Instrument = Histogram | Counter | Gauge


def attributes_of(instrument: Instrument, labels: LabelValues) -> dict[str, AttributeValue]:
    """A series' attributes by name (its labels that are present)."""
    if labels is _OVERFLOW:
        return {"otel.metric.overflow": True}
    return {name: value for name, value in zip(instrument.labels, labels, strict=False) if value is not None}


class MetricSet:
    """Every instrument the gateway records, created once per process."""

    def __init__(self) -> None:
        self.started_ns = time.time_ns()
        genai = (
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "gen_ai.response.model",
        )
        self.token_usage = Histogram(
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used.",
            TOKEN_BUCKETS,
            (*genai, "gen_ai.token.type"),
        )
        self.operation_duration = Histogram(
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration.",
            DURATION_BUCKETS,
            (*genai, "error.type"),
        )
        self.time_to_first_chunk = Histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            "s",
            "Time to receive the first chunk of a streamed response, from when the request arrived.",
            DURATION_BUCKETS,
            genai,
        )
        self.mcp_operation_duration = Histogram(
            "mcp.server.operation.duration",
            "s",
            "MCP request or notification duration as observed on the receiver.",
            MCP_DURATION_BUCKETS,
            (
                "mcp.method.name",
                "gen_ai.tool.name",
                "gen_ai.prompt.name",
                "mcp.protocol.version",
                "error.type",
            ),
        )
        self.requests = Counter(
            "agentgw.requests",
            "{request}",
            "Client requests by protocol, route, status and team.",
            ("agentgw.protocol", "http.route", "http.response.status_code", "agentgw.team", "error.type"),
        )
        self.upstream_requests = Counter(
            "agentgw.upstream.requests",
            "{request}",
            "Upstream calls by backend and outcome.",
            ("agentgw.protocol", "agentgw.backend", "http.response.status_code", "error.type"),
        )
        self.upstream_health: Callable[[], Mapping[LabelValues, float]] = dict
        """Read at each collection: ``(kind, name) -> 1 (up) or 0 (down)`` per configured upstream."""
        self.upstream_up = Gauge(
            "agentgw.upstream.up",
            "1",
            "Whether an upstream (LLM backend, MCP server, A2A agent) is usable: 1 up, 0 down.",
            ("agentgw.upstream.kind", "agentgw.upstream.name"),
            lambda: self.upstream_health(),
        )
        self.llm: dict[tuple[str, str | None, str | None, str | None, str | None], LLMSeries] = {}
        """:meth:`llm_series` by its arguments (the provider as configured, not yet mapped)."""
        self.instruments: tuple[Instrument, ...] = (
            self.token_usage,
            self.operation_duration,
            self.time_to_first_chunk,
            self.mcp_operation_duration,
            self.requests,
            self.upstream_requests,
            self.upstream_up,
        )

    def llm_series(
        self,
        key: tuple[str, str | None, str | None, str | None, str | None],
        labels: LabelValues,
    ) -> LLMSeries:
        """The series of the GenAI histograms for ``labels`` (operation, provider name, request
        model, response model) and ``key[-1]`` (``error.type``), kept in :attr:`llm` under ``key``.

        A request looks its group up in :attr:`llm` first and calls this only when it is missing.
        """
        group = LLMSeries(self, labels, key[-1])
        if len(self.llm) < _LLM_GROUP_LIMIT:
            self.llm[key] = group
        return group

    def metrics_data(self, resource: Resource) -> MetricsData:
        """A cumulative snapshot in the SDK's data model, for an OTLP ``MetricExporter`` or reader."""
        now = time.time_ns()
        metrics: list[Metric] = []
        for instrument in self.instruments:
            series = list(instrument.series.items())
            if not series:
                continue
            data: HistogramData | Sum | GaugeData
            if isinstance(instrument, Histogram):
                data = HistogramData(
                    data_points=[
                        HistogramDataPoint(
                            attributes=attributes_of(instrument, labels),
                            start_time_unix_nano=self.started_ns,
                            time_unix_nano=now,
                            count=s.count,
                            sum=s.sum,
                            bucket_counts=list(s.counts),
                            explicit_bounds=instrument.bounds,
                            min=s.min,
                            max=s.max,
                        )
                        for labels, s in series
                        if isinstance(s, HistogramSeries)
                    ],
                    aggregation_temporality=AggregationTemporality.CUMULATIVE,
                )
            else:
                points = [
                    NumberDataPoint(
                        attributes=attributes_of(instrument, labels),
                        start_time_unix_nano=self.started_ns if isinstance(instrument, Counter) else 0,
                        time_unix_nano=now,
                        value=value,
                    )
                    for labels, value in series
                    if isinstance(value, int | float)
                ]
                if isinstance(instrument, Counter):
                    data = Sum(
                        data_points=points,
                        aggregation_temporality=AggregationTemporality.CUMULATIVE,
                        is_monotonic=True,
                    )
                else:
                    data = GaugeData(data_points=points)
            metrics.append(Metric(instrument.name, instrument.description, instrument.unit, data))
        scope = InstrumentationScope("agentgw", __version__)
        return MetricsData(
            resource_metrics=[
                ResourceMetrics(
                    resource=resource,
                    scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics, schema_url="")],
                    schema_url="",
                )
            ]
        )


class PrometheusCollector(Collector):
    """Exposes a :class:`MetricSet` to ``prometheus_client`` under OpenTelemetry's Prometheus names.

    OTel -> Prometheus (OpenTelemetry "Prometheus and OpenMetrics compatibility"): dots become
    underscores, the unit ``s`` adds ``_seconds``, annotation units (``{token}``) add nothing, counters
    end in ``_total``; attributes become labels the same way.
    """

    def __init__(self, metrics: MetricSet) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Any]:
        for instrument in self._metrics.instruments:
            yield _family(instrument)


def _family(instrument: Instrument) -> HistogramMetricFamily | CounterMetricFamily | GaugeMetricFamily:
    name = _prometheus_name(instrument.name)
    if instrument.unit == "s":
        name += "_seconds"
    series = list(instrument.series.items())
    present = [
        i
        for i in range(len(instrument.labels))
        if any(labels is not _OVERFLOW and labels[i] is not None for labels, _ in series)
    ]
    names = [_prometheus_name(instrument.labels[i]) for i in present]
    if any(labels is _OVERFLOW for labels, _ in series):
        names.append("otel_metric_overflow")
    if isinstance(instrument, Gauge):
        gauge = GaugeMetricFamily(name, instrument.description, labels=names)
        for labels, value in instrument.series.items():
            gauge.add_metric(_label_values(present, labels, names), float(value))
        return gauge
    if isinstance(instrument, Counter):
        counter = CounterMetricFamily(name, instrument.description, labels=names)
        for labels, count in list(instrument.series.items()):
            counter.add_metric(_label_values(present, labels, names), count)
        return counter
    histogram = HistogramMetricFamily(name, instrument.description, labels=names)
    bounds = [_bound(b) for b in instrument.bounds] + ["+Inf"]
    for labels, s in list(instrument.series.items()):
        cumulative, buckets = 0, []
        for bound, count in zip(bounds, s.counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        histogram.add_metric(_label_values(present, labels, names), buckets, s.sum)
    return histogram


def _prometheus_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _bound(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _label_values(present: Sequence[int], labels: LabelValues, names: Sequence[str]) -> list[str]:
    if labels is _OVERFLOW:
        return [""] * (len(names) - 1) + ["true"]
    values = [_label_value(labels[i]) for i in present]
    return values if len(values) == len(names) else [*values, ""]


def _label_value(value: AttributeValue | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
