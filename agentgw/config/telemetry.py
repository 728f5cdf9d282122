"""The ``telemetry:`` section: traces, metrics, the access log (issue 9).

Self-contained (it imports nothing from :mod:`agentgw.config.model`, which imports it), with the same
conventions: unknown keys are errors, models are frozen, credentials are ``SecretStr``.
Changes to this section take effect on restart: exporters and the metric state are process-wide.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from agentgw.config._fields import checked_headers, http_url

__all__ = ["TelemetryConfig"]


class TelemetryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service_name: str = Field(default="agentgw", min_length=1)
    """``service.name`` of the resource attached to every span and metric."""
    metrics: bool = True
    """Collect metrics (served on ``/metrics`` and/or exported over OTLP)."""
    prometheus: bool = True
    """Serve ``GET /metrics`` in the Prometheus text format (needs ``metrics``)."""
    traces: bool = True
    """Record spans; they are exported over OTLP, so without ``otlp_endpoint`` none are recorded
    (``traceparent`` is still passed on to upstreams)."""
    sample_ratio: float = Field(default=0.1, ge=0.0, le=1.0)
    """Share of new traces recorded; a client's ``traceparent`` decides for the traces it continues
    (parent-based, as OpenTelemetry's ``parentbased_traceidratio`` sampler). The default, one new
    trace in ten, keeps tracing within a few percent of a request's CPU (``bench/run.py telemetry``)
    while every sampled client trace is still followed end to end; 1.0 records them all."""
    otlp_endpoint: str | None = None
    """OTLP/HTTP (protobuf) collector base URL, e.g. ``http://127.0.0.1:4318``; ``/v1/traces`` and
    ``/v1/metrics`` are appended."""
    otlp_headers: dict[str, SecretStr] = {}
    """Headers sent with every export, e.g. a collector API key."""
    export_interval_s: float = Field(default=15.0, gt=0)
    """How often metrics are pushed over OTLP."""
    span_export_delay_s: float = Field(default=1.0, gt=0)
    """Longest a finished span waits before it is sent over OTLP; a batch of 512 is sent at once
    (as OpenTelemetry's ``OTEL_BSP_SCHEDULE_DELAY``). Longer: fewer, larger exports when traffic is
    light."""
    capture_content: bool = False
    """Record prompts and completions on spans (``gen_ai.input.messages``/``gen_ai.output.messages``).
    Off by default: content may be personal or secret, and the GenAI conventions make it opt-in."""
    access_log: bool = False
    """One JSON line per request on the ``agentgw.access`` logger."""

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("otlp_headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return checked_headers(value)
