"""Request building: every OpenAPI parameter style against the spec's own "Style Examples" table,
percent-encoding that keeps arguments inside the path, header injection refused, and bodies."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from openapi_tools.errors import InvalidArguments
from openapi_tools.operation import Body, Operation, Parameter
from openapi_tools.request import build_request

ARRAY = [3, 4, 5]
OBJECT = {"role": "admin", "firstName": "Alex"}


def operation(
    *parameters: Parameter, path: str = "/x", body: Body | None = None, method: str = "GET"
) -> Operation:
    return Operation(
        tool_name="op",
        method=method,
        path=path,
        operation_id="op",
        title=None,
        description=None,
        tags=(),
        parameters=parameters,
        body=body,
        input_schema={"type": "object"},
        output_schema=None,
        security=(),
        servers=(),
    )


def param(location: Any, style: str, explode: bool, name: str = "id", **extra: Any) -> Parameter:
    return Parameter(
        name=name,
        location=location,
        argument=name,
        required=True,
        schema={},
        style=style,
        explode=explode,
        **extra,
    )


# OpenAPI 3.1.0, 4.8.12.4 "Style Examples" (color = blue / ["blue","black","brown"] / R,G,B objects),
# with this file's id values: 5, [3,4,5], {role: admin, firstName: Alex}.
PATH_CASES = [
    ("simple", False, 5, "5"),
    ("simple", False, ARRAY, "3,4,5"),
    ("simple", False, OBJECT, "role,admin,firstName,Alex"),
    ("simple", True, OBJECT, "role=admin,firstName=Alex"),
    ("label", False, 5, ".5"),
    ("label", False, ARRAY, ".3,4,5"),
    ("label", True, ARRAY, ".3.4.5"),
    ("label", False, OBJECT, ".role,admin,firstName,Alex"),
    ("label", True, OBJECT, ".role=admin.firstName=Alex"),
    ("matrix", False, 5, ";id=5"),
    ("matrix", False, ARRAY, ";id=3,4,5"),
    ("matrix", True, ARRAY, ";id=3;id=4;id=5"),
    ("matrix", False, OBJECT, ";id=role,admin,firstName,Alex"),
    ("matrix", True, OBJECT, ";role=admin;firstName=Alex"),
]


@pytest.mark.parametrize(("style", "explode", "value", "expected"), PATH_CASES)
def test_path_styles(style: str, explode: bool, value: Any, expected: str) -> None:
    request = build_request(
        operation(param("path", style, explode), path="/users/{id}"), {"id": value}, "http://h"
    )
    assert request.url == f"http://h/users/{expected}"


QUERY_CASES = [
    ("form", True, 5, "id=5"),
    ("form", True, ARRAY, "id=3&id=4&id=5"),
    ("form", False, ARRAY, "id=3,4,5"),
    ("form", True, OBJECT, "role=admin&firstName=Alex"),
    ("form", False, OBJECT, "id=role,admin,firstName,Alex"),
    ("spaceDelimited", False, ARRAY, "id=3%204%205"),
    ("pipeDelimited", False, ARRAY, "id=3%7C4%7C5"),
    ("pipeDelimited", True, ARRAY, "id=3&id=4&id=5"),
    ("deepObject", True, OBJECT, "id[role]=admin&id[firstName]=Alex"),
    ("form", True, True, "id=true"),
]


@pytest.mark.parametrize(("style", "explode", "value", "expected"), QUERY_CASES)
def test_query_styles(style: str, explode: bool, value: Any, expected: str) -> None:
    request = build_request(operation(param("query", style, explode)), {"id": value}, "http://h/api/")
    assert request.url == f"http://h/api/x?{expected}"


def test_query_values_are_percent_encoded_unless_reserved_characters_are_allowed() -> None:
    plain = build_request(operation(param("query", "form", True, name="q")), {"q": "a b&c=d/é"}, "http://h")
    reserved = build_request(
        operation(param("query", "form", True, name="q", allow_reserved=True)), {"q": "a/b?c"}, "http://h"
    )
    assert plain.url == "http://h/x?q=a%20b%26c%3Dd%2F%C3%A9"
    assert reserved.url == "http://h/x?q=a/b?c"


@pytest.mark.parametrize(
    ("value", "expected"), [("../../admin", "..%2F..%2Fadmin"), ("..", "%2E%2E"), ("a?b#c", "a%3Fb%23c")]
)
def test_path_values_cannot_leave_their_segment(value: str, expected: str) -> None:
    request = build_request(
        operation(param("path", "simple", False), path="/files/{id}/raw"), {"id": value}, "http://h"
    )
    assert request.url == f"http://h/files/{expected}/raw"


def test_headers_and_cookies() -> None:
    op = operation(
        param("header", "simple", False, name="X-Ids"),
        param("header", "simple", True, name="X-Obj"),
        param("cookie", "form", True, name="session"),
        param("cookie", "form", False, name="ids"),
    )
    request = build_request(op, {"X-Ids": ARRAY, "X-Obj": OBJECT, "session": "s1", "ids": ARRAY}, "http://h")
    assert request.all_headers() == [
        ("X-Ids", "3,4,5"),
        ("X-Obj", "role=admin,firstName=Alex"),
        ("Cookie", "session=s1; ids=3,4,5"),
    ]


@pytest.mark.parametrize(
    ("location", "value"),
    [
        ("header", "v\r\nX-Admin: 1"),
        ("header", "v\nx"),
        ("header", "caf\u00e9"),
        ("cookie", "v\r\nSet-Cookie: x"),
        ("cookie", "a; admin=1"),
    ],
)
def test_header_injection_is_refused(location: Any, value: str) -> None:
    with pytest.raises(InvalidArguments):
        build_request(
            operation(param(location, "simple" if location == "header" else "form", False)),
            {"id": value},
            "http://h",
        )


def test_null_optional_parameters_are_not_sent() -> None:
    request = build_request(operation(param("query", "form", True)), {"id": None}, "http://h")
    assert request.url == "http://h/x"


def test_content_parameters_are_json() -> None:
    p = param("query", "form", True, name="filter", content_type="application/json")
    request = build_request(operation(p), {"filter": {"a": [1]}}, "http://h")
    assert request.url == "http://h/x?filter=%7B%22a%22%3A%5B1%5D%7D"


def body(media_type: str, schema: dict[str, Any], **extra: Any) -> Body:
    return Body(
        media_type=media_type, required=True, schema=schema, argument=extra.pop("argument", None), **extra
    )


def test_json_body_from_merged_properties() -> None:
    b = body("application/json", {"type": "object"}, properties={"name": "name", "body_id": "id"})
    request = build_request(
        operation(body=b, method="POST"), {"name": "n", "body_id": 2, "other": 1}, "http://h"
    )
    assert request.content == b'{"name":"n","id":2}'
    assert ("Content-Type", "application/json") in request.headers


def test_form_body() -> None:
    b = body("application/x-www-form-urlencoded", {}, argument="body")
    request = build_request(
        operation(body=b, method="POST"),
        {"body": {"a": "x y", "n": [1, 2], "o": {"k": 1}, "t": True}},
        "http://h",
    )
    assert request.content == b"a=x%20y&n=1&n=2&o=%7B%22k%22%3A1%7D&t=true"


def test_multipart_body_with_base64_and_text_files() -> None:
    schema = {
        "type": "object",
        "properties": {
            "image": {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png"},
            "notes": {"type": "string", "format": "binary"},
            "meta": {"type": "object"},
            "title": {"type": "string"},
        },
    }
    b = body("multipart/form-data", schema, argument="body")
    args = {
        "body": {
            "image": base64.b64encode(b"\x00\x01").decode(),
            "notes": "hello",
            "meta": {"a": 1},
            "title": "t",
        }
    }
    request = build_request(operation(body=b, method="POST"), args, "http://h")
    content_type = dict(request.headers)["Content-Type"]
    boundary = content_type.split("boundary=")[1]
    assert request.content is not None
    parts = request.content.split(f"--{boundary}".encode())
    assert b'name="image"; filename="image"\r\nContent-Type: image/png\r\n\r\n\x00\x01\r\n' in parts[1]
    assert b"Content-Type: application/octet-stream\r\n\r\nhello\r\n" in parts[2]
    assert b'Content-Type: application/json\r\n\r\n{"a":1}' in parts[3]
    assert b"\r\n\r\nt\r\n" in parts[4]
    assert parts[-1] == b"--\r\n"


def test_binary_body_from_a_data_url_and_bad_base64() -> None:
    b = body("application/octet-stream", {"type": "string", "format": "binary"}, argument="body")
    request = build_request(
        operation(body=b, method="PUT"), {"body": "data:image/png;base64,AAE="}, "http://h"
    )
    assert request.content == b"\x00\x01"
    encoded = body(
        "application/octet-stream", {"type": "string", "contentEncoding": "base64"}, argument="body"
    )
    with pytest.raises(InvalidArguments, match="base64"):
        build_request(operation(body=encoded, method="PUT"), {"body": "not base64!"}, "http://h")


def test_text_body() -> None:
    b = body("text/plain", {"type": "string"}, argument="body")
    request = build_request(operation(body=b, method="POST"), {"body": "hi"}, "http://h")
    assert request.content == b"hi"
