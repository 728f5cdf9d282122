"""``/healthz`` (the process is alive) and ``/readyz`` (every upstream is usable)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agentgw.gateway import Gateway
from agentgw.refusals import refused

__all__ = ["health_routes"]


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def readyz(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    report = await gateway.readiness()
    body = {"status": "ready" if report["ready"] else "not_ready", "backends": report["backends"]}
    if not report["ready"]:
        refused(request.scope, 503)  # an error answer that no exchange records
    if "mcp_servers" in report:
        body["mcp_servers"] = report["mcp_servers"]
    return Response(
        orjson.dumps(body), status_code=200 if report["ready"] else 503, media_type="application/json"
    )


def health_routes() -> list[BaseRoute]:
    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
