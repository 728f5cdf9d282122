"""What an upstream's tool schemas ask of a call sent to it without the SDK ``Client``.

The SDK ``Client`` does two things per ``tools/call`` from the tool's last listing: it mirrors the
arguments annotated ``x-mcp-header`` into ``Mcp-Param-*`` headers (MCP 2026-07-28
streamable-http), and it checks the result's ``structuredContent`` against the tool's
``outputSchema``. :class:`ToolSchemas` does the same from the upstream's cached
:class:`~federation.catalog.Listing`, compiling each schema once per listing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import SchemaError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from mcp.shared.inbound import mcp_param_headers, x_mcp_header_map
from mcp_types import Tool
from referencing import Registry
from referencing.exceptions import Unresolvable

from federation.catalog import Listing

__all__ = ["ToolSchemas"]


class ToolSchemas:
    """Per-tool header maps and output validators for one listing (rebuilt when it changes)."""

    def __init__(self) -> None:
        self._listing: Listing | None = None
        self._tools: dict[str, Tool] = {}
        self._headers: dict[str, dict[tuple[str, ...], str]] = {}
        self._validators: dict[str, Validator] = {}

    def _use(self, listing: Listing) -> None:
        if listing is not self._listing:
            self._listing = listing
            self._tools = {tool.name: tool for tool in listing.tools}
            self._headers, self._validators = {}, {}

    def param_headers(self, listing: Listing, name: str, arguments: Mapping[str, Any]) -> dict[str, str]:
        """The ``Mcp-Param-*`` headers the SDK client would send for calling ``name`` with ``arguments``."""
        self._use(listing)
        header_map = self._headers.get(name)
        if header_map is None:
            tool = self._tools.get(name)
            if tool is None:
                return {}
            header_map = self._headers[name] = x_mcp_header_map(tool.input_schema)
        return mcp_param_headers(header_map, arguments) if header_map else {}

    def check_output(self, listing: Listing, name: str, result: Mapping[str, Any]) -> None:
        """Check a successful result against ``name``'s ``outputSchema``, as the SDK client does.

        Raises:
            RuntimeError: the structured content is missing or does not conform (the SDK client's
                error, which the downstream server answers as an internal error).
        """
        self._use(listing)
        tool = self._tools.get(name)
        if tool is None or tool.output_schema is None:
            return
        if "structuredContent" not in result:
            raise RuntimeError(f"Tool {name} has an output schema but did not return structured content")
        validator = self._validators.get(name)
        if validator is None:
            schema = tool.output_schema
            cls = validator_for(schema)
            try:
                cls.check_schema(schema)
            except SchemaError as exc:
                raise RuntimeError(f"Invalid schema for tool {name}: {exc}") from exc
            validator = self._validators[name] = cls(schema, registry=Registry())
        try:
            error = best_match(validator.iter_errors(result["structuredContent"]))
        except Unresolvable as exc:
            raise RuntimeError(f"Invalid schema for tool {name}: {exc}") from exc
        if error is not None:
            raise RuntimeError(f"Invalid structured content returned by tool {name}: {error}") from error
