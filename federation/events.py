"""A bounded in-memory event store: ``Last-Event-ID`` resumption of downstream SSE streams.

MCP 2025-03-26+ streamable HTTP, "Resumability and Redelivery": a client whose stream broke
reconnects with ``Last-Event-ID`` and gets what it missed on that stream. The SDK's transport does
the protocol; this keeps the events. Memory is bounded: the oldest events are dropped first, after
which a client that asks for them gets nothing replayed (as if the stream were new).

The store is per gateway process; a session that moves to another replica cannot resume here.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage

__all__ = ["MemoryEventStore"]


class MemoryEventStore(EventStore):
    """Keeps the last ``max_events`` events of all streams."""

    def __init__(self, max_events: int = 10_000) -> None:
        self._max_events = max_events
        self._ids = itertools.count(1)
        self._events: OrderedDict[EventId, tuple[StreamId, JSONRPCMessage | None]] = OrderedDict()

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = str(next(self._ids))
        self._events[event_id] = (stream_id, message)
        while len(self._events) > self._max_events:
            self._events.popitem(last=False)
        return event_id

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        held = self._events.get(last_event_id)
        if held is None:
            return None
        stream_id = held[0]
        after = int(last_event_id)
        for event_id, (stream, message) in list(self._events.items()):
            # Priming events (no message) only mark a position; they are not redelivered.
            if stream == stream_id and int(event_id) > after and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id
