"""2026-07-28 requests answered without the SDK's server and client machinery: ``tools/call`` to a
2026-07-28 Streamable HTTP upstream forwarded as bytes, and the four list methods from the catalog.

When both sides speak MCP 2026-07-28 over HTTP, a call is one self-contained POST on each side, and
the gateway's work is to check it, route it, rename the tool and rewrite the ``_meta`` envelope. The
SDK's server and client machinery around that (a per-request ``Connection`` and runner, pydantic
models for every message, task groups and memory streams on both sides) was most of the gateway's
cost per call (issue 4 benchmark). :class:`FastPath` does the same work on the decoded JSON
(``orjson``) and relays the answer over the upstream's pooled keep-alive connection
(:class:`~federation.passthrough.Passthrough`). A list is the page
:class:`~federation.lists.CatalogLists` builds for the SDK path too, serialised once by ``orjson``
instead of being walked again by pydantic.

It is taken only when it is the same to the client as the SDK path: the request must pass the SDK's
own checks (``mcp.shared.inbound`` header and envelope ladder, the spec's params validation,
``Mcp-Param-*`` headers) and, for a call, name a tool whose upstream is connected over 2026-07-28
Streamable HTTP. Anything else - a malformed request, an unknown or hidden tool, a closed upstream
that is down, a retry carrying one of the gateway's own suspended-call tokens - goes to the SDK path
unchanged, which answers it (errors included) as before. The hooks are called as on the SDK path
(``started``, ``visible``, ``authorize``, ``calling``, ``record``, ``finished``), the trace context
goes upstream in ``params._meta`` and the HTTP headers, and the result carries the gateway's
``serverInfo``, not the upstream's.

Two things differ for calls, both in the client's favour: the upstream is told the calling client's
capabilities (so it only asks, via ``input_required``, for what that client can answer), and log
messages the client opted into (``io.modelcontextprotocol/logLevel``) come back on its response
stream whatever else is in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from mcp.server.connection import allowed_log_levels
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    InboundModernRoute,
    classify_inbound_request,
    encode_header_value,
    validate_mcp_param_headers,
    x_mcp_header_map,
)
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    CONNECTION_CLOSED,
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    LOG_LEVEL_META_KEY,
    METHOD_NOT_FOUND,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
    ClientCapabilities,
    InputRequiredResult,
)
from mcp_types import methods as spec_methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from opentelemetry import propagate
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from federation.catalog import Catalog
from federation.errors import FederationError, UpstreamRejected, UpstreamTimeout, UpstreamUnavailable
from federation.hooks import Call, Caller, CallOutcome, ClientRequest, FederationHooks
from federation.lists import LIST_METHODS, CatalogLists
from federation.observing import RequestMiddleware, upstream_context
from federation.passthrough import Passthrough
from federation.relay import Suspensions, missing_capability
from federation.server import Directory
from federation.upstream import Upstream

__all__ = ["FastPath"]

log = logging.getLogger("federation")

_MODERN = frozenset(MODERN_PROTOCOL_VERSIONS)
_REQUEST_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_METHODS = frozenset({"tools/call", *LIST_METHODS})
_METHODS_BYTES = frozenset(method.encode() for method in _METHODS)
_PARAM_PREFIX = "mcp-param-"
# As the SDK's 2026-07-28 HTTP entry writes them (mcp.server._streamable_http_modern).
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]


class _InvalidResult(Exception):
    """A result the SDK client would have refused with a plain exception (answered as an internal error)."""


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A 2026-07-28 request that passed the SDK's own checks."""

    request_id: str | int
    method: str
    version: str
    params: dict[str, Any]
    headers: dict[str, str]
    caller: Caller
    capabilities: Any


@dataclass(frozen=True, slots=True)
class _Plan:
    request_id: str | int
    version: str
    params: dict[str, Any]
    meta: dict[str, Any]
    capabilities: Any
    caller: Caller
    call: Call
    upstream: Upstream
    passthrough: Passthrough


class FastPath:
    """The fast path in front of the SDK's ``/mcp`` handler (see the module docstring).

    ``requests`` is the server's :class:`~federation.observing.RequestMiddleware` (the hooks'
    observation methods); ``server_info`` the gateway's identity stamped into results.
    """

    def __init__(
        self,
        directory: Directory,
        hooks: FederationHooks,
        requests: RequestMiddleware,
        lists: CatalogLists,
        server_info: dict[str, Any],
        *,
        max_request_bytes: int,
    ) -> None:
        self._directory = directory
        self._hooks = hooks
        self._requests = requests
        self._server_info = server_info
        self._max_bytes = max_request_bytes
        self._lists = lists
        self._annotations_for: Catalog | None = None
        self._annotations: dict[str, bool] = {}

    @staticmethod
    def accepts(scope: Scope) -> bool:
        """Whether the request may be a 2026-07-28 ``tools/call`` or list (from its headers alone)."""
        if scope["method"] != "POST":
            return False
        version = method = None
        for key, value in scope["headers"]:
            if key == b"mcp-protocol-version":
                version = value
            elif key == b"mcp-method":
                method = value
        return method in _METHODS_BYTES and version is not None and version.decode("latin-1") in _MODERN

    async def serve(self, scope: Scope, receive: Receive, send: Send, fallback: ASGIApp) -> None:
        """Answer the request here, or hand it (body included) to ``fallback``, the SDK's handler."""
        messages, body = await _read_body(receive, self._max_bytes)
        parsed = self._parse(Request(scope, receive), body) if body is not None else None
        if parsed is not None and parsed.method in LIST_METHODS:
            await self._serve_list(parsed, send)
            return
        plan = self._plan(parsed) if parsed is not None else None
        if plan is None:
            await fallback(scope, _replay(messages, receive), send)
            return
        await self._serve(plan, receive, send)

    # -- deciding --------------------------------------------------------------------------

    def _parse(self, request: Request, body: bytes) -> _Parsed | None:
        """The request, if it passes every check the SDK's entry makes; else None (the SDK answers)."""
        raw = request.scope["headers"]
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in raw}
        if len(headers) != len(raw):
            return None  # a repeated header: the SDK's readers (first copy, duplicate checks) decide
        content_type = headers.get("content-type")
        if content_type is None or not content_type.lower().startswith("application/json"):
            return None
        if not _accepts_json_and_sse(headers.get("accept", "")):
            return None
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(decoded, dict) or decoded.keys() - _REQUEST_KEYS:
            return None
        request_id = decoded.get("id")
        params = decoded.get("params")
        method = decoded.get("method")
        if (
            decoded.get("jsonrpc") != "2.0"
            or method not in _METHODS
            or isinstance(request_id, bool)
            or not isinstance(request_id, int | str)
            or not isinstance(params, dict)
        ):
            return None
        verdict = classify_inbound_request(decoded, headers=headers)
        if not isinstance(verdict, InboundModernRoute):
            return None
        version = verdict.protocol_version
        try:
            spec_methods.validate_client_request(method, version, params)
        except (ValidationError, KeyError):
            return None
        session_id = headers.get("mcp-session-id")
        if session_id is None and request.scope.get("query_string"):
            session_id = request.query_params.get("session_id")
        caller = Caller(version, session_id, request)
        return _Parsed(request_id, method, version, params, headers, caller, verdict.client_capabilities)

    def _plan(self, parsed: _Parsed) -> _Plan | None:
        """The call to forward, or None when the SDK path must answer (it then re-checks everything)."""
        params, headers, caller = parsed.params, parsed.headers, parsed.caller
        name: str = params["name"]
        arguments = params.get("arguments")
        catalog = self._directory.catalog
        param_headers = any(key.startswith(_PARAM_PREFIX) for key in headers)
        if param_headers or (arguments and self._annotated(catalog, name)):
            tool = catalog.tools_by_name.get(name)
            if tool is not None and validate_mcp_param_headers(tool.input_schema, arguments or {}, headers):
                return None
        route = catalog.tool_routes.get(name)
        if route is None or self._directory.toolset(route.server) is not None:
            return None
        try:
            upstream = self._directory.upstream(route.server)
        except FederationError:
            return None
        passthrough = upstream.passthrough
        state = params.get("requestState")
        if passthrough is None or (isinstance(state, str) and Suspensions.owns(state)):
            return None
        if not self._hooks.visible(caller, "tool", name, route.server):
            return None
        try:
            self._directory.check_complete()
        except FederationError:
            return None
        call = Call("tool", name, route.server, route.name, arguments)
        return _Plan(
            parsed.request_id,
            parsed.version,
            params,
            params["_meta"],
            parsed.capabilities,
            caller,
            call,
            upstream,
            passthrough,
        )

    def _annotated(self, catalog: Catalog, name: str) -> bool:
        """Whether the tool ``name`` declares ``x-mcp-header`` arguments (cached per catalog)."""
        if catalog is not self._annotations_for:
            self._annotations_for, self._annotations = catalog, {}
        annotated = self._annotations.get(name)
        if annotated is None:
            tool = catalog.tools_by_name.get(name)
            annotated = self._annotations[name] = tool is not None and bool(
                x_mcp_header_map(tool.input_schema)
            )
        return annotated

    # -- serving ---------------------------------------------------------------------------

    async def _serve_list(self, parsed: _Parsed, send: Send) -> None:
        """A list page from the catalog, as :class:`~federation.lists.ListMiddleware` answers it."""
        caller, params = parsed.caller, parsed.params
        target = params.get("name", params.get("uri"))
        request = ClientRequest(
            parsed.method, parsed.request_id, params["_meta"], target if isinstance(target, str) else None
        )
        self._requests.started(caller, request)
        try:
            cursor = params.get("cursor")
            result = self._lists.wire_page(parsed.method, parsed.version, caller, cursor, self._server_info)
            answer = {"jsonrpc": "2.0", "id": parsed.request_id, "result": result}
        except MCPError as exc:
            request.error_code = exc.code
            answer = _error(parsed.request_id, exc.code, exc.error.message, exc.error.data)
        finally:
            self._requests.finished(caller, request)
        await _Responder(send).finish(answer)

    async def _serve(self, plan: _Plan, receive: Receive, send: Send) -> None:
        caller, call = plan.caller, plan.call
        request = ClientRequest("tools/call", plan.request_id, plan.meta, call.name)
        self._requests.started(caller, request)
        responder = _Responder(send)
        started = time.perf_counter()
        code: int | None = None
        result: dict[str, Any] | None = None
        answer: dict[str, Any]
        # A client that goes away cancels its call (and so the upstream POST), as on the SDK path.
        watcher = _DisconnectWatcher(receive)
        try:
            try:
                await self._hooks.authorize(caller, call)
                with upstream_context(self._requests.calling(caller, request, call)):
                    result = await self._relay(plan, responder)
                request.is_error = result.get("isError") is True
                answer = {"jsonrpc": "2.0", "id": plan.request_id, "result": result}
            except FederationError as exc:
                code = request.error_code = exc.code
                answer = _error(plan.request_id, exc.code, exc.message, exc.data)
            except MCPError as exc:
                code = request.error_code = exc.code
                answer = _error(plan.request_id, exc.code, exc.error.message, exc.error.data)
            except Exception:
                # The SDK entry's boundary (mcp.server.runner.modern_error_data): anything else is
                # logged here and answered as a generic internal error, never as an HTTP 500.
                log.exception("modern request handler raised")
                request.error_code = INTERNAL_ERROR
                answer = _error(plan.request_id, INTERNAL_ERROR, "Internal server error", None)
            finally:
                watcher.stop()
                self._hooks.record(
                    caller,
                    CallOutcome(call, code, request.is_error, time.perf_counter() - started, request, result),
                )
        except asyncio.CancelledError:
            request.cancelled = True
            if not watcher.fired:
                raise  # not the client's doing (the server is stopping)
            watcher.absorb()
            return
        finally:
            self._requests.finished(caller, request)
        await responder.finish(answer)

    async def _relay(self, plan: _Plan, responder: _Responder) -> dict[str, Any]:
        """Send the call upstream and return the result for the client, shaped and stamped.

        Raises:
            FederationError: as ``Upstream`` raises for the SDK path.
            MCPError: the upstream asked the client for input it did not declare it can give.
            _InvalidResult: the result broke the tool's output schema.
        """
        upstream = plan.upstream
        timeout = upstream.spec.timeouts.call
        try:
            async with asyncio.timeout(timeout):
                message = await self._exchange(plan, responder)
                if _error_code(message) == HEADER_MISMATCH:
                    # MCP 2026-07-28: the upstream's tool schema changed since we listed it; relist, resend once.
                    await upstream.relist_tools()
                    message = await self._exchange(plan, responder)
        except TimeoutError as exc:
            raise UpstreamTimeout(upstream.name, timeout) from exc
        except UpstreamUnavailable:
            upstream.connection_failed()
            raise
        error = message.get("error")
        if error is not None:
            code = _error_code(message)
            if code is None or not isinstance(error.get("message"), str):
                raise _invalid(upstream)
            if code == CONNECTION_CLOSED:
                upstream.connection_failed()
                raise UpstreamUnavailable(upstream.name, "connection closed")
            raise UpstreamRejected(upstream.name, code, error["message"], error.get("data"))
        result = message.get("result")
        if not isinstance(result, dict):
            raise _invalid(upstream)
        return self._shape(plan, result)

    async def _exchange(self, plan: _Plan, responder: _Responder) -> dict[str, Any]:
        body, headers = self._upstream_request(plan)
        messages = plan.passthrough.exchange(body, headers)
        try:
            async for message in messages:
                if "id" not in message:
                    await self._notify(plan, message, responder)
                elif "method" not in message:
                    return message
                # A request from the server: 2026-07-28 servers ask by input_required, never so.
        finally:
            await messages.aclose()
        raise UpstreamUnavailable(plan.upstream.name, "the response stream ended without an answer")

    def _upstream_request(self, plan: _Plan) -> tuple[bytes, dict[str, str]]:
        upstream, call, params = plan.upstream, plan.call, plan.params
        version = upstream.protocol_version or plan.version
        meta: dict[str, Any] = {
            PROTOCOL_VERSION_META_KEY: version,
            CLIENT_INFO_META_KEY: upstream.client_info,
            # The calling client's own: the upstream asks (input_required) only what it can answer.
            CLIENT_CAPABILITIES_META_KEY: plan.capabilities,
        }
        for key in ("progressToken", LOG_LEVEL_META_KEY):
            if key in plan.meta:
                meta[key] = plan.meta[key]
        trace: dict[str, str] = {}
        propagate.inject(trace)  # the current (upstream call's) context: in _meta (SEP-414) and the headers
        meta.update(trace)
        out: dict[str, Any] = {"name": call.upstream_name}
        for key in ("arguments", "inputResponses", "requestState"):
            if key in params:
                out[key] = params[key]
        out["_meta"] = meta
        message = {"jsonrpc": "2.0", "id": plan.request_id, "method": "tools/call", "params": out}
        headers = {
            MCP_PROTOCOL_VERSION_HEADER: version,
            "mcp-method": "tools/call",
            MCP_NAME_HEADER: encode_header_value(call.upstream_name),
        }
        arguments = params.get("arguments")
        if arguments:
            headers.update(upstream.param_headers(call.upstream_name, arguments))
        headers.update(trace)
        return orjson.dumps(message), headers

    async def _notify(self, plan: _Plan, message: dict[str, Any], responder: _Responder) -> None:
        # What the SDK path passes on: progress for this call's token, log messages at the levels
        # the client opted into (their _meta is the upstream's own); nothing else.
        method, params = message.get("method"), message.get("params")
        if not isinstance(params, dict):
            return
        if method == "notifications/progress":
            token = plan.meta.get("progressToken")
            if token is not None and params.get("progressToken") == token:
                await responder.notify(message)
        elif method == "notifications/message" and params.get("level") in allowed_log_levels(
            plan.version, plan.meta
        ):
            params.pop("_meta", None)
            await responder.notify(message)

    def _shape(self, plan: _Plan, result: dict[str, Any]) -> dict[str, Any]:
        upstream = plan.upstream
        result_type = result.get("resultType")
        if result_type == "input_required":
            try:
                asked = InputRequiredResult.model_validate(result, by_name=False)
            except ValidationError as exc:
                raise _invalid(upstream) from exc
            capabilities = ClientCapabilities.model_validate(plan.capabilities or {}, by_name=False)
            for question in (asked.input_requests or {}).values():
                missing = missing_capability(question, capabilities)
                if missing is not None:
                    raise MCPError(
                        METHOD_NOT_FOUND,
                        f"the upstream asked for {missing}, which the client did not declare",
                    )
        elif result_type not in (None, "complete"):
            raise _InvalidResult(f"unexpected resultType {result_type!r}")
        elif result.get("isError") is not True:
            try:
                upstream.check_output(plan.call.upstream_name, result)
            except RuntimeError as exc:
                raise _InvalidResult(str(exc)) from exc
        try:
            shaped = spec_methods.serialize_server_result("tools/call", plan.version, result)
        except ValidationError as exc:
            raise _invalid(upstream) from exc
        # The client talks to the gateway: its identity, not the upstream's (MCP 2026-07-28 serverInfo).
        meta = shaped.get("_meta")
        if meta is None or isinstance(meta, dict):
            rest = {k: v for k, v in (meta or {}).items() if k != SERVER_INFO_META_KEY}
            shaped["_meta"] = {**rest, SERVER_INFO_META_KEY: self._server_info}
        if shaped.get("resultType") is None:
            shaped["resultType"] = "complete"
        return shaped


class _Responder:
    """Answers as the SDK's 2026-07-28 entry does: JSON, unless a notification came first (then SSE)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._streaming = False

    async def notify(self, message: Mapping[str, Any]) -> None:
        if not self._streaming:
            self._streaming = True
            await self._send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await self._send({"type": "http.response.body", "body": _sse(message), "more_body": True})

    async def finish(self, message: dict[str, Any]) -> None:
        if self._streaming:
            await self._send({"type": "http.response.body", "body": _sse(message), "more_body": False})
            return
        error = message.get("error")
        status = ERROR_CODE_HTTP_STATUS.get(error["code"], 200) if error is not None else 200
        body = orjson.dumps(message)
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})


def _sse(message: Mapping[str, Any]) -> bytes:
    return b"event: message\r\ndata: " + orjson.dumps(message) + b"\r\n\r\n"


def _error(request_id: str | int, code: int, message: str, data: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _error_code(message: Mapping[str, Any]) -> int | None:
    error = message.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _invalid(upstream: Upstream) -> UpstreamRejected:
    return UpstreamRejected(
        upstream.name, INTERNAL_ERROR, f"MCP server {upstream.name!r} sent an invalid result"
    )


def _accepts_json_and_sse(accept: str) -> bool:
    # mcp.server.streamable_http.check_accept_headers, for a server that may answer either way.
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if "*/*" in types:
        return True
    return bool(types & {"application/json", "application/*"}) and bool(
        types & {"text/event-stream", "text/*"}
    )


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """The request's ASGI messages as received, and its body (None if it is too large or cut short)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A ``receive`` that gives ``messages`` again, then what ``receive`` gives."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class _DisconnectWatcher:
    """Cancels the current task when the client disconnects, until :meth:`stop`."""

    def __init__(self, receive: Receive) -> None:
        self._task = asyncio.current_task()
        self._active = True
        self.fired = False
        self._watch = asyncio.ensure_future(self._wait(receive))

    async def _wait(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if self._active and self._task is not None:
            self.fired = True
            self._task.cancel()

    def stop(self) -> None:
        self._active = False
        self._watch.cancel()

    def absorb(self) -> None:
        """The cancellation was this watcher's: the task goes on (to end the request quietly)."""
        if self._task is not None:
            self._task.uncancel()
