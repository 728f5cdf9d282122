"""Agents as MCP tools (issue 6): real a2a-sdk agents behind the gateway, called through ``/mcp`` with
the ``mcp`` SDK ``Client``; artifacts come back as the tool result, failures as ``isError``, and the
``agents`` rules decide who sees and calls each tool."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx2
import pytest
from a2a.helpers.proto_helpers import new_data_part, new_task, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import TaskState
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent

from agentgw import create_app
from agentgw.auth.api_keys import hash_key
from agentgw.config import parse_config
from agentgw.errors import ConfigError
from agentgw.gateway import Gateway
from tests.agentgw.a2a.agents import UPSTREAM_KEY, agent_app
from tests.agentgw.a2a.conftest import Agents, agents  # noqa: F401 (the agents fixture)
from tests.support.mcp_fixture import http_app
from tests.support.servers import free_port, serve_app, serve_app_at

pytestmark = pytest.mark.anyio

KEYS = {"alice": "sk-alice", "bob": "sk-bob", "carol": "sk-carol"}


class FailingExecutor(AgentExecutor):
    """Starts a task and fails it, saying why; given ``data`` it completes with a data artifact."""

    def __init__(self) -> None:
        self.skills: list[object] = []
        """``metadata.skillId`` of each request and of its message."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id is not None and context.context_id is not None and context.message is not None
        self.skills.append((context.metadata.get("skillId"), dict(context.message.metadata).get("skillId")))
        await event_queue.enqueue_event(
            new_task(context.task_id, context.context_id, TaskState.TASK_STATE_SUBMITTED)
        )
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.start_work()
        if context.get_user_input() == "data":
            await updater.add_artifact([new_text_part("here:"), new_data_part({"answer": 42})], name="result")
            await updater.complete()
            return
        await updater.failed(updater.new_agent_message([new_text_part("the model is down")]))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


FAILING = FailingExecutor()


@pytest.fixture(scope="module")
def failing_url() -> Iterator[str]:
    with serve_app_at(lambda url: agent_app("failing", url, FAILING)) as url:
        yield url


def config_yaml(agents: Agents, failing: str, *, extra: str = "") -> str:  # noqa: F811
    key = f"headers: {{X-API-Key: {UPSTREAM_KEY}}}"
    return f"""
server: {{reload: false}}
a2a:
  agents:
    echo: {{url: "{agents.echo.url}", {key}, mcp_tool: true}}
    task: {{url: "{agents.task.url}", {key}, mcp_tool: {{name: worker, description: Works on tasks}}}}
    skills: {{url: "{agents.task.url}", {key}, mcp_tool: {{per_skill: true}}}}
    failing: {{url: "{failing}", {key}, mcp_tool: true}}
    fskills: {{url: "{failing}", {key}, mcp_tool: {{per_skill: true}}}}
    dead: {{url: "http://127.0.0.1:{free_port()}", {key}, mcp_tool: true}}
    keyless: {{url: "{agents.echo.url}", mcp_tool: true}}
    hidden: {{url: "{agents.echo.url}", {key}}}
{extra}
"""


AUTH = f"""
auth:
  api_keys:
    - {{name: alice, key_sha256: {hash_key(KEYS["alice"])}, roles: [echo-user]}}
    - {{name: bob, key_sha256: {hash_key(KEYS["bob"])}, roles: [task-main]}}
    - {{name: carol, key_sha256: {hash_key(KEYS["carol"])}, roles: [all-agents]}}
rbac:
  roles:
    echo-user: {{allow: {{agents: [echo], tools: ["*"]}}}}
    task-main: {{allow: {{agents: [skills/task-main]}}}}
    all-agents: {{allow: {{agents: ["*"]}}}}
"""


@pytest.fixture(scope="module")
def gateway(agents: Agents, failing_url: str) -> Iterator[str]:  # noqa: F811
    with serve_app(create_app(parse_config(config_yaml(agents, failing_url, extra=AUTH)))) as url:
        yield url


@contextlib.asynccontextmanager
async def client(url: str, who: str, mode: str = "auto") -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"x-api-key": KEYS[who]}, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as mcp,
    ):
        yield mcp


def texts(result: CallToolResult) -> list[str]:
    return [c.text for c in result.content if isinstance(c, TextContent)]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_agents_are_listed_and_called_as_tools(gateway: str, mode: str) -> None:
    async with client(gateway, "carol", mode) as mcp:
        tools = {t.name: t for t in (await mcp.list_tools()).tools}
        worked = await mcp.call_tool("worker", {"message": "do it"})
        echoed = await mcp.call_tool("echo", {"message": "hi"})
        skilled = await mcp.call_tool("skills.task-main", {"message": "go", "context_id": "ctx-1"})
    assert set(tools) == {
        *("echo", "worker", "skills.task-main", "skills.task-extra", "failing", "dead", "keyless"),
        *("fskills.failing-main", "fskills.failing-extra"),
    }
    assert tools["worker"].description == "Works on tasks"
    assert tools["echo"].description is not None and tools["echo"].description.startswith("the echo agent")
    assert tools["skills.task-main"].description == "does the thing"
    assert tools["echo"].input_schema["required"] == ["message"]
    # the task agent streams three chunks of one artifact, then completes
    assert worked.is_error is False and texts(worked) == ["alpha beta gamma"]
    assert worked.structured_content is not None
    assert worked.structured_content["state"] == "TASK_STATE_COMPLETED"
    assert echoed.is_error is False and texts(echoed) == ["echo: hi"]
    assert texts(skilled) == ["alpha beta gamma"]
    assert skilled.structured_content is not None and skilled.structured_content["contextId"] == "ctx-1"


async def test_data_parts_come_back_as_json_and_structured_content(gateway: str) -> None:
    async with client(gateway, "carol") as mcp:
        result = await mcp.call_tool("failing", {"message": "data"})
    assert result.is_error is False
    # protobuf numbers are doubles: the agent itself sends 42.0
    assert texts(result) == ["here:", '{"answer":42.0}']
    assert result.structured_content is not None and result.structured_content["data"] == [{"answer": 42}]


async def test_a_skill_tool_names_its_skill_in_metadata(gateway: str) -> None:
    async with client(gateway, "carol") as mcp:
        result = await mcp.call_tool("fskills.failing-extra", {"message": "data"})
    assert result.is_error is False
    assert FAILING.skills[-1] == ("failing-extra", "failing-extra")


async def test_failures_are_tool_errors(gateway: str) -> None:
    async with client(gateway, "carol") as mcp:
        failed = await mcp.call_tool("failing", {"message": "please"})
        dead = await mcp.call_tool("dead", {"message": "anyone?"})
        keyless = await mcp.call_tool("keyless", {"message": "hi"})
        empty = await mcp.call_tool("echo", {"message": ""})
    assert failed.is_error is True
    assert texts(failed)[0].startswith("agent 'failing' failed the task ")
    assert texts(failed)[0].endswith(": the model is down")
    assert dead.is_error is True and "agent 'dead' is unreachable" in texts(dead)[0]
    assert keyless.is_error is True
    assert texts(keyless) == ["agent 'keyless' refused the gateway's credential (HTTP 401)"]
    assert empty.is_error is True and texts(empty) == ["'message' must be a non-empty string"]


async def test_the_agents_rules_decide_who_sees_and_calls_agent_tools(gateway: str) -> None:
    async with client(gateway, "alice") as mcp:
        assert [t.name for t in (await mcp.list_tools()).tools] == ["echo"]
        assert texts(await mcp.call_tool("echo", {"message": "hi"})) == ["echo: hi"]
        # tools: ["*"] does not reach agents: the agents rules decide
        with pytest.raises(MCPError, match="Unknown tool: worker"):
            await mcp.call_tool("worker", {"message": "not yours"})
    async with client(gateway, "bob") as mcp:
        assert [t.name for t in (await mcp.list_tools()).tools] == ["skills.task-main"]
        assert texts(await mcp.call_tool("skills.task-main", {"message": "go"})) == ["alpha beta gamma"]
        with pytest.raises(MCPError, match="Unknown tool: skills.task-extra"):
            await mcp.call_tool("skills.task-extra", {"message": "not yours"})


async def test_agent_tools_are_prefixed_next_to_mcp_servers(agents: Agents, failing_url: str) -> None:  # noqa: F811
    with serve_app(http_app("remote")) as remote:
        extra = f'mcp: {{servers: {{remote: {{url: "{remote}/mcp"}}}}}}'
        config = parse_config(config_yaml(agents, failing_url, extra=extra))
        with serve_app(create_app(config)) as url:
            async with Client(f"{url}/mcp") as mcp:
                tools = {t.name for t in (await mcp.list_tools()).tools}
                result = await mcp.call_tool("a2a_echo", {"message": "hi"})
    assert {"a2a_echo", "a2a_worker", "remote_echo"} <= tools
    assert texts(result) == ["echo: hi"]


def test_mcp_tool_config(agents: Agents, failing_url: str) -> None:  # noqa: F811
    config = parse_config(config_yaml(agents, failing_url))
    echo, task = config.a2a.agents["echo"].mcp_tool, config.a2a.agents["task"].mcp_tool
    assert echo is not None and echo.enabled and not echo.per_skill and echo.name is None
    assert task is not None and task.name == "worker"
    assert config.a2a.agents["hidden"].mcp_tool is None
    with pytest.raises(ConfigError) as error:
        parse_config("""
a2a:
  agents:
    a: {url: "http://127.0.0.1:1", mcp_tool: {per_skill: true, name: x}}
    b: {url: "http://127.0.0.1:1", mcp_tool: {name: "no spaces"}}
""")
    text = str(error.value)
    assert "a2a.agents.a.mcp_tool: name applies to one tool per agent" in text
    assert "a2a.agents.b.mcp_tool.name: must be 1-64 letters" in text
    with pytest.raises(ConfigError, match="a2a.tools_server 'a2a' is already an MCP server's name or prefix"):
        parse_config("""
mcp: {servers: {a2a: {command: x}}}
a2a: {agents: {a: {url: "http://127.0.0.1:1", mcp_tool: true}}}
""")


async def test_a_reload_relists_the_agent_tools(agents: Agents) -> None:  # noqa: F811
    key = f"headers: {{X-API-Key: {UPSTREAM_KEY}}}"
    echo = f'echo: {{url: "{agents.echo.url}", {key}, mcp_tool: true}}'
    task = f'task: {{url: "{agents.task.url}", {key}, mcp_tool: {{per_skill: true}}}}'
    gateway = Gateway(parse_config(f"a2a: {{agents: {{{echo}}}}}"))
    await gateway.start()
    try:
        assert [t.name for t in gateway.mcp.catalog.tools] == ["echo"]
        await gateway.apply(parse_config(f"a2a: {{agents: {{{echo}, {task}}}}}"))
        with anyio.fail_after(10):
            while len(gateway.mcp.catalog.tools) == 1:  # relisted on a background task
                await anyio.sleep(0.01)
        assert [t.name for t in gateway.mcp.catalog.tools] == ["echo", "task.task-extra", "task.task-main"]
    finally:
        await gateway.stop()
