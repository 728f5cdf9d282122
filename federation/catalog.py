"""The merged catalog: every upstream's tools, prompts, resources and resource templates under one
namespace, with the route back to the owner of each entry.

Built afresh (it is immutable) whenever an upstream connects, drops or reports a list change.
Entries are sorted by downstream name, so the order is the same on every gateway and every
restart. Two entries that end up with the same downstream name are a *collision*: the entry of
the server configured first keeps the name, the other is left out, and the collision is reported
(:attr:`Catalog.collisions`, the log, readiness) so that it is never silently shadowed.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from mcp.shared.uri_template import InvalidUriTemplate, UriTemplate
from mcp_types import Prompt, Resource, ResourceTemplate, Tool

from federation.naming import Namer

__all__ = ["Catalog", "Collision", "Listing", "Route", "ToolFilter"]

log = logging.getLogger("federation")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Listing:
    """One upstream's lists as last fetched (all pages)."""

    tools: tuple[Tool, ...] = ()
    prompts: tuple[Prompt, ...] = ()
    resources: tuple[Resource, ...] = ()
    templates: tuple[ResourceTemplate, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """Per-server include/exclude globs on the upstream's own tool names."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def allows(self, name: str) -> bool:
        if self.include and not any(fnmatch.fnmatchcase(name, g) for g in self.include):
            return False
        return not any(fnmatch.fnmatchcase(name, g) for g in self.exclude)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a downstream entry lives: the server and the upstream's own name (or URI)."""

    server: str
    name: str


@dataclass(frozen=True, slots=True)
class Collision:
    kind: str
    """``tool``, ``prompt``, ``resource`` or ``resource template``."""
    name: str
    """The downstream name both wanted."""
    kept: str
    """The server whose entry has the name."""
    dropped: str


@dataclass(frozen=True, slots=True)
class _Template:
    server: str
    template: UriTemplate


@dataclass(frozen=True, slots=True)
class Catalog:
    namer: Namer
    tools: tuple[Tool, ...] = ()
    prompts: tuple[Prompt, ...] = ()
    resources: tuple[Resource, ...] = ()
    templates: tuple[ResourceTemplate, ...] = ()
    tools_by_name: Mapping[str, Tool] = field(default_factory=dict)
    tool_routes: Mapping[str, Route] = field(default_factory=dict)
    prompt_routes: Mapping[str, Route] = field(default_factory=dict)
    resource_routes: Mapping[str, Route] = field(default_factory=dict)
    collisions: tuple[Collision, ...] = ()
    _servers: tuple[str, ...] = ()
    _upstream_templates: tuple[_Template, ...] = ()

    @classmethod
    def build(
        cls,
        namer: Namer,
        listings: Mapping[str, Listing],
        filters: Mapping[str, ToolFilter] | None = None,
    ) -> Catalog:
        """Merge ``listings`` (server -> lists, in configuration order: the first keeps a contested name)."""
        filters = filters or {}
        collisions: list[Collision] = []
        tools: dict[str, tuple[Tool, Route]] = {}
        prompts: dict[str, tuple[Prompt, Route]] = {}
        resources: dict[str, tuple[Resource, Route]] = {}
        templates: dict[str, tuple[ResourceTemplate, Route]] = {}
        upstream_templates: list[_Template] = []
        for server, listing in listings.items():
            allowed = filters.get(server, ToolFilter())
            for tool in listing.tools:
                if allowed.allows(tool.name):
                    exposed = namer.name(server, tool.name)
                    _claim(
                        tools,
                        "tool",
                        exposed,
                        tool.model_copy(update={"name": exposed}),
                        server,
                        tool.name,
                        collisions,
                    )
            for prompt in listing.prompts:
                exposed = namer.name(server, prompt.name)
                _claim(
                    prompts,
                    "prompt",
                    exposed,
                    prompt.model_copy(update={"name": exposed}),
                    server,
                    prompt.name,
                    collisions,
                )
            for resource in listing.resources:
                exposed = namer.uri(server, resource.uri)
                _claim(
                    resources,
                    "resource",
                    exposed,
                    resource.model_copy(update={"uri": exposed}),
                    server,
                    resource.uri,
                    collisions,
                )
            for template in listing.templates:
                exposed = namer.uri(server, template.uri_template)
                copy = template.model_copy(update={"uri_template": exposed})
                if _claim(
                    templates, "resource template", exposed, copy, server, template.uri_template, collisions
                ):
                    try:
                        upstream_templates.append(_Template(server, UriTemplate.parse(template.uri_template)))
                    except InvalidUriTemplate:
                        log.warning(
                            "mcp server %s: unusable resource template %r", server, template.uri_template
                        )
        for collision in collisions:
            log.warning(
                "%s name %r offered by mcp servers %s and %s: %s's is left out",
                collision.kind,
                collision.name,
                collision.kept,
                collision.dropped,
                collision.dropped,
            )
        return cls(
            namer=namer,
            tools=_sorted(tools),
            prompts=_sorted(prompts),
            resources=_sorted(resources),
            templates=_sorted(templates),
            tools_by_name={k: t for k, (t, _) in tools.items()},
            tool_routes={k: r for k, (_, r) in tools.items()},
            prompt_routes={k: r for k, (_, r) in prompts.items()},
            resource_routes={k: r for k, (_, r) in resources.items()},
            collisions=tuple(collisions),
            _servers=tuple(listings),
            _upstream_templates=tuple(upstream_templates),
        )

    def subset(self, servers: Collection[str], tools: Sequence[str] = ()) -> Catalog:
        """The entries of ``servers`` only, and of their tools those whose downstream name matches a
        glob of ``tools`` (all when empty): what a virtual server shows. Names stay as they are."""
        keep = set(servers)
        allowed = ToolFilter(include=tuple(tools))
        tool_routes = {n: r for n, r in self.tool_routes.items() if r.server in keep and allowed.allows(n)}
        prompt_routes = {n: r for n, r in self.prompt_routes.items() if r.server in keep}
        resource_routes = {u: r for u, r in self.resource_routes.items() if r.server in keep}
        template_servers = {t.uri_template: self.route_resource(t.uri_template) for t in self.templates}
        return replace(
            self,
            tools=tuple(t for t in self.tools if t.name in tool_routes),
            prompts=tuple(p for p in self.prompts if p.name in prompt_routes),
            resources=tuple(r for r in self.resources if r.uri in resource_routes),
            templates=tuple(
                t
                for t in self.templates
                if (route := template_servers[t.uri_template]) is not None and route.server in keep
            ),
            tools_by_name={n: t for n, t in self.tools_by_name.items() if n in tool_routes},
            tool_routes=tool_routes,
            prompt_routes=prompt_routes,
            resource_routes=resource_routes,
            collisions=tuple(c for c in self.collisions if c.kept in keep or c.dropped in keep),
            _servers=tuple(s for s in self._servers if s in keep),
            _upstream_templates=tuple(t for t in self._upstream_templates if t.server in keep),
        )

    def route_resource(self, uri: str) -> Route | None:
        """The owner of a downstream resource URI: a listed resource, a prefixed URI, or a template match."""
        route = self.resource_routes.get(uri)
        if route is not None:
            return route
        split = self.namer.split_uri(uri, self._servers)
        if split is not None:
            return Route(*split)
        if self.namer.prefixing:
            return None
        for entry in self._upstream_templates:
            if entry.template.match(uri) is not None:
                return Route(entry.server, uri)
        return None


def _claim(
    entries: dict[str, tuple[T, Route]],
    kind: str,
    exposed: str,
    entry: T,
    server: str,
    upstream_name: str,
    collisions: list[Collision],
) -> bool:
    held = entries.get(exposed)
    if held is not None:
        if held[1].server != server:
            collisions.append(Collision(kind, exposed, held[1].server, server))
        return False
    entries[exposed] = (entry, Route(server, upstream_name))
    return True


def _sorted(entries: dict[str, tuple[T, Route]]) -> tuple[T, ...]:
    return tuple(entries[k][0] for k in sorted(entries))
