from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from a2a.client import ClientConfig, create_client
from a2a.client.client import Client
from starlette.requests import Request

from agentgw import create_app
from agentgw.a2a.hooks import A2AOutcome
from agentgw.config import parse_config
from tests.agentgw.a2a.agents import UPSTREAM_KEY, EchoExecutor, TaskExecutor, agent_app
from tests.support.servers import free_port, serve_app, serve_app_at


@dataclass
class Agent:
    url: str
    app: Any
    executor: Any

    @property
    def seen(self) -> list[dict[str, str]]:
        """Headers of every request the agent received."""
        seen: list[dict[str, str]] = self.app.state.seen
        return seen


@dataclass
class Agents:
    echo: Agent
    task: Agent


@pytest.fixture(scope="module")
def agents() -> Iterator[Agents]:
    apps: dict[str, Any] = {}

    def make(name: str, executor: Any) -> Any:
        def build(url: str) -> Any:
            apps[name] = agent_app(name, url, executor)
            return apps[name]

        return build

    echo, task = EchoExecutor(), TaskExecutor()
    with serve_app_at(make("echo", echo)) as echo_url, serve_app_at(make("task", task)) as task_url:
        yield Agents(Agent(echo_url, apps["echo"], echo), Agent(task_url, apps["task"], task))


def gateway_yaml(agents: Agents, *, extra: str = "", total: float = 30) -> str:
    key = f"headers: {{X-API-Key: {UPSTREAM_KEY}}}"
    timeouts = f"timeouts: {{connect: 2, read: 10, total: {total}}}"
    return f"""
server: {{reload: false, max_request_bytes: 4096}}
a2a:
  agents:
    echo: {{url: "{agents.echo.url}", {key}, {timeouts}}}
    task: {{url: "{agents.task.url}", rest_url: "{agents.task.url}/rest", {key}, {timeouts}}}
    dead: {{url: "http://127.0.0.1:{free_port()}", {key}}}
    keyless: {{url: "{agents.echo.url}"}}
{extra}
"""


@pytest.fixture(scope="module")
def gateway_url(agents: Agents) -> Iterator[str]:
    with serve_app(create_app(parse_config(gateway_yaml(agents)))) as url:
        yield url


async def client_for(url: str, *bindings: str, streaming: bool = True) -> Client:
    """An a2a-sdk client that discovers the agent from its card at ``url``, as any client would."""
    config = ClientConfig(streaming=streaming, supported_protocol_bindings=list(bindings))
    return await create_client(url, client_config=config)


@dataclass
class Recorder:
    """An accounting hook that keeps every outcome."""

    outcomes: list[A2AOutcome] = field(default_factory=list)

    def record(self, request: Request, outcome: A2AOutcome) -> None:
        self.outcomes.append(outcome)
