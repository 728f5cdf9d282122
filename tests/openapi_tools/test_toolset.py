"""OpenAPIToolset on its own (no gateway) against the real test API: OAuth2 token caching under
concurrency and refresh, missing credentials, server URL resolution, unknown tools."""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from mcp_types import CallToolResult, TextContent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openapi_tools.auth import Credentials
from openapi_tools.errors import SpecError
from openapi_tools.loader import load_spec, load_spec_document
from openapi_tools.toolset import OpenAPIToolset
from tests.support.openapi_app import CLIENT, make_app
from tests.support.servers import serve_app

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FastAPI, str]]:
    app = make_app()
    with serve_app(app) as url:
        yield app, url


def toolset(app: FastAPI, url: str, document: dict[str, Any] | None = None, **options: Any) -> OpenAPIToolset:
    spec = load_spec_document(document or app.openapi(), f"{url}/openapi.json")
    return OpenAPIToolset(spec, name="api", **options)


def text(result: CallToolResult) -> str:
    assert isinstance(result.content[0], TextContent)
    return result.content[0].text


def token_requests(app: FastAPI) -> int:
    return sum(1 for r in app.state.received if r["path"] == "/oauth/token")


async def test_concurrent_calls_share_one_token_fetch(served: tuple[FastAPI, str]) -> None:
    app, url = served
    tools = toolset(
        app, url, credentials={"OAuth": Credentials(client_id=CLIENT[0], client_secret=CLIENT[1])}
    )
    before = token_requests(app)
    try:
        results = await asyncio.gather(*(tools.call_tool("secureOAuth", {}) for _ in range(10)))
    finally:
        await tools.close()
    assert all(r.structured_content == {"authenticated": True} for r in results)
    assert token_requests(app) - before == 1


async def test_an_expired_token_is_fetched_again(served: tuple[FastAPI, str]) -> None:
    app, url = served
    document = copy.deepcopy(app.openapi())
    flows = document["components"]["securitySchemes"]["OAuth"]["flows"]
    flows["clientCredentials"]["tokenUrl"] = "/oauth/token?lifetime=0"
    tools = toolset(
        app, url, document, credentials={"OAuth": Credentials(client_id=CLIENT[0], client_secret=CLIENT[1])}
    )
    before = token_requests(app)
    try:
        for _ in range(2):
            assert (await tools.call_tool("secureOAuth", {})).structured_content == {"authenticated": True}
    finally:
        await tools.close()
    assert token_requests(app) - before == 2


async def test_wrong_client_secret_and_missing_credentials_are_tool_errors(
    served: tuple[FastAPI, str],
) -> None:
    app, url = served
    tools = toolset(app, url, credentials={"OAuth": Credentials(client_id=CLIENT[0], client_secret="wrong")})
    try:
        wrong = await tools.call_tool("secureOAuth", {})
        before = len(app.state.received)
        missing = await tools.call_tool("secureBasic", {})
        unknown = await tools.call_tool("nope", {})
    finally:
        await tools.close()
    assert wrong.is_error and "token endpoint" in text(wrong) and "answered 401" in text(wrong)
    assert (
        missing.is_error
        and text(missing) == "this operation needs credentials for Basic; none are configured"
    )
    assert len(app.state.received) == before
    assert unknown.is_error


async def test_server_urls(served: tuple[FastAPI, str]) -> None:
    app, url = served
    # FastAPI's spec says `servers: [{url: /}]`: relative to where the spec was read...
    from_url = toolset(app, url)
    try:
        assert (await from_url.call_tool("getItem", {"item_id": 1})).structured_content is not None
    finally:
        await from_url.close()
    # ...which, for a file, needs a base_url
    with pytest.raises(SpecError, match="set base_url"):
        OpenAPIToolset(load_spec_document(app.openapi(), "/tmp/api.json"), name="api")
    document = copy.deepcopy(app.openapi())
    document["servers"] = [
        {
            "url": "{scheme}://127.0.0.1:{port}",
            "variables": {"scheme": {"default": "http"}, "port": {"default": "1"}},
        }
    ]
    port = url.rsplit(":", 1)[1]
    templated = OpenAPIToolset(
        load_spec_document(document, "/tmp/api.json"), name="api", server_variables={"port": port}
    )
    try:
        assert (await templated.call_tool("getItem", {"item_id": 2})).structured_content is not None
    finally:
        await templated.close()


@pytest.fixture(scope="module")
def github_app() -> Iterator[tuple[list[str], str]]:
    seen: list[str] = []

    async def echo(request: Request) -> JSONResponse:
        seen.append(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return JSONResponse({"path": request.url.path})

    with serve_app(Starlette(routes=[Route("/{path:path}", echo)])) as url:
        yield seen, url


async def test_githubs_spec_calls_go_to_the_base_url(github_app: tuple[list[str], str]) -> None:
    modules = Path(os.environ.get("AGENTGW_OPENAPI_SPECS", "/nonexistent"))
    spec_path = modules / "@octokit/openapi/generated/api.github.com.json"
    if not spec_path.exists():
        message = "set AGENTGW_OPENAPI_SPECS to a node_modules with @octokit/openapi"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    seen, url = github_app
    tools = OpenAPIToolset(load_spec(str(spec_path)), name="github", base_url=url)
    try:
        assert len(await tools.list_tools()) == 1223
        issues = await tools.call_tool(
            "issues_list-for-repo", {"owner": "o w", "repo": "r", "labels": "bug,ui", "per_page": 5}
        )
        wrong = await tools.call_tool("issues_list-for-repo", {"owner": "o", "repo": "r", "per_page": "many"})
    finally:
        await tools.close()
    assert not issues.is_error, text(issues)
    assert seen == ["/repos/o w/r/issues?labels=bug%2Cui&per_page=5"]
    assert wrong.is_error and "per_page" in text(wrong)
