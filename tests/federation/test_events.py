"""The bounded event store behind Last-Event-ID resumption."""

from __future__ import annotations

import pytest
from mcp.server.streamable_http import EventMessage
from mcp_types import JSONRPCNotification

from federation.events import MemoryEventStore

pytestmark = pytest.mark.anyio


def note(n: int) -> JSONRPCNotification:
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"n": n})


async def test_replays_what_followed_on_the_same_stream_only() -> None:
    store = MemoryEventStore()
    prime = await store.store_event("a", None)
    first = await store.store_event("a", note(1))
    await store.store_event("b", note(2))
    await store.store_event("a", note(3))
    replayed: list[EventMessage] = []

    async def send(event: EventMessage) -> None:
        replayed.append(event)

    assert await store.replay_events_after(prime, send) == "a"
    assert [e.message.params for e in replayed] == [{"n": 1}, {"n": 3}]  # type: ignore[union-attr]
    replayed.clear()
    assert await store.replay_events_after(first, send) == "a"
    assert [e.message.params for e in replayed] == [{"n": 3}]  # type: ignore[union-attr]


async def test_memory_is_bounded() -> None:
    store = MemoryEventStore(max_events=2)
    oldest = await store.store_event("a", note(1))
    await store.store_event("a", note(2))
    await store.store_event("a", note(3))

    async def send(event: EventMessage) -> None:
        raise AssertionError("nothing to replay after a forgotten event")

    assert await store.replay_events_after(oldest, send) is None
