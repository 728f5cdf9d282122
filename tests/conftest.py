from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app


@pytest.fixture(scope="session", autouse=True)
def _data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # A gateway made without a config file keeps its usage ledger in $XDG_DATA_HOME/agentgw: one per
    # test run, not the developer's own.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))
        yield


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
