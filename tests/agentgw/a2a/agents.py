"""Real ``a2a-sdk`` 1.x agents for the A2A tests, served on 127.0.0.1.

- the *echo* agent answers every message at once with one agent ``Message`` (``echo: <text>``);
- the *task* agent works on a ``Task``: it streams a ``working`` status and artifact chunks, then
  completes; given the text ``wait`` it stays ``working`` until it is cancelled.

Both serve the JSON-RPC binding at ``/`` (with the v0.3 method names too), the HTTP+JSON binding at
``/rest`` and their card at ``/.well-known/agent-card.json``; they support push-notification configs
and an extended card.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from a2a.helpers.proto_helpers import new_task, new_text_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes, create_rest_routes
from a2a.server.tasks import InMemoryPushNotificationConfigStore, InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    APIKeySecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
    TaskState,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["EchoExecutor", "TaskExecutor", "agent_app", "agent_card"]

UPSTREAM_KEY = "upstream-secret"
"""The API key the agents require (``X-API-Key``); only the gateway knows it."""

ARTIFACT_CHUNKS = ("alpha ", "beta ", "gamma")


class EchoExecutor(AgentExecutor):
    """Answers with one message and no task."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        await event_queue.enqueue_event(new_text_message(f"echo: {context.get_user_input()}"))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError("the echo agent has no tasks to cancel")


@dataclass
class TaskExecutor(AgentExecutor):
    """Works on a task: ``working``, three artifact chunks, ``completed`` (or waits for cancel)."""

    cancelled: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id is not None and context.context_id is not None
        if context.current_task is None:
            # a2a-sdk 1.x: the Task must be enqueued before any status update for it.
            await event_queue.enqueue_event(
                new_task(context.task_id, context.context_id, TaskState.TASK_STATE_SUBMITTED)
            )
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        self.started.append(context.task_id)
        await updater.start_work()
        if context.get_user_input().strip() == "wait":
            # Long-running work: only a CancelTask ends it (the framework cancels this coroutine).
            await asyncio.Event().wait()
        for index, chunk in enumerate(ARTIFACT_CHUNKS):
            await updater.add_artifact(
                [new_text_part(chunk)],
                artifact_id="answer",
                name="answer",
                append=index > 0,
                last_chunk=index == len(ARTIFACT_CHUNKS) - 1,
            )
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id is not None and context.context_id is not None
        self.cancelled.append(context.task_id)
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


def agent_card(name: str, base_url: str, *, skills: list[AgentSkill]) -> AgentCard:
    """A 1.0 card listing both bindings at 1.0 and at 0.3, with an API-key security scheme."""
    interfaces = [
        AgentInterface(url=base_url, protocol_binding="JSONRPC", protocol_version="1.0"),
        AgentInterface(url=f"{base_url}/rest", protocol_binding="HTTP+JSON", protocol_version="1.0"),
        AgentInterface(url=base_url, protocol_binding="JSONRPC", protocol_version="0.3"),
        AgentInterface(url="127.0.0.1:1", protocol_binding="GRPC", protocol_version="1.0"),
    ]
    return AgentCard(
        name=name,
        description=f"the {name} agent",
        version="1.2.3",
        supported_interfaces=interfaces,
        provider=AgentProvider(organization="agentgw tests", url="https://example.com"),
        documentation_url="https://example.com/docs",
        capabilities=AgentCapabilities(streaming=True, push_notifications=True, extended_agent_card=True),
        security_schemes={
            "apikey": SecurityScheme(
                api_key_security_scheme=APIKeySecurityScheme(location="header", name="X-API-Key")
            )
        },
        security_requirements=[SecurityRequirement(schemes={"apikey": StringList(list=[])})],
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=skills,
    )


def agent_app(name: str, base_url: str, executor: AgentExecutor) -> Starlette:
    """The agent as an ASGI app whose card lists endpoints under ``base_url``."""
    skills = [
        AgentSkill(id=f"{name}-main", name=f"{name} main", description="does the thing", tags=["main"]),
        AgentSkill(id=f"{name}-extra", name=f"{name} extra", description="does more", tags=["extra"]),
    ]
    card = agent_card(name, base_url, skills=skills)
    extended = AgentCard()
    extended.CopyFrom(card)
    extended.skills.append(
        AgentSkill(id=f"{name}-secret", name="secret", description="extended only", tags=["x"])
    )
    handler = DefaultRequestHandler(
        agent_executor=executor,
        task_store=InMemoryTaskStore(),
        agent_card=card,
        push_config_store=InMemoryPushNotificationConfigStore(),
        extended_agent_card=extended,
    )
    routes = [
        *create_agent_card_routes(card),
        *create_jsonrpc_routes(handler, "/", enable_v0_3_compat=True),
        *create_rest_routes(handler, enable_v0_3_compat=True, path_prefix="/rest"),
    ]
    seen: list[dict[str, str]] = []
    app = Starlette(routes=routes, middleware=[Middleware(RequireKey, seen=seen)])
    app.state.seen = seen
    return app


class RequireKey:
    """Refuses every request but the public card without the agent's API key (a 401, as a real agent).

    Every request's headers are appended to ``seen``, for tests of what the gateway forwards.
    """

    def __init__(self, app: ASGIApp, seen: list[dict[str, str]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.seen.append({"path": scope["path"], **headers})
            if not scope["path"].startswith("/.well-known/") and headers.get("x-api-key") != UPSTREAM_KEY:
                response = PlainTextResponse("missing or wrong X-API-Key", status_code=401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
