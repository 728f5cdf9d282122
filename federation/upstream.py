"""One upstream MCP server: a supervised SDK ``Client`` connection, its cached lists, and its calls.

A supervisor task owns the connection. It connects (starting the process, for stdio), fetches
every list (following pagination), then waits until the connection breaks: the process exits or
the stream ends, or a request fails in a way that says the connection or session is gone. Then it
reconnects with exponential backoff. Lists are refetched when the server says they changed
(``notifications/*/list_changed`` on handshake-era connections, a ``subscriptions/listen`` stream
on 2026-07-28 ones); every change is reported through ``on_change`` so the catalog is rebuilt.

The SDK's errors are translated here into :mod:`federation.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, Literal, TypeVar

import anyio
import httpx2
from mcp.client import Client, ClientRequestContext, IncomingMessage, Transport
from mcp.client._transport import TransportStreams  # the SDK names the type only here
from mcp.client.subscriptions import SubscriptionLost
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp.shared.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ToolsListChanged,
)
from mcp_types import (
    CONNECTION_CLOSED,
    HEADER_MISMATCH,
    INVALID_REQUEST,
    CallToolResult,
    CompleteResult,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestParams,
    ElicitResult,
    EmptyResult,
    ErrorData,
    GetPromptResult,
    Implementation,
    InputRequiredResult,
    InputResponses,
    ListRootsRequest,
    ListRootsResult,
    LoggingMessageNotificationParams,
    PaginatedRequestParams,
    PromptListChangedNotification,
    PromptReference,
    ReadResourceResult,
    ResourceListChangedNotification,
    ResourceTemplateReference,
    ResourceUpdatedNotification,
    SubscribeRequest,
    SubscribeRequestParams,
    ToolListChangedNotification,
    UnsubscribeRequest,
    UnsubscribeRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from federation.catalog import Listing
from federation.errors import UpstreamRejected, UpstreamTimeout, UpstreamUnavailable
from federation.passthrough import Passthrough
from federation.relay import Asker, InputRequest
from federation.spec import UpstreamSpec
from federation.toolschemas import ToolSchemas
from federation.transports.base import TransportFactory

__all__ = ["ListKind", "Upstream", "UpstreamState"]

log = logging.getLogger("federation")

R = TypeVar("R")
A = TypeVar("A", ElicitResult, CreateMessageResult, ListRootsResult)
ListKind = Literal["tools", "prompts", "resources", "templates"]
UpstreamState = Literal["connecting", "ready", "down", "stopped"]

_ALL_KINDS: tuple[ListKind, ...] = ("tools", "prompts", "resources", "templates")
# A paginator that never ends must not hang the refresh (nor grow memory without bound).
_MAX_PAGES = 100
# A connection that stayed up this long resets the backoff: the next failure retries quickly.
_STABLE_AFTER_S = 30.0
# First delay before opening a dropped subscriptions/listen stream again (doubling while it drops).
_RELISTEN_S = 0.05
_CLIENT_INFO = Implementation(name="agentgw-federation", version="1")
_CLIENT_INFO_WIRE = _CLIENT_INFO.model_dump(by_alias=True, mode="json", exclude_none=True)


class Upstream:
    """A supervised connection to one MCP server; ``on_change`` is called when its lists change."""

    def __init__(
        self,
        spec: UpstreamSpec,
        transport: TransportFactory,
        *,
        on_change: Callable[[Upstream], None],
        on_resource_updated: Callable[[Upstream, str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.transport = transport
        self.state: UpstreamState = "connecting"
        self.reason: str | None = "not connected yet"
        self.listing = Listing()
        self.protocol_version: str | None = None
        self._on_change = on_change
        self._on_resource_updated = on_resource_updated
        self._client: Client | None = None
        self._broken = asyncio.Event()
        self._attempted = asyncio.Event()
        self._ready = asyncio.Event()
        self._changed: set[ListKind] = set()
        self._subscribed: set[str] = set()
        self._subscriptions_changed = asyncio.Event()
        self._change_pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # The clients whose calls are in flight and may be asked something (see federation.relay).
        self._askers: list[Asker] = []
        self._passthrough: Passthrough | None = getattr(transport, "passthrough", None)
        self._schemas = ToolSchemas()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the supervisor; it keeps the upstream connected until :meth:`stop`."""
        self._task = asyncio.create_task(self._supervise(), name=f"mcp upstream {self.name}")

    async def first_attempt(self) -> None:
        """Return once the first connection attempt has succeeded or failed."""
        await self._attempted.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state("stopped", "stopped")
        await self.transport.aclose()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def modern(self) -> bool:
        """Whether the connection speaks 2026-07-28 (asks by ``input_required``, not by request)."""
        return self.protocol_version in MODERN_PROTOCOL_VERSIONS

    def _set_state(self, state: UpstreamState, reason: str | None) -> None:
        changed = state != self.state
        self.state, self.reason = state, reason
        if state == "ready":
            self._ready.set()
        else:
            self._ready.clear()
        if changed and state != "stopped":
            self._on_change(self)

    async def _supervise(self) -> None:
        first, largest = self.spec.restart_backoff
        delay = first
        while True:
            started = time.monotonic()
            try:
                await self._connect_and_serve()
                reason = "connection closed"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of one upstream is contained here (failure isolation)
                reason = _describe(exc)
            self._client = None
            self.protocol_version = None
            if time.monotonic() - started > _STABLE_AFTER_S:
                delay = first
            log.warning("mcp server %s is down (%s); reconnecting in %.1fs", self.name, reason, delay)
            self._set_state("down", reason)
            self._attempted.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, largest)

    async def _connect_and_serve(self) -> None:
        self._broken.clear()
        eof = anyio.Event()
        client = Client(
            _watch_eof(self.transport.open(), eof),
            mode=self.spec.mode,
            message_handler=self._on_message,
            elicitation_callback=self._on_elicit,
            sampling_callback=self._on_sample,
            list_roots_callback=self._on_list_roots,
            logging_callback=self._on_log,
            client_info=_CLIENT_INFO,
            # Lists are cached (and refreshed on change) here; the SDK's response cache would be a
            # second cache with its own staleness.
            cache=None,
        )
        # The deadline covers connect + handshake + first lists, and is lifted once they are done:
        # a scope whose deadline moves, since the client's task group must nest inside it.
        with anyio.CancelScope(deadline=anyio.current_time() + self.spec.timeouts.connect) as scope:
            async with client, anyio.create_task_group() as tasks:
                self._client = client
                self.protocol_version = client.protocol_version
                await self._refresh(client, _ALL_KINDS)
                scope.deadline = math.inf
                self._set_state("ready", None)
                self._attempted.set()
                log.info(
                    "mcp server %s connected over %s (protocol %s): %d tools, %d prompts, %d resources",
                    self.name,
                    self.transport.kind,
                    self.protocol_version,
                    len(self.listing.tools),
                    len(self.listing.prompts),
                    len(self.listing.resources),
                )
                tasks.start_soon(self._refresh_on_change, client)
                if self.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    tasks.start_soon(self._listen, client)
                else:
                    tasks.start_soon(self._renew_subscriptions, client)
                    if self.transport.kind != "stdio" and self.spec.ping_interval is not None:
                        tasks.start_soon(self._keepalive, self.spec.ping_interval)
                tasks.start_soon(_set_when, eof, self._broken)
                await self._broken.wait()
                tasks.cancel_scope.cancel()
        if scope.cancelled_caught:
            raise TimeoutError(f"no connection within {self.spec.timeouts.connect:g}s")

    # -- lists -------------------------------------------------------------------------------

    async def _refresh(self, client: Client, kinds: tuple[ListKind, ...] | set[ListKind]) -> None:
        caps = client.server_capabilities
        listing = self.listing if self.state == "ready" else Listing()
        updates: dict[str, Any] = {}
        if "tools" in kinds and caps.tools is not None:
            updates["tools"] = await self._pages(client.session.list_tools, "tools")
        if "prompts" in kinds and caps.prompts is not None:
            updates["prompts"] = await self._pages(client.session.list_prompts, "prompts")
        if "resources" in kinds and caps.resources is not None:
            updates["resources"] = await self._pages(client.session.list_resources, "resources")
        if "templates" in kinds and caps.resources is not None:
            updates["templates"] = await self._pages(
                client.session.list_resource_templates, "resource_templates"
            )
        self.listing = Listing(**{**_as_dict(listing), **updates})

    async def _pages(self, fetch: Callable[..., Awaitable[Any]], field: str) -> tuple[Any, ...]:
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            with anyio.fail_after(self.spec.timeouts.call):
                page = await fetch(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
            items.extend(getattr(page, field))
            cursor = page.next_cursor
            if not cursor:
                break
        return tuple(items)

    async def _renew_subscriptions(self, client: Client) -> None:
        for uri in sorted(self._subscribed):
            try:
                with anyio.fail_after(self.spec.timeouts.call):
                    request = SubscribeRequest(params=SubscribeRequestParams(uri=uri))
                    await client.session.send_request(request, EmptyResult)
            except Exception as exc:
                log.warning(
                    "mcp server %s: renewing the subscription to %s failed: %s",
                    self.name,
                    uri,
                    _describe(exc),
                )

    async def _on_message(self, message: IncomingMessage) -> None:
        # Runs on the connection's receive loop: note the change, let _refresh_on_change fetch.
        if isinstance(message, ToolListChangedNotification):
            self._note_change("tools")
        elif isinstance(message, PromptListChangedNotification):
            self._note_change("prompts")
        elif isinstance(message, ResourceListChangedNotification):
            self._note_change("resources", "templates")
        elif isinstance(message, ResourceUpdatedNotification):
            if self._on_resource_updated is not None:
                self._on_resource_updated(self, message.params.uri)
        elif isinstance(message, Exception):
            log.debug("mcp server %s: transport error: %s", self.name, message)

    def _note_change(self, *kinds: ListKind) -> None:
        self._changed.update(kinds)
        self._change_pending.set()

    async def _refresh_on_change(self, client: Client) -> None:
        while True:
            await self._change_pending.wait()
            self._change_pending.clear()
            kinds, self._changed = self._changed, set()
            try:
                await self._refresh(client, kinds)
            except Exception as exc:  # a failed refresh keeps the old lists; the connection decides
                log.warning(
                    "mcp server %s: refreshing %s failed: %s", self.name, sorted(kinds), _describe(exc)
                )
                continue
            self._on_change(self)

    async def _listen(self, client: Client) -> None:
        # MCP 2026-07-28: change notifications and resource updates arrive only on a
        # subscriptions/listen stream; it is opened again whenever the subscribed URIs change.
        caps = client.server_capabilities
        tools = bool(caps.tools and caps.tools.list_changed)
        prompts = bool(caps.prompts and caps.prompts.list_changed)
        resources = bool(caps.resources and caps.resources.list_changed)
        lost = 0
        while True:
            self._subscriptions_changed.clear()
            uris = sorted(self._subscribed)
            if tools or prompts or resources or uris:
                opened = time.monotonic()
                try:
                    await self._listen_once(client, tools, prompts, resources, uris)
                except Exception as exc:
                    if _contains(exc, SubscriptionLost):
                        # The stream dropped (the server went away, or something between cut it):
                        # listen again and refetch what may have changed meanwhile, as the SDK asks.
                        lost = 1 if time.monotonic() - opened > _STABLE_AFTER_S else lost + 1
                        log.info("mcp server %s: %s", self.name, _describe(exc))
                        await asyncio.sleep(min(_RELISTEN_S * 2**lost, _STABLE_AFTER_S))
                        self._note_change(*_ALL_KINDS)
                        continue
                    if lost:
                        # It went away and cannot be listened to again: the connection is gone.
                        log.warning("mcp server %s: listening again failed: %s", self.name, _describe(exc))
                        self._broken.set()
                        return
                    # No listen stream at all: lists are still served, just not refreshed.
                    log.info("mcp server %s: no change notifications (%s)", self.name, _describe(exc))
                lost = 0
            await self._subscriptions_changed.wait()

    async def _listen_once(
        self, client: Client, tools: bool, prompts: bool, resources: bool, uris: list[str]
    ) -> None:
        async with (
            client.listen(
                tools_list_changed=tools,
                prompts_list_changed=prompts,
                resources_list_changed=resources,
                resource_subscriptions=uris,
            ) as subscription,
            anyio.create_task_group() as tasks,
        ):

            async def end_when_changed() -> None:
                await self._subscriptions_changed.wait()
                tasks.cancel_scope.cancel()

            tasks.start_soon(end_when_changed)
            async for event in subscription:
                if isinstance(event, ToolsListChanged):
                    self._note_change("tools")
                elif isinstance(event, PromptsListChanged):
                    self._note_change("prompts")
                elif isinstance(event, ResourcesListChanged):
                    self._note_change("resources", "templates")
                elif isinstance(event, ResourceUpdated) and self._on_resource_updated is not None:
                    self._on_resource_updated(self, event.uri)
            tasks.cancel_scope.cancel()

    async def _keepalive(self, interval: float) -> None:
        # MCP basic/utilities/ping. A handshake-era HTTP session may have nothing open to notice the
        # server going away: the SDK gives up re-opening the GET stream without telling anyone. A
        # ping that finds the connection gone breaks it, so it is re-established (or reported down).
        while True:
            await asyncio.sleep(interval)
            try:
                await self._attempt(lambda client: client.session.send_ping())
            except UpstreamTimeout:
                self._broken.set()  # no answer to a ping: as good as gone
            except (UpstreamUnavailable, _SessionLost):
                pass  # _attempt has marked the connection broken
            except UpstreamRejected as exc:
                log.debug("mcp server %s: ping refused (%s)", self.name, exc.message)

    # -- server-to-client requests ------------------------------------------------------------

    async def _on_elicit(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult | ErrorData:
        return await self._relay(ElicitRequest(params=params), ElicitResult)

    async def _on_sample(
        self, context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult | ErrorData:
        return await self._relay(CreateMessageRequest(params=params), CreateMessageResult)

    async def _on_list_roots(self, context: ClientRequestContext) -> ListRootsResult | ErrorData:
        return await self._relay(ListRootsRequest(), ListRootsResult)

    async def _relay(self, request: InputRequest, expected: type[A]) -> A | ErrorData:
        # A handshake-era request carries nothing that ties it to the call that caused it (over
        # stdio not even a stream), so it is relayed only when exactly one client call is in flight.
        if len(self._askers) != 1:
            why = "no call in flight" if not self._askers else "several calls in flight"
            return ErrorData(
                code=INVALID_REQUEST, message=f"the gateway cannot tell which client to ask ({why})"
            )
        answer = await self._askers[0].ask(request)
        if isinstance(answer, ErrorData | expected):
            return answer
        return ErrorData(code=INVALID_REQUEST, message="the client answered with the wrong kind of result")

    async def _on_log(self, params: LoggingMessageNotificationParams) -> None:
        # Like requests, a log message names no call: passed on while exactly one is in flight.
        if len(self._askers) == 1:
            await self._askers[0].log(params)
        else:
            log.debug("mcp server %s log (%s): %s", self.name, params.level, params.data)

    @contextlib.contextmanager
    def _asking(self, asker: Asker | None) -> Iterator[None]:
        if asker is None:
            yield
            return
        self._askers.append(asker)
        try:
            yield
        finally:
            self._askers.remove(asker)

    # -- 2026-07-28 calls as bytes (federation.fastpath) --------------------------------------

    @property
    def passthrough(self) -> Passthrough | None:
        """The byte-level path to this upstream, while it is connected over 2026-07-28 Streamable HTTP."""
        if self._passthrough is None or self.state != "ready" or not self.modern:
            return None
        return self._passthrough

    @property
    def client_info(self) -> dict[str, Any]:
        """The gateway's ``clientInfo``, as the SDK client sends it."""
        return _CLIENT_INFO_WIRE

    def param_headers(self, name: str, arguments: Mapping[str, Any]) -> dict[str, str]:
        """The ``Mcp-Param-*`` headers for calling the tool ``name`` (its ``x-mcp-header`` arguments)."""
        return self._schemas.param_headers(self.listing, name, arguments)

    def check_output(self, name: str, result: Mapping[str, Any]) -> None:
        """Check a tool result against the tool's ``outputSchema``, as the SDK client does.

        Raises:
            RuntimeError: it does not conform.
        """
        self._schemas.check_output(self.listing, name, result)

    async def relist_tools(self) -> None:
        """List the tools again (their schemas changed: the upstream said ``HeaderMismatch``).

        Raises:
            UpstreamUnavailable: not connected.
        """
        client = self._client
        if client is None:
            raise UpstreamUnavailable(self.name, self.reason or self.state)
        await self._refresh(client, ("tools",))
        self._on_change(self)

    def connection_failed(self) -> None:
        """A request found the connection broken: reconnect."""
        self._broken.set()

    # -- calls -------------------------------------------------------------------------------

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        progress: ProgressFnT | None = None,
        input_responses: InputResponses | None = None,
        request_state: str | None = None,
        asker: Asker | None = None,
    ) -> CallToolResult | InputRequiredResult:
        """Call the upstream's tool ``name``.

        Raises:
            UpstreamUnavailable, UpstreamTimeout, UpstreamRejected: see :mod:`federation.errors`.
        """

        async def call(client: Client) -> CallToolResult | InputRequiredResult:
            return await client.session.call_tool(
                name,
                arguments,
                progress_callback=progress,
                input_responses=input_responses,
                request_state=request_state,
                allow_input_required=True,
            )

        with self._asking(asker):
            return await self._request(call)

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, str] | None,
        *,
        input_responses: InputResponses | None = None,
        request_state: str | None = None,
        asker: Asker | None = None,
    ) -> GetPromptResult | InputRequiredResult:
        async def call(client: Client) -> GetPromptResult | InputRequiredResult:
            return await client.session.get_prompt(
                name,
                arguments,
                input_responses=input_responses,
                request_state=request_state,
                allow_input_required=True,
            )

        with self._asking(asker):
            return await self._request(call)

    async def read_resource(
        self,
        uri: str,
        *,
        input_responses: InputResponses | None = None,
        request_state: str | None = None,
        asker: Asker | None = None,
    ) -> ReadResourceResult | InputRequiredResult:
        async def call(client: Client) -> ReadResourceResult | InputRequiredResult:
            return await client.session.read_resource(
                uri, input_responses=input_responses, request_state=request_state, allow_input_required=True
            )

        with self._asking(asker):
            return await self._request(call)

    async def subscribe(self, uri: str) -> None:
        """Follow changes of ``uri``: ``resources/subscribe`` on a handshake-era connection, the
        ``subscriptions/listen`` stream on a 2026-07-28 one. Renewed after a reconnection.

        Raises:
            UpstreamUnavailable, UpstreamTimeout, UpstreamRejected: see :mod:`federation.errors`.
        """
        if not self.modern:

            async def call(client: Client) -> None:
                request = SubscribeRequest(params=SubscribeRequestParams(uri=uri))
                await client.session.send_request(request, EmptyResult)

            await self._request(call)
        self._subscribed.add(uri)
        self._subscriptions_changed.set()

    async def unsubscribe(self, uri: str) -> None:
        self._subscribed.discard(uri)
        self._subscriptions_changed.set()
        if not self.modern:

            async def call(client: Client) -> None:
                request = UnsubscribeRequest(params=UnsubscribeRequestParams(uri=uri))
                await client.session.send_request(request, EmptyResult)

            await self._request(call)

    async def complete(
        self,
        ref: PromptReference | ResourceTemplateReference,
        argument: dict[str, str],
        context_arguments: dict[str, str] | None,
    ) -> CompleteResult:
        async def call(client: Client) -> CompleteResult:
            return await client.session.complete(ref, argument, context_arguments)

        return await self._request(call)

    async def _request(self, send: Callable[[Client], Awaitable[R]]) -> R:
        try:
            return await self._attempt(send)
        except _SessionLost:
            # An expired upstream session (404 on its id) is re-established transparently: the
            # request never reached a live session, so sending it again cannot duplicate it.
            with anyio.move_on_after(self.spec.timeouts.connect):
                await self._ready.wait()
            try:
                return await self._attempt(send)
            except _SessionLost as exc:
                raise UpstreamUnavailable(self.name, "its session ended") from exc

    async def _attempt(self, send: Callable[[Client], Awaitable[R]]) -> R:
        client = self._client
        if client is None or self.state != "ready":
            raise UpstreamUnavailable(self.name, self.reason or self.state)
        timeout = self.spec.timeouts.call
        try:
            with anyio.fail_after(timeout):
                try:
                    return await send(client)
                except MCPError as exc:
                    if exc.code != HEADER_MISMATCH:
                        raise
                    # MCP 2026-07-28: the upstream's tool schema changed since we listed it; relist, resend once.
                    await self._refresh(client, ("tools",))
                    self._on_change(self)
                    return await send(client)
        except TimeoutError as exc:
            raise UpstreamTimeout(self.name, timeout) from exc
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self._broken.set()
                raise UpstreamUnavailable(self.name, "connection closed") from exc
            if exc.code == INVALID_REQUEST and exc.message in {"Session terminated", "Session not found"}:
                self._broken.set()
                raise _SessionLost() from exc
            raise UpstreamRejected(self.name, exc.code, exc.message, exc.data) from exc
        except (httpx2.HTTPError, OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            self._broken.set()
            raise UpstreamUnavailable(self.name, _describe(exc)) from exc
        except ValidationError as exc:
            raise UpstreamRejected(
                self.name, -32603, f"MCP server {self.name!r} sent an invalid result"
            ) from exc


class _SessionLost(Exception):
    pass


@contextlib.asynccontextmanager
async def _watch_eof(transport: Transport, eof: anyio.Event) -> AsyncIterator[TransportStreams]:
    """``transport``, with ``eof`` set when its read stream ends (the process exited, the stream closed)."""
    async with transport as (read, write):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def pump() -> None:
            try:
                async with send:
                    async for item in read:
                        await send.send(item)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass
            finally:
                eof.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(pump)
            try:
                async with receive:
                    yield receive, write
            finally:
                tasks.cancel_scope.cancel()


async def _set_when(source: anyio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


def _as_dict(listing: Listing) -> dict[str, Any]:
    return {
        "tools": listing.tools,
        "prompts": listing.prompts,
        "resources": listing.resources,
        "templates": listing.templates,
    }


def _contains(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``exc`` is a ``kind``, or an exception group (task groups raise them) holding one."""
    if isinstance(exc, BaseExceptionGroup):
        return any(_contains(inner, kind) for inner in exc.exceptions)
    return isinstance(exc, kind)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
