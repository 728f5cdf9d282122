"""A real REST API (FastAPI) whose generated OpenAPI spec the OpenAPI toolset tests load.

It covers what a tool call must get right: path, query, header and cookie parameters; JSON, form
and multipart bodies; apiKey (header, query, cookie), HTTP bearer and basic, and OAuth2 client
credentials (its token endpoint is served here too, left out of the spec); 4xx/5xx answers, a binary
body, text, and redirects within the host and to another host. Every request it receives is recorded
(``app.state.received``) so tests assert what actually went over the wire.
"""

import asyncio
import base64
import secrets
from typing import Annotated, Any

from fastapi import Cookie, Depends, FastAPI, File, Form, Header, HTTPException, Query, Request, UploadFile
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    OAuth2,
)
from fastapi.security.http import HTTPAuthorizationCredentials
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["API_KEY", "BASIC", "BEARER", "CLIENT", "PNG", "make_app"]

API_KEY = "key-123"
BEARER = "bearer-456"
BASIC = ("ada", "lovelace")
CLIENT = ("client-1", "client-secret-1")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


class _Recorder:
    """Pure ASGI middleware: records each request with its raw path, query, headers and body."""

    def __init__(self, app: ASGIApp, received: list[dict[str, Any]]) -> None:
        self.app = app
        self.received = received

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/openapi.json":
            await self.app(scope, receive, send)
            return
        record: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            "body": b"",
        }
        self.received.append(record)

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                record["body"] += message.get("body", b"")
            return message

        await self.app(scope, recording_receive, send)


def make_app(*, other_host: str = "http://127.0.0.2:9") -> FastAPI:
    """The API; ``other_host`` is where ``/redirect/away`` points (a host the toolset must not reach)."""
    app = FastAPI(title="Test API", version="1.0.0")
    received: list[dict[str, Any]] = []
    app.state.received = received
    tokens: dict[str, int] = {}
    app.state.tokens = tokens

    api_key_header = APIKeyHeader(name="X-API-Key", scheme_name="KeyHeader", auto_error=False)
    api_key_query = APIKeyQuery(name="api_key", scheme_name="KeyQuery", auto_error=False)
    api_key_cookie = APIKeyCookie(name="key", scheme_name="KeyCookie", auto_error=False)
    bearer = HTTPBearer(scheme_name="Bearer", auto_error=False)
    basic = HTTPBasic(scheme_name="Basic", auto_error=False)
    oauth = OAuth2(
        flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token", scopes={})),
        scheme_name="OAuth",
        auto_error=False,
    )

    def check(ok: bool) -> dict[str, bool]:
        if not ok:
            raise HTTPException(status_code=401, detail="bad credentials")
        return {"authenticated": True}

    @app.get("/items/{item_id}", operation_id="getItem", tags=["items"])
    async def get_item(
        item_id: int,
        q: str | None = None,
        tags: Annotated[list[str] | None, Query()] = None,
        x_trace: Annotated[str | None, Header()] = None,
        session: Annotated[str | None, Cookie()] = None,
    ) -> dict[str, Any]:
        return {"item_id": item_id, "q": q, "tags": tags, "x_trace": x_trace, "session": session}

    @app.get("/files/{path_value}", operation_id="getFile", tags=["items"])
    async def get_file(path_value: str) -> dict[str, str]:
        return {"path_value": path_value}

    @app.post("/items", operation_id="createItem", tags=["items"], status_code=201)
    async def create_item(item: Item) -> Item:
        return item

    @app.put("/items/{item_id}", operation_id="replaceItem", tags=["items"])
    async def replace_item(item_id: int, item: Item) -> dict[str, Any]:
        return {"item_id": item_id, **item.model_dump()}

    @app.delete("/items/{item_id}", operation_id="deleteItem", tags=["items"], status_code=204)
    async def delete_item(item_id: int) -> Response:
        return Response(status_code=204)

    @app.post("/login", operation_id="login", tags=["forms"])
    async def login(
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        remember: Annotated[bool, Form()] = False,
    ) -> dict[str, Any]:
        return {"username": username, "password_length": len(password), "remember": remember}

    @app.post("/upload", operation_id="upload", tags=["forms"])
    async def upload(file: Annotated[UploadFile, File()], note: Annotated[str, Form()]) -> dict[str, Any]:
        data = await file.read()
        return {"filename": file.filename, "size": len(data), "note": note, "content_type": file.content_type}

    @app.get("/secure/header", operation_id="secureHeader", tags=["auth"])
    async def secure_header(key: Annotated[str | None, Depends(api_key_header)]) -> dict[str, bool]:
        return check(key == API_KEY)

    @app.get("/secure/query", operation_id="secureQuery", tags=["auth"])
    async def secure_query(key: Annotated[str | None, Depends(api_key_query)]) -> dict[str, bool]:
        return check(key == API_KEY)

    @app.get("/secure/cookie", operation_id="secureCookie", tags=["auth"])
    async def secure_cookie(key: Annotated[str | None, Depends(api_key_cookie)]) -> dict[str, bool]:
        return check(key == API_KEY)

    @app.get("/secure/bearer", operation_id="secureBearer", tags=["auth"])
    async def secure_bearer(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> dict[str, bool]:
        return check(credentials is not None and credentials.credentials == BEARER)

    @app.get("/secure/basic", operation_id="secureBasic", tags=["auth"])
    async def secure_basic(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
    ) -> dict[str, bool]:
        return check(credentials is not None and (credentials.username, credentials.password) == BASIC)

    @app.get("/secure/oauth", operation_id="secureOAuth", tags=["auth"])
    async def secure_oauth(authorization: Annotated[str | None, Depends(oauth)]) -> dict[str, bool]:
        token = (authorization or "").removeprefix("Bearer ")
        return check(token in tokens)

    @app.post("/oauth/token", include_in_schema=False)
    async def token(request: Request) -> JSONResponse:
        expected = "Basic " + base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
        form = await request.form()
        if request.headers.get("authorization") != expected or form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value = secrets.token_hex(8)
        tokens[value] = len(tokens)
        lifetime = int(request.query_params.get("lifetime", "3600"))
        return JSONResponse({"access_token": value, "token_type": "Bearer", "expires_in": lifetime})

    @app.get("/status/{code}", operation_id="failWith", tags=["errors"])
    async def fail_with(code: int) -> JSONResponse:
        return JSONResponse({"error": f"failed with {code}", "padding": "x" * 5000}, status_code=code)

    @app.get("/slow", operation_id="slow", tags=["errors"])
    async def slow(seconds: float) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.get("/image", operation_id="getImage", tags=["media"], response_class=Response)
    async def image() -> Response:
        return Response(PNG, media_type="image/png")

    @app.get("/text", operation_id="getText", tags=["media"], response_class=PlainTextResponse)
    async def text() -> str:
        return "plain words"

    @app.get("/redirect/home", operation_id="redirectHome", tags=["redirects"])
    async def redirect_home() -> RedirectResponse:
        return RedirectResponse("/items/7?q=moved", status_code=307)

    @app.get("/redirect/away", operation_id="redirectAway", tags=["redirects"])
    async def redirect_away() -> RedirectResponse:
        return RedirectResponse(f"{other_host}/steal", status_code=302)

    app.add_middleware(_Recorder, received=received)
    return app
