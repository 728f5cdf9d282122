"""The counter stores: atomic check-and-add across several counters, in memory and in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agentgw.limits import Charge, Correction, CounterStore, StoreUnavailable
from agentgw.limits.memory_store import MemoryStore
from agentgw.limits.redis_store import RedisStore
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CounterStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("key_prefix")
    redis_store = RedisStore(url, prefix=prefix, timeout_s=2.0)
    yield redis_store
    await redis_store.aclose()


async def test_n_parallel_reservations_against_a_limit_of_m_admit_exactly_m(store: CounterStore) -> None:
    charge = Charge("requests:principal:minute:alice:M1", 1, 7, 120)
    results = await asyncio.gather(*(store.reserve([charge]) for _ in range(40)))
    admitted = [r for r in results if r.refused is None]
    assert len(admitted) == 7
    assert sorted(r.used[0] for r in admitted) == list(range(1, 8))
    assert all(r.used == (7,) for r in results if r.refused is not None)


async def test_a_refusal_on_one_counter_adds_nothing_to_the_others(store: CounterStore) -> None:
    roomy = Charge("tokens:team:month:a:m1", 10, 1000, 60)
    tight = Charge("tokens:principal:month:b:m1", 10, 15, 60)
    assert (await store.reserve([roomy, tight])).refused is None
    refused = await store.reserve([roomy, tight])
    assert refused.refused == 1 and refused.used == (20, 10)
    # The roomy counter is still at 10: the refused request left no trace.
    assert (await store.reserve([Charge("tokens:team:month:a:m1", 990, 1000, 60)])).used == (1000,)


async def test_corrections_replace_estimates_and_never_go_below_zero(store: CounterStore) -> None:
    key = "tokens:principal:day:a:d1"
    await store.reserve([Charge(key, 100, 150, 60)])
    store.correct([Correction(key, -80)])  # the request used 20, not 100
    store.correct([Correction("tokens:principal:day:a:absent", 5)])  # a counter that expired stays gone
    await _settled(store)
    assert (await store.reserve([Charge(key, 130, 150, 60)])).used == (150,)
    store.correct([Correction(key, -10_000)])
    await _settled(store)
    assert (await store.reserve([Charge(key, 1, 1, 60)])).used == (1,)
    absent = await store.reserve([Charge("tokens:principal:day:a:absent", 1, 1, 60)])
    assert absent.used == (1,)


async def test_sliding_window_weighs_the_previous_minute(store: CounterStore) -> None:
    previous = "requests:principal:minute:a:M1"
    await store.reserve([Charge(previous, 10, 10, 180)])
    current = "requests:principal:minute:a:M2"
    # Half of the previous minute is still inside the window: 5 of its 10 count, 5 are left.
    results = [await store.reserve([Charge(current, 1, 10, 180, previous, 0.5)]) for _ in range(8)]
    assert [r.refused is None for r in results] == [True] * 5 + [False] * 3


async def _settled(store: CounterStore) -> None:
    flusher = getattr(store, "_flusher", None)
    if flusher is not None:
        await flusher


async def test_two_redis_stores_share_one_counter(redis_url: str, key_prefix: str) -> None:
    first = RedisStore(redis_url, prefix=key_prefix, timeout_s=2.0)
    second = RedisStore(redis_url, prefix=key_prefix, timeout_s=2.0)
    try:
        charge = Charge("requests:team:minute:t:M1", 1, 5, 120)
        results = await asyncio.gather(*((first if i % 2 else second).reserve([charge]) for i in range(12)))
        assert sum(r.refused is None for r in results) == 5
    finally:
        await first.aclose()
        await second.aclose()


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", prefix="x:", timeout_s=0.5)
    try:
        with pytest.raises(StoreUnavailable):
            await store.reserve([Charge("k", 1, 1, 60)])
        # Backing off: the next request does not wait for another connection attempt.
        with pytest.raises(StoreUnavailable, match="unavailable"):
            await store.reserve([Charge("k", 1, 1, 60)])
    finally:
        await store.aclose()
