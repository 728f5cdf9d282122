"""Tool names: sanitised to the MCP rules, truncated with a stable hash, de-duplicated in order."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from openapi_tools import load_spec_document
from openapi_tools.naming import MAX_LENGTH, ToolNamer, fallback_name, is_valid_name, sanitise_name


def test_sanitise_replaces_runs_of_invalid_characters() -> None:
    assert sanitise_name("repos/get-content") == "repos_get-content"
    assert sanitise_name("List pets (v2)!") == "List_pets_v2"
    assert sanitise_name("pets.list_all-v1") == "pets.list_all-v1"
    assert sanitise_name("???") == "operation"


def test_fallback_from_method_and_path() -> None:
    assert sanitise_name(fallback_name("GET", "/pets/{petId}")) == "get_pets_petId"
    assert sanitise_name(fallback_name("delete", "/")) == "delete"


def test_truncation_keeps_names_short_stable_and_distinct() -> None:
    long_a = "a" * 80 + "_create"
    long_b = "a" * 80 + "_delete"
    name_a, name_b = sanitise_name(long_a), sanitise_name(long_b)
    assert len(name_a) == len(name_b) == MAX_LENGTH
    assert name_a != name_b
    assert name_a == sanitise_name(long_a)  # stable across loads
    assert name_a.startswith("a" * 55 + "_")


@given(st.text(max_size=200))
def test_every_sanitised_name_is_valid(raw: str) -> None:
    assert is_valid_name(sanitise_name(raw))


def test_dedup_is_deterministic_and_respects_reservations() -> None:
    namer = ToolNamer()
    namer.reserve("list")
    assert [namer.name(raw) for raw in ("list", "list", "a/b", "a_b", "list")] == [
        "list_2",
        "list_3",
        "a_b",
        "a_b_2",
        "list_4",
    ]
    long = ToolNamer()
    first = long.name("x" * 100)
    second = long.name("x" * 100)
    assert len(second) == MAX_LENGTH and second.endswith("_2") and second != first


def spec_with(operations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": operations}


def test_duplicate_operation_ids_in_a_spec_get_suffixes_in_document_order() -> None:
    ok = {"responses": {"200": {"description": "ok"}}}
    document = spec_with(
        {
            "/a": {"get": {**ok, "operationId": "get thing"}, "post": {**ok, "operationId": "get_thing"}},
            "/b": {"get": {**ok, "operationId": "other"}},
        }
    )
    names = [op.tool_name for op in load_spec_document(document, "s.json").operations]
    assert names == ["get_thing", "get_thing_2", "other"]
    overridden = load_spec_document(
        document, "s.json", names={"other": "get_thing", "get_thing": "bad name!"}
    )
    assert [op.tool_name for op in overridden.operations] == ["get_thing_2", "bad_name", "get_thing"]
