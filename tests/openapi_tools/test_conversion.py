"""Operations as tools: argument names and their disambiguation, bodies, output schemas, annotations,
security, and Swagger 2.0 forms - on hand-written specs and on a real FastAPI app's generated spec."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body as BodyParam
from fastapi import Cookie, FastAPI, Header, Query
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from openapi_tools import Operation, load_spec_document

OK = {"200": {"description": "ok"}}


def one(
    operation: dict[str, Any], *, path: str = "/items/{id}", method: str = "post", **extra: Any
) -> Operation:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {path: {method: {"operationId": "op", "responses": OK, **operation}}},
        **extra,
    }
    (op,) = load_spec_document(document, "spec.json", strict=True).operations
    Draft202012Validator.check_schema(op.input_schema)
    return op


def param(name: str, location: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": location, "schema": {"type": "string"}, **extra}


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


ITEM = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
}


def test_parameters_in_every_location_and_merged_body() -> None:
    op = one(
        {
            "parameters": [
                param("id", "path"),
                param("verbose", "query"),
                param("X-Trace", "header", required=True),
                param("session", "cookie"),
            ],
            "requestBody": json_body(ITEM),
        }
    )
    assert list(op.input_schema["properties"]) == ["id", "verbose", "X-Trace", "session", "name", "size"]
    assert op.input_schema["required"] == ["id", "X-Trace", "name"]
    assert [(p.name, p.location, p.argument) for p in op.parameters] == [
        ("id", "path", "id"),
        ("verbose", "query", "verbose"),
        ("X-Trace", "header", "X-Trace"),
        ("session", "cookie", "session"),
    ]
    assert op.body is not None and op.body.argument is None
    assert op.body.properties == {"name": "name", "size": "size"}


def test_same_name_in_two_locations_gets_location_prefixes() -> None:
    op = one({"parameters": [param("id", "path"), param("id", "query"), param("q", "query")]})
    assert [(p.name, p.location, p.argument) for p in op.parameters] == [
        ("id", "path", "path_id"),
        ("id", "query", "query_id"),
        ("q", "query", "q"),
    ]
    assert op.input_schema["required"] == ["path_id"]


def test_body_property_colliding_with_a_parameter_nests_the_body() -> None:
    op = one(
        {
            "parameters": [param("id", "path"), param("body", "query")],
            "requestBody": json_body(
                {**ITEM, "properties": {**ITEM["properties"], "id": {"type": "string"}}}
            ),
        }
    )
    assert list(op.input_schema["properties"]) == ["id", "query_body", "body"]
    assert op.body is not None and op.body.argument == "body" and op.body.properties == {}
    assert op.input_schema["properties"]["body"]["required"] == ["name"]
    assert op.input_schema["required"] == ["id", "body"]


def test_non_object_and_optional_bodies() -> None:
    array = one(
        {"requestBody": json_body({"type": "array", "items": {"type": "integer"}}, required=False)}, path="/x"
    )
    assert array.input_schema == {
        "type": "object",
        "properties": {"body": {"type": "array", "items": {"type": "integer"}}},
    }
    optional = one({"requestBody": json_body(ITEM, required=False)}, path="/x")
    assert "required" not in optional.input_schema  # an optional body's required fields are not required
    with_id = {**ITEM, "properties": {"id": {"type": "integer", "readOnly": True}, **ITEM["properties"]}}
    read_only = one({"requestBody": json_body(with_id)}, path="/x")
    assert list(read_only.input_schema["properties"]) == ["name", "size"]
    assert read_only.body is not None and read_only.body.properties == {"name": "name", "size": "size"}
    free = one(
        {"requestBody": json_body({"type": "object", "additionalProperties": {"type": "string"}})}, path="/x"
    )
    assert free.body is not None and free.body.argument == "body"


def test_media_type_preference_and_encoding() -> None:
    op = one(
        {
            "requestBody": {
                "content": {
                    "application/xml": {"schema": ITEM},
                    "multipart/form-data": {
                        "schema": ITEM,
                        "encoding": {"name": {"contentType": "text/plain"}},
                    },
                    "application/vnd.api+json": {"schema": ITEM},
                }
            }
        },
        path="/x",
    )
    assert op.body is not None and op.body.media_type == "application/vnd.api+json"
    form = one(
        {
            "requestBody": {
                "content": {
                    "text/plain": {"schema": {"type": "string"}},
                    "multipart/form-data": {
                        "schema": ITEM,
                        "encoding": {"name": {"contentType": "text/plain"}},
                    },
                }
            }
        },
        path="/x",
    )
    assert form.body is not None and form.body.media_type == "multipart/form-data"
    assert form.body.encoding == {"name": {"contentType": "text/plain"}}


def test_ignored_headers_and_undeclared_path_variables() -> None:
    op = one(
        {"parameters": [param("Accept", "header"), param("authorization", "header")]},
        path="/orgs/{org}/items/{id}",
        method="get",
    )
    assert [(p.name, p.location, p.required) for p in op.parameters] == [
        ("org", "path", True),
        ("id", "path", True),
    ]


def test_output_schema_from_first_success_response_when_an_object() -> None:
    responses = {
        "404": {"description": "no", "content": {"application/json": {"schema": {"type": "object"}}}},
        "201": {
            "description": "made",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
        },
        "200": {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/responses/x"}}},
        },
    }
    components = {"components": {"schemas": {"Item": ITEM}}}
    op = one({"responses": {k: v for k, v in responses.items() if k != "200"}}, path="/x", **components)
    assert op.output_schema == ITEM
    listing = one(
        {
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {"application/json": {"schema": {"type": "array", "items": ITEM}}},
                }
            }
        },
        path="/x",
    )
    assert listing.output_schema is None
    text = one(
        {"responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": ITEM}}}}}, path="/x"
    )
    assert text.output_schema is None


def test_annotations_titles_security_and_tags() -> None:
    security = {
        "security": [{"key": []}],
        "components": {"securitySchemes": {"key": {"type": "apiKey", "name": "k", "in": "header"}}},
    }
    get = one({"summary": "Read it", "tags": ["items"]}, method="get", path="/x", **security)
    assert get.annotations == {"readOnlyHint": True}
    assert (get.title, get.description, get.tags) == ("Read it", "Read it", ("items",))
    assert get.security == ({"key": ()},)
    assert one({"security": []}, method="delete", path="/x", **security).security == ()
    assert one({}, method="delete", path="/x").annotations == {"destructiveHint": True}
    assert one({}, method="put", path="/x").annotations == {"idempotentHint": True}
    assert one({}, method="post", path="/x").annotations == {}


def test_swagger_2_parameters_forms_and_security() -> None:
    document = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "host": "api.example.com",
        "basePath": "/v1",
        "schemes": ["https"],
        "consumes": ["application/json"],
        "securityDefinitions": {
            "basic": {"type": "basic"},
            "cc": {
                "type": "oauth2",
                "flow": "application",
                "tokenUrl": "https://idp/token",
                "scopes": {"r": "read"},
            },
            "code": {
                "type": "oauth2",
                "flow": "accessCode",
                "authorizationUrl": "https://idp/auth",
                "tokenUrl": "https://idp/token",
                "scopes": {},
            },
        },
        "paths": {
            "/pets": {
                "get": {
                    "operationId": "find",
                    "parameters": [
                        {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}},
                        {
                            "name": "ids",
                            "in": "query",
                            "type": "array",
                            "collectionFormat": "pipes",
                            "items": {"type": "integer"},
                        },
                        {"name": "X-Ids", "in": "header", "type": "array", "items": {"type": "integer"}},
                        {"name": "limit", "in": "query", "type": "integer", "minimum": 1, "default": 10},
                    ],
                    "responses": OK,
                },
                "post": {
                    "operationId": "upload",
                    "consumes": ["application/x-www-form-urlencoded"],
                    "parameters": [
                        {"name": "name", "in": "formData", "type": "string", "required": True},
                        {
                            "name": "nick",
                            "in": "formData",
                            "type": "array",
                            "items": {"type": "string"},
                            "collectionFormat": "multi",
                        },
                    ],
                    "responses": OK,
                },
            }
        },
    }
    loaded = load_spec_document(document, "swagger.json", strict=True)
    assert [s.url for s in loaded.servers] == ["https://api.example.com/v1"]
    assert loaded.security_schemes["basic"] == {"type": "http", "scheme": "basic"}
    assert loaded.security_schemes["cc"]["flows"] == {
        "clientCredentials": {"scopes": {"r": "read"}, "tokenUrl": "https://idp/token"}
    }
    assert set(loaded.security_schemes["code"]["flows"]) == {"authorizationCode"}
    find, upload = loaded.operations
    assert [(p.style, p.explode) for p in find.parameters] == [
        ("form", False),
        ("pipeDelimited", False),
        ("form", True),
        ("simple", False),
    ]
    assert find.input_schema["properties"]["limit"] == {"type": "integer", "minimum": 1, "default": 10}
    assert upload.body is not None and upload.body.media_type == "application/x-www-form-urlencoded"
    assert upload.body.encoding == {"nick": {"style": "form", "explode": True}}
    assert upload.input_schema["required"] == ["name"]


class Item(BaseModel):
    name: str
    price: float | None = None
    tags: list[str] = []


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.put("/items/{item_id}")
    def put_item(
        item_id: int,
        item: Item,
        q: Annotated[str | None, Query(max_length=5)] = None,
        x_token: Annotated[str | None, Header()] = None,
        session: Annotated[str | None, Cookie()] = None,
    ) -> Item:
        return item

    @app.post("/items/{name}/rename")
    def rename(name: str, new: Annotated[str, BodyParam(embed=True)]) -> dict[str, str]:
        return {"name": new}

    return app


def test_fastapi_generated_spec() -> None:
    loaded = load_spec_document(fastapi_app().openapi(), "fastapi-app", strict=True)
    put, rename = loaded.operations
    assert put.tool_name == "put_item_items__item_id__put"
    assert list(put.input_schema["properties"]) == [
        "item_id",
        "q",
        "x-token",
        "session",
        "name",
        "price",
        "tags",
    ]
    assert put.input_schema["required"] == ["item_id", "name"]
    assert put.input_schema["properties"]["price"] == {
        "anyOf": [{"type": "number"}, {"type": "null"}],
        "title": "Price",
    }
    assert put.output_schema is not None and put.output_schema["title"] == "Item"
    Draft202012Validator(put.input_schema).validate({"item_id": 1, "name": "x", "q": "abc"})
    assert not Draft202012Validator(put.input_schema).is_valid({"item_id": 1, "name": "x", "q": "abcdef"})
    # The embedded body {"new": ...} does not collide; the path "name" and body "new" sit side by side.
    assert list(rename.input_schema["properties"]) == ["name", "new"]
    assert rename.body is not None and rename.body.properties == {"new": "new"}
