"""``POST /v1/messages``: Anthropic's Messages API in front of any backend.

The ``anthropic`` SDK (and tools built on it, such as Claude Code) point their base URL at the
gateway. A model's Anthropic backends get the request as it is (native pass-through); any other
backend gets it translated to OpenAI chat completions, and the answer translated back, streams
event by event. Both kinds may be targets of one model: fallback crosses between them. Errors are
Anthropic error objects, mid-stream ones an ``event: error``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

import orjson
from starlette.requests import Request
from starlette.responses import Response

from agentgw.auth.principal import principal_of
from agentgw.error_mapping import anthropic_error_body, anthropic_error_response
from agentgw.errors import GatewayError, InvalidRequest, UpstreamStatus, UpstreamUnreachable
from agentgw.exchange import Exchange, finish, record_abort
from agentgw.gateway import Gateway
from agentgw.limits import guard_stream
from agentgw.llm.fallback import ExchangeAttempts, send_with_fallback
from agentgw.llm.providers.base import Provider, UpstreamResponse
from agentgw.llm.request import parse_request, read_body
from agentgw.llm.router import MODEL_HEADER, Plan, Route
from agentgw.llm.translate.messages_to_chat import (
    ChatStreamToMessages,
    chat_error_to_messages,
    chat_response_to_messages,
    messages_request_to_chat,
)
from agentgw.llm.translate.sse import sse_event
from agentgw.llm.usage import StreamRecorder, record_response
from agentgw.llm.usage_tap import UsageTap
from agentgw.refusals import observed
from agentgw.streaming import SSERelay

__all__ = ["ChatAsMessages", "messages"]

log = logging.getLogger("agentgw")

_OPERATION = "messages"
_FIELDS: tuple[tuple[str, type | tuple[type, ...], str], ...] = (
    ("messages", list, "an array"),
    ("max_tokens", int, "an integer"),
)


async def messages(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    runtime = gateway.runtime.acquire()
    observer = gateway.observer
    exchange = Exchange("llm", "/v1/messages", "chat", request.headers)
    principal = principal_of(request)
    if not principal.anonymous:
        exchange.principal, exchange.team = principal.subject, principal.team
        exchange.key = principal.key_name
    handed_off = False
    observed(request.scope)  # from here on the exchange records any end, a bug's 500 included
    try:
        body = await read_body(request, runtime.config.server.max_request_bytes)
        exchange.request_bytes = len(body)
        llm_request = parse_request(body, _FIELDS)
        model = request.headers.get(MODEL_HEADER) or llm_request.model
        plan = _via_messages(runtime.models.plan(model))
        runtime.policy.require(
            principal,
            "llm.messages",
            "models",
            model if "*" in plan.model.name else plan.model.name,
            lambda: {"model": model, "operation": _OPERATION, "body": llm_request.data},
            param="model",
        )
        exchange.target = llm_request.model
        exchange.stream = llm_request.stream
        exchange.request = llm_request.data
        await gateway.limits.admit_llm(runtime.config, principal, exchange, llm_request.data)
        observer.start(exchange)
        attempts = ExchangeAttempts(exchange, observer, runtime.config.llm.backends)
        route, upstream = await send_with_fallback(
            plan, _OPERATION, llm_request, stream=llm_request.stream, attempts=attempts
        )
        exchange.status = upstream.status
        if llm_request.stream:
            handed_off = True
            recorder = StreamRecorder(exchange, lambda: finish(observer, exchange))
            if runtime.config.accounting.enabled:
                upstream = UsageTap(upstream, exchange, withhold=False)  # counts what was delivered
            upstream = guard_stream(exchange, upstream, "anthropic")  # limits.end_streams
            return SSERelay(
                upstream, route.provider.name, runtime.release, error_event=_error_event, observer=recorder
            )
        try:
            content = await upstream.read(runtime.config.server.max_response_bytes)
        finally:
            await upstream.aclose()
        exchange.response_bytes = len(content)
        record_response(exchange, content)
        return Response(content, headers=upstream.relay_headers, media_type="application/json")
    except GatewayError as error:
        if error.status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, error.message)
        exchange.status = error.status
        exchange.error_type = str(error.status) if isinstance(error, UpstreamStatus) else error.code
        return anthropic_error_response(error)
    except BaseException as exc:
        record_abort(exchange, exc)  # a client that left, or a bug: recorded, then left to propagate
        raise
    finally:
        if not handed_off:
            finish(observer, exchange)
            runtime.release()


def _error_event(error: GatewayError) -> bytes:
    return sse_event(anthropic_error_body(error), "error")


def _via_messages(plan: Plan) -> Plan:
    """The plan with each target that does not speak Messages wrapped in a translator."""
    routes = tuple(
        route
        if _OPERATION in route.provider.operations
        else Route(route.model, ChatAsMessages(route.provider), route.upstream_model)
        for route in plan.routes
    )
    return Plan(plan.model, routes, plan.health)


class ChatAsMessages:
    """A :class:`Provider` view of an OpenAI-chat provider that serves ``messages`` by translation."""

    operations = frozenset({_OPERATION})

    def __init__(self, provider: Provider) -> None:
        self._provider = provider
        self.name = provider.name

    async def send(
        self, operation: str, body: bytes, *, stream: bool, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        data = orjson.loads(body)
        if not isinstance(data, dict):
            raise InvalidRequest("request body must be a JSON object")
        chat = orjson.dumps(messages_request_to_chat(data))
        upstream = await self._provider.send("chat/completions", chat, stream=stream, headers=headers)
        return TranslatedMessages(upstream, self.name, str(data.get("model", "")), stream=stream)

    async def probe(self) -> str | None:
        return await self._provider.probe()

    async def aclose(self) -> None:
        """The wrapped provider is the gateway's to close."""


class TranslatedMessages:
    """An OpenAI chat completion (or its stream) seen as an Anthropic Messages response."""

    def __init__(self, upstream: UpstreamResponse, backend: str, model: str, *, stream: bool) -> None:
        self._upstream = upstream
        self._backend = backend
        self._model = model
        self.status = upstream.status
        self.deadline = upstream.deadline
        self.content_type = "text/event-stream" if stream and upstream.status < 400 else "application/json"

    @property
    def relay_headers(self) -> dict[str, str]:
        return self._upstream.relay_headers

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        translator = ChatStreamToMessages(self._model)
        async for chunk in self._upstream.aiter_bytes():
            out = translator.feed(chunk)
            if out:
                yield out
        rest = translator.finish()
        if rest:
            yield rest

    async def read(self, limit: int) -> bytes:
        body = await self._upstream.read(limit)
        if self.status >= 400:
            return chat_error_to_messages(body, self.status)
        try:
            chat = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamUnreachable(
                f"backend {self._backend!r} sent a response that is not JSON", backend=self._backend
            ) from exc
        return orjson.dumps(chat_response_to_messages(chat))

    async def aclose(self) -> None:
        await self._upstream.aclose()
