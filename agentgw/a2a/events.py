"""Watching A2A results as they pass: whole SSE events, and what they say about the task.

The gateway forwards an agent's stream one whole event at a time (never half an event, so an error
it has to add in-band can never land inside one), and reads each event on the way to count messages
and artifacts and keep the task's latest state for accounting. Both bindings and both protocol
versions are understood: 1.0 results (``task``, ``message``, ``statusUpdate``, ``artifactUpdate``,
``TASK_STATE_*``) and 0.3 results (``kind``, lower-case states).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["EventFramer", "ResultTally"]

_BOUNDARIES = (b"\r\n\r\n", b"\n\n", b"\r\r")


class EventFramer:
    """Cuts a byte stream into whole server-sent events (WHATWG HTML 9.2.6: a blank line ends one)."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> bytes:
        """Return the whole events completed by ``chunk`` (possibly none), keeping the rest."""
        # Only the tail that could hold a new boundary is searched, so a large event arriving in many
        # small chunks costs linear time.
        start = max(0, len(self._pending) - 3)
        self._pending += chunk
        end = -1
        for boundary in _BOUNDARIES:
            found = self._pending.rfind(boundary, start)
            if found >= 0:
                end = max(end, found + len(boundary))
        if end < 0:
            return b""
        complete = bytes(self._pending[:end])
        del self._pending[:end]
        return complete

    def flush(self) -> bytes:
        """Whatever is left when the stream ends (an event the upstream did not terminate)."""
        rest = bytes(self._pending)
        self._pending.clear()
        return rest

    @property
    def pending(self) -> int:
        return len(self._pending)


class ResultTally:
    """What the results of one call said: events, agent messages, artifacts, the task and its state."""

    __slots__ = ("artifacts", "error", "events", "messages", "task_id", "task_state")

    def __init__(self) -> None:
        self.events = 0
        self.messages = 0
        self.artifacts = 0
        self.task_id: str | None = None
        self.task_state: str | None = None
        self.error: str | None = None
        """The A2A error the agent answered with: a JSON-RPC code or a google.rpc status, as text."""

    def observe_events(self, events: bytes) -> None:
        """Read the ``data`` of each whole SSE event in ``events``."""
        for event in events.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n\n"):
            data = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
            if data:
                self.events += 1
                self.observe_json(b"\n".join(data))

    def observe_json(self, body: bytes) -> None:
        """Read one JSON-RPC response or HTTP+JSON payload; anything else is ignored."""
        try:
            self.observe(orjson.loads(body))
        except orjson.JSONDecodeError:
            return

    def observe(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        error = payload.get("error")
        if isinstance(error, dict):
            code = error.get("status") if "jsonrpc" not in payload else None
            self.error = str(code or error.get("code"))
            return
        result = payload.get("result", payload) if "jsonrpc" in payload else payload
        if isinstance(result, dict):
            self._result(result)

    def _result(self, result: dict[str, Any]) -> None:
        kind = result.get("kind")
        if "task" in result or kind == "task":
            self._task(result.get("task", result))
        elif "message" in result or kind == "message":
            self.messages += 1
        elif "statusUpdate" in result or kind == "status-update":
            update = result.get("statusUpdate", result)
            if isinstance(update, dict):
                self._status(update.get("taskId"), update.get("status"))
        elif "artifactUpdate" in result or kind == "artifact-update":
            self.artifacts += 1
        elif "status" in result and "id" in result:
            self._task(result)  # GetTask, CancelTask: the result is the Task itself

    def _task(self, task: Any) -> None:
        if isinstance(task, dict):
            self._status(task.get("id"), task.get("status"))
            artifacts = task.get("artifacts")
            if isinstance(artifacts, list):
                self.artifacts += len(artifacts)

    def _status(self, task_id: Any, status: Any) -> None:
        if isinstance(task_id, str):
            self.task_id = task_id
        state = status.get("state") if isinstance(status, dict) else None
        if isinstance(state, str):
            self.task_state = _state_name(state)


def _state_name(state: str) -> str:
    """The 1.0 name of a task state (``TASK_STATE_INPUT_REQUIRED``), whichever version sent it."""
    if state.startswith("TASK_STATE_"):
        return state
    return "TASK_STATE_" + state.upper().replace("-", "_")
