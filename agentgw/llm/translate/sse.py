"""Incremental parsing of server-sent events (WHATWG HTML, "9.2.6 Interpreting an event stream").

Only what LLM streams use: ``event:`` and ``data:`` fields (several ``data:`` lines joined by
``\\n``), events ended by a blank line, ``\\n``/``\\r\\n`` line ends, comments ignored. On the hot
path of translated streams: one scan per chunk, no copy per event beyond the event's own slices.
"""

from __future__ import annotations

__all__ = ["SSEParser", "sse_event"]


class SSEParser:
    """Feed bytes as they arrive; get whole events as ``(event type, data)`` pairs."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[str, bytes]]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        events: list[tuple[str, bytes]] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            block = buffer[start:end]
            start = end + 2
            # Fast path: the two-line "event: X\ndata: {...}" block Anthropic sends.
            if block.startswith(b"event: "):
                newline = block.find(b"\n")
                if (
                    newline > 0
                    and block.startswith(b"data: ", newline + 1)
                    and block.find(b"\n", newline + 1) < 0
                ):
                    events.append((block[7:newline].decode("utf-8", "replace"), block[newline + 7 :]))
                    continue
            event = _parse(block)
            if event is not None:
                events.append(event)
        self._buffer = buffer[start:]
        return events


def _parse(block: bytes) -> tuple[str, bytes] | None:
    event, data = "message", []
    for line in block.split(b"\n"):
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value.decode("utf-8", "replace")
    return (event, b"\n".join(data)) if data else None


def sse_event(data: bytes, event: str | None = None) -> bytes:
    """One event's bytes."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
