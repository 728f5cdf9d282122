"""The AWS event-stream binary framing (``application/vnd.amazon.eventstream``), as Bedrock's
ConverseStream sends it.

A message is: total length (4 bytes, big-endian), headers length (4), CRC32 of those 8 bytes (4),
the headers, the payload, and the CRC32 of everything before it (4). A header is its name's length
(1) and name, a value type (1) and the value (strings and bytes with a 2-byte length).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping

__all__ = ["EventStreamDecoder", "EventStreamError", "encode_message"]

_PRELUDE = 12
_MAX_MESSAGE = 16 * 1024 * 1024
HeaderValue = bool | int | bytes | str


class EventStreamError(ValueError):
    """The bytes are not a valid event stream (bad length or checksum)."""


class EventStreamDecoder:
    """Feed bytes as they arrive; get whole messages as ``(headers, payload)``."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[dict[str, HeaderValue], bytes]]:
        """Raises: EventStreamError."""
        self._buffer += data
        while len(self._buffer) >= _PRELUDE:
            total, headers_length, prelude_crc = struct.unpack_from(">III", self._buffer)
            if zlib.crc32(self._buffer[:8]) != prelude_crc:
                raise EventStreamError("event-stream prelude checksum mismatch")
            if total > _MAX_MESSAGE or total < _PRELUDE + 4 + headers_length:
                raise EventStreamError(f"event-stream message length {total} is invalid")
            if len(self._buffer) < total:
                return
            message = bytes(self._buffer[:total])
            del self._buffer[:total]
            (message_crc,) = struct.unpack_from(">I", message, total - 4)
            if zlib.crc32(message[:-4]) != message_crc:
                raise EventStreamError("event-stream message checksum mismatch")
            headers = _headers(message[_PRELUDE : _PRELUDE + headers_length])
            yield headers, message[_PRELUDE + headers_length : -4]


def _headers(raw: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    at = 0
    while at < len(raw):
        size = raw[at]
        name = raw[at + 1 : at + 1 + size].decode()
        kind = raw[at + 1 + size]
        at += 2 + size
        value: HeaderValue
        if kind in (0, 1):
            value = kind == 0
        elif kind in (2, 3, 4, 5, 8):
            fmt = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}[kind]
            (value,) = struct.unpack_from(fmt, raw, at)
            at += struct.calcsize(fmt)
        elif kind in (6, 7):
            (length,) = struct.unpack_from(">H", raw, at)
            data = raw[at + 2 : at + 2 + length]
            value = data.decode() if kind == 7 else data
            at += 2 + length
        elif kind == 9:
            value = str(uuid.UUID(bytes=raw[at : at + 16]))
            at += 16
        else:
            raise EventStreamError(f"unknown event-stream header type {kind}")
        headers[name] = value
    return headers


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One message with string headers (what Bedrock sends; used by tests and fakes)."""
    raw = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value.encode())) + value.encode()
        for name, value in headers.items()
    )
    total = _PRELUDE + len(raw) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw + payload
    return head + struct.pack(">I", zlib.crc32(head))
