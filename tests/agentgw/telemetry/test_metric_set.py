"""The in-process instruments of :mod:`agentgw.telemetry.metrics`, recorded and read directly."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource

from agentgw.telemetry import metrics
from agentgw.telemetry.metrics import MetricSet

LABELS = ("chat", "openai", "gpt-4o-mini", "gpt-4o-mini-2024")


def test_an_llm_requests_values_land_in_each_histograms_series() -> None:
    metric_set = MetricSet()
    key = ("chat", "openai", "gpt-4o-mini", "gpt-4o-mini-2024", None)
    metric_set.llm_series(key, LABELS).record(0.05, 200, 40, None)
    metric_set.llm[key].record(0.5, 100, None, 0.01)  # the group is kept: found with one lookup

    duration = metric_set.operation_duration.series[(*LABELS, None)]
    assert (duration.count, duration.sum, duration.min, duration.max) == (2, 0.55, 0.05, 0.5)
    assert duration.counts[metrics.DURATION_BUCKETS.index(0.08)] == 1  # 0.05 is in (0.04, 0.08]
    tokens = metric_set.token_usage.series
    assert (tokens[(*LABELS, "input")].count, tokens[(*LABELS, "input")].sum) == (2, 300)
    assert (tokens[(*LABELS, "output")].count, tokens[(*LABELS, "output")].sum) == (1, 40)
    assert list(metric_set.time_to_first_chunk.series) == [LABELS]  # made when first recorded
    assert metric_set.time_to_first_chunk.series[LABELS].count == 1


def test_no_empty_series_for_values_a_request_did_not_have() -> None:
    metric_set = MetricSet()
    metric_set.llm_series(
        ("embeddings", "openai", "e", "e", None), ("embeddings", "openai", "e", "e")
    ).record(0.01, 8, None, None)
    assert [labels[-1] for labels in metric_set.token_usage.series] == ["input"]
    assert not metric_set.time_to_first_chunk.series
    names = {
        m.name
        for m in metric_set.metrics_data(Resource.create({})).resource_metrics[0].scope_metrics[0].metrics
    }
    assert "gen_ai.client.operation.time_to_first_chunk" not in names


def test_series_past_the_limit_go_to_the_overflow_series() -> None:
    metric_set = MetricSet()
    limit = metrics._SERIES_LIMIT
    for i in range(limit + 5):
        metric_set.requests.add(1, ("llm", f"/route/{i}", 200, None, None))
        metric_set.llm_series(
            ("chat", None, f"model-{i}", None, None), ("chat", None, f"model-{i}", None)
        ).record(0.01, None, None, None)
    assert len(metric_set.requests.series) == limit + 1
    assert metric_set.requests.series[("otel.metric.overflow",)] == 5
    assert metric_set.requests.series[("llm", "/route/0", 200, None, None)] == 1
    durations = metric_set.operation_duration.series
    assert len(durations) == limit + 1 and durations[("otel.metric.overflow",)].count == 5
