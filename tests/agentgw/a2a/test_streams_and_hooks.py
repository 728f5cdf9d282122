"""Streams end cleanly (in-band errors, client disconnects), and the policy and accounting hooks see
every call with what it cost."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx2
import orjson
import pytest
from a2a.helpers.proto_helpers import new_text_message
from a2a.types import Role, SendMessageRequest, TaskState
from a2a.utils.errors import InternalError
from starlette.applications import Starlette
from starlette.requests import Request

from agentgw import create_app
from agentgw.a2a.hooks import A2ACall, A2APolicy
from agentgw.a2a.routes import a2a_routes
from agentgw.config import parse_config
from agentgw.errors import ClientError
from agentgw.exchange import Exchange, UpstreamCall
from agentgw.gateway import Gateway
from tests.agentgw.a2a.agents import UPSTREAM_KEY
from tests.agentgw.a2a.conftest import Agents, Recorder, client_for, gateway_yaml
from tests.support.servers import serve_app, wait_for

V1 = {"A2A-Version": "1.0"}


def send(text: str, method: str = "SendMessage", **metadata: str) -> dict[str, object]:
    message = {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": text}], "metadata": metadata}
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"message": message}}


def cancel_at_agent(agents: Agents, task_id: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "CancelTask", "params": {"id": task_id}}
    httpx2.post(agents.task.url, json=body, headers={**V1, "x-api-key": UPSTREAM_KEY})


class Policy:
    """Hides the task agent and the echo agent's extra skill, and forbids cancelling."""

    def agent_visible(self, request: Request, agent: str) -> bool:
        return agent != "task"

    def skill_visible(self, request: Request, agent: str, skill: str) -> bool:
        return skill != "echo-extra"

    async def authorize(self, request: Request, call: A2ACall) -> None:
        if call.operation == "CancelTask":
            error = ClientError("cancelling is not allowed for you")
            error.status, error.code = 403, "forbidden"
            raise error


class Exchanges:
    """An exchange observer (the telemetry hook) that keeps every finished exchange."""

    def __init__(self) -> None:
        self.ended: list[Exchange] = []

    def start(self, exchange: Exchange) -> None:
        return None

    def upstream_start(self, exchange: Exchange, call: UpstreamCall) -> None:
        call.headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    def upstream_end(self, exchange: Exchange, call: UpstreamCall) -> None:
        return None

    def end(self, exchange: Exchange) -> None:
        self.ended.append(exchange)


@contextlib.contextmanager
def hooked_gateway(
    agents: Agents, recorder: Recorder, policy: A2APolicy | None = None, observer: Exchanges | None = None
) -> Iterator[str]:
    gateway = Gateway(parse_config(gateway_yaml(agents)), observer=observer)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        yield
        await gateway.stop()

    app = Starlette(routes=a2a_routes(policy=policy, accounting=recorder), lifespan=lifespan)
    app.state.gateway = gateway
    with serve_app(app) as url:
        yield url


@pytest.mark.anyio
async def test_a_stream_over_its_total_timeout_ends_with_an_in_band_a2a_error(agents: Agents) -> None:
    with serve_app(create_app(parse_config(gateway_yaml(agents, total=0.5)))) as url:
        async with await client_for(f"{url}/a2a/task", "JSONRPC") as client:
            stream = client.send_message(
                SendMessageRequest(message=new_text_message("wait", role=Role.ROLE_USER))
            )
            first = await anext(stream)
            with pytest.raises(InternalError, match="exceeded its total timeout"):
                async for _ in stream:
                    pass
    cancel_at_agent(agents, first.task.id)


def test_accounting_and_telemetry_see_each_call(agents: Agents) -> None:
    recorder, exchanges = Recorder(), Exchanges()
    with hooked_gateway(agents, recorder, observer=exchanges) as url:
        body = orjson.dumps(send("hi", skillId="echo-main"))
        reply = httpx2.post(f"{url}/a2a/echo", content=body, headers=V1)
        httpx2.post(f"{url}/a2a/task/message:send", json=send("work")["params"], headers=V1)
        with httpx2.stream(
            "POST", f"{url}/a2a/task", json=send("work", "SendStreamingMessage"), headers=V1
        ) as r:
            r.read()
    echo, task, stream = recorder.outcomes
    assert echo.call.operation == "SendMessage" and echo.call.binding == "JSONRPC"
    assert (echo.call.agent, echo.call.version, echo.call.skill) == ("echo", "1.0", "echo-main")
    assert echo.call.request_bytes == len(body)
    assert (echo.status, echo.error, echo.messages, echo.task_state) == (200, None, 1, None)
    assert echo.response_bytes == len(reply.content)
    assert echo.latency_s > 0
    assert (task.call.binding, task.call.method) == ("HTTP+JSON", "POST message:send")
    assert (task.task_state, task.artifacts, task.events) == ("TASK_STATE_COMPLETED", 1, 0)
    assert task.task_id is not None
    assert stream.call.operation == "SendStreamingMessage"
    assert (stream.events, stream.artifacts, stream.task_state) == (6, 3, "TASK_STATE_COMPLETED")
    # The telemetry hook: one exchange per call, its upstream call, and the trace context sent on.
    first, _, streamed = exchanges.ended
    assert (first.protocol, first.route, first.operation, first.target) == (
        "a2a",
        "/a2a/{agent}",
        "SendMessage",
        "echo",
    )
    assert (first.status, first.error_type, first.upstream[0].status) == (200, None, 200)
    assert first.attributes["a2a.skill.id"] == "echo-main"
    assert streamed.stream and streamed.first_chunk is not None
    assert streamed.attributes["a2a.task.state"] == "TASK_STATE_COMPLETED"
    assert agents.task.seen[-1]["traceparent"].startswith("00-0af7651916cd43dd")


def test_a_client_that_leaves_a_stream_ends_the_relay(agents: Agents) -> None:
    recorder = Recorder()
    with hooked_gateway(agents, recorder) as url:
        with httpx2.stream(
            "POST", f"{url}/a2a/task", json=send("wait", "SendStreamingMessage"), headers=V1
        ) as r:
            lines = (line for line in r.iter_lines() if line.startswith("data:"))
            task_id = orjson.loads(next(lines)[5:])["result"]["task"]["id"]
            next(lines)  # working
        wait_for(lambda: len(recorder.outcomes) == 1)
        [outcome] = recorder.outcomes
        assert (outcome.task_id, outcome.task_state, outcome.events) == (task_id, "TASK_STATE_WORKING", 2)
    cancel_at_agent(agents, task_id)


def test_policy_hides_agents_and_skills_and_refuses_calls(agents: Agents) -> None:
    recorder = Recorder()
    with hooked_gateway(agents, recorder, Policy()) as url:
        listing = httpx2.get(f"{url}/a2a").json()["agents"]
        assert "task" not in [entry["id"] for entry in listing]
        card = httpx2.get(f"{url}/a2a/echo/.well-known/agent-card.json").json()
        assert [skill["id"] for skill in card["skills"]] == ["echo-main"]
        hidden = httpx2.post(f"{url}/a2a/task", json=send("hi"), headers=V1).json()["error"]
        assert hidden["data"][0]["reason"] == "AGENT_NOT_FOUND"
        cancel = {"jsonrpc": "2.0", "id": 3, "method": "CancelTask", "params": {"id": "t"}}
        refused = httpx2.post(f"{url}/a2a/echo", json=cancel, headers=V1).json()
        assert (refused["id"], refused["error"]["code"]) == (3, -32600)
        assert refused["error"]["message"] == "cancelling is not allowed for you"
        rest = httpx2.post(f"{url}/a2a/echo/tasks/t:cancel", headers=V1)
        assert rest.status_code == 403
        assert rest.json()["error"]["status"] == "PERMISSION_DENIED"
    assert [o.error for o in recorder.outcomes] == ["forbidden", "forbidden"]


def test_states_of_0_3_results_are_reported_by_their_1_0_names(agents: Agents) -> None:
    recorder = Recorder()
    with hooked_gateway(agents, recorder) as url:
        body = send("work", "message/send")
        body["params"] = {
            "message": {
                "kind": "message",
                "messageId": "m",
                "role": "user",
                "parts": [{"kind": "text", "text": "x"}],
            }
        }
        httpx2.post(f"{url}/a2a/task", json=body)
    [outcome] = recorder.outcomes
    assert (outcome.call.version, outcome.task_state) == ("0.3", "TASK_STATE_COMPLETED")
    assert TaskState.Name(TaskState.TASK_STATE_COMPLETED) == outcome.task_state
