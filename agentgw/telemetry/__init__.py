"""Telemetry (issue 9): OpenTelemetry traces and metrics, ``/metrics``, and the access log.

Routes do not call OpenTelemetry: they fill an :class:`agentgw.exchange.Exchange` and tell the
gateway's observer; :class:`TelemetryObserver` turns that into spans, metrics and log lines.
"""

from agentgw.telemetry.endpoint import metrics_routes
from agentgw.telemetry.observer import TelemetryObserver
from agentgw.telemetry.setup import Telemetry

__all__ = ["Telemetry", "TelemetryObserver", "metrics_routes"]
