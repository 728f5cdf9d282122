"""A local MCP server over stdin/stdout, its stderr relayed line by line to the log."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from typing import IO

from mcp.client import Transport
from mcp.client._transport import TransportStreams  # the SDK names the type only here
from mcp.client.stdio import StdioServerParameters, stdio_client

from federation.spec import StdioTarget

__all__ = ["StdioTransport"]


class StdioTransport:
    """Starts the server process on each connection; the SDK stops it when the connection closes."""

    kind = "stdio"

    def __init__(self, name: str, target: StdioTarget, *, log: logging.Logger) -> None:
        self._name = name
        self._log = log
        self._params = StdioServerParameters(
            command=target.command,
            args=list(target.args),
            env=dict(target.env) or None,
            cwd=target.cwd,
        )

    def open(self) -> Transport:
        return self._connect()

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[TransportStreams]:
        read_fd, write_fd = os.pipe()
        errlog = os.fdopen(write_fd, "w")
        relay = threading.Thread(
            target=_relay_lines, args=(os.fdopen(read_fd, "rb"), self._log, self._name), daemon=True
        )
        relay.start()
        try:
            async with stdio_client(self._params, errlog=errlog) as streams:
                # The child holds its own copy of the pipe now; ours would keep the relay from
                # seeing end-of-file when the child exits.
                errlog.close()
                yield streams
        finally:
            errlog.close()

    async def aclose(self) -> None:
        return None


def _relay_lines(pipe: IO[bytes], log: logging.Logger, name: str) -> None:
    # A thread rather than a task: the pipe is a plain blocking file, and this keeps the server's
    # chatter off the event loop. It ends when the last writer (the child) closes its end.
    with pipe:
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip()
            if line:
                log.info("mcp server %s stderr: %s", name, line)
