"""REST APIs as tools on ``/mcp``: a real FastAPI app's generated spec, loaded from a file and from
its URL, every operation called through the gateway with the ``mcp`` SDK client, and what the app
received checked: parameters, bodies, credentials, errors, binary bodies, redirects, bad input."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from mcp.client import Client
from mcp_types import CallToolResult, EmbeddedResource, TextContent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from agentgw import create_app
from agentgw.auth.api_keys import hash_key
from agentgw.cli import main as cli_main
from agentgw.config import load_config, parse_config
from agentgw.errors import ConfigError
from agentgw.gateway import Gateway
from tests.support.openapi_app import API_KEY, BASIC, BEARER, CLIENT, PNG, make_app
from tests.support.servers import serve_app

pytestmark = pytest.mark.anyio

CLIENT_KEY = "agw-client-key-0123456789"


class Api:
    def __init__(self, app: FastAPI, url: str, other_hits: list[str]) -> None:
        self.app = app
        self.url = url
        self.other_hits = other_hits

    @property
    def received(self) -> list[dict[str, Any]]:
        return list(self.app.state.received)

    def last(self) -> dict[str, Any]:
        return dict(self.app.state.received[-1])


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    hits: list[str] = []

    async def record(request: Request) -> PlainTextResponse:
        hits.append(request.url.path)
        return PlainTextResponse("stolen")

    other = Starlette(routes=[Route("/{path:path}", record)])
    with serve_app(other) as other_url:
        app = make_app(other_host=other_url)
        with serve_app(app) as url:
            yield Api(app, url, hits)


def write_config(folder: Path, api: Api) -> Path:
    (folder / "specs").mkdir(exist_ok=True)
    (folder / "specs" / "api.json").write_text(json.dumps(api.app.openapi()))
    config = f"""
server: {{reload: false}}
mcp:
  servers:
    api:
      openapi: specs/api.json
      base_url: "{api.url}"
      auth:
        KeyHeader: {{api_key: "{API_KEY}"}}
        KeyQuery: {{api_key: "{API_KEY}"}}
        KeyCookie: {{api_key: "{API_KEY}"}}
        Bearer: {{token: "{BEARER}"}}
        Basic: {{username: {BASIC[0]}, password: {BASIC[1]}}}
        OAuth: {{client_id: {CLIENT[0]}, client_secret: {CLIENT[1]}}}
      timeouts: {{call: 1}}
      max_response_bytes: 4096
    byurl:
      openapi: "{api.url}/openapi.json"
      filters: {{include: {{tags: [items]}}, exclude: {{methods: [DELETE]}}}}
      names: {{getItem: fetch_item}}
"""
    path = folder / "gateway.yaml"
    path.write_text(config)
    return path


@pytest.fixture(scope="module")
def gateway_url(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = write_config(tmp_path_factory.mktemp("openapi"), api)
    with serve_app(create_app(load_config(path), config_path=str(path))) as url:
        yield f"{url}/mcp"


async def call(url: str, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with Client(url) as client:
        return await client.call_tool(tool, arguments)


def text(result: CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, TextContent)
    return first.text


async def test_every_operation_is_listed_with_its_annotations(gateway_url: str) -> None:
    async with Client(gateway_url) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    api_tools = {name.removeprefix("api_") for name in tools if name.startswith("api_")}
    assert api_tools == {
        "getItem", "replaceItem", "deleteItem", "getFile", "createItem", "login", "upload", "secureHeader",
        "secureQuery", "secureCookie", "secureBearer", "secureBasic", "secureOAuth", "failWith", "slow",
        "getImage", "getText", "redirectHome", "redirectAway",
    }  # fmt: skip
    # the spec served by URL: filtered to tag `items` without DELETE, getItem renamed
    assert {n for n in tools if n.startswith("byurl_")} == {
        "byurl_fetch_item", "byurl_replaceItem", "byurl_getFile", "byurl_createItem",
    }  # fmt: skip
    assert tools["api_getItem"].annotations is not None and tools["api_getItem"].annotations.read_only_hint
    assert (
        tools["api_deleteItem"].annotations is not None
        and tools["api_deleteItem"].annotations.destructive_hint
    )
    assert tools["api_getItem"].input_schema["required"] == ["item_id"]


async def test_path_query_header_and_cookie_parameters(gateway_url: str, api: Api) -> None:
    arguments = {"item_id": 5, "q": "a b&c", "tags": ["x", "y"], "x-trace": "t-1", "session": "s-1"}
    result = await call(gateway_url, "api_getItem", arguments)
    assert not result.is_error
    assert result.structured_content == {
        "item_id": 5,
        "q": "a b&c",
        "tags": ["x", "y"],
        "x_trace": "t-1",
        "session": "s-1",
    }
    received = api.last()
    assert received["raw_path"] == "/items/5"
    assert received["query"] == "q=a%20b%26c&tags=x&tags=y"
    assert received["headers"]["x-trace"] == "t-1" and received["headers"]["cookie"] == "session=s-1"
    # the gateway's own client, not the MCP client's credentials
    assert "authorization" not in received["headers"]


async def test_path_values_stay_in_their_segment(gateway_url: str, api: Api) -> None:
    result = await call(gateway_url, "api_getFile", {"path_value": "a b?c#d"})
    assert result.structured_content == {"path_value": "a b?c#d"}
    assert api.last()["raw_path"] == "/files/a%20b%3Fc%23d"
    await call(gateway_url, "api_getFile", {"path_value": "../../secure/header"})
    assert api.last()["raw_path"] == "/files/..%2F..%2Fsecure%2Fheader"


async def test_json_bodies(gateway_url: str, api: Api) -> None:
    item = {"name": "pen", "price": 1.5, "tags": ["office"]}
    created = await call(gateway_url, "api_createItem", item)
    assert created.structured_content == item and not created.is_error
    assert api.last()["method"] == "POST" and json.loads(api.last()["body"]) == item
    assert api.last()["headers"]["content-type"] == "application/json"
    replaced = await call(gateway_url, "api_replaceItem", {"item_id": 3, **item})
    assert replaced.structured_content == {"item_id": 3, **item}
    assert api.last()["method"] == "PUT" and api.last()["raw_path"] == "/items/3"
    deleted = await call(gateway_url, "api_deleteItem", {"item_id": 3})
    assert not deleted.is_error and text(deleted) == "HTTP 204 No Content"
    assert api.last()["method"] == "DELETE"


async def test_form_and_multipart_bodies(gateway_url: str, api: Api) -> None:
    login = await call(
        gateway_url, "api_login", {"username": "ada", "password": "p&ss word", "remember": True}
    )
    assert login.structured_content == {"username": "ada", "password_length": 9, "remember": True}
    assert api.last()["body"] == b"username=ada&password=p%26ss%20word&remember=true"
    as_text = await call(gateway_url, "api_upload", {"file": "hello file", "note": "n"})
    assert as_text.structured_content == {
        "filename": "file", "size": 10, "note": "n", "content_type": "application/octet-stream",
    }  # fmt: skip
    png = "data:image/png;base64," + base64.b64encode(PNG).decode()
    as_binary = await call(gateway_url, "api_upload", {"file": png, "note": "image"})
    assert as_binary.structured_content == {
        "filename": "file",
        "size": len(PNG),
        "note": "image",
        "content_type": "image/png",
    }
    assert PNG in api.last()["body"]


@pytest.mark.parametrize(
    ("tool", "check"),
    [
        ("api_secureHeader", lambda r: r["headers"]["x-api-key"] == API_KEY),
        ("api_secureQuery", lambda r: r["query"] == f"api_key={API_KEY}"),
        ("api_secureCookie", lambda r: r["headers"]["cookie"] == f"key={API_KEY}"),
        ("api_secureBearer", lambda r: r["headers"]["authorization"] == f"Bearer {BEARER}"),
        ("api_secureBasic", lambda r: r["headers"]["authorization"].startswith("Basic ")),
        ("api_secureOAuth", lambda r: r["headers"]["authorization"].startswith("Bearer ")),
    ],
)
async def test_credentials_of_each_scheme(gateway_url: str, api: Api, tool: str, check: Any) -> None:
    result = await call(gateway_url, tool, {})
    assert not result.is_error, text(result)
    assert result.structured_content == {"authenticated": True}
    assert check(api.last())


async def test_oauth_token_is_fetched_once_and_reused(gateway_url: str, api: Api) -> None:
    for _ in range(3):
        result = await call(gateway_url, "api_secureOAuth", {})
        assert result.structured_content == {"authenticated": True}
    assert len(api.app.state.tokens) == 1
    token_requests = [r for r in api.received if r["path"] == "/oauth/token"]
    assert len(token_requests) == 1 and token_requests[0]["body"] == b"grant_type=client_credentials"


async def test_error_statuses_are_tool_errors_with_a_bounded_excerpt(gateway_url: str) -> None:
    for status, reason in ((404, "Not Found"), (503, "Service Unavailable")):
        result = await call(gateway_url, "api_failWith", {"code": status})
        assert result.is_error
        assert text(result).startswith(f'HTTP {status} {reason}: {{"error":"failed with {status}"')
        assert len(text(result)) < 2100


async def test_binary_and_text_bodies(gateway_url: str) -> None:
    image = await call(gateway_url, "api_getImage", {})
    resource = image.content[0]
    assert isinstance(resource, EmbeddedResource)
    assert resource.resource.mime_type == "image/png"
    assert base64.b64decode(getattr(resource.resource, "blob", "")) == PNG
    plain = await call(gateway_url, "api_getText", {})
    assert text(plain) == "plain words" and not plain.is_error


async def test_timeouts_and_the_response_size_cap(gateway_url: str) -> None:
    quick = await call(gateway_url, "api_slow", {"seconds": 0.01})
    assert quick.structured_content == {"slept": 0.01}
    slow = await call(gateway_url, "api_slow", {"seconds": 3})
    assert slow.is_error and "timed out" in text(slow)
    big = await call(gateway_url, "api_getFile", {"path_value": "x" * 5000})
    assert big.is_error and "over the limit of 4096 bytes" in text(big)


async def test_redirects_are_followed_only_within_the_host(gateway_url: str, api: Api) -> None:
    home = await call(gateway_url, "api_redirectHome", {})
    assert json.loads(text(home))["item_id"] == 7 and api.last()["query"] == "q=moved"
    away = await call(gateway_url, "api_redirectAway", {})
    assert away.is_error and "another host; not followed" in text(away)
    assert api.other_hits == []


async def test_bad_arguments_are_tool_errors_and_nothing_is_sent(gateway_url: str, api: Api) -> None:
    before = len(api.received)
    wrong_type = await call(gateway_url, "api_getItem", {"item_id": "five"})
    missing = await call(gateway_url, "api_createItem", {"name": "pen"})
    injected = await call(gateway_url, "api_getItem", {"item_id": 1, "x-trace": "t\r\nX-Admin: yes"})
    cookie = await call(gateway_url, "api_getItem", {"item_id": 1, "session": "s; admin=1"})
    assert (
        wrong_type.is_error
        and text(wrong_type) == "invalid arguments: item_id: 'five' is not of type 'integer'"
    )
    assert missing.is_error and "'price' is a required property" in text(missing)
    assert injected.is_error and "line breaks" in text(injected)
    assert cookie.is_error and "must not contain ';'" in text(cookie)
    assert len(api.received) == before


async def test_a_spec_loaded_from_its_url(gateway_url: str, api: Api) -> None:
    result = await call(gateway_url, "byurl_fetch_item", {"item_id": 9})
    assert result.structured_content is not None and result.structured_content["item_id"] == 9
    assert api.last()["raw_path"] == "/items/9"


def test_check_loads_the_specs(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, api)
    assert cli_main(["check", "-c", str(path)]) == 0
    spec_path = tmp_path / "specs" / "api.json"
    spec = json.loads(spec_path.read_text())
    spec["paths"]["/items"]["post"]["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Nope"
    }
    spec_path.write_text(json.dumps(spec))
    # one broken operation is skipped with a warning...
    assert cli_main(["check", "-c", str(path)]) == 0
    assert f"{spec_path}: paths./items.post" in caplog.text and "Nope" in caplog.text
    # ...and fails the check in strict mode, naming the server, the spec and the place in it
    path.write_text(path.read_text().replace("      max_response_bytes: 4096", "      strict: true"))
    assert cli_main(["check", "-c", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"mcp.servers.api.openapi: {spec_path}: paths./items.post" in err and "Nope" in err


def test_credentials_for_a_scheme_the_spec_lacks_fail_the_check(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, api)
    path.write_text(path.read_text().replace("        KeyQuery:", "        APIKeyQuery:"))
    assert cli_main(["check", "-c", str(path)]) == 1
    err = capsys.readouterr().err
    assert "mcp.servers.api.auth.APIKeyQuery: " in err and "no security scheme 'APIKeyQuery'" in err
    assert "KeyHeader, KeyQuery" in err  # what it has, to fix the name by


async def test_a_spec_that_does_not_load_fails_the_start(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("openapi: 9.9.9\ninfo: {title: x, version: '1'}\npaths: {}\n")
    (tmp_path / "gateway.yaml").write_text(
        "mcp: {servers: {bad: {openapi: bad.yaml, base_url: 'http://127.0.0.1:9'}}}\n"
    )
    gateway = Gateway(load_config(tmp_path / "gateway.yaml"), config_path=str(tmp_path / "gateway.yaml"))
    with pytest.raises(ConfigError) as error:
        await gateway.start()
    await gateway.stop()
    assert f"mcp.servers.bad.openapi: {tmp_path / 'bad.yaml'}" in str(error.value)


def test_config_needs_exactly_one_target() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("""
mcp:
  servers:
    two: {openapi: spec.json, url: "http://127.0.0.1:1/mcp"}
    stray: {command: x, base_url: "http://127.0.0.1:1"}
""")
    message = str(error.value)
    assert (
        "mcp.servers.two: set either command (a stdio server) or url (an HTTP server), or openapi" in message
    )
    assert "mcp.servers.stray.base_url: only for an openapi server" in message


def mcp_call(url: str, key: str, tool: str, arguments: dict[str, Any]) -> httpx2.Response:
    """A 2026-07-28 (stateless) tools/call with the client's own credential in ``Authorization``."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": meta},
    }
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }
    return httpx2.post(url, json=body, headers=headers, timeout=10)


def test_rbac_applies_and_the_clients_token_never_reaches_the_api(api: Api, tmp_path: Path) -> None:
    path = write_config(tmp_path, api)
    path.write_text(
        path.read_text()
        + f"""
auth:
  api_keys: [{{name: alice, key_sha256: {hash_key(CLIENT_KEY)}, roles: [dev]}}]
rbac:
  roles:
    dev: {{allow: {{tools: ["api/*"]}}, deny: {{tools: ["*/secureBasic"]}}}}
"""
    )
    with serve_app(create_app(load_config(path), config_path=str(path))) as url:
        plain = mcp_call(f"{url}/mcp", CLIENT_KEY, "api_getItem", {"item_id": 1})
        assert plain.status_code == 200 and plain.json()["result"]["structuredContent"]["item_id"] == 1
        assert "authorization" not in api.last()["headers"]
        bearer = mcp_call(f"{url}/mcp", CLIENT_KEY, "api_secureBearer", {})
        assert bearer.json()["result"]["structuredContent"] == {"authenticated": True}
        assert api.last()["headers"]["authorization"] == f"Bearer {BEARER}"
        before = len(api.received)
        denied = mcp_call(f"{url}/mcp", CLIENT_KEY, "api_secureBasic", {})
        assert "error" in denied.json() or denied.json()["result"].get("isError")
        assert len(api.received) == before
        assert all(CLIENT_KEY not in value for r in api.received for value in r["headers"].values())
