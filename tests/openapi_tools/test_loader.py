"""Loading specs: files and URLs, JSON and YAML, external ``$ref``, and every way a spec can be bad."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

from openapi_tools import (
    BrokenRef,
    OperationFilter,
    SpecError,
    UnsupportedVersion,
    load_spec,
    load_spec_document,
)
from tests.support.servers import serve_app

PET = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


def spec(paths: dict[str, Any], *, version: str = "3.0.3", **extra: Any) -> dict[str, Any]:
    return {"openapi": version, "info": {"title": "Test API", "version": "1"}, "paths": paths, **extra}


def get(operation_id: str, **extra: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "responses": {"200": {"description": "ok"}}, **extra}


def write(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document) if path.suffix == ".json" else _yaml(document))
    return path


def _yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False)


def split_spec(tmp_path: Path) -> Path:
    """A YAML spec whose body, parameter and response live in other files, one in a subfolder that
    refers back up (``../``) to a schema that is recursive."""
    write(
        tmp_path / "schemas" / "pet.yaml",
        {
            "Pet": {
                **PET,
                "properties": {"name": {"type": "string"}, "owner": {"$ref": "../common.json#/Owner"}},
            }
        },
    )
    write(
        tmp_path / "common.json",
        {
            "Owner": {
                "type": "object",
                "properties": {"pets": {"type": "array", "items": {"$ref": "schemas/pet.yaml#/Pet"}}},
            },
            "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
        },
    )
    document = spec(
        {
            "/pets": {
                "post": {
                    "operationId": "addPet",
                    "parameters": [{"$ref": "common.json#/Limit"}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "schemas/pet.yaml#/Pet"}}},
                    },
                    "responses": {
                        "201": {
                            "description": "made",
                            "content": {"application/json": {"schema": {"$ref": "schemas/pet.yaml#/Pet"}}},
                        }
                    },
                }
            }
        }
    )
    return write(tmp_path / "api.yaml", document)


def test_external_refs_in_files(tmp_path: Path) -> None:
    loaded = load_spec(str(split_spec(tmp_path)), strict=True)
    (op,) = loaded.operations
    assert op.input_schema["properties"]["limit"] == {"type": "integer", "maximum": 100}
    assert op.input_schema["properties"]["owner"] == {"$ref": "#/$defs/Owner"}
    assert op.input_schema["required"] == ["name"]
    assert set(op.input_schema["$defs"]) == {"Owner", "Pet"}
    assert op.input_schema["$defs"]["Owner"]["properties"]["pets"]["items"] == {"$ref": "#/$defs/Pet"}
    assert op.output_schema is not None and set(op.output_schema["$defs"]) == {"Owner", "Pet"}


def test_spec_and_external_refs_over_http(tmp_path: Path) -> None:
    split_spec(tmp_path)
    app = Starlette()
    app.mount("/specs", StaticFiles(directory=tmp_path))
    with serve_app(app) as url:
        loaded = load_spec(f"{url}/specs/api.yaml", strict=True)
        with pytest.raises(SpecError, match="cannot read the spec: .*404"):
            load_spec(f"{url}/specs/missing.yaml")
    (op,) = loaded.operations
    assert set(op.input_schema["$defs"]) == {"Owner", "Pet"}
    # A spec without servers is served from where it was loaded (OpenAPI 3 default server "/").
    assert loaded.servers[0].url == "/"
    assert loaded.title == "Test API"


def test_relative_servers_resolve_against_the_spec_url() -> None:
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return json.dumps(spec({"/a": {"get": get("a")}}, servers=[{"url": "/v2"}])).encode()

    loaded = load_spec("https://api.example.com/docs/openapi.json", fetch=fetch)
    assert fetched == ["https://api.example.com/docs/openapi.json"]
    assert loaded.servers[0].url == "https://api.example.com/v2"


def test_server_variables_and_path_level_servers() -> None:
    document = spec(
        {
            "/a": {"servers": [{"url": "https://eu.example.com"}], "get": get("a")},
            "/b": {"get": get("b", servers=[{"url": "https://b.example.com"}])},
            "/c": {"get": get("c")},
        },
        servers=[
            {
                "url": "https://{region}.example.com/{base}",
                "variables": {"region": {"default": "us"}, "base": {"default": "v1"}},
            }
        ],
    )
    loaded = load_spec_document(document, "mem.json")
    a, b, c = loaded.operations
    assert a.servers[0].url == "https://eu.example.com"
    assert b.servers[0].url == "https://b.example.com"
    assert c.servers[0].resolve() == "https://us.example.com/v1"
    assert c.servers[0].resolve({"region": "ap"}) == "https://ap.example.com/v1"


def test_yaml_timestamps_and_integer_status_codes_stay_json(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        "openapi: 3.0.3\ninfo: {title: t, version: 2024-01-01}\npaths:\n  /a:\n    get:\n      operationId: a\n"
        "      parameters:\n        - {name: since, in: query, schema: {type: string, format: date, default: 2024-01-01}}\n"
        "      responses:\n        200:\n          description: ok\n          content:\n            application/json:\n"
        "              schema: {type: object, properties: {n: {type: integer}}}\n"
    )
    (op,) = load_spec(str(path), strict=True).operations
    assert op.input_schema["properties"]["since"]["default"] == "2024-01-01"
    assert op.output_schema == {"type": "object", "properties": {"n": {"type": "integer"}}}


# -- bad input ------------------------------------------------------------------------------------


def test_missing_file_names_the_source(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="nope.yaml: cannot read the spec") as info:
        load_spec(missing)
    assert info.value.source == missing


def test_unreachable_url_is_a_spec_error() -> None:
    def fetch(url: str) -> bytes:
        raise ConnectionError("refused")

    with pytest.raises(SpecError, match="cannot read the spec: refused"):
        load_spec("http://127.0.0.1:9/openapi.json", fetch=fetch)


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ('{"openapi": "3.0.0",\n "paths": {]}', "line 2 column 12"),
        ("openapi: 3.0.0\npaths:\n  /a: b: c\n", "line 3 column 8"),
    ],
)
def test_unparseable_spec_reports_the_line(tmp_path: Path, text: str, location: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(str(path))
    assert info.value.location == location
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"openapi": "2.5.0", "paths": {}}, "openapi"),
        ({"openapi": "4.0.0", "paths": {}}, "openapi"),
        ({"openapi": "3.10.0", "paths": {}}, "openapi"),
        ({"openapi": 3.0, "paths": {}}, "openapi"),
        ({"swagger": "1.2", "paths": {}}, "swagger"),
        ({"info": {"title": "no version"}}, ""),
    ],
)
def test_unsupported_version(document: dict[str, Any], field: str) -> None:
    with pytest.raises(UnsupportedVersion) as info:
        load_spec_document(document, "spec.json")
    assert info.value.location == field
    assert info.value.source == "spec.json"


def test_broken_ref_skips_only_its_operation() -> None:
    document = spec(
        {
            "/ok": {"get": get("ok")},
            "/bad": {
                "post": get(
                    "bad",
                    requestBody={
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}}
                    },
                )
            },
            "/deep": {
                "get": get(
                    "deep",
                    parameters=[
                        {"name": "q", "in": "query", "schema": {"$ref": "#/components/schemas/Deep"}}
                    ],
                )
            },
        },
        components={
            "schemas": {
                "Deep": {"type": "object", "properties": {"x": {"$ref": "#/components/schemas/Gone"}}}
            }
        },
    )
    loaded = load_spec_document(document, "spec.json")
    assert [op.tool_name for op in loaded.operations] == ["ok"]
    bad, deep = loaded.problems
    assert bad.location == "paths./bad.post.requestBody.content.application/json.schema.$ref"
    assert "POST /bad skipped" in bad.message and "#/components/schemas/Nope" in bad.message
    # A broken reference inside a shared component is located where it is, not at each user.
    assert deep.location == "components.schemas.Deep.properties.x.$ref"
    assert "GET /deep skipped" in deep.message


def test_strict_mode_raises_on_the_first_problem() -> None:
    document = spec({"/bad": {"get": get("bad", parameters=[{"$ref": "other.json#/P"}])}})
    with pytest.raises(BrokenRef) as info:
        load_spec_document(document, "/nowhere/spec.json", strict=True)
    assert info.value.location == "paths./bad.get.parameters[0].$ref"
    assert "cannot read file:///nowhere/other.json" in info.value.message


def test_invalid_parameter_is_a_problem() -> None:
    document = spec({"/a": {"get": get("a", parameters=[{"name": "x"}])}, "/b": {"get": get("b")}})
    loaded = load_spec_document(document, "spec.json")
    assert [op.tool_name for op in loaded.operations] == ["b"]
    (problem,) = loaded.problems
    assert problem.location == "paths./a.get.parameters[0]"
    with pytest.raises(SpecError, match="name' and 'in'"):
        load_spec_document(document, "spec.json", strict=True)

    path_level = spec(
        {
            "/c/{id}": {
                "parameters": [{"name": "id", "in": "path", "schema": {"$ref": "#/nope"}}],
                "get": get("c"),
            }
        }
    )
    (problem,) = load_spec_document(path_level, "spec.json").problems
    assert problem.location == "paths./c/{id}.parameters[0].schema.$ref"


def test_filters_and_name_overrides_apply_while_loading() -> None:
    document = spec(
        {
            "/pets": {"get": get("listPets", tags=["pets"]), "post": get("addPet", tags=["pets"])},
            "/admin": {"delete": get("purge", tags=["admin"])},
            "/health": {"get": {"responses": {"200": {"description": "ok"}}}},
        }
    )
    loaded = load_spec_document(
        document,
        "spec.json",
        filters=OperationFilter(exclude_tags=("admin",)),
        names={"listPets": "pets.list", "GET /health": "health"},
    )
    assert [op.tool_name for op in loaded.operations] == ["pets.list", "addPet", "health"]


def test_spec_without_paths_has_no_tools() -> None:
    loaded = load_spec_document(
        {"openapi": "3.1.0", "info": {"title": "hooks", "version": "1"}, "webhooks": {}}, "h.json"
    )
    assert loaded.operations == () and loaded.problems == ()


def test_a_yaml_alias_cycle_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n"
        "      parameters:\n        - name: q\n          in: query\n"
        "          schema: &loop {type: object, properties: {next: *loop}}\n"
        "      responses: {'200': {description: ok}}\n  /b:\n    get: {operationId: b, responses: {}}\n"
    )
    loaded = load_spec(str(path))
    assert [op.tool_name for op in loaded.operations] == ["b"]
    assert loaded.problems[0].location == "paths./a.get"


def test_broken_ref_in_an_external_file_is_located_in_that_file(tmp_path: Path) -> None:
    write(
        tmp_path / "schemas" / "pet.yaml",
        {"Pet": {"type": "object", "properties": {"tag": {"$ref": "#/Tag"}}}},
    )
    body = {"content": {"application/json": {"schema": {"$ref": "schemas/pet.yaml#/Pet"}}}}
    write(tmp_path / "api.json", spec({"/pets": {"post": get("addPet", requestBody=body)}}))
    (problem,) = load_spec(str(tmp_path / "api.json")).problems
    assert problem.location == "schemas/pet.yaml#Pet.properties.tag.$ref"
    assert "'#/Tag' points at nothing" in problem.message
