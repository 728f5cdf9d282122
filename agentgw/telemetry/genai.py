"""OpenTelemetry GenAI semantic-convention names, and the request and content attributes of LLM calls.

Names as published in the OpenTelemetry GenAI conventions (``gen-ai-spans.md``,
``gen-ai-metrics.md``, registry ``gen-ai.md``; all of them in *Development* status, as are the MCP
and A2A ones). ``tests/agentgw/telemetry/test_names.py`` checks them against the installed
``opentelemetry-semantic-conventions`` package.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from opentelemetry.util.types import AttributeValue

__all__ = [
    "PARAMETER_FIELDS",
    "ParameterValues",
    "parameter_values",
    "provider_name",
    "request_parameters",
]

OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_STREAM = "gen_ai.request.stream"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
TOOL_NAME = "gen_ai.tool.name"
PROMPT_NAME = "gen_ai.prompt.name"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
HTTP_ROUTE = "http.route"
HTTP_STATUS = "http.response.status_code"
MCP_METHOD_NAME = "mcp.method.name"
MCP_SESSION_ID = "mcp.session.id"
MCP_PROTOCOL_VERSION = "mcp.protocol.version"
A2A_METHOD_NAME = "a2a.method.name"
A2A_TASK_ID = "a2a.task.id"
A2A_TASK_STATE = "a2a.task.state"
# The gateway's own, outside the conventions' namespaces.
BACKEND = "agentgw.backend"
PROTOCOL = "agentgw.protocol"
TEAM = "agentgw.team"

# Config `provider:` -> the conventions' well-known `gen_ai.provider.name` where one exists; any other
# (vllm, ollama, openrouter, ...) is reported as configured, as the conventions allow.
_PROVIDER_NAMES = {
    "azure_openai": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "vertex_ai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
}


def provider_name(provider: str) -> str:
    """``gen_ai.provider.name`` for a backend's configured ``provider``."""
    return _PROVIDER_NAMES.get(provider, provider)


# OpenAI request field -> (attribute, accepted types).
_REQUEST_PARAMETERS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "temperature": ("gen_ai.request.temperature", (int, float)),
    "top_p": ("gen_ai.request.top_p", (int, float)),
    "top_k": ("gen_ai.request.top_k", (int, float)),
    "max_tokens": ("gen_ai.request.max_tokens", int),
    "max_completion_tokens": ("gen_ai.request.max_tokens", int),
    "frequency_penalty": ("gen_ai.request.frequency_penalty", (int, float)),
    "presence_penalty": ("gen_ai.request.presence_penalty", (int, float)),
    "seed": ("gen_ai.request.seed", int),
    "dimensions": ("gen_ai.embeddings.dimension.count", int),
    "n": ("gen_ai.request.choice.count", int),
    "stop": ("gen_ai.request.stop_sequences", (str, list)),
    "encoding_format": ("gen_ai.request.encoding_formats", str),
}


PARAMETER_FIELDS = tuple(_REQUEST_PARAMETERS)
"""The request-body fields :func:`parameter_values` looks for."""
_PARAMETER_FIELDS = frozenset(_REQUEST_PARAMETERS)
# A set of fields a body sets -> those fields in one order, and the getter of their values.
_GETTERS: dict[frozenset[str], tuple[tuple[str, ...], itemgetter[Any]]] = {}

ParameterValues = tuple[tuple[str, ...], Any]
"""The request-parameter fields a body sets, and their values as the body has them (a single value
when there is one field, else a tuple): see :func:`parameter_values`."""


def parameter_values(request: Mapping[str, Any]) -> ParameterValues | None:
    """The request-parameter fields ``request`` sets, with their values unchecked (request path).

    The body's keys are intersected with the table's in one set operation (most bodies set one or
    two of the dozen parameters), and the values taken by one cached ``itemgetter``; checking and
    converting them is left to :func:`request_parameters`, at export time.
    """
    fields = _PARAMETER_FIELDS.intersection(request)
    if not fields:
        return None
    found = _GETTERS.get(fields)
    if found is None:  # at most one per subset of the table's dozen fields
        names = tuple(fields)
        found = _GETTERS[fields] = (names, itemgetter(*names))
    return found[0], found[1](request)


def request_parameters(values: ParameterValues) -> tuple[tuple[str, AttributeValue], ...] | None:
    """The ``gen_ai.request.*`` attributes of a body's :func:`parameter_values`, as (name, value) pairs."""
    fields, field_values = values
    found: list[tuple[str, AttributeValue]] = []
    for field, value in zip(fields, (field_values,) if len(fields) == 1 else field_values, strict=True):
        name, types = _REQUEST_PARAMETERS[field]
        if not isinstance(value, types) or isinstance(value, bool):
            continue
        if isinstance(value, str):  # stop, encoding_format: arrays in the conventions
            found.append((name, (value,)))
        elif isinstance(value, list):
            if all(isinstance(s, str) for s in value):
                found.append((name, tuple(value)))
        elif isinstance(value, int | float) and (field != "n" or value != 1):
            found.append((name, value))
    return tuple(found) if found else None
