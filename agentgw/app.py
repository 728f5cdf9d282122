"""The ASGI application: :func:`create_app` assembles the routes around one :class:`Gateway`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from agentgw.a2a.routes import a2a_routes
from agentgw.accounting import Accounting, usage_routes
from agentgw.accounting.metrics import LedgerCollector
from agentgw.auth import Authentication, AuthMiddleware, resource_metadata_routes
from agentgw.config.model import GatewayConfig
from agentgw.error_mapping import openai_error_response
from agentgw.errors import ClientError, GatewayError, NotFound
from agentgw.exchange import ExchangeObserver, Observers
from agentgw.gateway import Gateway
from agentgw.health import health_routes
from agentgw.limits import LimitedA2APolicy
from agentgw.limits.metrics import LimitsCollector
from agentgw.llm.routes import llm_routes
from agentgw.rbac import RBACA2APolicy
from agentgw.refusals import OBSERVED, refused
from agentgw.reload import watch_config
from agentgw.telemetry import Telemetry, metrics_routes

__all__ = ["create_app"]

log = logging.getLogger("agentgw")


def create_app(
    config: GatewayConfig,
    *,
    config_path: str | None = None,
    telemetry: Telemetry | None = None,
    accounting: Accounting | None = None,
) -> Starlette:
    """Build the gateway app for ``config``.

    With ``config_path`` and ``server.reload`` on, the file is watched and valid edits are swapped in
    while the app runs. Upstream clients and launched processes are made in the app's lifespan.
    ``telemetry`` defaults to one built from ``config.telemetry`` (tests pass one with in-memory
    providers).
    """
    if telemetry is None:
        telemetry = Telemetry(config.telemetry)
    base_dir = Path(config_path).resolve().parent if config_path else Path.cwd()
    if accounting is None and config.accounting.enabled:
        accounting = Accounting(config.accounting, base_dir)  # usage records (issue 8)
    observer: ExchangeObserver = telemetry.observer
    if accounting is not None:
        observer = Observers((telemetry.observer, accounting.observer))
        if telemetry.registry is not None:
            telemetry.registry.register(LedgerCollector(accounting.writer))
    gateway = Gateway(config, config_path=config_path, observer=observer)
    if telemetry.registry is not None:
        telemetry.registry.register(LimitsCollector(gateway.limits))  # refusals, store failures
    telemetry.watch(gateway)  # upstream health for the agentgw.upstream.up gauge
    authentication = Authentication(
        lambda: gateway.runtime.config.auth,
        Path(config_path).resolve().parent if config_path else Path.cwd(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        await telemetry.start()
        if accounting is not None:
            await accounting.start()
        watcher = None
        if config_path is not None and config.server.reload:
            watcher = asyncio.create_task(watch_config(gateway, config_path))
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await gateway.stop()
            if accounting is not None:
                await accounting.stop()  # after the last request ended: flush the ledger
            await telemetry.stop()
            await authentication.aclose()

    app = Starlette(
        routes=[
            *health_routes(),
            *llm_routes(),
            *a2a_routes(policy=LimitedA2APolicy(RBACA2APolicy(), lambda request: gateway.limits)),
            *metrics_routes(telemetry),
            *usage_routes(accounting, lambda: gateway.runtime.config),
            *resource_metadata_routes(),
            *gateway.mcp.routes(),
        ],
        middleware=[Middleware(AuthMiddleware, authentication=authentication)],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
    )
    app.state.gateway = gateway
    app.state.telemetry = telemetry
    app.state.refused = telemetry.refused  # see agentgw.refusals
    app.state.accounting = accounting
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error: GatewayError = NotFound(f"no route for {request.method} {request.url.path}")
    else:
        error = ClientError(str(exc.detail))
        error.status = exc.status_code
        error.code = "method_not_allowed" if exc.status_code == 405 else "invalid_request"
    response = openai_error_response(error)
    if exc.headers:
        response.headers.update(exc.headers)
    refused(request.scope, response.status_code)  # the router's 404 and 405: no route took them
    return response


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # A bug, not a request error: log it in full for the operator, tell the client nothing internal.
    log.exception("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    response = openai_error_response(GatewayError("internal error in the gateway"))
    if OBSERVED not in request.scope:  # a route's exchange, if any, recorded the failure itself
        refused(request.scope, response.status_code)
    return response
