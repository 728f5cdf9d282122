"""Where policy reaches the A2A routes: authorization and accounting, as ``Protocol``s.

The routes call an :class:`A2APolicy` to decide what a caller may see and do (per agent, per skill,
per operation) and an :class:`A2AAccounting` with what each call cost (messages, bytes, latency,
the task's state). Both are passed to :func:`agentgw.a2a.routes.a2a_routes`; the defaults allow
everything and record nothing. The RBAC and accounting features implement them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from starlette.requests import Request

__all__ = ["A2AAccounting", "A2ACall", "A2AOutcome", "A2APolicy", "AllowAll", "NoAccounting"]


@dataclass(frozen=True, slots=True)
class A2ACall:
    """One A2A request, as classified by the gateway before it is forwarded."""

    agent: str
    """The configured agent name (``/a2a/{agent}``)."""
    operation: str
    """The A2A 1.0 operation, whatever binding and version the client used: ``SendMessage``, ``GetTask``, ..."""
    binding: Literal["JSONRPC", "HTTP+JSON"]
    version: str
    """``Major.Minor`` of the client's ``A2A-Version`` (``0.3`` when it sent none)."""
    method: str
    """As the client sent it: ``message/send``, ``SendMessage``, ``POST message:send``."""
    task_id: str | None = None
    context_id: str | None = None
    skill: str | None = None
    """The skill the client named in ``metadata.skillId``, if any (A2A itself has no skill selector)."""
    request_bytes: int = 0


@dataclass(frozen=True, slots=True)
class A2AOutcome:
    """What one call produced, reported once its response (or stream) has ended."""

    call: A2ACall
    status: int
    """HTTP status sent to the client (200 for JSON-RPC errors, as the binding sends them)."""
    error: str | None
    """The error code, the gateway's (``agent_unreachable``...) or the agent's (``-32001``, ``NOT_FOUND``)."""
    response_bytes: int
    events: int
    """Stream events relayed (0 for a plain response)."""
    messages: int
    """Agent messages received."""
    artifacts: int
    task_id: str | None
    task_state: str | None
    """The last state seen, as the 1.0 name (``TASK_STATE_COMPLETED``), whichever version the agent spoke."""
    latency_s: float
    """From the request's arrival to the end of the response."""


class A2APolicy(Protocol):
    """Decides what a caller may see and do; identity is whatever auth put on the request."""

    def agent_visible(self, request: Request, agent: str) -> bool:
        """Whether the caller may see and use ``agent``; a hidden agent is reported as unknown."""
        ...

    def skill_visible(self, request: Request, agent: str, skill: str) -> bool:
        """Whether the caller may see ``skill`` in ``agent``'s card and name it in a call."""
        ...

    async def authorize(self, request: Request, call: A2ACall) -> None:
        """Allow ``call`` or raise.

        Raises:
            GatewayError: reported to the client in A2A's form (e.g. a 403 ``ClientError``).
        """
        ...


class A2AAccounting(Protocol):
    def record(self, request: Request, outcome: A2AOutcome) -> None:
        """Account for one finished call. Runs on the event loop: queue, do not block."""
        ...


class AllowAll:
    """The default policy: every caller sees and uses every agent and skill."""

    def agent_visible(self, request: Request, agent: str) -> bool:
        return True

    def skill_visible(self, request: Request, agent: str, skill: str) -> bool:
        return True

    async def authorize(self, request: Request, call: A2ACall) -> None:
        return None


class NoAccounting:
    """The default accounting: nothing is recorded."""

    def record(self, request: Request, outcome: A2AOutcome) -> None:
        return None
