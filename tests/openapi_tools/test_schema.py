"""Schema conversion to JSON Schema 2020-12: OpenAPI 3.0 and Swagger 2.0 dialect differences,
references as ``$defs``, and cycles."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from openapi_tools import load_spec_document


def body_schema(
    schema: dict[str, Any], *, version: str = "3.0.3", components: dict[str, Any] | None = None
) -> Any:
    """The input schema of a one-operation spec whose JSON body is ``{"value": schema}``."""
    document = {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "post": {
                    "operationId": "op",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"value": schema}}
                            }
                        }
                    },
                    "responses": {"204": {"description": "none"}},
                }
            }
        },
        "components": {"schemas": components or {}},
    }
    spec = load_spec_document(document, "inline.json", strict=True)
    (op,) = spec.operations
    Draft202012Validator.check_schema(op.input_schema)
    return op.input_schema


def value(schema: dict[str, Any], **kwargs: Any) -> Any:
    return body_schema(schema, **kwargs)["properties"]["value"]


def test_nullable_widens_type_and_enum() -> None:
    assert value({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert value({"type": "string", "enum": ["a", "b"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", "b", None],
    }
    assert value({"type": "integer", "nullable": False}) == {"type": "integer"}


def test_nullable_composition_becomes_any_of_null() -> None:
    converted = value(
        {"allOf": [{"$ref": "#/components/schemas/Pet"}], "nullable": True, "description": "maybe a pet"},
        components={"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}},
    )
    assert converted == {
        "description": "maybe a pet",
        "anyOf": [{"allOf": [{"$ref": "#/$defs/Pet"}]}, {"type": "null"}],
    }


def test_nullable_is_not_a_3_1_keyword() -> None:
    assert value({"type": ["string", "null"]}, version="3.1.0") == {"type": ["string", "null"]}


def test_boolean_exclusive_bounds_become_numeric() -> None:
    assert value(
        {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 10, "exclusiveMaximum": False}
    ) == {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 10,
    }
    schema = body_schema({"type": "number", "minimum": 0, "exclusiveMinimum": True})
    assert not Draft202012Validator(schema).is_valid({"value": 0})
    assert Draft202012Validator(schema).is_valid({"value": 0.5})


def test_example_extensions_and_metadata() -> None:
    converted = value(
        {
            "type": "string",
            "format": "date",
            "example": "2024-01-01",
            "x-internal": True,
            "xml": {"name": "d"},
            "default": "2024-01-02",
            "enum": ["2024-01-01", "2024-01-02"],
        }
    )
    assert converted == {
        "type": "string",
        "format": "date",
        "examples": ["2024-01-01"],
        "default": "2024-01-02",
        "enum": ["2024-01-01", "2024-01-02"],
    }


def test_invalid_keywords_are_dropped_not_propagated() -> None:
    # ``required: true`` on a property (a common Swagger-era mistake) would fail the metaschema.
    assert value({"type": "string", "required": True}) == {"type": "string"}


def test_composition_and_discriminator_are_kept() -> None:
    converted = value(
        {
            "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
            "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat"}},
        },
        components={
            "Cat": {"type": "object", "properties": {"kind": {"type": "string"}}},
            "Dog": {"allOf": [{"$ref": "#/components/schemas/Cat"}, {"type": "object"}]},
        },
    )
    assert converted["oneOf"] == [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]
    assert converted["discriminator"]["propertyName"] == "kind"


def test_only_reached_components_go_into_defs() -> None:
    schema = body_schema(
        {"$ref": "#/components/schemas/A"},
        components={
            "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"type": "array", "items": {"$ref": "#/components/schemas/A"}},
            "Unused": {"type": "string"},
        },
    )
    assert set(schema["$defs"]) == {"A", "B"}
    assert schema["$defs"]["B"]["items"] == {"$ref": "#/$defs/A"}


def test_3_1_ref_siblings_are_kept_3_0_ignored() -> None:
    components = {"Name": {"type": "string"}}
    sibling = {"$ref": "#/components/schemas/Name", "description": "the pet's name", "maxLength": 5}
    assert value(sibling, version="3.1.0", components=components) == {
        "$ref": "#/$defs/Name",
        "description": "the pet's name",
        "maxLength": 5,
    }
    assert value(sibling, version="3.0.3", components=components) == {"$ref": "#/$defs/Name"}


def test_swagger_2_schema_dialect() -> None:
    document = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/pets": {
                "post": {
                    "operationId": "add",
                    "parameters": [{"in": "body", "name": "pet", "schema": {"$ref": "#/definitions/Pet"}}],
                    "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"}}},
                }
            }
        },
        "definitions": {
            "Pet": {
                "type": "object",
                "discriminator": "kind",
                "required": ["kind"],
                "properties": {
                    "kind": {"type": "string"},
                    "age": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "x-nullable": True},
                },
            }
        },
    }
    (op,) = load_spec_document(document, "swagger.json", strict=True).operations
    assert op.input_schema["properties"]["age"] == {"type": ["integer", "null"], "exclusiveMinimum": 0}
    assert op.output_schema is not None and op.output_schema["discriminator"] == {"propertyName": "kind"}


@pytest.mark.parametrize("depth", [1, 50])
def test_long_reference_chains_and_cycles_terminate(depth: int) -> None:
    components = {f"S{i}": {"$ref": f"#/components/schemas/S{i + 1}"} for i in range(depth)}
    components[f"S{depth}"] = {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/S0"}}}
    schema = body_schema({"$ref": "#/components/schemas/S0"}, components=components)
    assert len(schema["$defs"]) == depth + 1
    assert Draft202012Validator(schema).is_valid({"value": {"next": {"next": {}}}})
    assert not Draft202012Validator(schema).is_valid({"value": {"next": {"next": 3}}})


_leaf = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", "boolean", "file", "nonsense"])},
    optional={
        "nullable": st.booleans(),
        "x-nullable": st.booleans(),
        "minimum": st.integers(-5, 5),
        "exclusiveMinimum": st.booleans(),
        "maximum": st.integers(6, 9),
        "exclusiveMaximum": st.booleans(),
        "example": st.integers(),
        "enum": st.lists(st.integers(), max_size=3),
        "required": st.booleans(),
        "x-extension": st.text(max_size=3),
    },
)
_schemas = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.just("object"),
                "properties": st.dictionaries(st.text(max_size=4), inner, max_size=3),
            },
            optional={"nullable": st.booleans(), "required": st.lists(st.text(max_size=4), max_size=2)},
        ),
        st.fixed_dictionaries(
            {"type": st.just("array"), "items": inner}, optional={"nullable": st.booleans()}
        ),
        st.fixed_dictionaries(
            {"oneOf": st.lists(inner, min_size=1, max_size=3)}, optional={"nullable": st.booleans()}
        ),
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(schema=_schemas, dialect=st.sampled_from(["3.0.3", "swagger"]))
def test_any_legacy_schema_converts_to_valid_2020_12(schema: dict[str, Any], dialect: str) -> None:
    if dialect == "swagger":
        document: dict[str, Any] = {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/x": {
                    "post": {"parameters": [{"in": "body", "name": "b", "schema": schema}], "responses": {}}
                }
            },
        }
        (op,) = load_spec_document(document, "s.json", strict=True).operations
        converted = op.input_schema
    else:
        converted = body_schema(schema)
    Draft202012Validator.check_schema(converted)
    text = json.dumps(converted)
    assert '"nullable"' not in text and "x-extension" not in text and '"example"' not in text
