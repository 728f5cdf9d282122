"""``GET /metrics``: the gateway's metrics in the Prometheus text format.

Served as text format 0.0.4, which every Prometheus version scrapes: the names are plain
``[a-zA-Z0-9_]`` ones (OpenTelemetry's dots are already underscores), so 1.0.0 would add nothing.
"""

from __future__ import annotations

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agentgw.telemetry.setup import Telemetry

__all__ = ["metrics_routes"]


def metrics_routes(telemetry: Telemetry) -> list[BaseRoute]:
    """The ``/metrics`` route when Prometheus exposition is on, else none."""
    if telemetry.registry is None:
        return []

    async def metrics(request: Request) -> Response:
        return Response(telemetry.prometheus_text(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return [Route("/metrics", metrics, methods=["GET"])]
