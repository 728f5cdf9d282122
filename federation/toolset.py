"""In-process toolsets: tools the embedding app implements itself, federated like an MCP server's.

An upstream MCP server is reached over a transport; a :class:`LocalToolset` lives in the gateway's
own process (A2A agents exposed as tools, an OpenAPI spec turned into tools). Federation treats its
tools as it treats an upstream's: they join the catalog under the toolset's ``name`` as prefix, the
hooks decide who sees and calls them, a name two sources want goes to the one configured first
(upstreams before toolsets), and ``list_changed`` tells clients when they change
(:meth:`federation.Federation.refresh_toolset`). Calls are routed to :meth:`LocalToolset.call_tool`.

A toolset is satisfied structurally: it need not import anything from :mod:`federation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from mcp_types import CallToolResult, Tool

__all__ = ["LocalToolset"]


class LocalToolset(Protocol):
    """Tools served in-process. ``name`` must differ from every upstream's and toolset's name."""

    @property
    def name(self) -> str:
        """The toolset's name: its tools' prefix, and the ``server`` hooks see."""
        ...

    async def list_tools(self) -> Sequence[Tool]:
        """The tools as they are now, with their own (unprefixed) names.

        Called when the federation starts and on :meth:`~federation.Federation.refresh_toolset`;
        the result is kept until the next call. An exception keeps the toolset's tools out of the
        catalog until the next successful listing.
        """
        ...

    async def call_tool(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        """Call the tool ``name`` (its own name); a failure of the tool is ``isError: true``.

        Raises:
            federation.errors.FederationError: a failure to report as a JSON-RPC error instead.
        """
        ...
