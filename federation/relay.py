"""Server-to-client requests (elicitation, sampling, roots) relayed from an upstream to the client
whose call caused them, in whichever era each side speaks.

An upstream on a handshake-era connection asks by sending a request while it handles our call; its
``Client`` callbacks hand the request to the :class:`Asker` registered for that call.

- For a handshake-era client the asker is a :class:`StreamAsker`: the request goes out on the
  client's own stream, related to its call, and the answer comes back.
- A 2026-07-28 client has no such stream. Its call runs as a :class:`SuspendedCall`: when the
  upstream asks, the client's ``tools/call`` is answered with ``input_required`` carrying the
  question and an opaque ``requestState`` token, while the upstream call waits. The client's retry
  (same call, ``inputResponses`` + that token) delivers the answer and waits for the next question
  or the result (MCP 2026-07-28 "multi round-trip requests").

The other direction (a 2026-07-28 upstream's ``input_required`` to a handshake-era client) is
:meth:`federation.server.FederatedServer._bridge_input`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp.server.connection import allowed_log_levels
from mcp.server.context import ServerRequestContext
from mcp.shared.message import ServerMessageMetadata
from mcp_types import (
    METHOD_NOT_FOUND,
    ClientCapabilities,
    CreateMessageRequest,
    CreateMessageResult,
    ElicitRequest,
    ElicitResult,
    ErrorData,
    InputRequiredResult,
    InputResponses,
    ListRootsRequest,
    ListRootsResult,
    LoggingMessageNotification,
    LoggingMessageNotificationParams,
)

__all__ = [
    "Asker",
    "CapabilityGate",
    "InputRequest",
    "InputResponse",
    "StreamAsker",
    "SuspendedCall",
    "Suspensions",
    "missing_capability",
]

InputRequest = CreateMessageRequest | ElicitRequest | ListRootsRequest
InputResponse = CreateMessageResult | ElicitResult | ListRootsResult

_TOKEN_PREFIX = "agentgw.suspended."


class Asker(Protocol):
    async def ask(self, request: InputRequest) -> InputResponse | ErrorData:
        """Put ``request`` to the client and return its answer."""
        ...

    async def log(self, params: LoggingMessageNotificationParams) -> None:
        """Pass on a log message the upstream sent while serving the call."""
        ...


def missing_capability(request: InputRequest, capabilities: ClientCapabilities | None) -> str | None:
    """The client capability ``request`` needs that ``capabilities`` lacks, or None."""
    if isinstance(request, ElicitRequest):
        needed, have = "elicitation", capabilities is not None and capabilities.elicitation is not None
    elif isinstance(request, CreateMessageRequest):
        needed, have = "sampling", capabilities is not None and capabilities.sampling is not None
    else:
        needed, have = "roots", capabilities is not None and capabilities.roots is not None
    return None if have else needed


@dataclass(frozen=True, slots=True)
class CapabilityGate:
    """Puts to the client only what its declared capabilities admit, and refuses the rest itself.

    The gateway's upstream connections declare every capability (they serve many clients); a
    request the calling client did not declare must not reach it (MCP: servers only send requests
    the client declared), so the upstream gets the refusal a client without it would send.
    """

    inner: Asker
    capabilities: ClientCapabilities | None

    async def ask(self, request: InputRequest) -> InputResponse | ErrorData:
        missing = missing_capability(request, self.capabilities)
        if missing is not None:
            return ErrorData(
                code=METHOD_NOT_FOUND, message=f"the client did not declare the {missing} capability"
            )
        return await self.inner.ask(request)

    async def log(self, params: LoggingMessageNotificationParams) -> None:
        await self.inner.log(params)


@dataclass(frozen=True, slots=True)
class StreamAsker:
    """Asks a handshake-era client on its own stream, related to the call being served."""

    ctx: ServerRequestContext[Any, Any]

    async def ask(self, request: InputRequest) -> InputResponse | ErrorData:
        metadata = ServerMessageMetadata(related_request_id=self.ctx.request_id)
        session = self.ctx.session
        if isinstance(request, ElicitRequest):
            return await session.send_request(request, ElicitResult, metadata=metadata)
        if isinstance(request, CreateMessageRequest):
            return await session.send_request(request, CreateMessageResult, metadata=metadata)
        return await session.send_request(request, ListRootsResult, metadata=metadata)

    async def log(self, params: LoggingMessageNotificationParams) -> None:
        # MCP 2026-07-28 server/utilities/logging: only the levels this request opted into.
        if params.level not in allowed_log_levels(self.ctx.protocol_version, self.ctx.meta):
            return
        message = LoggingMessageNotification(params=params.model_copy(update={"meta": None}))
        await self.ctx.session.send_notification(message, related_request_id=self.ctx.request_id)


@dataclass(eq=False)
class SuspendedCall:
    """An upstream call that waits for answers from a 2026-07-28 client between its retries."""

    token: str
    expires: float
    task: asyncio.Task[Any] | None = None
    questions: asyncio.Queue[tuple[str, InputRequest, asyncio.Future[InputResponse | ErrorData]]] = field(
        default_factory=asyncio.Queue
    )
    waiting: dict[str, asyncio.Future[InputResponse | ErrorData]] = field(default_factory=dict)
    _asked: int = 0

    async def ask(self, request: InputRequest) -> InputResponse | ErrorData:
        self._asked += 1
        answer: asyncio.Future[InputResponse | ErrorData] = asyncio.get_running_loop().create_future()
        await self.questions.put((f"q{self._asked}", request, answer))
        return await answer

    async def log(self, params: LoggingMessageNotificationParams) -> None:
        return None  # between the client's requests there is no stream to carry it

    def answer(self, responses: InputResponses | None) -> None:
        for key, response in (responses or {}).items():
            future = self.waiting.pop(key, None)
            if future is not None and not future.done():
                future.set_result(response)  # type: ignore[arg-type]

    async def next(self) -> Any:
        """The call's result, or an ``InputRequiredResult`` with the upstream's next question."""
        assert self.task is not None
        question = asyncio.ensure_future(self.questions.get())
        try:
            done, _ = await asyncio.wait({self.task, question}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not question.done():
                question.cancel()
        if question in done:
            key, request, future = question.result()
            self.waiting[key] = future
            return InputRequiredResult(input_requests={key: request}, request_state=self.token)
        return self.task.result()


class Suspensions:
    """The suspended calls of one gateway process, by token; abandoned ones expire."""

    def __init__(self, ttl_s: float = 300.0) -> None:
        self._ttl_s = ttl_s
        self._calls: dict[str, SuspendedCall] = {}

    @staticmethod
    def owns(request_state: str | None) -> bool:
        return request_state is not None and request_state.startswith(_TOKEN_PREFIX)

    async def run(
        self,
        start: Callable[[Asker], Coroutine[Any, Any, Any]],
        responses: InputResponses | None,
        request_state: str | None,
    ) -> Any:
        """Start ``start(asker)`` (or resume the call ``request_state`` names) until it asks or ends.

        Raises:
            KeyError: ``request_state`` names no live suspended call (expired, or not ours).
        """
        self._expire()
        if self.owns(request_state):
            assert request_state is not None
            call = self._calls[request_state]
            call.answer(responses)
        else:
            call = SuspendedCall(_TOKEN_PREFIX + secrets.token_urlsafe(24), time.monotonic() + self._ttl_s)
            call.task = asyncio.create_task(start(call))
            call.task.add_done_callback(_retrieve)
            self._calls[call.token] = call
        call.expires = time.monotonic() + self._ttl_s
        try:
            result = await call.next()
        except BaseException:
            # The client went away (or the call failed): nobody will retry this one.
            self._calls.pop(call.token, None)
            if call.task is not None:
                call.task.cancel()
            raise
        if not isinstance(result, InputRequiredResult):
            self._calls.pop(call.token, None)
        return result

    def close(self) -> None:
        for call in self._calls.values():
            if call.task is not None:
                call.task.cancel()
        self._calls.clear()

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, c in self._calls.items() if c.expires < now]:
            call = self._calls.pop(token)
            if call.task is not None:
                call.task.cancel()


def _retrieve(task: asyncio.Task[Any]) -> None:
    # A call abandoned mid-question may fail with nobody awaiting it; that is not worth a warning.
    if not task.cancelled():
        task.exception()
