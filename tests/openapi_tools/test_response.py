"""HTTP responses as tool results: what a client that checks results against ``outputSchema`` gets."""

from __future__ import annotations

import pytest
from mcp_types import TextContent

from openapi_tools.response import tool_result


def _text(result: object) -> str:
    content = result.content  # type: ignore[attr-defined]
    assert isinstance(content[0], TextContent)
    return content[0].text


def test_an_object_is_structured_content_when_the_tool_declares_an_output_schema() -> None:
    result = tool_result(200, "OK", "application/json", b'{"id": 7}', url="http://api/x", structured=True)
    assert result.structured_content == {"id": 7} and not result.is_error
    assert _text(result) == '{"id": 7}'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"[1, 2]"),
        ("application/json", b""),
        ("text/plain", b"fine"),
        ("application/json", b"{oops"),
    ],
)
def test_anything_but_an_object_breaks_a_declared_output_schema(content_type: str, body: bytes) -> None:
    result = tool_result(200, "OK", content_type, body, url="http://api/x", structured=True)
    assert result.is_error and result.structured_content is None
    assert _text(result).startswith("HTTP 200 OK but not the JSON object the API's spec describes")


def test_without_an_output_schema_arrays_and_text_are_plain_results() -> None:
    array = tool_result(200, "OK", "application/json", b"[1]", url="http://api/x", structured=False)
    text = tool_result(200, "OK", "text/plain", b"fine", url="http://api/x", structured=False)
    empty = tool_result(204, "No Content", "", b"", url="http://api/x", structured=False)
    assert (array.structured_content, _text(array), array.is_error) == (None, "[1]", False)
    assert (_text(text), _text(empty)) == ("fine", "HTTP 204 No Content")
