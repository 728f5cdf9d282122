"""What a spec is turned into: one :class:`Operation` per tool, with everything needed to call it.

The loader (:mod:`openapi_tools.loader`) produces a :class:`LoadedSpec` from OpenAPI 3.0/3.1 or
Swagger 2.0; everything version-specific is normalised away here (Swagger 2 ``collectionFormat``
becomes a 3.x ``style``/``explode``, ``formData`` becomes a form body, ``nullable`` becomes a type
union), so the request builder and the toolset only ever see this one shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Body",
    "LoadedSpec",
    "Operation",
    "Parameter",
    "ParameterLocation",
    "Problem",
    "SecurityRequirement",
    "ServerTemplate",
]

ParameterLocation = Literal["path", "query", "header", "cookie"]

SecurityRequirement = Mapping[str, tuple[str, ...]]
"""One alternative of an operation's ``security``: scheme name -> scopes; all of them apply together."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """One path, query, header or cookie parameter of an operation."""

    name: str
    """The name on the wire (path template variable, query key, header or cookie name)."""
    location: ParameterLocation
    argument: str
    """The key of this parameter in the tool's arguments (differs from ``name`` when disambiguated)."""
    required: bool
    schema: Mapping[str, Any]
    """The parameter's JSON Schema (2020-12), as it appears in the tool's input schema."""
    style: str
    """OpenAPI 3 serialisation style: form, simple, label, matrix, deepObject, pipeDelimited,
    spaceDelimited (defaults applied: form for query/cookie, simple for path/header)."""
    explode: bool
    allow_reserved: bool = False
    content_type: str | None = None
    """Set when the parameter is described by ``content`` instead of ``schema`` (serialised as that media type)."""


@dataclass(frozen=True, slots=True)
class Body:
    """The request body an operation takes, in the one media type the tool sends."""

    media_type: str
    """``application/json`` (or a ``+json`` type), ``application/x-www-form-urlencoded``,
    ``multipart/form-data``, ``text/plain``, ``application/octet-stream``..."""
    required: bool
    schema: Mapping[str, Any]
    argument: str | None
    """The arguments key holding the whole body, or ``None`` when the body's object properties are
    merged into the arguments at top level (then :attr:`properties` names them)."""
    properties: Mapping[str, str] = field(default_factory=dict)
    """For a merged body: arguments key -> body property name."""
    encoding: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per-property ``encoding`` objects for form and multipart bodies."""


@dataclass(frozen=True, slots=True)
class ServerTemplate:
    """A ``servers`` entry: a URL template and its variables' defaults."""

    url: str
    variables: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, overrides: Mapping[str, str] | None = None) -> str:
        """The URL with every ``{variable}`` replaced by its override or default."""
        url = self.url
        for name, default in self.variables.items():
            url = url.replace("{" + name + "}", (overrides or {}).get(name, default))
        return url


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the spec, as one MCP tool."""

    tool_name: str
    """Sanitised to the MCP tool-name rules, unique within the spec."""
    method: str
    """Upper case: GET, POST, ..."""
    path: str
    """The path template as in the spec (``/pets/{petId}``)."""
    operation_id: str | None
    title: str | None
    description: str | None
    tags: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    body: Body | None
    input_schema: Mapping[str, Any]
    """The tool's input schema (JSON Schema 2020-12, ``type: object``), with the ``$defs`` it uses."""
    output_schema: Mapping[str, Any] | None
    """The success response's JSON schema when it is an object, else ``None``."""
    security: tuple[SecurityRequirement, ...]
    """Alternatives (any one suffices); empty = no auth. Operation-level or else the spec's global one."""
    servers: tuple[ServerTemplate, ...]
    """Operation- or path-level servers, else the spec's."""
    annotations: Mapping[str, bool] = field(default_factory=dict)
    """MCP tool annotations: ``readOnlyHint`` (GET), ``destructiveHint`` (DELETE), ``idempotentHint`` (PUT)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in the spec, at a JSON-pointer-like location (``paths./pets.get.parameters[0]``)."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True, slots=True)
class LoadedSpec:
    """A spec as tools: its operations, the schemes to authenticate them, and what was skipped."""

    source: str
    """The file path or URL it was loaded from."""
    title: str
    version: str
    """The spec's ``openapi``/``swagger`` version string (``3.1.0``, ``2.0``)."""
    servers: tuple[ServerTemplate, ...]
    security_schemes: Mapping[str, Mapping[str, Any]]
    """``components.securitySchemes`` (Swagger 2 ``securityDefinitions`` converted to the 3.x shape)."""
    operations: tuple[Operation, ...]
    problems: tuple[Problem, ...] = ()
    """Operations skipped (not fatal outside strict mode), each with where and why."""
