"""The OpenAI-compatible routes: ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/responses``,
``/v1/models`` (and Anthropic's ``/v1/messages``, from :mod:`agentgw.llm.messages`)."""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agentgw.auth.principal import principal_of
from agentgw.error_mapping import openai_error_response
from agentgw.errors import GatewayError, ModelNotFound, UpstreamError, UpstreamStatus
from agentgw.exchange import Exchange, UpstreamCall, finish, record_abort
from agentgw.gateway import Gateway
from agentgw.limits import guard_stream
from agentgw.llm.fallback import ExchangeAttempts, send_with_fallback
from agentgw.llm.messages import messages
from agentgw.llm.request import parse_request, read_body
from agentgw.llm.router import MODEL_HEADER
from agentgw.llm.usage import StreamRecorder, record_response
from agentgw.llm.usage_tap import UsageTap, with_stream_usage
from agentgw.refusals import observed, refused
from agentgw.runtime import Runtime
from agentgw.streaming import SSERelay

__all__ = ["llm_routes"]

log = logging.getLogger("agentgw")

# Upstream operation -> gen_ai.operation.name.
_GENAI_OPERATIONS = {"chat/completions": "chat", "embeddings": "embeddings", "responses": "chat"}
_CHAT_FIELDS: tuple[tuple[str, type | tuple[type, ...], str], ...] = (("messages", list, "an array"),)
_EMBEDDING_FIELDS: tuple[tuple[str, type | tuple[type, ...], str], ...] = (
    ("input", (str, list), "a string or an array"),
)


async def chat_completions(request: Request) -> Response:
    return await _proxy(request, "chat/completions", _CHAT_FIELDS)


async def embeddings(request: Request) -> Response:
    return await _proxy(request, "embeddings", _EMBEDDING_FIELDS)


async def responses(request: Request) -> Response:
    # OpenAI's Responses API, passed through to backends that serve it (openai, azure_openai).
    return await _proxy(request, "responses", ())


async def _proxy(
    request: Request, operation: str, required: tuple[tuple[str, type | tuple[type, ...], str], ...]
) -> Response:
    gateway: Gateway = request.app.state.gateway
    runtime = gateway.runtime.acquire()
    observer = gateway.observer
    exchange = Exchange("llm", f"/v1/{operation}", _GENAI_OPERATIONS[operation], request.headers)
    principal = principal_of(request)
    if not principal.anonymous:
        exchange.principal, exchange.team = principal.subject, principal.team
        exchange.key = principal.key_name
    call: UpstreamCall | None = None
    handed_off = False
    observed(request.scope)  # from here on the exchange records any end, a bug's 500 included
    try:
        body = await read_body(request, runtime.config.server.max_request_bytes)
        exchange.request_bytes = len(body)
        llm_request = parse_request(body, required)
        stream = llm_request.stream and operation != "embeddings"
        accounting = runtime.config.accounting.enabled
        sent, withhold = llm_request, False
        if stream and accounting and operation == "chat/completions":
            sent, withhold = with_stream_usage(llm_request)  # issue 8: usage for every stream
        model = request.headers.get(MODEL_HEADER) or llm_request.model
        runtime.policy.require(
            principal,
            f"llm.{operation}",
            "models",
            _policy_name(runtime, model),
            lambda: {"model": model, "operation": operation, "body": llm_request.data},
            param="model",
        )
        plan = runtime.models.plan(model)
        exchange.target = llm_request.model
        exchange.stream = stream
        exchange.request = llm_request.data
        await gateway.limits.admit_llm(runtime.config, principal, exchange, llm_request.data)
        observer.start(exchange)
        attempts = ExchangeAttempts(exchange, observer, runtime.config.llm.backends)
        try:
            route, upstream = await send_with_fallback(
                plan, operation, sent, stream=stream, attempts=attempts
            )
        finally:
            call = attempts.call
        exchange.status = upstream.status
        if stream:
            handed_off = True
            recorder = StreamRecorder(exchange, lambda: finish(observer, exchange))
            if accounting:
                upstream = UsageTap(upstream, exchange, withhold=withhold)
            upstream = guard_stream(exchange, upstream, "openai")  # limits.end_streams
            return SSERelay(upstream, route.provider.name, runtime.release, observer=recorder)
        try:
            content = await upstream.read(runtime.config.server.max_response_bytes)
        finally:
            await upstream.aclose()
        exchange.response_bytes = len(content)
        record_response(exchange, content)
        return Response(
            content,
            status_code=upstream.status,
            headers=upstream.relay_headers,
            media_type=upstream.content_type,
        )
    except GatewayError as error:
        if error.status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, error.message)
        exchange.status = error.status
        # An upstream's own error status is the error's type, as the GenAI conventions record it.
        exchange.error_type = str(error.status) if isinstance(error, UpstreamStatus) else error.code
        if call is not None and isinstance(error, UpstreamError):
            call.error_type = exchange.error_type
        return openai_error_response(error)
    except BaseException as exc:
        record_abort(exchange, exc)  # a client that left, or a bug: recorded, then left to propagate
        raise
    finally:
        if not handed_off:
            finish(observer, exchange)
            runtime.release()


async def list_models(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    runtime = gateway.runtime
    names = runtime.models.names()  # entries and their aliases; an alias is shown when its entry is
    entries = dict.fromkeys(model.name for _, model in names)
    allowed = set(runtime.policy.filter(principal_of(request), "llm.models/list", "models", entries))
    data = [
        _model_object(name, model.owned_by, runtime.created) for name, model in names if model.name in allowed
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


async def retrieve_model(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    runtime = gateway.runtime
    try:
        name = request.path_params["model"]
        model = runtime.models.get(name)
        # A model the principal may not use is reported like one that does not exist, as in the list.
        if not runtime.policy.visible(principal_of(request), "models", _policy_name(runtime, name)):
            raise ModelNotFound(name)
    except GatewayError as error:
        refused(request.scope, error.status)  # no exchange: a lookup, not an operation
        return openai_error_response(error)
    body = orjson.dumps(_model_object(name, model.owned_by, runtime.created))
    return Response(body, media_type="application/json")


def _policy_name(runtime: Runtime, model: str) -> str:
    """The name rules are matched against: the model entry's name (so an alias is authorized as its
    entry), or the requested name when a pattern entry (``gpt-*``) or no entry serves it."""
    try:
        entry = runtime.models.get(model)
    except ModelNotFound:
        return model
    return model if "*" in entry.name else entry.name


def _model_object(name: str, owned_by: str, created: int) -> dict[str, object]:
    # `created` is when this config was loaded: the gateway does not know when the upstream made the model.
    return {"id": name, "object": "model", "created": created, "owned_by": owned_by}


def llm_routes() -> list[BaseRoute]:
    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", retrieve_model, methods=["GET"]),
    ]
