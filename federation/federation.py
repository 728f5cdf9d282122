"""The federation: the upstreams, the merged catalog, and the downstream server, as one unit.

::

    fed = Federation([UpstreamSpec("weather", StdioTarget("python", ("weather.py",)))], toolsets=[...])
    await fed.start()            # connects every upstream (failures are contained, retried)
    routes = fed.http.routes()   # /mcp, /sse, /messages/ for a Starlette app
    ...
    await fed.stop()

:meth:`start` and :meth:`stop` must run in the same task (an app's lifespan): the SDK session
manager's task group lives between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute

from federation.catalog import Catalog, Listing, ToolFilter
from federation.errors import UnknownName, UpstreamUnavailable
from federation.fastpath import FastPath
from federation.hooks import FederationHooks, NoHooks
from federation.http import DownstreamHttp, Refused
from federation.naming import Namer
from federation.server import Directory, FederatedServer
from federation.spec import NamingPolicy, UpstreamSpec, VirtualServer
from federation.toolset import LocalToolset
from federation.transports.factory import build_transport
from federation.upstream import Upstream

__all__ = ["Federation", "UpstreamStatus"]

log = logging.getLogger("federation")


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    name: str
    transport: str
    state: str
    """``connecting``, ``ready``, ``down`` or ``stopped``."""
    reason: str | None
    failure_mode: str
    protocol_version: str | None
    tools: int


class Federation:
    """Many MCP servers behind one MCP server.

    Args:
        upstreams: the servers, in priority order (the first keeps a contested name).
        toolsets: in-process tools (:class:`~federation.toolset.LocalToolset`), federated like
            servers, after them in priority.
        naming: how names are prefixed.
        virtual_servers: named subsets, each served at ``/mcp/{name}`` (see :meth:`routes`).
        hooks: policy called on every list and call (default: none).
        allowed_origins: browser origins allowed besides the gateway's own (``http://localhost:*``).
        allowed_hosts: ``Host`` values accepted (``localhost:*``); None accepts any.
        max_request_bytes: largest request body on ``/mcp`` and ``/messages/``.
        refused: told of each HTTP request the endpoints refuse before the hooks hear of it (a
            foreign ``Origin``, a missing header, an unknown session...): its ASGI scope and status.
        log: where upstream stderr and state changes go.
    """

    def __init__(
        self,
        upstreams: Sequence[UpstreamSpec],
        *,
        toolsets: Sequence[LocalToolset] = (),
        naming: NamingPolicy | None = None,
        virtual_servers: Sequence[VirtualServer] = (),
        hooks: FederationHooks | None = None,
        name: str = "agentgw",
        version: str = "",
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] | None = None,
        max_request_bytes: int = 4 * 1024 * 1024,
        session_idle_timeout_s: float | None = 30 * 60,
        refused: Refused | None = None,
        log: logging.Logger = log,
    ) -> None:
        names = [spec.name for spec in upstreams] + [toolset.name for toolset in toolsets]
        if len(set(names)) != len(names):
            raise ValueError(f"upstream and toolset names must be unique: {names}")
        self._toolsets = {toolset.name: toolset for toolset in toolsets}
        self._toolset_listings: dict[str, Listing] = {}
        self._specs = {spec.name: spec for spec in upstreams}
        self._upstreams = {
            spec.name: Upstream(
                spec,
                build_transport(spec.name, spec.target, connect_timeout=spec.timeouts.connect, log=log),
                on_change=self._upstream_changed,
                on_resource_updated=self._resource_updated,
            )
            for spec in upstreams
        }
        self._filters = {s.name: ToolFilter(s.include_tools, s.exclude_tools) for s in upstreams}
        self._namer = Namer.for_servers(
            {**{s.name: s.prefix or s.name for s in upstreams}, **{t.name: t.name for t in toolsets}},
            naming or NamingPolicy(),
        )
        self._catalog = Catalog(namer=self._namer)
        self._publishing: set[asyncio.Task[None]] = set()
        self.server = FederatedServer(self, hooks or NoHooks(), name=name, version=version)
        self.http = DownstreamHttp(
            self.server.server,
            allowed_origins=allowed_origins,
            allowed_hosts=allowed_hosts,
            max_request_bytes=max_request_bytes,
            session_idle_timeout_s=session_idle_timeout_s,
            fast_path=_fast_path(self, self.server, hooks or NoHooks(), max_request_bytes),
            refused=refused,
        )
        self.views = {
            v.name: _View(
                v,
                self,
                hooks or NoHooks(),
                name=f"{name}-{v.name}",
                version=version,
                allowed_origins=allowed_origins,
                allowed_hosts=allowed_hosts,
                max_request_bytes=max_request_bytes,
                session_idle_timeout_s=session_idle_timeout_s,
                refused=refused,
            )
            for v in virtual_servers
        }
        self._stack: contextlib.AsyncExitStack | None = None

    def routes(self, path: str = "/mcp") -> list[BaseRoute]:
        """``path`` (Streamable HTTP), ``/sse`` + ``/messages/`` (HTTP+SSE), and ``path/{view}``."""
        routes = self.http.routes(path)
        for view in self.views.values():
            routes.extend(view.http.routes(f"{path}/{view.name}", sse=False))
        return routes

    # -- Directory (what the downstream server reads) ----------------------------------------

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def upstream(self, server: str) -> Upstream:
        """The upstream named ``server``.

        Raises:
            UnknownName: no such upstream.
        """
        try:
            return self._upstreams[server]
        except KeyError:
            raise UnknownName("server", server) from None

    def toolset(self, server: str) -> LocalToolset | None:
        """The toolset named ``server``, or None when ``server`` is not a toolset."""
        return self._toolsets.get(server)

    def unavailable_owner(self, name: str) -> UpstreamUnavailable | None:
        """The error for a name that would belong to an upstream that is down, if it would."""
        if not self._namer.prefixing:
            return None
        separator = self._namer.policy.separator
        for upstream in self._upstreams.values():
            if upstream.ready:
                continue
            prefix = self._namer.prefixes[upstream.name]
            if name.startswith(prefix + separator) or name.startswith(prefix + "+"):
                return UpstreamUnavailable(upstream.name, upstream.reason or upstream.state)
        return None

    def check_complete(self) -> None:
        for upstream in self._upstreams.values():
            if upstream.spec.failure_mode == "closed" and not upstream.ready:
                raise UpstreamUnavailable(upstream.name, upstream.reason or upstream.state)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, *, wait_s: float | None = None) -> None:
        """Start serving and connect every upstream.

        Waits (up to ``wait_s``, default: the longest connect timeout) for each upstream's first
        connection attempt, so a gateway starts with a full catalog when its upstreams are up. An
        upstream that is down is retried in the background (failure isolation).
        """
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(self.http.run())
        for view in self.views.values():
            await stack.enter_async_context(view.http.run())
        self._stack = stack
        for upstream in self._upstreams.values():
            upstream.start()
        if wait_s is None:
            wait_s = max((s.timeouts.connect for s in self._specs.values()), default=0.0) + 1.0
        if self._upstreams or self._toolsets:
            attempts = [asyncio.ensure_future(u.first_attempt()) for u in self._upstreams.values()]
            attempts += [asyncio.ensure_future(self.refresh_toolset(name)) for name in self._toolsets]
            _, pending = await asyncio.wait(attempts, timeout=wait_s)
            for task in pending:
                task.cancel()

    async def stop(self) -> None:
        """Close downstream sessions and disconnect every upstream (stopping stdio servers)."""
        self.server.close()
        for view in self.views.values():
            view.server.close()
        for task in list(self._publishing):
            task.cancel()
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        await asyncio.gather(*(u.stop() for u in self._upstreams.values()))

    async def refresh_toolset(self, name: str) -> None:
        """List the toolset ``name`` again; clients are told (``list_changed``) if its tools changed.

        A listing that fails leaves the toolset's tools out until the next refresh (logged).

        Raises:
            UnknownName: no such toolset.
        """
        toolset = self._toolsets.get(name)
        if toolset is None:
            raise UnknownName("toolset", name)
        try:
            tools = tuple(await toolset.list_tools())
        except Exception as exc:  # one toolset's failure must not stop the others (failure isolation)
            log.warning("toolset %s: listing its tools failed: %s", name, exc)
            tools = ()
        self._toolset_listings[name] = Listing(tools=tools)
        self._rebuild()

    def status(self) -> list[UpstreamStatus]:
        return [
            UpstreamStatus(
                name=u.name,
                transport=u.transport.kind,
                state=u.state,
                reason=u.reason,
                failure_mode=u.spec.failure_mode,
                protocol_version=u.protocol_version,
                tools=len(u.listing.tools),
            )
            for u in self._upstreams.values()
        ]

    @property
    def ready(self) -> bool:
        """False while an upstream with ``failure_mode: closed`` is down."""
        return all(u.ready for u in self._upstreams.values() if u.spec.failure_mode == "closed")

    # -- changes -----------------------------------------------------------------------------

    def _resource_updated(self, upstream: Upstream, uri: str) -> None:
        downstream = self._namer.uri(upstream.name, uri)
        self._spawn(self.server.resource_updated(downstream))
        for view in self.views.values():
            if upstream.name in view.servers:
                self._spawn(view.server.resource_updated(downstream))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    def _upstream_changed(self, upstream: Upstream) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        old = self._catalog
        listings = {name: u.listing if u.ready else Listing() for name, u in self._upstreams.items()}
        listings.update((name, self._toolset_listings.get(name, Listing())) for name in self._toolsets)
        new = Catalog.build(self._namer, listings, self._filters)
        self._catalog = new
        kinds = []
        if new.tools != old.tools:
            kinds.append("tools")
        if new.prompts != old.prompts:
            kinds.append("prompts")
        if new.resources != old.resources or new.templates != old.templates:
            kinds.append("resources")
        if kinds and self._stack is not None:
            self._spawn(self.server.publish(kinds))
            for view in self.views.values():  # a change outside a view's subset is a harmless extra refetch
                self._spawn(view.server.publish(kinds))


class _View:
    """A virtual server: the federation's catalog restricted to some servers and tools."""

    def __init__(
        self, spec: VirtualServer, parent: Federation, hooks: FederationHooks, *, name: str, **http: Any
    ) -> None:
        known = (*parent._upstreams, *parent._toolsets)
        unknown = sorted(set(spec.servers) - set(known))
        if unknown:
            raise ValueError(f"virtual server {spec.name!r} names unknown upstreams: {unknown}")
        self.name = spec.name
        self.servers = spec.servers or known
        self._tools = spec.tools
        self._parent = parent
        self._cached: tuple[Catalog, Catalog] | None = None
        self.server = FederatedServer(self, hooks, name=name, version=http.pop("version"))
        fast_path = _fast_path(self, self.server, hooks, http["max_request_bytes"])
        self.http = DownstreamHttp(self.server.server, fast_path=fast_path, **http)

    @property
    def catalog(self) -> Catalog:
        whole = self._parent.catalog
        if self._cached is None or self._cached[0] is not whole:
            self._cached = (whole, whole.subset(self.servers, self._tools))
        return self._cached[1]

    def upstream(self, server: str) -> Upstream:
        if server not in self.servers:
            raise UnknownName("server", server)
        return self._parent.upstream(server)

    def toolset(self, server: str) -> LocalToolset | None:
        return self._parent.toolset(server) if server in self.servers else None

    def check_complete(self) -> None:
        for server in self.servers:
            if server in self._parent._toolsets:
                continue
            upstream = self._parent.upstream(server)
            if upstream.spec.failure_mode == "closed" and not upstream.ready:
                raise UpstreamUnavailable(upstream.name, upstream.reason or upstream.state)

    def unavailable_owner(self, name: str) -> UpstreamUnavailable | None:
        error = self._parent.unavailable_owner(name)
        return error if error is not None and error.server in self.servers else None


def _fast_path(
    directory: Directory, server: FederatedServer, hooks: FederationHooks, max_request_bytes: int
) -> FastPath:
    return FastPath(
        directory,
        hooks,
        server.requests,
        server.lists,
        server.server.server_info_stamp,
        max_request_bytes=max_request_bytes,
    )
