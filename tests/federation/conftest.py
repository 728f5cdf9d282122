from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette

from federation import Federation, HttpTarget, NamingPolicy, StdioTarget, UpstreamSpec, UpstreamTimeouts
from tests.support.mcp_fixture import http_app, sse_app
from tests.support.servers import REPO, serve_app, serve_app_at


@dataclass
class Upstreams:
    http: str
    """Streamable HTTP endpoint of the fixture named ``remote``."""
    sse: str
    """HTTP+SSE endpoint of the fixture named ``old``."""


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with serve_app(http_app("remote")) as http_url, serve_app(sse_app("old")) as sse_url:
        yield Upstreams(f"{http_url}/mcp", f"{sse_url}/sse")


FAST = UpstreamTimeouts(connect=5.0, call=10.0)


def stdio_spec(name: str = "stdio", **kwargs: object) -> UpstreamSpec:
    target = StdioTarget(sys.executable, ("-m", "tests.support.mcp_fixture", name), cwd=REPO)
    return UpstreamSpec(name, target, timeouts=FAST, restart_backoff=(0.05, 0.2), **kwargs)  # type: ignore[arg-type]


def http_spec(name: str, url: str, **kwargs: object) -> UpstreamSpec:
    return UpstreamSpec(name, HttpTarget(url), timeouts=FAST, restart_backoff=(0.05, 0.2), **kwargs)  # type: ignore[arg-type]


def sse_spec(name: str, url: str, **kwargs: object) -> UpstreamSpec:
    target = HttpTarget(url, transport="sse")
    return UpstreamSpec(name, target, timeouts=FAST, restart_backoff=(0.05, 0.2), **kwargs)  # type: ignore[arg-type]


def federation_app(federation: Federation) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await federation.start()
        try:
            yield
        finally:
            await federation.stop()

    return Starlette(routes=federation.http.routes(), lifespan=lifespan)


@contextlib.contextmanager
def serve_federation(specs: Sequence[UpstreamSpec], **kwargs: object) -> Iterator[tuple[str, Federation]]:
    """Serve a federation of ``specs`` on 127.0.0.1; yield its base URL and the federation."""
    naming = kwargs.pop("naming", NamingPolicy())
    federation = Federation(specs, naming=naming, **kwargs)  # type: ignore[arg-type]
    with serve_app_at(lambda url: federation_app(federation)) as url:
        yield url, federation
