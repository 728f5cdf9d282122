"""The four list methods, answered from the catalog in their wire form.

A federated list is large (10 servers x 100 tools is common) and asked for often, while the catalog
changes rarely. So each entry is dumped to its wire form once per catalog and protocol version (with
the SDK's own per-version shaping, ``mcp_types.methods.serialize_server_result``), and a request
only filters (hooks), pages and wraps. :class:`ListMiddleware` answers the list methods this way
ahead of the SDK's generic result validation, which would otherwise re-validate every entry of
every list on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, SERVER_INFO_META_KEY
from mcp_types import methods as spec_methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from federation.catalog import Catalog, Route
from federation.errors import FederationError, to_mcp_error
from federation.hooks import Caller, EntryKind, FederationHooks

__all__ = ["LIST_METHODS", "CatalogLists", "ListMiddleware"]

# method -> (result key, entry kind)
LIST_METHODS: Mapping[str, tuple[str, EntryKind]] = {
    "tools/list": ("tools", "tool"),
    "prompts/list": ("prompts", "prompt"),
    "resources/list": ("resources", "resource"),
    "resources/templates/list": ("resourceTemplates", "resource template"),
}
# MCP 2026-07-28 list results carry caching hints (ttlMs, cacheScope). What a caller sees depends on
# the hooks, so the scope is private; entries change whenever an upstream says so, hence no TTL.
_MODERN_ENVELOPE = {"ttlMs": 0, "cacheScope": "private", "resultType": "complete"}


@dataclass(frozen=True, slots=True)
class _Entries:
    names: tuple[str, ...]
    servers: tuple[str, ...]
    wire: tuple[dict[str, Any], ...]


class CatalogLists:
    """Pages of the catalog's lists, per caller, in wire form."""

    def __init__(
        self,
        catalog: Callable[[], Catalog],
        hooks: FederationHooks,
        check_complete: Callable[[], None],
        *,
        page_size: int = 1000,
    ) -> None:
        self._catalog = catalog
        self._hooks = hooks
        self._check_complete = check_complete
        self._page_size = page_size
        self._cached_for: Catalog | None = None
        self._cache: dict[tuple[str, str], _Entries] = {}

    def page(self, method: str, version: str, caller: Caller, cursor: str | None) -> dict[str, Any]:
        """``{key: [entries...], "nextCursor": ...}`` for one list request.

        Raises:
            MCPError: a bad cursor, or a ``failure_mode: closed`` upstream is down.
        """
        try:
            self._check_complete()
        except FederationError as exc:
            raise to_mcp_error(exc) from exc
        key, kind = LIST_METHODS[method]
        entries = self._entries(method, version)
        visible = self._hooks.visible
        items = [
            wire
            for name, server, wire in zip(entries.names, entries.servers, entries.wire, strict=True)
            if visible(caller, kind, name, server)
        ]
        start = 0
        if cursor is not None:
            # The cursor is an offset into the (deterministically ordered) list. A list that changes
            # between pages may skip or repeat an entry; list_changed tells the client to start over.
            if not cursor.isdigit() or int(cursor) > len(items):
                raise MCPError(INVALID_PARAMS, f"Invalid cursor: {cursor}")
            start = int(cursor)
        end = start + self._page_size
        result: dict[str, Any] = {key: items[start:end]}
        if end < len(items):
            result["nextCursor"] = str(end)
        return result

    def wire_page(
        self, method: str, version: str, caller: Caller, cursor: object, server_info: dict[str, Any]
    ) -> dict[str, Any]:
        """The whole result of one list request: :meth:`page`, with the 2026-07-28 envelope
        (caching hints, ``serverInfo``) when ``version`` has one.

        Raises:
            MCPError: a bad cursor, or a ``failure_mode: closed`` upstream is down.
        """
        if cursor is not None and not isinstance(cursor, str):
            raise MCPError(INVALID_PARAMS, "cursor must be a string")
        result = self.page(method, version, caller, cursor)
        if version in MODERN_PROTOCOL_VERSIONS:
            result.update(_MODERN_ENVELOPE)
            result["_meta"] = {SERVER_INFO_META_KEY: server_info}
        return result

    def _entries(self, method: str, version: str) -> _Entries:
        catalog = self._catalog()
        if catalog is not self._cached_for:
            self._cached_for, self._cache = catalog, {}
        cached = self._cache.get((method, version))
        if cached is None:
            cached = self._cache[(method, version)] = _build(catalog, method, version)
        return cached


def _build(catalog: Catalog, method: str, version: str) -> _Entries:
    key, _ = LIST_METHODS[method]
    models: tuple[BaseModel, ...]
    if method == "tools/list":
        models, names = catalog.tools, tuple(t.name for t in catalog.tools)
        routes: list[Route | None] = [catalog.tool_routes[n] for n in names]
    elif method == "prompts/list":
        models, names = catalog.prompts, tuple(p.name for p in catalog.prompts)
        routes = [catalog.prompt_routes[n] for n in names]
    elif method == "resources/list":
        models, names = catalog.resources, tuple(r.uri for r in catalog.resources)
        routes = [catalog.resource_routes[n] for n in names]
    else:
        models, names = catalog.templates, tuple(t.uri_template for t in catalog.templates)
        routes = [catalog.route_resource(n) for n in names]
    dumps = [m.model_dump(by_alias=True, mode="json", exclude_none=True) for m in models]
    envelope = _MODERN_ENVELOPE if version in MODERN_PROTOCOL_VERSIONS else {}
    # The SDK's per-version shaping: fields a version does not define are dropped.
    shaped = spec_methods.serialize_server_result(method, version, {**envelope, key: dumps})[key]
    servers = tuple(r.server if r is not None else "" for r in routes)
    return _Entries(names, servers, tuple(shaped))


class ListMiddleware:
    """A ``Server.middleware`` that answers the list methods from :class:`CatalogLists`.

    It returns the finished wire result (envelope included), which the SDK then sends as it is; every
    other request goes on to the SDK's handlers.
    """

    def __init__(
        self,
        lists: CatalogLists,
        caller: Callable[[ServerRequestContext[Any, Any]], Caller],
        stamp: Callable[[], dict[str, Any]],
    ) -> None:
        self._lists = lists
        self._caller = caller
        self._stamp = stamp

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in LIST_METHODS or ctx.request_id is None:
            return await call_next(ctx)
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS and ctx.session.client_params is None:
            return await call_next(ctx)  # before initialize: the SDK's gate answers
        cursor = (ctx.params or {}).get("cursor")
        return self._lists.wire_page(
            ctx.method, ctx.protocol_version, self._caller(ctx), cursor, self._stamp()
        )
