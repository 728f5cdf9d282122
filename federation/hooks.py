"""Where policy reaches federation: a ``Protocol`` called on every list and every call.

Federation knows nothing of roles, budgets or prices. The embedding gateway passes a
:class:`FederationHooks` to :class:`~federation.federation.Federation`; it decides what each caller
sees (:meth:`~FederationHooks.visible`, on every list), whether a call may go ahead
(:meth:`~FederationHooks.authorize`) and accounts for it when it ends (:meth:`~FederationHooks.record`).
The default, :class:`NoHooks`, shows everything, allows everything, records nothing.

Observation (tracing, metrics, access logs) uses three more, with no-op defaults: every request is
:meth:`~FederationHooks.started` and :meth:`~FederationHooks.finished` (lists, calls, ``initialize``
alike), and a call about to go upstream is announced by :meth:`~FederationHooks.calling`, which
returns the trace context to send with it (``params._meta``, SEP-414; and the HTTP headers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["Call", "CallOutcome", "Caller", "ClientRequest", "EntryKind", "FederationHooks", "NoHooks"]

EntryKind = Literal["tool", "prompt", "resource", "resource template", "completion"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, as far as the transport knows."""

    protocol_version: str
    session_id: str | None
    """The downstream ``Mcp-Session-Id`` (handshake eras on Streamable HTTP), else None."""
    request: Any
    """The HTTP request that carried the message (a Starlette ``Request``; None on stdio): the
    gateway's authentication middleware put the caller's identity on it."""


@dataclass(frozen=True, slots=True)
class Call:
    """One call about to be routed to an upstream."""

    kind: EntryKind
    name: str
    """As the client named it: the downstream (prefixed) tool or prompt name, or resource URI."""
    server: str
    """The upstream that will serve it."""
    upstream_name: str
    """The name (or URI) the upstream knows it by."""
    arguments: Mapping[str, Any] | None = None


@dataclass(slots=True)
class ClientRequest:
    """One request from a downstream client, from arrival to answer (any method)."""

    method: str
    id: str | int | None
    meta: Mapping[str, Any]
    """The request's ``params._meta`` as the client sent it (``traceparent``, ...); empty if none."""
    target: str | None
    """``params.name`` (a tool or prompt, as the client named it) or ``params.uri``, if any."""
    error_code: int | None = None
    """Once finished: the JSON-RPC error code answered, or None."""
    is_error: bool = False
    """Once finished: the answer is a tool result with ``isError: true``."""
    cancelled: bool = False
    """Once finished: the request was cancelled (the client cancelled it or went away)."""
    state: dict[str, Any] = field(default_factory=dict)
    """The hooks' own scratch space, kept from :meth:`FederationHooks.started` to ``finished``."""


@dataclass(frozen=True, slots=True)
class CallOutcome:
    call: Call
    error_code: int | None
    """The JSON-RPC error code sent to the client, or None on success."""
    is_error: bool
    """A tool result with ``isError: true`` (the call worked; the tool reported a failure)."""
    latency_s: float
    request: ClientRequest | None = None
    """The client request the call served (None outside federation's server)."""
    result: Any = None
    """The upstream's result (a ``CallToolResult`` for a tool), None when the call failed; usage
    accounting reads its size, nothing may change it."""


class FederationHooks(Protocol):
    def visible(self, caller: Caller, kind: EntryKind, name: str, server: str) -> bool:
        """Whether ``caller`` may see (and use) the entry ``name`` of ``server``.

        Called for every entry of every list; a hidden entry is reported as unknown when called.
        Runs on the event loop: decide from memory, do not block.
        """
        ...

    async def authorize(self, caller: Caller, call: Call) -> None:
        """Allow ``call`` or raise.

        Raises:
            federation.errors.FederationError: sent to the client as its JSON-RPC error
                (``Forbidden`` for a refusal).
        """
        ...

    def record(self, caller: Caller, outcome: CallOutcome) -> None:
        """Account for one finished call. Runs on the event loop: queue, do not block."""
        ...

    # Observation: called on the request's path, so they must be cheap and must not raise.

    def started(self, caller: Caller, request: ClientRequest) -> None:
        """``request`` arrived (any method, notifications excepted)."""
        return None

    def calling(self, caller: Caller, request: ClientRequest | None, call: Call) -> Mapping[str, str]:
        """``call`` (authorized) is about to go upstream on behalf of ``request``.

        Returns the trace context to send with it, as an OpenTelemetry propagation carrier
        (``{"traceparent": ...}``); federation makes it the current context for the call, so the
        SDK writes it into the upstream request's ``params._meta`` and the HTTP transport into its
        headers. Empty: the call goes in the caller's ambient context.
        """
        return {}

    def finished(self, caller: Caller, request: ClientRequest) -> None:
        """``request`` was answered (or cancelled): its outcome fields are final."""
        return None


class NoHooks:
    """Everything visible, everything allowed, nothing recorded."""

    def visible(self, caller: Caller, kind: EntryKind, name: str, server: str) -> bool:
        return True

    async def authorize(self, caller: Caller, call: Call) -> None:
        return None

    def record(self, caller: Caller, outcome: CallOutcome) -> None:
        return None

    def started(self, caller: Caller, request: ClientRequest) -> None:
        return None

    def calling(self, caller: Caller, request: ClientRequest | None, call: Call) -> Mapping[str, str]:
        return {}

    def finished(self, caller: Caller, request: ClientRequest) -> None:
        return None
