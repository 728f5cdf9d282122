"""MCP requests on ``/mcp`` reported to the gateway's :class:`~agentgw.exchange.ExchangeObserver` (issue 9).

:class:`ObservedHooks` is federation's :class:`~federation.FederationHooks`: the policy's
(``visible``, ``authorize``, ``record``: RBAC) plus an :class:`~agentgw.exchange.Exchange` per
request, filled as OpenTelemetry's MCP conventions (``docs/gen-ai/mcp.md``, Development status) ask:

- the span is ``{mcp.method.name} {target}``, the target being the tool or prompt as the client named
  it (a resource URI is an attribute only: it is not low-cardinality);
- ``mcp.session.id`` is the ``Mcp-Session-Id`` of handshake-era sessions (the 2024-11-05 SSE
  ``session_id``); 2026-07-28 requests are stateless and have none;
- ``error.type`` is the JSON-RPC error code answered, or ``tool_error`` for an ``isError`` result;
- the client's context is taken from ``params._meta`` (SEP-414), else from the ``traceparent``
  header: the conventions make the MCP context the parent, the HTTP one being the transport's;
- each call upstream is an :class:`~agentgw.exchange.UpstreamCall`, whose ``traceparent`` federation
  sends in the upstream request's ``params._meta`` (and HTTP headers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request

from agentgw.auth.principal import principal_of
from agentgw.exchange import Exchange, ExchangeObserver, UpstreamCall, finish
from agentgw.refusals import observed
from federation import Call, Caller, CallOutcome, ClientRequest, FederationHooks
from federation.hooks import EntryKind

__all__ = ["ObservedHooks"]

_KEY = "agentgw"
_NO_HEADERS: Mapping[str, str] = {}
_MODERN = frozenset(MODERN_PROTOCOL_VERSIONS)
# MCP method -> the attribute that names its target.
_TARGET_ATTRIBUTES = {
    "tools/call": "gen_ai.tool.name",
    "prompts/get": "gen_ai.prompt.name",
    "resources/read": "mcp.resource.uri",
    "resources/subscribe": "mcp.resource.uri",
    "resources/unsubscribe": "mcp.resource.uri",
}


class ObservedHooks:
    """``policy``'s decisions, and every request told to ``observer``.

    ``upstream_urls`` maps an upstream's name to its URL (``server.address``/``server.port`` of the
    upstream span); stdio servers and in-process toolsets have none.
    """

    def __init__(
        self, policy: FederationHooks, observer: ExchangeObserver, upstream_urls: Mapping[str, str]
    ) -> None:
        self._policy = policy
        self._observer = observer
        self._urls = upstream_urls
        # Called for every entry of every list: the policy's own, without a call in between.
        self.visible: Callable[[Caller, EntryKind, str, str], bool] = policy.visible

    async def authorize(self, caller: Caller, call: Call) -> None:
        """Raises: what ``policy.authorize`` raises (``federation.Forbidden``)."""
        await self._policy.authorize(caller, call)

    def started(self, caller: Caller, request: ClientRequest) -> None:
        http = caller.request if isinstance(caller.request, Request) else None
        exchange = Exchange(
            "mcp", http.scope["path"] if http is not None else "stdio", request.method, _parent(request, http)
        )
        attributes = exchange.attributes
        attributes["mcp.protocol.version"] = caller.protocol_version
        if caller.session_id is not None:
            attributes["mcp.session.id"] = caller.session_id
        if request.id is not None:
            attributes["jsonrpc.request.id"] = str(request.id)
        attributes["network.transport"] = "tcp" if http is not None else "pipe"
        name = _TARGET_ATTRIBUTES.get(request.method)
        if name is not None and request.target is not None:
            attributes[name] = request.target
            if name != "mcp.resource.uri":
                exchange.target = request.target
        if request.method == "tools/call":
            attributes["gen_ai.operation.name"] = "execute_tool"
        if http is not None:
            observed(http.scope)  # finished() records the request, whatever its end
            principal = principal_of(http)
            if not principal.anonymous:
                exchange.principal, exchange.team = principal.subject, principal.team
                exchange.key = principal.key_name
        request.state[_KEY] = exchange
        self._observer.start(exchange)

    def calling(self, caller: Caller, request: ClientRequest | None, call: Call) -> Mapping[str, str]:
        exchange = request.state.get(_KEY) if request is not None else None
        if exchange is None:
            return _NO_HEADERS
        exchange.backend = call.server
        if call.kind == "tool":
            exchange.tool_arguments = call.arguments
        upstream = UpstreamCall(call.server, url=self._urls.get(call.server), target=call.upstream_name)
        exchange.upstream.append(upstream)
        self._observer.upstream_start(exchange, upstream)
        return upstream.headers

    def record(self, caller: Caller, outcome: CallOutcome) -> None:
        self._policy.record(caller, outcome)
        request = outcome.request
        exchange: Exchange | None = request.state.get(_KEY) if request is not None else None
        if exchange is None or not exchange.upstream or exchange.upstream[-1].ended is not None:
            return
        upstream = exchange.upstream[-1]
        if outcome.call.kind == "tool":
            exchange.tool_result = outcome.result
        if outcome.error_code is not None:
            upstream.error_type = str(outcome.error_code)
        elif outcome.is_error:
            upstream.error_type = "tool_error"
        upstream.ended = time.perf_counter()
        self._observer.upstream_end(exchange, upstream)

    def finished(self, caller: Caller, request: ClientRequest) -> None:
        exchange: Exchange | None = request.state.pop(_KEY, None)
        if exchange is None:
            return
        code = request.error_code
        if request.cancelled:
            exchange.status, exchange.error_type = 499, "cancelled"
        else:
            # The answer, error or not, is a JSON-RPC response: on HTTP 200 (or the SSE stream), but
            # for 2026-07-28 over HTTP, which answers an error with the status the SDK's table maps
            # its code to (an unknown tool: 400, an unknown method: 404).
            exchange.status = 200
            if code is not None:
                exchange.error_type = exchange.attributes["rpc.response.status_code"] = str(code)
                if isinstance(caller.request, Request) and caller.protocol_version in _MODERN:
                    exchange.status = ERROR_CODE_HTTP_STATUS.get(code, 200)
            elif request.is_error:
                exchange.error_type = "tool_error"
        finish(self._observer, exchange)


def _parent(request: ClientRequest, http: Request | None) -> Mapping[str, str]:
    meta = request.meta
    traceparent = meta.get("traceparent")
    if isinstance(traceparent, str):
        tracestate = meta.get("tracestate")
        if isinstance(tracestate, str):
            return {"traceparent": traceparent, "tracestate": tracestate}
        return {"traceparent": traceparent}
    return http.headers if http is not None else _NO_HEADERS
