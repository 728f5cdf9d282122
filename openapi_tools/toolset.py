"""A loaded spec as an in-process MCP toolset: list its operations as tools, call them over HTTP.

:class:`OpenAPIToolset` has the shape of ``federation.LocalToolset`` (``name``, ``list_tools``,
``call_tool``) without importing it; the embedding app hands it to the federation. A call is
validated against the tool's input schema, turned into a request (:mod:`openapi_tools.request`),
authenticated with the app's credentials (:mod:`openapi_tools.auth`), sent on one shared, pooled
``httpx2.AsyncClient``, and its response becomes the tool result (:mod:`openapi_tools.response`).
Every failure of the call, the API's or ours, is an ``isError`` result the model can read.

Outbound requests go only to the configured server origins (the ``base_url`` override, else the
spec's ``servers``): arguments are percent-encoded into the path and query so they cannot change the
host, and redirects are followed only within the same origin (a redirect elsewhere is reported, not
followed), so a spec's API cannot be used to reach other hosts (SSRF).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2
from mcp_types import CallToolResult, Tool, ToolAnnotations

from openapi_tools.arguments import ArgumentValidator
from openapi_tools.auth import Authenticator, Credentials
from openapi_tools.errors import CallError, SpecError
from openapi_tools.operation import LoadedSpec, Operation, ServerTemplate
from openapi_tools.request import PreparedRequest, build_request
from openapi_tools.response import ResponseTooLarge, error_result, read_body, tool_result

__all__ = ["OpenAPIToolset", "Timeouts", "server_urls"]

_MAX_REDIRECTS = 5
_ERROR_BODY_BYTES = 16 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ANNOTATIONS = {
    "readOnlyHint": "read_only_hint",
    "destructiveHint": "destructive_hint",
    "idempotentHint": "idempotent_hint",
    "openWorldHint": "open_world_hint",
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    """Longest wait to connect to the API."""
    call: float = 60.0
    """Longest wait for one whole call: token fetch, request, redirects and the full response."""


class _Entry:
    """One tool: its operation, its listing, and (once called) its argument validator."""

    __slots__ = ("base_url", "operation", "tool", "validator")

    def __init__(self, operation: Operation, tool: Tool, base_url: str) -> None:
        self.operation = operation
        self.tool = tool
        self.base_url = base_url
        self.validator: ArgumentValidator | None = None


class OpenAPIToolset:
    """The operations of ``spec`` as MCP tools under ``name`` (a ``federation.LocalToolset``).

    ``base_url`` replaces the spec's servers (and is required when they are missing or relative to
    a spec read from a file). ``credentials`` maps security scheme names to their secrets.
    ``transport`` is for tests and benchmarks that serve the API in-process.

    Raises:
        SpecError: no usable server URL for some operation.
    """

    def __init__(
        self,
        spec: LoadedSpec,
        *,
        name: str,
        base_url: str | None = None,
        server_variables: Mapping[str, str] | None = None,
        credentials: Mapping[str, Credentials] | None = None,
        timeouts: Timeouts = Timeouts(),
        max_response_bytes: int = 10 * 1024 * 1024,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._name = name
        self._spec = spec
        self._timeouts = timeouts
        self._max_response_bytes = max_response_bytes
        urls = server_urls(spec, base_url=base_url, server_variables=server_variables)
        self._client = httpx2.AsyncClient(
            follow_redirects=False,
            timeout=httpx2.Timeout(timeouts.call, connect=timeouts.connect),
            limits=httpx2.Limits(max_connections=100, max_keepalive_connections=20),
            transport=transport,
            trust_env=False,
        )
        self._entries: dict[str, _Entry] = {}
        for operation, url in zip(spec.operations, urls, strict=True):
            self._entries[operation.tool_name] = _Entry(operation, _tool(operation), url)
        self._tools = [entry.tool for entry in self._entries.values()]
        default_base = base_url or (self._tools and next(iter(self._entries.values())).base_url) or ""
        self._auth = Authenticator(
            spec.security_schemes,
            credentials or {},
            self._client,
            base_url=default_base.rstrip("/"),
            token_timeout_s=timeouts.call,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def spec(self) -> LoadedSpec:
        return self._spec

    async def list_tools(self) -> Sequence[Tool]:
        """One tool per operation; built once, when the toolset was made."""
        return self._tools

    async def call_tool(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        """Call the operation behind tool ``name``; every failure is an ``isError`` result."""
        entry = self._entries.get(name)
        if entry is None:
            return error_result(f"unknown tool {name!r}")
        operation, args = entry.operation, arguments or {}
        try:
            async with asyncio.timeout(self._timeouts.call):
                if entry.validator is None:
                    entry.validator = ArgumentValidator(operation.input_schema)
                entry.validator.validate(args)
                requirement = self._auth.choose(operation.security)
                request = build_request(operation, args, entry.base_url)
                await self._auth.apply(requirement, request)
                return await self._send(request, entry)
        except CallError as exc:
            return error_result(str(exc))
        except TimeoutError:
            return error_result(f"the call to {entry.base_url} timed out after {self._timeouts.call:g}s")
        except httpx2.TimeoutException:
            return error_result(f"the call to {entry.base_url} timed out")
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            return error_result(f"cannot reach {entry.base_url}: {type(exc).__name__}: {exc}")
        except ResponseTooLarge as exc:
            return error_result(f"{exc} (max_response_bytes)")

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def _send(self, prepared: PreparedRequest, entry: _Entry) -> CallToolResult:
        method, url, content = prepared.method, prepared.url, prepared.content
        headers = prepared.all_headers()
        origin = _origin(prepared.base_url)
        for _ in range(_MAX_REDIRECTS + 1):
            request = self._client.build_request(method, url, headers=headers, content=content)
            response = await self._client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    target = urljoin(url, location)
                    if _origin(target) != origin:
                        return error_result(
                            f"HTTP {response.status_code}: the API redirects to {target}, another host;"
                            " not followed"
                        )
                    url = target
                    # RFC 9110 15.4: 303 (and, by long practice, 301/302 after a POST) become a GET.
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method == "POST"
                    ):
                        method, content = "GET", None
                        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
                    continue
                if 200 <= response.status_code < 300:
                    body = await read_body(response, self._max_response_bytes)
                else:
                    # Only an excerpt of an error body is shown: no need to read a large one whole.
                    body = await read_body(
                        response, min(self._max_response_bytes, _ERROR_BODY_BYTES), excerpt=True
                    )
                return tool_result(
                    response.status_code,
                    response.reason_phrase,
                    response.headers.get("content-type", ""),
                    body,
                    url=url,
                    structured=entry.operation.output_schema is not None,
                )
            finally:
                await response.aclose()
        return error_result(f"more than {_MAX_REDIRECTS} redirects")


def _tool(operation: Operation) -> Tool:
    hints: dict[str, Any] = {
        _ANNOTATIONS[k]: v for k, v in operation.annotations.items() if k in _ANNOTATIONS
    }
    return Tool(
        name=operation.tool_name,
        title=operation.title,
        description=operation.description,
        input_schema=dict(operation.input_schema),
        output_schema=dict(operation.output_schema) if operation.output_schema is not None else None,
        annotations=ToolAnnotations(**hints) if hints else None,
    )


def server_urls(
    spec: LoadedSpec, *, base_url: str | None = None, server_variables: Mapping[str, str] | None = None
) -> list[str]:
    """The base URL of each of ``spec``'s operations, in order (what ``agentgw check`` verifies).

    Raises:
        SpecError: an operation has no absolute http(s) server URL and ``base_url`` is not set.
    """
    return [_server_url(spec, op, base_url, server_variables or {}) for op in spec.operations]


def _server_url(
    spec: LoadedSpec, operation: Operation, base_url: str | None, variables: Mapping[str, str]
) -> str:
    if base_url is not None:
        return base_url.rstrip("/")
    servers: Sequence[ServerTemplate] = operation.servers or spec.servers
    url = servers[0].resolve(variables) if servers else ""
    if not urlsplit(url).scheme:
        # OpenAPI 3.1 "Server Object": a relative URL is relative to where the document was served.
        if not urlsplit(spec.source).scheme.startswith("http"):
            raise SpecError(
                spec.source,
                "servers",
                f"no absolute server URL for {operation.method} {operation.path} ({url or 'none'});"
                " set base_url",
            )
        url = urljoin(spec.source, url or "/")
    if urlsplit(url).scheme not in ("http", "https"):
        raise SpecError(spec.source, "servers", f"server URL {url!r} is not http(s); set base_url")
    return url.rstrip("/")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port
