"""The two span shapes of an :class:`~agentgw.exchange.Exchange`: the request, and each upstream call.

On the request path the observer only takes a snapshot of the values a span is made of
(:func:`request_span`, :func:`upstream_span`: the span's tuple, no dict, no formatting); the
names and attributes are built here when the span is exported. The snapshot's ``fixed`` part holds
what repeats from request to request, so the encoder builds and encodes it once per distinct value
(see :mod:`agentgw.telemetry.spans`).

:data:`request_span` and :data:`upstream_span` are the C implementations of
:func:`request_span_py` and :func:`upstream_span_py` when they are built (:mod:`agentgw.telemetry.native`).

Span names: GenAI ``{gen_ai.operation.name} {gen_ai.request.model}``; MCP ``{mcp.method.name}
{target}``; A2A ``{a2a.method.name}``. Upstream calls: the same, with the upstream's model or name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from agentgw.exchange import Exchange, UpstreamCall
from agentgw.telemetry import content, genai
from agentgw.telemetry.native import speedups
from agentgw.telemetry.spans import CLIENT, SERVER, Fixed, FrozenSpan, InFlight, shape_number

__all__ = ["REQUEST", "UPSTREAM", "request_span", "request_span_py", "upstream_span", "upstream_span_py"]


class _RequestShape:
    """The request's span. ``fixed``: (shape, protocol, operation, target, route, status, backend,
    provider, stream, response model, finish reasons, error type, request parameters as the body
    has them (:func:`~agentgw.telemetry.genai.parameter_values`)): what a deployment's clients send
    and get alike. ``variable``: (response id, the five token counts of
    :class:`~agentgw.exchange.Usage`, time to first chunk: :attr:`variable_names`; then protocol
    attributes, the route and request body and the response body when content is captured:
    :mod:`agentgw.telemetry.content`)."""

    def name(self, fixed: Fixed) -> str:
        protocol, operation, target = fixed[1], fixed[2], fixed[3]
        if protocol == "a2a" or target is None:
            return str(operation)
        return f"{operation} {target}"

    def fixed_attributes(self, fixed: Fixed) -> dict[str, AttributeValue]:
        (_, protocol, operation, target, route, status, backend, provider, stream, response_model) = fixed[
            :10
        ]
        finish_reasons, error_type, parameters = fixed[10], fixed[11], fixed[12]
        attributes: dict[str, AttributeValue]
        if protocol == "llm":
            attributes = {genai.OPERATION_NAME: operation, genai.REQUEST_STREAM: stream}
            if target is not None:
                attributes[genai.REQUEST_MODEL] = target
        elif protocol == "mcp":
            attributes = {genai.MCP_METHOD_NAME: operation}
        else:
            attributes = {genai.A2A_METHOD_NAME: operation}
        attributes[genai.HTTP_ROUTE] = route
        attributes[genai.PROTOCOL] = protocol
        if protocol != "mcp":  # MCP: the JSON-RPC outcome (rpc.response.status_code) instead
            attributes[genai.HTTP_STATUS] = status
        if protocol == "llm":
            if provider is not None:
                attributes[genai.PROVIDER_NAME] = genai.provider_name(provider)
            if response_model is not None:
                attributes[genai.RESPONSE_MODEL] = response_model
            if finish_reasons:
                attributes[genai.RESPONSE_FINISH_REASONS] = finish_reasons
            if parameters and (pairs := genai.request_parameters(parameters)):
                attributes.update(pairs)
        if backend is not None:
            attributes[genai.BACKEND] = backend
        if error_type is not None:
            attributes[genai.ERROR_TYPE] = error_type
        return attributes

    variable_names: tuple[str, ...] = (
        genai.RESPONSE_ID,
        genai.USAGE_INPUT_TOKENS,
        genai.USAGE_OUTPUT_TOKENS,
        genai.USAGE_CACHE_READ_INPUT_TOKENS,
        genai.USAGE_CACHE_CREATION_INPUT_TOKENS,
        genai.USAGE_REASONING_OUTPUT_TOKENS,
        genai.RESPONSE_TIME_TO_FIRST_CHUNK,
    )

    def variable_attributes(self, variable: Any) -> dict[str, AttributeValue]:
        extra, captured, response = variable[7:]
        attributes: dict[str, AttributeValue] = {}
        if captured is not None and captured[0] == _TOOL_CALL:  # MCP: the tool's arguments and result
            attributes[genai.TOOL_CALL_ARGUMENTS] = content.json_text(captured[1])
            if response is not None:
                attributes[genai.TOOL_CALL_RESULT] = content.json_text(response)
        elif captured is not None:
            route, request = captured
            if (instructions := content.system_instructions(route, request)) is not None:
                attributes[genai.SYSTEM_INSTRUCTIONS] = instructions
            if (messages := content.input_messages(route, request)) is not None:
                attributes[genai.INPUT_MESSAGES] = messages
            if response is not None and (messages := content.output_messages(route, response)) is not None:
                attributes[genai.OUTPUT_MESSAGES] = messages
        if extra:
            attributes.update(extra)
        return attributes


class _UpstreamShape:
    """An upstream call's span. ``fixed``: (shape, protocol, operation, provider, model, backend,
    url, target, status, error type); no ``variable``."""

    def name(self, fixed: Fixed) -> str:
        _, protocol, operation, _, model, backend, _, target = fixed[:8]
        if protocol == "llm" and model is not None:
            return f"{operation} {model}"
        if protocol == "mcp":  # the MCP client span: "{mcp.method.name} {target}", upstream's name
            return str(operation) if target is None else f"{operation} {target}"
        return f"{operation} {backend}"

    def fixed_attributes(self, fixed: Fixed) -> dict[str, AttributeValue]:
        _, protocol, operation, provider, model, backend, url, target, status, error_type = fixed
        attributes: dict[str, AttributeValue] = {genai.BACKEND: backend}
        if protocol == "llm":
            attributes[genai.OPERATION_NAME] = operation
            if provider is not None:
                attributes[genai.PROVIDER_NAME] = genai.provider_name(provider)
            if model is not None:
                attributes[genai.REQUEST_MODEL] = model
        elif protocol == "mcp":
            attributes[genai.MCP_METHOD_NAME] = operation
            if target is not None:
                if operation == "tools/call":
                    attributes[genai.TOOL_NAME] = target
                    attributes[genai.OPERATION_NAME] = "execute_tool"
                elif operation == "prompts/get":
                    attributes[genai.PROMPT_NAME] = target
        if url is not None:
            parts = urlsplit(url)
            if parts.hostname is not None:
                attributes[genai.SERVER_ADDRESS] = parts.hostname
            attributes[genai.SERVER_PORT] = parts.port or (443 if parts.scheme == "https" else 80)
        if status is not None:
            attributes[genai.HTTP_STATUS] = status
        if error_type is not None:
            attributes[genai.ERROR_TYPE] = error_type
        return attributes

    variable_names: tuple[str, ...] = ()

    def variable_attributes(self, variable: Any) -> dict[str, AttributeValue]:
        return {}


REQUEST = shape_number(_RequestShape())
UPSTREAM = shape_number(_UpstreamShape())


_TOOL_CALL = "tools/call"


def _captured(exchange: Exchange) -> tuple[str, Any] | None:
    """What content capture records of the request: an LLM API's route and body, or a tool call's
    arguments (the response, or the tool's result, goes next to it)."""
    if exchange.protocol == "llm":
        return None if exchange.request is None else (exchange.route, exchange.request)
    if (
        exchange.protocol == "mcp"
        and exchange.operation == _TOOL_CALL
        and exchange.tool_arguments is not None
    ):
        return (_TOOL_CALL, exchange.tool_arguments)
    return None


def request_span_py(exchange: Exchange, capture_content: bool, span: InFlight, end_ns: int) -> FrozenSpan:
    """The finished span of ``exchange``, started as ``span``: its ids and times, and the snapshot of
    the values it is made of. (:data:`request_span`: this, or the same in C.)"""
    llm = exchange.protocol == "llm"
    request = exchange.request
    first_chunk = exchange.first_chunk
    usage = exchange.usage
    return (
        span[0],
        span[1],
        span[2],
        SERVER,
        span[3],
        end_ns,
        exchange.error_type is not None,
        span[4],
        span[5],
        _interned(
            (
                REQUEST,
                exchange.protocol,
                exchange.operation,
                exchange.target,
                exchange.route,
                exchange.status,
                exchange.backend,
                exchange.provider,
                exchange.stream,
                exchange.response_model,
                tuple(exchange.finish_reasons) if exchange.finish_reasons else None,
                exchange.error_type,
                genai.parameter_values(request) if llm and request is not None else None,
            )
        ),
        (
            exchange.response_id,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens,
            usage.reasoning_output_tokens,
            None if first_chunk is None else first_chunk - exchange.started,
            exchange.attributes or None,
            _captured(exchange) if capture_content else None,
            exchange.response
            if capture_content and llm
            else exchange.tool_result
            if capture_content
            else None,
        ),
    )


def upstream_span_py(
    exchange: Exchange, call: UpstreamCall, parent: InFlight, span_id: int, start_ns: int, end_ns: int
) -> FrozenSpan:
    """The finished span of an upstream ``call``, child of ``exchange``'s span ``parent``.
    (:data:`upstream_span`: this, or the same in C.)"""
    return (
        parent[0],
        span_id,
        parent[1],
        CLIENT,
        start_ns,
        end_ns,
        call.error_type is not None,
        False,
        parent[5],
        _interned(
            (
                UPSTREAM,
                exchange.protocol,
                exchange.operation,
                exchange.provider,
                call.model,
                call.backend,
                call.url,
                call.target,
                call.status,
                call.error_type,
            )
        ),
        None,
    )


# Equal snapshots share one tuple: a span waiting for export is then a tuple of plain values and
# old, untracked tuples, which the garbage collector stops tracking at its first pass (a new
# nested tuple would keep it tracked for a pass or two more, and queued spans would be traversed
# by every collection until then).
_INTERNED: dict[Fixed, Fixed] = {}
_INTERN_LIMIT = 4096


def _interned(fixed: Fixed) -> Fixed:
    try:
        found = _INTERNED.get(fixed)
    except TypeError:  # not hashable (a list somewhere): not shared
        return fixed
    if found is not None:
        return found
    if len(_INTERNED) >= _INTERN_LIMIT:
        _INTERNED.clear()
    _INTERNED[fixed] = fixed
    return fixed


request_span: Callable[[Exchange, bool, InFlight, int], FrozenSpan] = request_span_py
upstream_span: Callable[[Exchange, UpstreamCall, InFlight, int, int, int], FrozenSpan] = upstream_span_py
if speedups is not None:
    speedups.configure(
        _INTERNED,
        _INTERN_LIMIT,
        genai.parameter_values,
        genai.PARAMETER_FIELDS,
        _captured,
        REQUEST,
        UPSTREAM,
        SERVER,
        CLIENT,
    )
    request_span = speedups.request_span
    upstream_span = speedups.upstream_span
