"""A2A 0.3 clients through the gateway: 0.3 method names, no ``A2A-Version`` header, the 0.3 card."""

from __future__ import annotations

import httpx2
import orjson
import pytest
from a2a.client import ClientConfig, create_client
from a2a.client.card_resolver import parse_agent_card
from a2a.helpers.proto_helpers import new_text_message
from a2a.types import GetTaskRequest, Role, SendMessageRequest, TaskState

from tests.agentgw.a2a.conftest import Agents

pytestmark = pytest.mark.anyio


async def test_sdk_client_reading_the_0_3_fields_of_the_card(gateway_url: str) -> None:
    card_json = httpx2.get(f"{gateway_url}/a2a/task/.well-known/agent-card.json").json()
    # What a 0.3 client reads: `url`, `preferredTransport`, `protocolVersion`.
    del card_json["supportedInterfaces"]
    card = parse_agent_card(card_json)
    assert [(i.url, i.protocol_version) for i in card.supported_interfaces] == [
        (f"{gateway_url}/a2a/task", "0.3")
    ]
    async with await create_client(card, client_config=ClientConfig(streaming=True)) as client:
        assert type(client._transport).__name__ == "CompatJsonRpcTransport"  # type: ignore[attr-defined]
        request = SendMessageRequest(message=new_text_message("work", role=Role.ROLE_USER))
        events = [event async for event in client.send_message(request)]
        task_id = events[0].task.id
        assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
        task = await client.get_task(GetTaskRequest(id=task_id))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED


async def test_raw_0_3_requests_without_a_version_header(gateway_url: str) -> None:
    async with httpx2.AsyncClient(base_url=gateway_url) as http:
        sent = await http.post(
            "/a2a/task",
            json={
                "jsonrpc": "2.0",
                "id": "a",
                "method": "message/send",
                "params": {
                    "message": {
                        "kind": "message",
                        "messageId": "m-1",
                        "role": "user",
                        "parts": [{"kind": "text", "text": "work"}],
                    }
                },
            },
        )
        result = sent.json()["result"]
        assert (result["kind"], result["status"]["state"]) == ("task", "completed")
        got = await http.post(
            "/a2a/task",
            json={"jsonrpc": "2.0", "id": 7, "method": "tasks/get", "params": {"id": result["id"]}},
        )
        assert got.json()["id"] == 7
        assert got.json()["result"]["id"] == result["id"]
        # A 1.0 method without the 1.0 header is answered by the agent: -32009, relayed as is.
        mismatch = await http.post(
            "/a2a/task", json={"jsonrpc": "2.0", "id": 8, "method": "GetTask", "params": {"id": result["id"]}}
        )
        assert mismatch.json()["error"]["code"] == -32009


async def test_0_3_streaming_and_cancel(gateway_url: str, agents: Agents) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "message/stream",
        "params": {
            "message": {
                "kind": "message",
                "messageId": "m-2",
                "role": "user",
                "parts": [{"kind": "text", "text": "wait"}],
            }
        },
    }
    async with (
        httpx2.AsyncClient(base_url=gateway_url, timeout=10) as http,
        http.stream("POST", "/a2a/task", json=body) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        states = []
        task_id = None
        async for line in lines:
            if not line.startswith("data:"):
                continue
            result = orjson.loads(line[5:])["result"]
            task_id = task_id or result.get("id")
            states.append(result["status"]["state"])
            if states[-1] == "working":
                cancel = await http.post(
                    "/a2a/task",
                    json={"jsonrpc": "2.0", "id": 2, "method": "tasks/cancel", "params": {"id": task_id}},
                )
                assert cancel.json()["result"]["status"]["state"] == "canceled"
    assert states == ["submitted", "working", "canceled"]
    assert task_id in agents.task.executor.cancelled
