from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_openai() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
def fake_openai_url(fake_openai: FakeOpenAI) -> Iterator[str]:
    with serve_app(fake_openai.app()) as url:
        yield url
