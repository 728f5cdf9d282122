"""OpenTelemetry GenAI semantic-convention names, and the request and content attributes of LLM calls.

Names as published in the OpenTelemetry GenAI conventions (``gen-ai-spans.md``,
``gen-ai-metrics.md``, registry ``gen-ai.md``; all of them in *Development* status, as are the MCP
and A2A ones). ``tests/agentgw/telemetry/test_names.py`` checks them against the installed
``opentelemetry-semantic-conventions`` package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from opentelemetry.util.types import AttributeValue

__all__ = ["input_messages", "output_messages", "provider_name", "request_parameters"]

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


_PARAMETER_FIELDS = frozenset(_REQUEST_PARAMETERS)


def request_parameters(request: Mapping[str, Any]) -> tuple[tuple[str, AttributeValue], ...] | None:
    """The ``gen_ai.request.*`` attributes of a request body, as (name, value) pairs.

    The body's keys are intersected with the table's in one set operation: most bodies set one or
    two of the dozen parameters. Their order follows the set's, which attributes do not depend on.
    """
    found: list[tuple[str, AttributeValue]] = []
    for field in _PARAMETER_FIELDS.intersection(request):
        value = request[field]
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


def input_messages(request: Mapping[str, Any]) -> str | None:
    """``gen_ai.input.messages`` (JSON, the conventions' parts form) from a chat request body."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        return None
    converted = [
        {"role": m.get("role"), "parts": _parts(m.get("content"))} for m in messages if isinstance(m, dict)
    ]
    return orjson.dumps(converted).decode()


def output_messages(response: Mapping[str, Any]) -> str | None:
    """``gen_ai.output.messages`` (JSON) from a non-streamed chat completion."""
    choices = response.get("choices")
    if not isinstance(choices, list):
        return None
    converted = []
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            continue
        message = choice["message"]
        converted.append(
            {
                "role": message.get("role", "assistant"),
                "parts": _parts(message.get("content")),
                "finish_reason": choice.get("finish_reason"),
            }
        )
    return orjson.dumps(converted).decode()


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list):
        parts: list[dict[str, Any]] = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append({"type": "text", "content": part.get("text")})
            elif isinstance(part, dict):
                parts.append({"type": str(part.get("type"))})
        return parts
    return []
