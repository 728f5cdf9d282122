"""The downstream side: an SDK low-level ``Server`` whose handlers serve the merged catalog.

Lists come from the current :class:`~federation.catalog.Catalog`, filtered per caller by the
hooks and paged; calls are routed to the owning upstream. The SDK does the protocol: both eras,
sessions, the ``_meta`` envelope, ``server/discover``, ``subscriptions/listen`` (over a
:class:`~mcp.server.subscriptions.InMemorySubscriptionBus` that :meth:`FederatedServer.publish`
feeds).

Era bridging: a 2026-07-28 upstream asks for input by returning ``input_required``; a 2026-07-28
client gets that result as it is, while a handshake-era client gets each embedded request as a
server-to-client request on its own stream, and the answers go back to the upstream in a retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ToolsListChanged,
)
from mcp_types import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    SERVER_INFO_META_KEY,
    CallToolRequestParams,
    CallToolResult,
    CompleteRequestParams,
    CompleteResult,
    EmptyResult,
    ErrorData,
    GetPromptRequestParams,
    GetPromptResult,
    InputRequiredResult,
    InputResponses,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PaginatedRequestParams,
    PromptReference,
    ReadResourceRequestParams,
    ReadResourceResult,
    ResourceTemplateReference,
    SetLevelRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel
from starlette.requests import Request

from federation.catalog import Catalog, Route
from federation.errors import (
    RESOURCE_NOT_FOUND,
    FederationError,
    UnknownName,
    UpstreamUnavailable,
    to_mcp_error,
)
from federation.hooks import Call, Caller, CallOutcome, EntryKind, FederationHooks
from federation.lists import CatalogLists, ListMiddleware
from federation.observing import RequestMiddleware, current_request, upstream_context
from federation.relay import Asker, CapabilityGate, StreamAsker, Suspensions, missing_capability
from federation.toolset import LocalToolset
from federation.upstream import Upstream

__all__ = ["Directory", "FederatedServer"]

log = logging.getLogger("federation")

T = TypeVar("T")
Ctx = ServerRequestContext[Any, Any]
Send = Callable[[InputResponses | None, str | None, Asker | None], Coroutine[Any, Any, T]]
"""Sends one call to its upstream: ``(inputResponses, requestState, asker)``."""

# Bounds the sessions remembered for list_changed (the SDK's own session cap is 10,000 by default).
_MAX_TRACKED_SESSIONS = 10_000
# Rounds of input_required bridged for one handshake-era call before giving up (mirrors the SDK client's cap).
_MAX_INPUT_ROUNDS = 8


class Directory(Protocol):
    """What the server needs from the federation: the catalog, and the upstreams and toolsets by name."""

    @property
    def catalog(self) -> Catalog: ...

    def upstream(self, server: str) -> Upstream: ...

    def toolset(self, server: str) -> LocalToolset | None:
        """The in-process toolset named ``server``; None when ``server`` is not one."""
        ...

    def unavailable_owner(self, name: str) -> UpstreamUnavailable | None:
        """The error to report for ``name`` when it is unknown because its upstream is down."""
        ...

    def check_complete(self) -> None:
        """Raise if a ``failure_mode: closed`` upstream is down (the catalog is incomplete).

        Raises:
            UpstreamUnavailable: naming that upstream.
        """
        ...


class _Server(Server[Any]):
    # The SDK session manager builds initialize results from create_initialization_options();
    # federation forwards list changes, so it advertises listChanged for all three lists.
    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(True, True, True),
            experimental_capabilities,
            extensions,
        )


class FederatedServer:
    """The MCP server the downstream clients talk to (``server``: the SDK object to serve)."""

    def __init__(
        self,
        directory: Directory,
        hooks: FederationHooks,
        *,
        name: str = "agentgw",
        version: str = "",
        instructions: str | None = None,
        page_size: int = 1000,
    ) -> None:
        self._directory = directory
        self._hooks = hooks
        self._page_size = page_size
        self._bus = InMemorySubscriptionBus()
        self._listen = ListenHandler(self._bus)
        self._suspensions = Suspensions()
        self._lists = CatalogLists(
            lambda: directory.catalog, hooks, directory.check_complete, page_size=page_size
        )
        # Handshake-era sessions that have made a request, to tell them about list changes on their
        # standalone (GET) stream. Keyed by Mcp-Session-Id; a session that is gone fails the send and
        # is forgotten.
        self._sessions: dict[str, ServerSession] = {}
        self.server: Server[Any] = _Server(
            name,
            version=version,
            instructions=instructions,
            get_tool_input_schema=self._input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_templates,
            on_read_resource=self._read_resource,
            on_completion=self._complete,
            on_subscribe_resource=self._subscribe,
            on_unsubscribe_resource=self._unsubscribe,
            on_subscriptions_listen=self._listen,
        )
        server = self.server
        # logging/setLevel (deprecated at 2026-07-28, still asked by 2025 clients): accepted; upstream
        # log messages are passed on as they come. Registered by name: the constructor argument warns.
        self.server.add_request_handler("logging/setLevel", SetLevelRequestParams, self._set_level)
        # downstream resource URI -> the handshake-era sessions subscribed to it
        self._subscribers: dict[str, set[str]] = {}
        # Outside ListMiddleware, so the hooks see lists too.
        self._requests = RequestMiddleware(hooks, self._caller)
        self.requests = self._requests
        self.lists = self._lists
        """The catalog's lists in wire form (shared with :mod:`federation.fastpath`)."""
        """Where the hooks hear of every request (shared with :mod:`federation.fastpath`)."""
        self.server.middleware.append(self._requests)
        self.server.middleware.append(
            ListMiddleware(self._lists, self._caller, lambda: server.server_info_stamp)
        )

    # -- change notifications ---------------------------------------------------------------

    async def publish(self, kinds: Sequence[str]) -> None:
        """Tell downstream clients that lists changed (``tools``, ``prompts``, ``resources``)."""
        for kind in kinds:
            if kind == "tools":
                await self._bus.publish(ToolsListChanged())
            elif kind == "prompts":
                await self._bus.publish(PromptsListChanged())
            elif kind == "resources":
                await self._bus.publish(ResourcesListChanged())
        for session_id, session in list(self._sessions.items()):
            try:
                for kind in kinds:
                    if kind == "tools":
                        await session.send_tool_list_changed()
                    elif kind == "prompts":
                        await session.send_prompt_list_changed()
                    elif kind == "resources":
                        await session.send_resource_list_changed()
            except Exception:  # the session ended; nothing to tell it
                self._sessions.pop(session_id, None)

    async def resource_updated(self, uri: str) -> None:
        """Tell the clients subscribed to the downstream ``uri`` that it changed."""
        await self._bus.publish(ResourceUpdated(uri=uri))
        for session_id in list(self._subscribers.get(uri, ())):
            session = self._sessions.get(session_id)
            try:
                if session is None:
                    raise LookupError(session_id)
                await session.send_resource_updated(uri)
            except Exception:  # the session ended
                self._subscribers[uri].discard(session_id)

    def close(self) -> None:
        """End every ``subscriptions/listen`` stream gracefully, and every suspended call."""
        self._listen.close()
        self._suspensions.close()

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        # MCP 2026-07-28 Mcp-Param-* header checks need a tool's schema: read the catalog, not the list.
        tool = self._directory.catalog.tools_by_name.get(name)
        return tool.input_schema if tool is not None else None

    # -- lists ------------------------------------------------------------------------------
    # Served by ListMiddleware; these handlers declare the capabilities and answer if it is removed.

    async def _list_tools(self, ctx: Ctx, params: PaginatedRequestParams | None) -> ListToolsResult:
        return ListToolsResult.model_validate(self._page(ctx, params))

    async def _list_prompts(self, ctx: Ctx, params: PaginatedRequestParams | None) -> ListPromptsResult:
        return ListPromptsResult.model_validate(self._page(ctx, params))

    async def _list_resources(self, ctx: Ctx, params: PaginatedRequestParams | None) -> ListResourcesResult:
        return ListResourcesResult.model_validate(self._page(ctx, params))

    async def _list_templates(
        self, ctx: Ctx, params: PaginatedRequestParams | None
    ) -> ListResourceTemplatesResult:
        return ListResourceTemplatesResult.model_validate(self._page(ctx, params))

    def _page(self, ctx: Ctx, params: PaginatedRequestParams | None) -> dict[str, Any]:
        cursor = params.cursor if params is not None else None
        return self._lists.page(ctx.method, ctx.protocol_version, self._caller(ctx), cursor)

    # -- calls ------------------------------------------------------------------------------

    async def _call_tool(
        self, ctx: Ctx, params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        catalog = self._directory.catalog
        route = catalog.tool_routes.get(params.name)
        call = self._call(ctx, "tool", params.name, route, params.arguments)
        progress = ctx.session.report_progress if _wants_progress(ctx) else None

        async def send(
            responses: InputResponses | None, state: str | None, asker: Asker | None
        ) -> CallToolResult | InputRequiredResult:
            toolset = self._directory.toolset(call.server)
            if toolset is not None:
                return await toolset.call_tool(call.upstream_name, params.arguments)
            upstream = self._directory.upstream(call.server)
            return await upstream.call_tool(
                call.upstream_name,
                params.arguments,
                progress=progress,
                input_responses=responses,
                request_state=state,
                asker=asker,
            )

        return await self._run(ctx, call, send, params.input_responses, params.request_state)

    async def _get_prompt(
        self, ctx: Ctx, params: GetPromptRequestParams
    ) -> GetPromptResult | InputRequiredResult:
        route = self._directory.catalog.prompt_routes.get(params.name)
        call = self._call(ctx, "prompt", params.name, route, params.arguments)

        async def send(
            responses: InputResponses | None, state: str | None, asker: Asker | None
        ) -> GetPromptResult | InputRequiredResult:
            upstream = self._directory.upstream(call.server)
            return await upstream.get_prompt(
                call.upstream_name,
                params.arguments,
                input_responses=responses,
                request_state=state,
                asker=asker,
            )

        return await self._run(ctx, call, send, params.input_responses, params.request_state)

    async def _read_resource(
        self, ctx: Ctx, params: ReadResourceRequestParams
    ) -> ReadResourceResult | InputRequiredResult:
        route = self._directory.catalog.route_resource(params.uri)
        call = self._call(ctx, "resource", params.uri, route, None)

        async def send(
            responses: InputResponses | None, state: str | None, asker: Asker | None
        ) -> ReadResourceResult | InputRequiredResult:
            upstream = self._directory.upstream(call.server)
            result = await upstream.read_resource(
                call.upstream_name, input_responses=responses, request_state=state
            )
            if isinstance(result, ReadResourceResult):
                # The contents name the URI the client asked for, not the upstream's own.
                namer = self._directory.catalog.namer
                contents = [
                    c.model_copy(update={"uri": namer.uri(call.server, c.uri)}) for c in result.contents
                ]
                return result.model_copy(update={"contents": contents})
            return result

        return await self._run(ctx, call, send, params.input_responses, params.request_state)

    async def _complete(self, ctx: Ctx, params: CompleteRequestParams) -> CompleteResult:
        catalog = self._directory.catalog
        ref = params.ref
        if isinstance(ref, PromptReference):
            route = catalog.prompt_routes.get(ref.name)
            call = self._call(ctx, "completion", ref.name, route, None)
            upstream_ref: PromptReference | ResourceTemplateReference = ref.model_copy(
                update={"name": call.upstream_name}
            )
        else:
            route = catalog.route_resource(ref.uri)
            call = self._call(ctx, "completion", ref.uri, route, None)
            upstream_ref = ref.model_copy(update={"uri": call.upstream_name})
        argument = {"name": params.argument.name, "value": params.argument.value}
        context = params.context.arguments if params.context is not None else None

        async def send(
            responses: InputResponses | None, state: str | None, asker: Asker | None
        ) -> CompleteResult:
            return await self._directory.upstream(call.server).complete(upstream_ref, argument, context)

        return await self._run(ctx, call, send, None, None)

    async def _set_level(self, ctx: Ctx, params: SetLevelRequestParams) -> EmptyResult:
        return EmptyResult()

    async def _subscribe(self, ctx: Ctx, params: SubscribeRequestParams) -> EmptyResult:
        return await self._subscription(ctx, params.uri, subscribe=True)

    async def _unsubscribe(self, ctx: Ctx, params: UnsubscribeRequestParams) -> EmptyResult:
        return await self._subscription(ctx, params.uri, subscribe=False)

    async def _subscription(self, ctx: Ctx, uri: str, *, subscribe: bool) -> EmptyResult:
        call = self._call(ctx, "resource", uri, self._directory.catalog.route_resource(uri), None)
        session_id = self._caller(ctx).session_id
        if session_id is None:
            raise MCPError(INVALID_PARAMS, "resources/subscribe needs a session (Mcp-Session-Id)")
        subscribers = self._subscribers.setdefault(uri, set())
        upstream = self._directory.upstream(call.server)
        try:
            # One upstream subscription per URI, however many clients follow it.
            if subscribe and not subscribers:
                await upstream.subscribe(call.upstream_name)
            elif not subscribe and subscribers == {session_id}:
                await upstream.unsubscribe(call.upstream_name)
        except FederationError as exc:
            raise to_mcp_error(exc) from exc
        if subscribe:
            subscribers.add(session_id)
        else:
            subscribers.discard(session_id)
        return EmptyResult()

    def _call(
        self, ctx: Ctx, kind: EntryKind, name: str, route: Route | None, arguments: dict[str, Any] | None
    ) -> Call:
        caller = self._caller(ctx)
        listed_kind: EntryKind = "prompt" if kind == "completion" else kind
        if route is None:
            down = self._directory.unavailable_owner(name)
            if down is not None:
                raise to_mcp_error(down)
        if route is None or not self._hooks.visible(caller, listed_kind, name, route.server):
            error = UnknownName(
                "tool" if kind == "tool" else "prompt" if kind != "resource" else "resource", name
            )
            if error.code == RESOURCE_NOT_FOUND and ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
                # MCP 2026-07-28 (SEP-2164): a resource not found is Invalid Params (the URI in data);
                # -32002 is the earlier revisions' code.
                error.code = INVALID_PARAMS
            raise to_mcp_error(error)
        return Call(kind, name, route.server, route.name, arguments)

    async def _run(
        self,
        ctx: Ctx,
        call: Call,
        send: Send[T],
        responses: InputResponses | None,
        state: str | None,
    ) -> T:
        caller = self._caller(ctx)
        request = current_request()
        started = time.perf_counter()
        code: int | None = None
        result: Any = None
        try:
            self._directory.check_complete()
            await self._hooks.authorize(caller, call)
            with upstream_context(self._requests.calling(caller, request, call)):
                result = _without_upstream_identity(await self._bridged(ctx, call, send, responses, state))
            return result  # type: ignore[no-any-return]
        except FederationError as exc:
            code = exc.code
            raise to_mcp_error(exc) from exc
        except MCPError as exc:
            code = exc.code
            raise
        finally:
            is_error = isinstance(result, CallToolResult) and bool(result.is_error)
            outcome = CallOutcome(call, code, is_error, time.perf_counter() - started, request, result)
            self._hooks.record(caller, outcome)

    async def _bridged(
        self, ctx: Ctx, call: Call, send: Send[T], responses: InputResponses | None, state: str | None
    ) -> T:
        """``send`` in the way that carries questions between this client's era and the upstream's."""
        if self._directory.toolset(call.server) is not None:
            return await send(None, None, None)  # in-process: nothing to ask the client, no era to bridge
        client_modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        capabilities = ctx.session.client_capabilities
        upstream = self._directory.upstream(call.server)
        if not client_modern:
            result = await send(responses, state, CapabilityGate(StreamAsker(ctx), capabilities))
            if isinstance(result, InputRequiredResult):
                return await self._bridge_input(ctx, result, send)  # type: ignore[no-any-return]
            return result
        if upstream.modern and not Suspensions.owns(state):
            # Both 2026-07-28: input_required passes through; the asker only carries log messages.
            result = await send(responses, state, StreamAsker(ctx))
            if isinstance(result, InputRequiredResult):
                _check_answerable(result, ctx)
            return result
        if call.kind == "completion":
            return await send(None, None, None)
        try:
            return await self._suspensions.run(  # type: ignore[no-any-return]
                lambda asker: send(None, None, CapabilityGate(asker, capabilities)), responses, state
            )
        except KeyError:
            raise MCPError(INVALID_PARAMS, "Unknown or expired requestState") from None

    async def _bridge_input(self, ctx: Ctx, result: InputRequiredResult, send: Send[Any]) -> Any:
        """Serve a 2026-07-28 upstream's ``input_required`` to a handshake-era client as requests on its stream."""
        asker = CapabilityGate(StreamAsker(ctx), ctx.session.client_capabilities)
        current: Any = result
        for _ in range(_MAX_INPUT_ROUNDS):
            if not isinstance(current, InputRequiredResult):
                return current
            answers: InputResponses = {}
            for key, request in (current.input_requests or {}).items():
                answer = await asker.ask(request)
                if isinstance(answer, ErrorData):
                    raise MCPError.from_error_data(answer)
                answers[key] = answer
            current = await send(answers, current.request_state, None)
        raise MCPError(INVALID_PARAMS, f"gave up after {_MAX_INPUT_ROUNDS} rounds of input_required")

    def _caller(self, ctx: Ctx) -> Caller:
        request = ctx.request
        session_id: str | None = None
        if isinstance(request, Request):
            # Streamable HTTP names the session in a header, the 2024-11-05 SSE transport in the query.
            session_id = request.headers.get("mcp-session-id") or request.query_params.get("session_id")
        if session_id is not None and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            if session_id not in self._sessions and len(self._sessions) >= _MAX_TRACKED_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))  # the oldest; ended ones go first anyway
            self._sessions.setdefault(session_id, ctx.session)
        return Caller(ctx.protocol_version, session_id, request)


def _without_upstream_identity(result: T) -> T:
    # MCP 2026-07-28 stamps serverInfo into every result's _meta; the client talks to the gateway,
    # and the SDK stamps the gateway's identity only where the result carries none.
    meta = getattr(result, "meta", None)
    if isinstance(result, BaseModel) and isinstance(meta, dict) and SERVER_INFO_META_KEY in meta:
        rest = {k: v for k, v in meta.items() if k != SERVER_INFO_META_KEY}
        return result.model_copy(update={"meta": rest or None})
    return result


def _check_answerable(result: InputRequiredResult, ctx: Ctx) -> None:
    """Refuse an upstream's ``input_required`` the calling client could not answer, in its stead."""
    capabilities = ctx.session.client_capabilities
    for request in (result.input_requests or {}).values():
        missing = missing_capability(request, capabilities)
        if missing is not None:
            raise MCPError(
                METHOD_NOT_FOUND, f"the upstream asked for {missing}, which the client did not declare"
            )


def _wants_progress(ctx: Ctx) -> bool:
    # Only then is an upstream asked for progress: its notifications would have nowhere to go.
    return ctx.meta is not None and ctx.meta.get("progress_token") is not None
