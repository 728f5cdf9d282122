"""The A2A routes: agents behind the gateway at ``/a2a/{agent}``.

- ``GET /a2a``: the agents the caller may use, with their cards' names, descriptions and skills.
- ``GET /a2a/{agent}/.well-known/agent-card.json`` (and ``agent.json``, its name before A2A 0.3):
  the agent's card, rewritten to point at the gateway (:mod:`agentgw.a2a.card`).
- ``POST /a2a/{agent}``: the JSON-RPC binding, 1.0 and 0.3 method names.
- ``/a2a/{agent}/{path}``: the HTTP+JSON binding (``POST /message:send``, ``GET /tasks/{id}``, ...,
  with an optional tenant segment, and the 0.3 ``/v1/...`` paths).

Requests are checked only as far as routing, policy and accounting need (:mod:`agentgw.a2a.protocol`)
and forwarded as bytes with the client's ``A2A-Version`` and ``A2A-Extensions``; answers come back as
the agent sent them, streams one whole event at a time. Failures of the gateway's own are reported in
A2A's form for the binding (:func:`agentgw.error_mapping.a2a_error_response`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Mapping
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive

from agentgw.a2a.card import CardSecurity, card_security, card_summary, rewrite_card
from agentgw.a2a.hooks import A2AAccounting, A2ACall, A2AOutcome, A2APolicy, AllowAll, NoAccounting
from agentgw.a2a.protocol import (
    STREAMING_OPERATIONS,
    call_targets,
    parse_jsonrpc,
    protocol_version,
    request_id_of,
    rest_operation,
)
from agentgw.a2a.upstream import AgentClient, AgentResponse
from agentgw.auth.principal import principal_of
from agentgw.error_mapping import A2ABinding, a2a_error_body, a2a_error_response
from agentgw.errors import (
    AgentNotFound,
    ClientError,
    GatewayError,
    UpstreamError,
    UpstreamStatus,
    UpstreamTimeout,
)
from agentgw.exchange import Exchange, UpstreamCall
from agentgw.gateway import Gateway
from agentgw.llm.request import read_body
from agentgw.refusals import observed, refused
from agentgw.runtime import Runtime
from agentgw.streaming import SSERelay

__all__ = ["A2ARoutes", "a2a_routes"]

log = logging.getLogger("agentgw")

T = TypeVar("T")

# Client headers the agent sees (A2A service parameters, spec 3.2.6, and content negotiation); never
# the client's credential.
_FORWARDED = frozenset({b"a2a-version", b"a2a-extensions", b"content-type", b"accept"})
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# The agent's own refusal of the gateway's credential must not read as a refusal of the client's.
_CREDENTIAL_REFUSED = frozenset({401, 403, 407})
_DISCONNECTED = 499


def a2a_routes(
    *,
    policy: A2APolicy | None = None,
    accounting: A2AAccounting | None = None,
    security: CardSecurity | None = None,
) -> list[BaseRoute]:
    """The A2A routes with the given policy hooks (default: allow everything, record nothing)."""
    return A2ARoutes(policy=policy, accounting=accounting, security=security).routes()


class A2ARoutes:
    def __init__(
        self,
        *,
        policy: A2APolicy | None = None,
        accounting: A2AAccounting | None = None,
        security: CardSecurity | None = None,
    ) -> None:
        self._policy: A2APolicy = policy or AllowAll()
        self._accounting: A2AAccounting = accounting or NoAccounting()
        self._security = security  # None: describe the auth of the config each request runs on

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/a2a", self.list_agents, methods=["GET"]),
            Route("/a2a/{agent}/.well-known/agent-card.json", self.agent_card, methods=["GET"]),
            Route("/a2a/{agent}/.well-known/agent.json", self.agent_card, methods=["GET"]),
            Route("/a2a/{agent}", self.jsonrpc, methods=_ALL_METHODS),
            Route("/a2a/{agent}/{path:path}", self.rest, methods=_ALL_METHODS),
        ]

    # -- discovery ------------------------------------------------------------------------------

    async def list_agents(self, request: Request) -> Response:
        runtime = _gateway(request).runtime.acquire()
        try:
            names = [name for name in runtime.agents if self._policy.agent_visible(request, name)]
            entries = await asyncio.gather(*(self._entry(request, runtime, name) for name in names))
        finally:
            runtime.release()
        return Response(orjson.dumps({"agents": entries}), media_type="application/json")

    async def _entry(self, request: Request, runtime: Runtime, name: str) -> dict[str, Any]:
        endpoint = _endpoint(request, runtime, name)
        entry: dict[str, Any] = {
            "id": name,
            "url": endpoint,
            "agentCardUrl": f"{endpoint}/.well-known/agent-card.json",
        }
        try:
            card = await runtime.agents[name].card()
        except GatewayError as error:
            entry["error"] = error.message
            return entry
        entry.update(card_summary(card, partial(self._policy.skill_visible, request, name)))
        return entry

    async def agent_card(self, request: Request) -> Response:
        runtime = _gateway(request).runtime.acquire()
        try:
            agent = self._agent(request, runtime)
            card = self._rewrite(request, runtime, agent.name, await agent.card())
        except GatewayError as error:
            return _refusal(request, a2a_error_response(error, "HTTP+JSON"))
        finally:
            runtime.release()
        body = orjson.dumps(card)
        # A2A 1.0 section 8.6.1: Cache-Control with max-age, and an ETag. Private: with RBAC the card
        # lists the skills of the caller.
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"etag": etag, "cache-control": f"private, max-age={int(agent.config.card_ttl_s)}"}
        if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers=headers)
        return Response(body, headers=headers, media_type="application/json")

    # -- the two bindings -----------------------------------------------------------------------

    async def jsonrpc(self, request: Request) -> Response:
        started = time.perf_counter()
        if request.method != "POST":
            return _refusal(request, a2a_error_response(_method_not_allowed(request, "POST"), "HTTP+JSON"))
        runtime = _gateway(request).runtime.acquire()
        request_id = None
        try:
            body = await read_body(request, runtime.config.server.max_request_bytes)
            try:
                rpc = parse_jsonrpc(body)
            except GatewayError:
                request_id = _id_of_malformed(body)
                raise
            request_id = rpc.id
            agent = self._agent(request, runtime)
            task_id, context_id, skill = call_targets(rpc.operation, rpc.params)
            call = A2ACall(
                agent=agent.name,
                operation=rpc.operation,
                binding="JSONRPC",
                version=protocol_version(_version_of(request)),
                method=rpc.method,
                task_id=task_id,
                context_id=context_id,
                skill=skill,
                request_bytes=len(body),
            )
            url = _with_query(agent.jsonrpc_url, request)
        except GatewayError as error:
            runtime.release()
            return _refusal(request, a2a_error_response(error, "JSONRPC", request_id))
        return await self._exchange(request, runtime, agent, call, "POST", url, body, request_id, started)

    async def rest(self, request: Request) -> Response:
        started = time.perf_counter()
        runtime = _gateway(request).runtime.acquire()
        try:
            agent = self._agent(request, runtime)
            # Classified on the path as sent, so that an encoded "/" in a task id stays inside the id.
            path = _raw_suffix(request, agent.name)
            operation = rest_operation(request.method, path)
            body = await read_body(request, runtime.config.server.max_request_bytes)
            task_id = unquote(operation.task_id) if operation.task_id is not None else None
            context_id = skill = None
            if body and operation.operation in ("SendMessage", "SendStreamingMessage"):
                try:
                    data = orjson.loads(body)
                except orjson.JSONDecodeError:
                    data = None  # the agent will say what is wrong with it, in its own words
                if isinstance(data, dict):
                    task_id, context_id, skill = call_targets(operation.operation, data)
            version = protocol_version(_version_of(request))
            call = A2ACall(
                agent=agent.name,
                operation=operation.operation,
                binding="HTTP+JSON",
                version=version,
                method=f"{request.method} {path}",
                task_id=task_id,
                context_id=context_id,
                skill=skill,
                request_bytes=len(body),
            )
            base = await agent.rest_url(version)
            url = _with_query(f"{base}/{path}", request)
        except GatewayError as error:
            runtime.release()
            return _refusal(request, a2a_error_response(error, "HTTP+JSON"))
        return await self._exchange(request, runtime, agent, call, request.method, url, body, None, started)

    async def _exchange(
        self,
        request: Request,
        runtime: Runtime,
        agent: AgentClient,
        call: A2ACall,
        method: str,
        url: str,
        body: bytes,
        request_id: str | int | None,
        started: float,
    ) -> Response:
        """Authorize ``call``, forward it, and answer; owns ``runtime``'s lease from here on."""
        binding = call.binding
        observer = _gateway(request).observer
        exchange = _exchange_record(request, call)
        upstream: AgentResponse | None = None
        status, response_bytes = 500, 0
        error_code: str | None = "internal_error"
        handed_off = False
        observed(request.scope)  # from here on the exchange records any end, a bug's 500 included
        try:
            await self._policy.authorize(request, call)
            observer.start(exchange)
            attempt = UpstreamCall(backend=agent.name, url=url.split("?", 1)[0])
            exchange.upstream.append(attempt)
            observer.upstream_start(exchange, attempt)
            headers = _forwarded_headers(request, attempt.headers)
            limit = runtime.config.server.max_response_bytes
            outcome = await _until_disconnect(
                request.receive, _send(agent, method, url, body, headers, limit)
            )
            if outcome is None:
                status, error_code = _DISCONNECTED, "client_disconnected"
                return Response(status_code=_DISCONNECTED)
            upstream, content = outcome
            attempt.status = upstream.status
            if content is None:
                # Ownership of the lease and the connection passes to the relay, which ends both.
                watch = _StreamWatch(exchange)
                relay = SSERelay(
                    upstream,
                    agent.name,
                    partial(self._stream_closed, request, runtime, call, exchange, watch, upstream, started),
                    error_event=partial(_error_event, binding, request_id),
                    observer=watch,
                )
                exchange.status = upstream.status
                handed_off = True
                return relay
            # Redirects are not followed or relayed: their Location is the agent's, not the gateway's.
            if upstream.status in _CREDENTIAL_REFUSED or (
                upstream.status >= 300 and not _is_a2a_error(content, binding)
            ):
                raise UpstreamStatus(upstream.status, content, upstream.content_type, backend=agent.name)
            upstream.tally.observe_json(content)
            if call.operation == "GetExtendedAgentCard" and upstream.status == 200:
                content = self._rewrite_extended(request, runtime, agent.name, content, binding)
            status, error_code, response_bytes = upstream.status, None, len(content)
            return Response(
                content, status_code=status, headers=upstream.relay_headers, media_type=upstream.content_type
            )
        except GatewayError as error:
            if error.status >= 500:
                log.warning("%s %s: %s", request.method, request.url.path, error.message)
            response = a2a_error_response(error, binding, request_id)
            status, error_code, response_bytes = response.status_code, error.code, len(response.body)
            if isinstance(error, UpstreamError) and exchange.upstream:
                exchange.upstream[-1].error_type = error.code
            return response
        finally:
            if not handed_off:
                exchange.status = status
                exchange.error_type = error_code or (upstream.tally.error if upstream else None)
                self._finish(request, runtime, call, exchange, upstream, started, status, response_bytes)

    def _stream_closed(
        self,
        request: Request,
        runtime: Runtime,
        call: A2ACall,
        exchange: Exchange,
        watch: _StreamWatch,
        upstream: AgentResponse,
        started: float,
    ) -> None:
        exchange.error_type = watch.error or upstream.tally.error
        self._finish(request, runtime, call, exchange, upstream, started, upstream.status, upstream.bytes)

    def _finish(
        self,
        request: Request,
        runtime: Runtime,
        call: A2ACall,
        exchange: Exchange,
        upstream: AgentResponse | None,
        started: float,
        status: int,
        response_bytes: int,
    ) -> None:
        runtime.release()
        exchange.response_bytes = response_bytes
        self._record(request, call, started, status, exchange.error_type, upstream, response_bytes)
        tally = upstream.tally if upstream is not None else None
        if tally is not None and tally.task_state is not None:
            exchange.attributes["a2a.task.state"] = tally.task_state
        if tally is not None and tally.task_id is not None:
            exchange.attributes["a2a.task.id"] = tally.task_id
        observer = _gateway(request).observer
        now = time.perf_counter()
        for attempt in exchange.upstream:
            if attempt.ended is None:
                attempt.ended = now
                observer.upstream_end(exchange, attempt)
        exchange.ended = now
        observer.end(exchange)

    def _record(
        self,
        request: Request,
        call: A2ACall,
        started: float,
        status: int,
        error: str | None,
        upstream: AgentResponse | None,
        response_bytes: int,
    ) -> None:
        tally = upstream.tally if upstream is not None else None
        self._accounting.record(
            request,
            A2AOutcome(
                call=call,
                status=status,
                error=error or (tally.error if tally else None),
                response_bytes=response_bytes,
                events=tally.events if tally else 0,
                messages=tally.messages if tally else 0,
                artifacts=tally.artifacts if tally else 0,
                task_id=(tally.task_id if tally else None) or call.task_id,
                task_state=tally.task_state if tally else None,
                latency_s=time.perf_counter() - started,
            ),
        )

    # -- helpers --------------------------------------------------------------------------------

    def _agent(self, request: Request, runtime: Runtime) -> AgentClient:
        name = request.path_params["agent"]
        agent = runtime.agents.get(name)
        # An agent the caller may not use is reported exactly like one that does not exist.
        if agent is None or not self._policy.agent_visible(request, name):
            raise AgentNotFound(name)
        return agent

    def _rewrite(self, request: Request, runtime: Runtime, name: str, card: dict[str, Any]) -> dict[str, Any]:
        return rewrite_card(
            card,
            endpoint=_endpoint(request, runtime, name),
            security=self._security or card_security(runtime.config.auth),
            skill_visible=partial(self._policy.skill_visible, request, name),
        )

    def _rewrite_extended(
        self, request: Request, runtime: Runtime, name: str, content: bytes, binding: A2ABinding
    ) -> bytes:
        """The extended card of a GetExtendedAgentCard answer, rewritten like the public one."""
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            return content
        if binding == "JSONRPC":
            if isinstance(data, dict) and isinstance(data.get("result"), dict):
                data["result"] = self._rewrite(request, runtime, name, data["result"])
                return orjson.dumps(data)
            return content
        return (
            orjson.dumps(self._rewrite(request, runtime, name, data)) if isinstance(data, dict) else content
        )


async def _send(
    agent: AgentClient,
    method: str,
    url: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    limit: int,
) -> tuple[AgentResponse, bytes | None]:
    """Send, and read the answer unless it is a stream (then its body is ``None``)."""
    upstream = await agent.send(method, url, body=body, headers=headers)
    if upstream.is_event_stream and upstream.status < 300:
        return upstream, None
    try:
        async with asyncio.timeout_at(upstream.deadline):
            content = await upstream.read(limit)
    except TimeoutError:
        raise UpstreamTimeout(
            f"agent '{agent.name}' exceeded its total timeout", backend=agent.name
        ) from None
    finally:
        await upstream.aclose()
    return upstream, content


async def _until_disconnect(receive: Receive, work: Awaitable[T]) -> T | None:
    """Await ``work`` unless the client disconnects first (then ``None``, and ``work`` is cancelled).

    The body has been read, so the next ASGI message can only be the disconnect.
    """
    results: list[T] = []
    failures: list[GatewayError] = []

    async def watch(scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(watch, group.cancel_scope)
        try:
            results.append(await work)
        except GatewayError as error:
            failures.append(error)
        finally:
            group.cancel_scope.cancel()
    if failures:
        raise failures[0]
    return results[0] if results else None


def _refusal(request: Request, response: Response) -> Response:
    """``response``, an error answered before the request became an exchange, reported as such."""
    refused(request.scope, response.status_code)
    return response


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _endpoint(request: Request, runtime: Runtime, name: str) -> str:
    base = runtime.config.a2a.public_url
    if base is None:
        base = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"
    return f"{base}/a2a/{name}"


def _version_of(request: Request) -> str | None:
    # Spec 3.6.1: the version may also come as a query parameter.
    return request.headers.get("a2a-version") or request.query_params.get("A2A-Version")


def _forwarded_headers(request: Request, extra: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """The client's A2A service parameters, plus what observers add (``traceparent``)."""
    headers = [(name, value) for name, value in request.scope["headers"] if name in _FORWARDED]
    headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
    return headers


def _exchange_record(request: Request, call: A2ACall) -> Exchange:
    exchange = Exchange("a2a", "/a2a/{agent}", call.operation, request.headers)
    exchange.target = exchange.backend = call.agent
    exchange.stream = call.operation in STREAMING_OPERATIONS
    exchange.request_bytes = call.request_bytes
    principal = principal_of(request)
    if not principal.anonymous:
        exchange.principal, exchange.team = principal.subject, principal.team
        exchange.key = principal.key_name
    attributes = exchange.attributes
    attributes["a2a.binding"] = call.binding
    attributes["a2a.protocol.version"] = call.version
    if call.task_id is not None:
        attributes["a2a.task.id"] = call.task_id
    if call.context_id is not None:
        attributes["a2a.context.id"] = call.context_id
    if call.skill is not None:
        attributes["a2a.skill.id"] = call.skill
    return exchange


class _StreamWatch:
    """Sees a relayed A2A stream go by: when its first event came, and the error it ended with."""

    __slots__ = ("error", "exchange")

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.error: str | None = None

    def chunk(self, data: bytes) -> None:
        if self.exchange.first_chunk is None:
            self.exchange.first_chunk = time.perf_counter()

    def ended(self, error: GatewayError | None, completed: bool) -> None:
        if error is not None:
            self.error = error.code
            if self.exchange.upstream:
                self.exchange.upstream[-1].error_type = error.code


def _with_query(url: str, request: Request) -> str:
    query: bytes = request.scope.get("query_string", b"")
    return f"{url}?{query.decode('latin-1')}" if query else url


def _raw_suffix(request: Request, agent: str) -> str:
    """The path after ``/a2a/{agent}/`` as the client encoded it (a task id may hold a ``%2F``)."""
    raw: bytes | None = request.scope.get("raw_path")
    prefix = f"/a2a/{agent}/".encode()
    if raw is not None and raw.startswith(prefix):
        return raw[len(prefix) :].decode("latin-1")
    return quote(request.path_params["path"], safe="/:@!$&'()*+,;=")


def _id_of_malformed(body: bytes) -> str | int | None:
    try:
        return request_id_of(orjson.loads(body))
    except orjson.JSONDecodeError:
        return None


def _is_a2a_error(content: bytes, binding: A2ABinding) -> bool:
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return False
    return binding != "JSONRPC" or data.get("jsonrpc") == "2.0"


def _error_event(binding: A2ABinding, request_id: str | int | None, error: GatewayError) -> bytes:
    # The a2a-sdk server marks an in-stream failure `event: error`; its clients raise it as the error.
    return b"event: error\ndata: " + a2a_error_body(error, binding, request_id) + b"\n\n"


def _method_not_allowed(request: Request, allowed: str) -> GatewayError:
    error = ClientError(f"{request.method} is not allowed here; use {allowed}")
    error.status = 405
    error.code = "method_not_allowed"
    return error
