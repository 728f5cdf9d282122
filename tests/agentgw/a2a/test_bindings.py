"""Every A2A operation through the gateway with the a2a-sdk client, in both the JSON-RPC and the
HTTP+JSON binding, against real a2a-sdk agents; the client finds the binding in the gateway's card."""

from __future__ import annotations

import httpx2
import pytest
from a2a.client.client import Client
from a2a.helpers.proto_helpers import new_text_message
from a2a.types import (
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTasksRequest,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import TaskNotFoundError

from tests.agentgw.a2a.agents import ARTIFACT_CHUNKS, UPSTREAM_KEY
from tests.agentgw.a2a.conftest import Agents, client_for

pytestmark = pytest.mark.anyio

BINDINGS = ["JSONRPC", "HTTP+JSON"]


def user(text: str) -> SendMessageRequest:
    return SendMessageRequest(message=new_text_message(text, role=Role.ROLE_USER))


def kind(event: StreamResponse) -> str:
    return str(event.WhichOneof("payload"))


async def events_of(client: Client, request: SendMessageRequest) -> list[StreamResponse]:
    return [event async for event in client.send_message(request)]


@pytest.fixture(params=BINDINGS)
def binding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_send_message_gets_the_agents_reply(gateway_url: str, binding: str, agents: Agents) -> None:
    async with await client_for(f"{gateway_url}/a2a/echo", binding, streaming=False) as client:
        assert client._transport.__class__.__name__ == {"JSONRPC": "JsonRpcTransport"}.get(  # type: ignore[attr-defined]
            binding, "RestTransport"
        )
        [event] = await events_of(client, user("hello"))
    assert kind(event) == "message"
    assert event.message.parts[0].text == "echo: hello"
    # The agent saw the gateway's credential, and the client's protocol version.
    last = agents.echo.seen[-1]
    assert last["x-api-key"] == UPSTREAM_KEY
    assert last["a2a-version"] == "1.0"


async def test_send_message_returns_the_completed_task(gateway_url: str, binding: str) -> None:
    async with await client_for(f"{gateway_url}/a2a/task", binding, streaming=False) as client:
        [event] = await events_of(client, user("work"))
    assert event.task.status.state == TaskState.TASK_STATE_COMPLETED
    assert "".join(p.text for p in event.task.artifacts[0].parts) == "".join(ARTIFACT_CHUNKS)


async def test_streaming_relays_status_and_artifact_updates_in_order(gateway_url: str, binding: str) -> None:
    async with await client_for(f"{gateway_url}/a2a/task", binding) as client:
        events = await events_of(client, user("work"))
    assert [kind(e) for e in events] == [
        "task",
        "status_update",
        "artifact_update",
        "artifact_update",
        "artifact_update",
        "status_update",
    ]
    assert events[1].status_update.status.state == TaskState.TASK_STATE_WORKING
    assert [e.artifact_update.artifact.parts[0].text for e in events[2:5]] == list(ARTIFACT_CHUNKS)
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED


async def test_get_and_list_tasks(gateway_url: str, binding: str) -> None:
    async with await client_for(f"{gateway_url}/a2a/task", binding, streaming=False) as client:
        [event] = await events_of(client, user("work"))
        task = await client.get_task(GetTaskRequest(id=event.task.id))
        assert task.id == event.task.id
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        listed = await client.list_tasks(ListTasksRequest(context_id=event.task.context_id))
        assert [t.id for t in listed.tasks] == [event.task.id]
        with pytest.raises(TaskNotFoundError):  # the agent's own A2A error, relayed
            await client.get_task(GetTaskRequest(id="no-such-task"))


async def test_cancel_ends_a_running_stream(gateway_url: str, binding: str, agents: Agents) -> None:
    async with (
        await client_for(f"{gateway_url}/a2a/task", binding) as streaming,
        await client_for(f"{gateway_url}/a2a/task", binding, streaming=False) as other,
    ):
        stream = streaming.send_message(user("wait"))
        first = await anext(stream)
        working = await anext(stream)
        # The agent is still working: these events were relayed before its stream ended.
        assert working.status_update.status.state == TaskState.TASK_STATE_WORKING
        cancelled = await other.cancel_task(CancelTaskRequest(id=first.task.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        rest = [event async for event in stream]
    assert rest[-1].status_update.status.state == TaskState.TASK_STATE_CANCELED
    assert first.task.id in agents.task.executor.cancelled


async def test_subscribe_to_a_running_task(gateway_url: str, binding: str) -> None:
    async with (
        await client_for(f"{gateway_url}/a2a/task", binding, streaming=False) as client,
        await client_for(f"{gateway_url}/a2a/task", binding) as subscriber,
    ):
        request = user("wait")
        request.configuration.CopyFrom(SendMessageConfiguration(return_immediately=True))
        [event] = await events_of(client, request)
        task_id = event.task.id
        subscription = subscriber.subscribe(SubscribeToTaskRequest(id=task_id))
        snapshot = await anext(subscription)
        assert snapshot.task.id == task_id
        await client.cancel_task(CancelTaskRequest(id=task_id))
        rest = [e async for e in subscription]
    assert rest[-1].status_update.status.state == TaskState.TASK_STATE_CANCELED


async def test_push_notification_configs(gateway_url: str, binding: str) -> None:
    async with await client_for(f"{gateway_url}/a2a/task", binding, streaming=False) as client:
        [event] = await events_of(client, user("work"))
        task_id = event.task.id
        created = await client.create_task_push_notification_config(
            TaskPushNotificationConfig(
                task_id=task_id, id="hook-1", url="https://example.com/hook", token="t"
            )
        )
        assert (created.task_id, created.id, created.url) == (task_id, "hook-1", "https://example.com/hook")
        got = await client.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(task_id=task_id, id="hook-1")
        )
        assert got.url == "https://example.com/hook"
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task_id)
        )
        assert [c.id for c in listed.configs] == ["hook-1"]
        await client.delete_task_push_notification_config(
            DeleteTaskPushNotificationConfigRequest(task_id=task_id, id="hook-1")
        )
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task_id)
        )
        assert list(listed.configs) == []


async def test_extended_card_is_rewritten_too(gateway_url: str, binding: str) -> None:
    async with await client_for(f"{gateway_url}/a2a/task", binding, streaming=False) as client:
        card = await client.get_extended_agent_card(GetExtendedAgentCardRequest())
    assert "task-secret" in [skill.id for skill in card.skills]  # the agent's extended card
    assert {i.url for i in card.supported_interfaces} == {f"{gateway_url}/a2a/task"}
    assert not card.security_schemes
    assert not card.signatures


async def test_service_parameters_go_to_the_agent_and_tenant_paths_pass_through(
    gateway_url: str, agents: Agents
) -> None:
    body = {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}
    headers = {"A2A-Version": "1.0", "A2A-Extensions": "https://example.com/ext/v1"}
    async with httpx2.AsyncClient(base_url=gateway_url) as http:
        response = await http.post("/a2a/task/message:send", json=body, headers=headers)
        assert response.json()["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
        seen = agents.task.seen[-1]
        assert (seen["path"], seen["a2a-extensions"], seen["a2a-version"]) == (
            "/rest/message:send",
            "https://example.com/ext/v1",
            "1.0",
        )
        # A tenant segment follows the interface URL (spec 11.3), and is forwarded where it stands. (The
        # a2a-sdk server mounts tenants before its own path prefix, so this agent does not serve it.)
        await http.get("/a2a/task/tenant-a/tasks/t%2F1", headers=headers)
    assert agents.task.seen[-1]["path"] == "/rest/tenant-a/tasks/t/1"
