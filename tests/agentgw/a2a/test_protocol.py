"""Classifying A2A requests, and cutting streams into whole events (no servers needed)."""

from __future__ import annotations

import pytest

from agentgw.a2a.events import EventFramer, ResultTally
from agentgw.a2a.protocol import call_targets, protocol_version, rest_operation
from agentgw.a2a.upstream import AgentClient
from agentgw.config.a2a import AgentConfig
from agentgw.errors import MethodNotFound, VersionNotSupported


@pytest.mark.parametrize(
    ("method", "path", "operation", "task_id"),
    [
        ("POST", "message:send", "SendMessage", None),
        ("POST", "message:stream", "SendStreamingMessage", None),
        ("GET", "tasks", "ListTasks", None),
        ("GET", "tasks/t-1", "GetTask", "t-1"),
        ("POST", "tasks/t-1:cancel", "CancelTask", "t-1"),
        ("POST", "tasks/t-1:subscribe", "SubscribeToTask", "t-1"),
        ("GET", "tasks/t-1:subscribe", "SubscribeToTask", "t-1"),
        ("POST", "tasks/t-1/pushNotificationConfigs", "CreateTaskPushNotificationConfig", "t-1"),
        ("GET", "tasks/t-1/pushNotificationConfigs", "ListTaskPushNotificationConfigs", "t-1"),
        ("GET", "tasks/t-1/pushNotificationConfigs/c-1", "GetTaskPushNotificationConfig", "t-1"),
        ("DELETE", "tasks/t-1/pushNotificationConfigs/c-1", "DeleteTaskPushNotificationConfig", "t-1"),
        ("GET", "extendedAgentCard", "GetExtendedAgentCard", None),
        ("POST", "tenant-a/message:send", "SendMessage", None),
        ("GET", "tenant-a/tasks/t-1", "GetTask", "t-1"),
        ("POST", "v1/message:send", "SendMessage", None),
        ("GET", "v1/card", "GetExtendedAgentCard", None),
    ],
)
def test_rest_operations(method: str, path: str, operation: str, task_id: str | None) -> None:
    found = rest_operation(method, path)
    assert (found.operation, found.task_id) == (operation, task_id)


@pytest.mark.parametrize(("method", "path"), [("GET", "message:send"), ("POST", "admin"), ("PUT", "tasks/t")])
def test_anything_else_is_not_an_operation(method: str, path: str) -> None:
    with pytest.raises(MethodNotFound):
        rest_operation(method, path)


def test_versions() -> None:
    assert [protocol_version(v) for v in (None, "", " ", "0.3", "0.3.0", "1.0", "1.0.2")] == [
        "0.3", "0.3", "0.3", "0.3", "0.3", "1.0", "1.0",
    ]  # fmt: skip
    for bad in ("1.1", "2.0", "0.2", "one"):
        with pytest.raises(VersionNotSupported):
            protocol_version(bad)


def test_call_targets() -> None:
    params = {"message": {"taskId": "t", "contextId": "c", "metadata": {"skillId": "s"}}}
    assert call_targets("SendMessage", params) == ("t", "c", "s")
    assert call_targets("SendMessage", {"message": {}, "metadata": {"skillId": "r"}}) == (None, None, "r")
    assert call_targets("GetTask", {"id": "t"}) == ("t", None, None)
    assert call_targets("GetTaskPushNotificationConfig", {"taskId": "t", "id": "c"}) == ("t", None, None)
    assert call_targets("ListTasks", {"contextId": "c"}) == (None, "c", None)


def test_framer_yields_whole_events_only() -> None:
    framer = EventFramer()
    assert framer.feed(b'data: {"a"') == b""
    assert framer.feed(b': 1}\r\n\r\ndata: {"b": 2}\r\n') == b'data: {"a": 1}\r\n\r\n'
    assert framer.feed(b"\r\n") == b'data: {"b": 2}\r\n\r\n'
    assert framer.feed(b"data: x\n\ndata: y\n\ndata: z") == b"data: x\n\ndata: y\n\n"
    assert framer.pending == len(b"data: z")
    assert framer.flush() == b"data: z"


def test_tally_reads_both_versions() -> None:
    tally = ResultTally()
    tally.observe_events(
        b'data: {"jsonrpc": "2.0", "id": 1, "result": {"task": {"id": "t", "status": {"state": "TASK_STATE_SUBMITTED"}}}}\r\n\r\n'
        b'data: {"jsonrpc": "2.0", "id": 1, "result": {"artifactUpdate": {"taskId": "t"}}}\r\n\r\n'
        b": a comment is not an event\n\n"
        b'data: {"jsonrpc": "2.0", "id": 1, "result": {"kind": "status-update", "taskId": "t",\n'
        b'data:  "status": {"state": "input-required"}}}\n\n'
    )
    assert (tally.events, tally.artifacts, tally.task_id, tally.task_state) == (
        3,
        1,
        "t",
        "TASK_STATE_INPUT_REQUIRED",
    )
    tally.observe_json(b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32001, "message": "Task not found"}}')
    assert tally.error == "-32001"
    tally.observe_json(b'{"error": {"code": 404, "status": "NOT_FOUND", "message": "x"}}')
    assert tally.error == "NOT_FOUND"


@pytest.mark.anyio
async def test_the_rest_url_comes_from_the_card_only_on_the_agents_origin() -> None:
    client = AgentClient("x", AgentConfig(url="http://127.0.0.1:9"))
    client._card = {
        "supportedInterfaces": [
            {"url": "http://127.0.0.1:9/rest/", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
            {"url": "http://169.254.169.254/v03", "protocolBinding": "HTTP+JSON", "protocolVersion": "0.3"},
        ]
    }
    client._card_expires = float("inf")
    try:
        assert await client.rest_url("1.0") == "http://127.0.0.1:9/rest"
        assert await client.rest_url("0.3") == "http://127.0.0.1:9"  # another host: ignored
    finally:
        await client.aclose()
