"""Agents as MCP tools: an IDE agent on ``/mcp`` delegates to an A2A agent (issue 6).

:class:`AgentToolset` is a :class:`federation.LocalToolset`: each agent configured with ``mcp_tool``
becomes one tool (or one per skill of its card). A call sends the tool's ``message`` to the agent
as an A2A 1.0 ``SendMessage`` (blocking, ``A2A-Version: 1.0``) through the gateway's own client for
the agent (:class:`~agentgw.a2a.upstream.AgentClient`: the gateway's credential, never the MCP
client's), follows the task with ``GetTask`` until it ends when the agent answered early, and returns
the task's artifacts: text parts as text content, data parts as JSON text and in
``structuredContent``. A task that fails, is rejected or cancelled, an agent that is unreachable or
answers with an error, are ``isError: true`` results that say so.

Who may see and call these tools is decided by the ``agents`` rules (see
:class:`agentgw.rbac.hooks.RBACFederationHooks`), through :meth:`AgentToolset.agent_of_tool`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from mcp_types import CallToolResult, TextContent, Tool, ToolAnnotations

from agentgw.a2a.upstream import AgentClient
from agentgw.config.a2a import AgentToolConfig
from agentgw.errors import GatewayError, UpstreamError
from agentgw.runtime import Runtime
from federation import UnknownName

__all__ = ["AgentToolset", "ToolTarget"]

log = logging.getLogger("agentgw")

# A2A 1.0 TaskState: states after which the task does not change, and the states in
# which it waits for the client.
_DONE = frozenset({"TASK_STATE_COMPLETED"})
_FAILED = frozenset({"TASK_STATE_FAILED", "TASK_STATE_REJECTED", "TASK_STATE_CANCELED"})
_INTERRUPTED = frozenset({"TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"})
# 0.3 spellings, in case an agent answers in them.
_LEGACY_STATES = {
    "completed": "TASK_STATE_COMPLETED",
    "failed": "TASK_STATE_FAILED",
    "rejected": "TASK_STATE_REJECTED",
    "canceled": "TASK_STATE_CANCELED",
    "input-required": "TASK_STATE_INPUT_REQUIRED",
    "auth-required": "TASK_STATE_AUTH_REQUIRED",
    "working": "TASK_STATE_WORKING",
    "submitted": "TASK_STATE_SUBMITTED",
}
_POLL_FIRST_S, _POLL_MAX_S = 0.05, 2.0
_INVALID_TOOL_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_HEADERS = (
    (b"content-type", b"application/json"),
    (b"accept", b"application/json"),
    (b"a2a-version", b"1.0"),
)
_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "What to ask the agent, in plain words."},
        "context_id": {
            "type": "string",
            "description": "Continue the conversation of an earlier call: the contextId it returned.",
        },
        "task_id": {
            "type": "string",
            "description": "Answer a task that asked for input: the taskId it returned.",
        },
    },
    "required": ["message"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class ToolTarget:
    """What a tool delegates to: an agent, and the skill it names (None: the agent as a whole)."""

    agent: str
    skill: str | None = None


class AgentToolset:
    """The configured agents as MCP tools (a :class:`federation.LocalToolset`).

    ``runtime`` returns the runtime in force: each call leases it, so a reload does not close the
    agent's client under the call.
    """

    def __init__(self, runtime: Callable[[], Runtime], *, name: str = "a2a") -> None:
        self._runtime = runtime
        self._name = name
        self._targets: dict[str, ToolTarget] = {}

    @property
    def name(self) -> str:
        return self._name

    def agent_of_tool(self, server: str, tool: str) -> tuple[str, str | None] | None:
        """``(agent, skill)`` behind ``server``'s tool ``tool`` when it is one of these (for RBAC)."""
        target = self._targets.get(tool) if server == self._name else None
        return (target.agent, target.skill) if target is not None else None

    async def list_tools(self) -> Sequence[Tool]:
        """One tool per exposed agent (or per skill of its card), as the cards are now."""
        agents = [
            (agent, agent.config.mcp_tool)
            for agent in self._runtime().agents.values()
            if agent.config.mcp_tool is not None and agent.config.mcp_tool.enabled
        ]
        cards = await asyncio.gather(*(_card(agent) for agent, _ in agents))
        tools: list[Tool] = []
        targets: dict[str, ToolTarget] = {}
        for (agent, config), card in zip(agents, cards, strict=True):
            for tool, target in _tools(agent.name, config, card):
                if tool.name in targets:
                    log.warning(
                        "agent tool %r of agent %r is left out: the name is taken", tool.name, agent.name
                    )
                    continue
                targets[tool.name] = target
                tools.append(tool)
        self._targets = targets
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        """Send ``arguments["message"]`` to the tool's agent and return what the task produced.

        Raises:
            UnknownName: no such tool (it was not listed).
        """
        target = self._targets.get(name)
        if target is None:
            raise UnknownName("tool", name)
        args = arguments or {}
        message, context_id, task_id = args.get("message"), args.get("context_id"), args.get("task_id")
        if not isinstance(message, str) or not message:
            return _error("'message' must be a non-empty string")
        if not all(isinstance(v, str | None) for v in (context_id, task_id)):
            return _error("'context_id' and 'task_id' must be strings")
        runtime = self._runtime().acquire()
        try:
            agent = runtime.agents.get(target.agent)
            if agent is None:
                return _error(f"agent '{target.agent}' is no longer configured")
            call = _Call(agent, runtime.config.server.max_response_bytes)
            try:
                return await call.delegate(message, target.skill, context_id, task_id)
            except GatewayError as error:
                return _error(error.message)
        finally:
            runtime.release()


class _Call:
    """One delegation: SendMessage, then GetTask until the task ends, within the agent's total timeout."""

    def __init__(self, agent: AgentClient, limit: int) -> None:
        self.agent = agent
        self.limit = limit

    async def delegate(
        self, text: str, skill: str | None, context_id: str | None, task_id: str | None
    ) -> CallToolResult:
        message: dict[str, Any] = {
            "messageId": str(uuid.uuid4()),
            "role": "ROLE_USER",
            "parts": [{"text": text}],
        }
        if context_id:
            message["contextId"] = context_id
        if task_id:
            message["taskId"] = task_id
        params: dict[str, Any] = {"message": message}
        if skill is not None:
            # A2A has no skill selector; the gateway's routes and policy read metadata.skillId.
            message["metadata"] = params["metadata"] = {"skillId": skill}
        try:
            async with asyncio.timeout(self.agent.config.timeouts.total):
                result = await self._rpc("SendMessage", params)
                task = result.get("task")
                if not isinstance(task, dict):
                    reply = result.get("message")
                    if isinstance(reply, dict):
                        return _message_result(reply)
                    if result.get("kind") != "task":  # 0.3 answers carry the object itself
                        raise UpstreamError(
                            f"agent '{self.agent.name}' answered SendMessage with neither a task nor a message",
                            backend=self.agent.name,
                        )
                    task = result
                return _task_result(self.agent.name, await self._until_done(task))
        except TimeoutError:
            return _error(
                f"agent '{self.agent.name}' did not finish within {self.agent.config.timeouts.total:g}s"
            )

    async def _until_done(self, task: dict[str, Any]) -> dict[str, Any]:
        # SendMessage blocks by default (A2A 1.0 SendMessageConfiguration.returnImmediately), but an
        # agent may still answer while the task works: then it is followed with GetTask.
        delay = _POLL_FIRST_S
        while _state(task) not in _DONE | _FAILED | _INTERRUPTED:
            task_id = task.get("id")
            if not isinstance(task_id, str):
                raise UpstreamError(
                    f"agent '{self.agent.name}' sent a task without an id", backend=self.agent.name
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX_S)
            result = await self._rpc("GetTask", {"id": task_id})
            task = result.get("task", result) if "status" not in result else result
        return task

    async def _rpc(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One JSON-RPC request to the agent; its ``result`` object.

        Raises:
            UpstreamError: the agent is unreachable, refused, or answered with an error.
        """
        agent = self.agent
        body = orjson.dumps({"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": method, "params": params})
        response = await agent.send("POST", agent.jsonrpc_url, body=body, headers=_HEADERS)
        try:
            content = await response.read(self.limit)
        finally:
            await response.aclose()
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            error = data["error"]
            raise UpstreamError(
                f"agent '{agent.name}' answered {method} with error {error.get('code')}: {error.get('message')}",
                backend=agent.name,
            )
        if response.status in (401, 403, 407):
            raise UpstreamError(
                f"agent '{agent.name}' refused the gateway's credential (HTTP {response.status})",
                backend=agent.name,
            )
        if response.status != 200 or not isinstance(data, dict) or not isinstance(data.get("result"), dict):
            raise UpstreamError(
                f"agent '{agent.name}' answered {method} with HTTP {response.status} and no JSON-RPC result",
                backend=agent.name,
            )
        result: dict[str, Any] = data["result"]
        return result


async def _card(agent: AgentClient) -> Mapping[str, Any] | None:
    try:
        return await agent.card()
    except GatewayError as error:
        log.warning("agent %r: no card for its mcp tool description: %s", agent.name, error.message)
        return None


def _tools(
    agent: str, config: AgentToolConfig, card: Mapping[str, Any] | None
) -> list[tuple[Tool, ToolTarget]]:
    annotations = ToolAnnotations(read_only_hint=False, open_world_hint=True)
    card = card or {}
    skills = [s for s in card.get("skills") or () if isinstance(s, dict) and isinstance(s.get("id"), str)]
    if not config.per_skill:
        description = config.description or _agent_description(agent, card, skills)
        tool = Tool(
            name=config.name or agent,
            title=card.get("name") if isinstance(card.get("name"), str) else None,
            description=description,
            input_schema=_INPUT_SCHEMA,
            annotations=annotations,
        )
        return [(tool, ToolTarget(agent))]
    if not card:
        log.warning("agent %r: its skills' tools are left out until its card can be fetched", agent)
    tools = []
    for skill in skills:
        skill_name = skill.get("name") if isinstance(skill.get("name"), str) else skill["id"]
        tool = Tool(
            name=_INVALID_TOOL_CHARS.sub("_", f"{agent}.{skill['id']}")[:64],
            title=skill_name,
            description=config.description or str(skill.get("description") or skill_name),
            input_schema=_INPUT_SCHEMA,
            annotations=annotations,
        )
        tools.append((tool, ToolTarget(agent, skill["id"])))
    return tools


def _agent_description(agent: str, card: Mapping[str, Any], skills: list[dict[str, Any]]) -> str:
    text = str(card.get("description") or f"Delegate a task to the A2A agent '{agent}'.")
    described = [f"{s.get('name') or s['id']}: {s['description']}" for s in skills if s.get("description")]
    return text + ("\nSkills:\n- " + "\n- ".join(described) if described else "")


def _state(task: Mapping[str, Any]) -> str:
    status = task.get("status")
    state = status.get("state") if isinstance(status, dict) else None
    return _LEGACY_STATES.get(state, state) if isinstance(state, str) else ""


def _task_result(agent: str, task: Mapping[str, Any]) -> CallToolResult:
    state = _state(task)
    structured: dict[str, Any] = {
        "taskId": task.get("id"),
        "contextId": task.get("contextId"),
        "state": state,
    }
    status = task.get("status")
    said = _text(status.get("message", {}).get("parts")) if isinstance(status, dict) else []
    if state in _FAILED:
        what = state.removeprefix("TASK_STATE_").lower()
        reason = f": {' '.join(said)}" if said else ""
        return _error(f"agent '{agent}' {what} the task {task.get('id')}{reason}", structured)
    content: list[TextContent] = []
    data: list[Any] = []
    for artifact in task.get("artifacts") or ():
        if isinstance(artifact, dict):
            parts = artifact.get("parts")
            texts = _text(parts)  # streamed chunks of one artifact read as one text
            content += [TextContent(text="".join(texts))] if texts else []
            data += _data(parts)
    content += [TextContent(text=orjson.dumps(d).decode()) for d in data]
    if state in _INTERRUPTED or not content:
        # The agent asks for something (or produced no artifact): its status message is the answer.
        content += [TextContent(text=t) for t in said]
    if data:
        structured["data"] = data
    return CallToolResult(content=list(content), structured_content=structured)


def _message_result(message: Mapping[str, Any]) -> CallToolResult:
    parts = message.get("parts")
    data = _data(parts)
    content = [TextContent(text=t) for t in _text(parts)]
    content += [TextContent(text=orjson.dumps(d).decode()) for d in data]
    structured: dict[str, Any] = {"contextId": message.get("contextId")}
    if data:
        structured["data"] = data
    return CallToolResult(content=list(content), structured_content=structured)


def _text(parts: Any) -> list[str]:
    texts = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part.get("url"), str):  # a file by reference: say where it is
            texts.append(f"[file {part.get('filename') or ''} {part.get('mediaType') or ''}: {part['url']}]")
    return texts


def _data(parts: Any) -> list[Any]:
    return (
        [p["data"] for p in parts if isinstance(p, dict) and "data" in p] if isinstance(parts, list) else []
    )


def _error(text: str, structured: dict[str, Any] | None = None) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=text)], structured_content=structured, is_error=True)
