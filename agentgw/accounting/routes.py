"""``GET /admin/usage``: the usage report, for admins.

Who may read it: a principal holding one of ``accounting.admin_roles`` (default ``admin``). While
authentication is not configured (anonymous mode, where the gateway allows everything to everyone),
usage data would otherwise be open to the network, so the report is then served to loopback clients
only (``127.0.0.0/8``, ``::1``): an operator on the gateway's host, or ``agentgw usage`` run there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agentgw.accounting.errors import AdminOnly
from agentgw.accounting.report import parse_group, parse_time
from agentgw.accounting.setup import Accounting
from agentgw.auth.principal import principal_of
from agentgw.config.model import GatewayConfig
from agentgw.error_mapping import openai_error_response
from agentgw.errors import GatewayError, NotFound
from agentgw.refusals import refused

__all__ = ["USAGE_PATH", "usage_routes"]

USAGE_PATH = "/admin/usage"


def usage_routes(accounting: Accounting | None, config: Callable[[], GatewayConfig]) -> list[BaseRoute]:
    """The report route; ``config`` is the current configuration (who is an admin follows reloads)."""

    async def usage(request: Request) -> Response:
        try:
            if accounting is None:
                raise NotFound("usage accounting is disabled (accounting.enabled: false)")
            _require_admin(request, config())
            params = request.query_params
            group_by = parse_group(params.get("group_by"))
            since, until = parse_time(params.get("since")), parse_time(params.get("until"))
            report = await accounting.report(group_by, since, until)
        except GatewayError as error:
            refused(request.scope, error.status)
            return openai_error_response(error)
        body = orjson.dumps(report.to_json(**accounting.counters()))
        return Response(body, media_type="application/json")

    return [Route(USAGE_PATH, usage, methods=["GET"])]


def _require_admin(request: Request, config: GatewayConfig) -> None:
    """Raises: AdminOnly."""
    if not config.auth.enforced:
        if not _loopback(request):
            raise AdminOnly("the usage report is served to loopback clients while auth is not configured")
        return
    admins = config.accounting.admin_roles
    if not principal_of(request).roles.intersection(admins):
        raise AdminOnly(f"the usage report needs one of the roles: {', '.join(admins)}")


def _loopback(request: Request) -> bool:
    client = request.client
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False
