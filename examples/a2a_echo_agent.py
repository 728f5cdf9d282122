"""A small A2A agent that answers every message at once (``echo: <text>``), made with a2a-sdk 1.x.

Run ``python examples/a2a_echo_agent.py --port 9999`` (needs ``pip install 'a2a-sdk[http-server]'``,
part of the dev extra): JSON-RPC at ``/``, HTTP+JSON at ``/rest``, the card at
``/.well-known/agent-card.json``. It is the upstream of ``bench/run.py a2a``, whose load generators
send no custom headers, so it also takes the protocol version from the ``A2A-Version`` query
parameter, which A2A 1.0 section 3.6.1 allows.
"""

from __future__ import annotations

import argparse

import uvicorn
from a2a.helpers.proto_helpers import new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.context import ServerCallContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import (
    DefaultServerCallContextBuilder,
    create_agent_card_routes,
    create_jsonrpc_routes,
    create_rest_routes,
)
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill
from starlette.applications import Starlette
from starlette.requests import Request


class Echo(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        await event_queue.enqueue_event(new_text_message(f"echo: {context.get_user_input()}"))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


class VersionFromQuery(DefaultServerCallContextBuilder):
    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        version = request.query_params.get("A2A-Version")
        if version and "a2a-version" not in context.state["headers"]:
            context.state["headers"]["a2a-version"] = version
        return context


def app(base_url: str) -> Starlette:
    card = AgentCard(
        name="echo",
        description="answers at once",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url=base_url, protocol_binding="JSONRPC", protocol_version="1.0"),
            AgentInterface(url=f"{base_url}/rest", protocol_binding="HTTP+JSON", protocol_version="1.0"),
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="echo", name="echo", description="echoes", tags=["echo"])],
    )
    handler = DefaultRequestHandler(agent_executor=Echo(), task_store=InMemoryTaskStore(), agent_card=card)
    context = VersionFromQuery()
    return Starlette(
        routes=[
            *create_agent_card_routes(card),
            *create_jsonrpc_routes(handler, "/", context_builder=context),
            *create_rest_routes(handler, context_builder=context, path_prefix="/rest"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9999)
    port = parser.parse_args().port
    uvicorn.run(
        app(f"http://127.0.0.1:{port}"),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
