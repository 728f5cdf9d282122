from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agentgw.auth.issuer import Issuer, Keys, serve_issuer


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def issuer(keys: Keys) -> Iterator[Issuer]:
    with serve_issuer(keys) as issuer:
        yield issuer
