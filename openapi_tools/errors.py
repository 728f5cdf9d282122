"""The openapi_tools exception tree.

OpenAPIToolsError       base of every error raised while turning OpenAPI specs into MCP tools
├── CallError           a tool call that cannot be made; reported as an ``isError`` result, no HTTP sent
│   ├── InvalidArguments    the arguments fail the tool's input schema or cannot be serialised
│   └── AuthError           no configured credentials satisfy the operation, or a token fetch failed
└── SpecError           a spec that cannot be loaded or converted; names the source and the location
    ├── UnsupportedVersion  the ``openapi``/``swagger`` field names no version this package reads
    └── BrokenRef           a ``$ref`` that does not resolve (missing file, bad pointer)
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BrokenRef",
    "CallError",
    "InvalidArguments",
    "OpenAPIToolsError",
    "SpecError",
    "UnsupportedVersion",
]


class OpenAPIToolsError(Exception):
    """Base of every error raised by :mod:`openapi_tools`."""


class CallError(OpenAPIToolsError):
    """A tool call that cannot be made; the toolset answers it with an ``isError`` result."""


class InvalidArguments(CallError):
    """The arguments fail the tool's input schema, or a value cannot go where the spec puts it
    (a line break in a header, say)."""


class AuthError(CallError):
    """No configured credentials satisfy the operation's ``security``, or fetching a token failed."""


class SpecError(OpenAPIToolsError):
    """A spec that cannot be loaded, or (in strict mode) an operation that cannot be converted.

    ``source`` is the file path or URL given to the loader, ``location`` where in the document the
    problem is (``paths./pets.get.parameters[0]``; empty for the document as a whole).
    """

    def __init__(self, source: str, location: str, message: str) -> None:
        super().__init__(f"{source}: {location}: {message}" if location else f"{source}: {message}")
        self.source = source
        self.location = location
        self.message = message


class UnsupportedVersion(SpecError):
    """The document's ``openapi`` or ``swagger`` field is missing or names a version not read here."""


class BrokenRef(SpecError):
    """A ``$ref`` whose target cannot be found: a missing or unreadable file, or a pointer into nothing."""
