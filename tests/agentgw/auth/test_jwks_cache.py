"""The JWKS cache: fetched once, re-fetched on an unknown kid at most once per interval, single-flight."""

from __future__ import annotations

import anyio
import pytest

from agentgw.auth.jwt import JWKSCache
from agentgw.errors import AuthenticationFailed
from tests.agentgw.auth.issuer import Issuer

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_unknown_kid_refetch_is_rate_limited(issuer: Issuer) -> None:
    clock = Clock()
    cache = JWKSCache(issuer.jwks_url, ttl_s=300, min_refresh_s=30, clock=clock)
    try:
        assert (await cache.key("rsa-a")).kid == "rsa-a"
        assert issuer.fetches == 1
        for _ in range(5):  # garbage kids within the interval: no more fetches
            with pytest.raises(AuthenticationFailed):
                await cache.key("nope")
        assert issuer.fetches == 1
        issuer.published = [issuer.keys.rsa_b]
        clock.now += 31
        assert (await cache.key("rsa-b")).kid == "rsa-b"
        assert issuer.fetches == 2
        clock.now += 301  # the TTL ran out: fetched again on the next use
        await cache.key("rsa-b")
        assert issuer.fetches == 3
    finally:
        await cache.aclose()


async def test_concurrent_first_use_fetches_once(issuer: Issuer) -> None:
    cache = JWKSCache(issuer.jwks_url)
    try:
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(cache.key, "rsa-a")
        assert issuer.fetches == 1
    finally:
        await cache.aclose()


async def test_unreachable_jwks_refuses_tokens(issuer: Issuer) -> None:
    cache = JWKSCache(issuer.url + "/missing")
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await cache.key("rsa-a")
        assert "JWKS unavailable" in caught.value.reason
    finally:
        await cache.aclose()
