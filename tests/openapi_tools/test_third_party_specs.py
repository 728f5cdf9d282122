"""Real third-party specs from npm: GitHub's REST API description (``@octokit/openapi``) and ReadMe's
example collection (``@readme/oas-examples``: petstore, circular references, parameter styles,
Swagger 2.0 and OpenAPI 3.1).

Needs ``AGENTGW_OPENAPI_SPECS``, a ``node_modules`` folder holding both packages, installed outside the
repository (``make tools``); without it the tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from openapi_tools import LoadedSpec, Operation, load_spec
from openapi_tools.naming import is_valid_name

MODULES = Path(os.environ.get("AGENTGW_OPENAPI_SPECS", "/nonexistent"))
GITHUB = MODULES / "@octokit/openapi/generated/api.github.com.json"
EXAMPLES = MODULES / "@readme/oas-examples"


def _require(path: Path) -> Path:
    if path.exists():
        return path
    message = "set AGENTGW_OPENAPI_SPECS to a node_modules with @octokit/openapi and @readme/oas-examples"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _example(name: str) -> LoadedSpec:
    spec = load_spec(str(_require(EXAMPLES / name)), strict=True)
    _check_tools(spec)
    return spec


def _check_tools(spec: LoadedSpec) -> None:
    names = [op.tool_name for op in spec.operations]
    assert len(set(names)) == len(names)
    for op in spec.operations:
        assert is_valid_name(op.tool_name), op.tool_name
        assert op.input_schema["type"] == "object"
        Draft202012Validator.check_schema(op.input_schema)
        if op.output_schema is not None:
            assert op.output_schema["type"] == "object"


def _tool(spec: LoadedSpec, name: str) -> Operation:
    return next(op for op in spec.operations if op.tool_name == name)


@pytest.fixture(scope="module")
def github() -> LoadedSpec:
    return load_spec(str(_require(GITHUB)))


def test_github_spec_converts_every_operation(github: LoadedSpec) -> None:
    assert github.version.startswith("3.0")
    assert github.problems == ()
    assert len(github.operations) == 1223
    _check_tools(github)
    assert github.servers[0].url == "https://api.github.com"


def test_github_tool_shapes(github: LoadedSpec) -> None:
    get_repo = _tool(github, "repos_get")
    assert (get_repo.method, get_repo.path) == ("GET", "/repos/{owner}/{repo}")
    assert get_repo.annotations == {"readOnlyHint": True}
    assert get_repo.input_schema["required"] == ["owner", "repo"]
    # The output schema names only the components the tool reaches, not all of them.
    output = get_repo.output_schema
    assert output is not None and "full-repository" not in output["$defs"]
    assert "simple-user" in output["$defs"] and len(output["$defs"]) < 60
    # ``owner`` is a ``$defs`` reference: a wrong type inside it is found through the reference.
    errors = Draft202012Validator(output).iter_errors({"owner": {"login": 5}})
    assert ["owner", "login"] in [list(e.absolute_path) for e in errors]

    create = _tool(github, "repos_create-for-authenticated-user")
    assert create.body is not None and create.body.argument is None
    assert create.input_schema["required"] == ["name"]
    assert create.input_schema["properties"]["private"]["default"] is False
    delete = _tool(github, "repos_delete")
    assert delete.annotations == {"destructiveHint": True}


def test_petstore_3_0() -> None:
    spec = _example("3.0/json/petstore.json")
    find = _tool(spec, "findPetsByStatus")
    (status,) = find.parameters
    assert (status.location, status.style, status.explode, status.required) == ("query", "form", True, True)
    assert find.input_schema["properties"]["status"]["items"]["enum"] == ["available", "pending", "sold"]
    add = _tool(spec, "addPet")
    assert add.body is not None and add.body.media_type == "application/json"
    assert set(add.input_schema["$defs"]) == {"Category", "Tag"}
    assert add.input_schema["required"] == ["name", "photoUrls"]
    assert spec.security_schemes["petstore_auth"]["type"] == "oauth2"


def test_petstore_yaml_equals_json() -> None:
    from_json = _example("3.0/json/petstore.json")
    from_yaml = _example("3.0/yaml/petstore.yaml")
    assert [op.input_schema for op in from_yaml.operations] == [
        op.input_schema for op in from_json.operations
    ]


def test_circular_request_bodies_become_defs() -> None:
    spec = _example("3.0/json/circular-request-bodies.json")
    direct = _tool(spec, "directCircular")
    schema = direct.input_schema
    assert schema["properties"]["parent"] == {"$ref": "#/$defs/TreeNode"}
    assert schema["$defs"]["TreeNode"]["properties"]["children"]["items"] == {"$ref": "#/$defs/TreeNode"}
    validator = Draft202012Validator(schema)
    validator.validate({"id": "1", "name": "root"})
    # Two levels down the recursion, through the self-reference, a child still has to be a TreeNode.
    errors = validator.iter_errors({"children": [{"id": "2", "name": "c", "children": [{"id": 3}]}]})
    assert ["children", 0, "children", 0, "id"] in [list(e.absolute_path) for e in errors]
    indirect = _tool(spec, "indirectCircular")
    assert set(indirect.input_schema["$defs"]) == {"Company", "Person"}


@pytest.mark.parametrize(
    "name", ["3.0/json/schema-circular.json", "2.0/json/schema-circular.json", "3.0/json/circular-paths.json"]
)
def test_other_circular_specs_convert(name: str) -> None:
    spec = _example(name)
    assert spec.operations


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_parameter_styles(version: str) -> None:
    spec = _example(f"{version}/json/parameters-style.json")
    styles = {(p.location, p.style, p.explode) for op in spec.operations for p in op.parameters}
    assert ("query", "deepObject", True) in styles
    assert ("query", "pipeDelimited", False) in styles
    assert ("query", "spaceDelimited", False) in styles
    assert ("path", "matrix", True) in styles
    assert ("path", "label", False) in styles
    assert ("header", "simple", True) in styles


def test_swagger_2_petstore() -> None:
    spec = _example("2.0/json/petstore.json")
    assert spec.version == "2.0"
    assert [s.url for s in spec.servers] == ["http://petstore.swagger.io/v2"]  # host + basePath + schemes
    assert spec.security_schemes["petstore_auth"]["flows"]["implicit"]["scopes"]["read:pets"]
    upload = _tool(spec, "uploadFile")
    assert upload.body is not None and upload.body.media_type == "multipart/form-data"
    assert upload.input_schema["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "file to upload",
    }
    by_status = _tool(spec, "findPetsByStatus")
    (status,) = by_status.parameters
    assert (status.style, status.explode) == ("form", True)  # collectionFormat: multi
    login = _tool(spec, "loginUser")
    assert login.input_schema["required"] == ["username", "password"]


def test_openapi_3_1_examples() -> None:
    spec = _example("3.1/json/petstore.json")
    assert spec.version.startswith("3.1")
    assert _tool(spec, "addPet").input_schema["required"] == ["name", "photoUrls"]
    for name in ("3.1/json/schema-types.json", "3.1/json/train-travel.json", "3.1/json/security.json"):
        assert _example(name).operations


def test_every_example_spec_converts() -> None:
    files = sorted(_require(EXAMPLES).glob("*/json/*.json"))
    assert len(files) > 50
    for file in files:
        spec = load_spec(str(file))
        assert spec.problems == (), file
        _check_tools(spec)
