"""An MCP server (``mcp`` SDK ``MCPServer``) with the fixture tools, resources and prompts that the
MCP conformance suite (``@modelcontextprotocol/conformance`` 0.1.16, ``server`` scenarios) calls.

Questions to the client (elicitation, sampling) are declared as dependencies, so they are requests on
the client's stream at 2025-11-25 and ``input_required`` at 2026-07-28: the fixture works behind
the gateway whichever era the gateway speaks to it.

Run ``python -m tests.support.conformance_fixture --port N``: Streamable HTTP at ``/mcp``.
"""

from __future__ import annotations

import argparse
import base64
import json
from typing import Annotated

import uvicorn
from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve, Sample, UserMessage
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import (
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    CreateMessageResult,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    LoggingMessageNotification,
    LoggingMessageNotificationParams,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel, Field

# A 1x1 PNG and a tiny WAV, as the suite's fixture specification uses.
IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
AUDIO = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

mcp = MCPServer(name="agentgw-conformance-fixture", version="1.0.0")


# -- tools -----------------------------------------------------------------------------------


@mcp.tool()
def test_simple_text() -> str:
    """Tests simple text content response"""
    return "This is a simple text response for testing."


@mcp.tool()
def test_image_content() -> list[ImageContent]:
    """Tests image content response"""
    return [ImageContent(type="image", data=IMAGE, mime_type="image/png")]


@mcp.tool()
def test_audio_content() -> list[AudioContent]:
    """Tests audio content response"""
    return [AudioContent(type="audio", data=AUDIO, mime_type="audio/wav")]


def _embedded(uri: str, mime: str, text: str) -> EmbeddedResource:
    return EmbeddedResource(
        type="resource", resource=TextResourceContents(uri=uri, mime_type=mime, text=text)
    )


@mcp.tool()
def test_embedded_resource() -> list[EmbeddedResource]:
    """Tests embedded resource content response"""
    return [_embedded("test://embedded-resource", "text/plain", "This is an embedded resource content.")]


@mcp.tool()
def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
    """Tests response with multiple content types (text, image, resource)"""
    return [
        TextContent(type="text", text="Multiple content types test:"),
        ImageContent(type="image", data=IMAGE, mime_type="image/png"),
        _embedded("test://mixed-content-resource", "application/json", '{"test": "data", "value": 123}'),
    ]


@mcp.tool()
async def test_tool_with_logging(ctx: Context) -> str:
    """Tests tool that emits log messages during execution"""
    request = ctx.request_context
    for text in ("Tool execution started", "Tool processing data", "Tool execution completed"):
        params = LoggingMessageNotificationParams(level="info", data=text)
        await request.session.send_notification(
            LoggingMessageNotification(params=params), related_request_id=request.request_id
        )
    return "Tool with logging executed successfully"


@mcp.tool()
async def test_tool_with_progress(ctx: Context) -> str:
    """Tests tool that reports progress notifications"""
    for step in (0, 50, 100):
        await ctx.report_progress(progress=step, total=100, message=f"Completed step {step} of 100")
    meta = ctx.request_context.meta
    return str(meta.get("progress_token", 0) if meta else 0)


def _sampling_request(prompt: str) -> Sample:
    return Sample(
        [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=100
    )


@mcp.tool()
async def test_sampling(
    prompt: str, completion: Annotated[CreateMessageResult, Resolve(_sampling_request)]
) -> str:
    """Tests server-initiated sampling (LLM completion request)"""
    content = completion.content
    return f"LLM response: {content.text if isinstance(content, TextContent) else 'No response'}"


class UserResponse(BaseModel):
    response: str = Field(description="User's response")


def _ask(message: str) -> Elicit[UserResponse]:
    return Elicit(message, UserResponse)


@mcp.tool()
async def test_elicitation(message: str, answer: Annotated[UserResponse, Resolve(_ask)]) -> str:
    """Tests server-initiated elicitation (user input request)"""
    return f"User response: action=accept, content={answer.model_dump_json()}"


class Defaults(BaseModel):
    """SEP-1034: a default for every primitive type."""

    name: str = Field(default="John Doe", description="User name")
    age: int = Field(default=30, description="User age")
    score: float = Field(default=95.5, description="User score")
    status: str = Field(
        default="active",
        description="User status",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    verified: bool = Field(default=True, description="Verification status")


def _ask_defaults() -> Elicit[Defaults]:
    return Elicit("Please provide user information", Defaults)


@mcp.tool()
async def test_elicitation_sep1034_defaults(answer: Annotated[Defaults, Resolve(_ask_defaults)]) -> str:
    """Tests elicitation with default values for all primitive types (SEP-1034)"""
    return f"Elicitation result: action=accept, content={answer.model_dump_json()}"


def _choices(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"const": value, "title": title} for value, title in pairs]


class Enums(BaseModel):
    """SEP-1330: the enum schema variations."""

    untitledSingle: str = Field(
        description="Simple enum without titles",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    titledSingle: str = Field(
        description="Enum with titled options (oneOf)",
        json_schema_extra={
            "oneOf": _choices(
                ("low", "Low Priority"), ("medium", "Medium Priority"), ("high", "High Priority")
            )
        },
    )
    untitledMulti: list[str] = Field(
        description="Multi-select without titles",
        json_schema_extra={"items": {"type": "string", "enum": ["read", "write", "execute"]}},
    )
    titledMulti: list[str] = Field(
        description="Multi-select with titled options",
        json_schema_extra={
            "items": {
                "anyOf": _choices(("feature", "New Feature"), ("bug", "Bug Fix"), ("docs", "Documentation"))
            }
        },
    )
    legacyEnum: str = Field(
        description="Legacy enum with enumNames",
        json_schema_extra={
            "enum": ["small", "medium", "large"],
            "enumNames": ["Small Size", "Medium Size", "Large Size"],
        },
    )


def _ask_enums() -> Elicit[Enums]:
    return Elicit("Please select values using different enum schema types", Enums)


@mcp.tool()
async def test_elicitation_sep1330_enums(answer: Annotated[Enums, Resolve(_ask_enums)]) -> str:
    """Tests elicitation with enum schema variations per SEP-1330"""
    return f"Elicitation completed: action=accept, content={answer.model_dump_json()}"


@mcp.tool()
def test_error_handling() -> str:
    """Tests error response handling"""
    raise ToolError("This tool intentionally returns an error for testing")


# -- resources -------------------------------------------------------------------------------


@mcp.resource("test://static-text")
def static_text_resource() -> str:
    """A static text resource for testing"""
    return "This is the content of the static text resource."


@mcp.resource("test://static-binary")
def static_binary_resource() -> bytes:
    """A static binary resource (image) for testing"""
    return base64.b64decode(IMAGE)


@mcp.resource("test://template/{id}/data")
def template_resource(id: str) -> str:
    """A resource template with parameter substitution"""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@mcp.resource("test://watched-resource")
def watched_resource() -> str:
    """A resource that can be subscribed to for updates"""
    return "Watched resource content"


# -- prompts ---------------------------------------------------------------------------------


def _user(content: TextContent | ImageContent | EmbeddedResource) -> UserMessage:
    return UserMessage(role="user", content=content)


@mcp.prompt()
def test_simple_prompt() -> list[UserMessage]:
    """A simple prompt without arguments"""
    return [_user(TextContent(type="text", text="This is a simple prompt for testing."))]


@mcp.prompt()
def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
    """A prompt with required arguments"""
    return [_user(TextContent(type="text", text=f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"))]


@mcp.prompt()
def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
    """A prompt that includes an embedded resource"""
    return [
        _user(_embedded(resourceUri, "text/plain", "Embedded resource content for testing.")),
        _user(TextContent(type="text", text="Please process the embedded resource above.")),
    ]


@mcp.prompt()
def test_prompt_with_image() -> list[UserMessage]:
    """A prompt that includes image content"""
    return [
        _user(ImageContent(type="image", data=IMAGE, mime_type="image/png")),
        _user(TextContent(type="text", text="Please analyze the image above.")),
    ]


@mcp.completion()
async def complete(
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion:
    return Completion(values=[], total=0, has_more=False)


# -- 2025-era methods MCPServer has no public API for (the SDK's own conformance server does the same)


async def _accept(
    ctx: ServerRequestContext, params: SetLevelRequestParams | SubscribeRequestParams
) -> EmptyResult:
    return EmptyResult()


_lowlevel = mcp._lowlevel_server
_lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, _accept)
_lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, _accept)
_lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, _accept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = mcp.streamable_http_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
