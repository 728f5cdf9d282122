"""OpenAPI 3.x and Swagger 2.0 specs as MCP tools.

Independent of :mod:`agentgw` and :mod:`federation`. :func:`load_spec` turns a spec into a
:class:`LoadedSpec`, one :class:`Operation` per tool; :class:`OpenAPIToolset` serves those tools
and makes their HTTP calls.
"""

from openapi_tools.auth import Credentials
from openapi_tools.errors import (
    AuthError,
    BrokenRef,
    CallError,
    InvalidArguments,
    OpenAPIToolsError,
    SpecError,
    UnsupportedVersion,
)
from openapi_tools.filters import OperationFilter
from openapi_tools.loader import load_spec, load_spec_document
from openapi_tools.operation import Body, LoadedSpec, Operation, Parameter, Problem, ServerTemplate
from openapi_tools.toolset import OpenAPIToolset, Timeouts

__all__ = [
    "AuthError",
    "Body",
    "BrokenRef",
    "CallError",
    "Credentials",
    "InvalidArguments",
    "LoadedSpec",
    "OpenAPIToolset",
    "OpenAPIToolsError",
    "Operation",
    "OperationFilter",
    "Parameter",
    "Problem",
    "ServerTemplate",
    "SpecError",
    "Timeouts",
    "UnsupportedVersion",
    "load_spec",
    "load_spec_document",
]
