"""The ledger writer: a bounded buffer of usage records and the background task that stores them.

The request path only appends to the buffer (:meth:`LedgerWriter.add`). The task writes a batch
when ``batch_size`` records are waiting or ``flush_interval_s`` has passed. When the database fails,
the batch is kept and retried with exponential backoff (0.5 s doubling up to ``retry_max_s``) while
new records keep arriving; once ``buffer_max`` records wait, each new one drops the oldest waiting
one, and every dropped record is counted (:attr:`LedgerWriter.dropped`) and logged. On shutdown
:meth:`LedgerWriter.aclose` writes what is left, within a deadline.

Waiting records are held as plain tuples of numbers and strings (what
:meth:`~agentgw.accounting.observer.AccountingObserver.row` makes): the cyclic garbage collector
untracks such a tuple at its first pass, so thousands of them waiting under load do not make its
collections more frequent or longer. Named tuples are copied into plain ones on the way in: the
collector never untracks a tuple subclass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from agentgw.accounting.errors import LedgerError
from agentgw.accounting.ledger import LedgerStore

__all__ = ["LedgerWriter"]

log = logging.getLogger("agentgw.accounting")

_FIRST_RETRY_S = 0.5


class LedgerWriter:
    """Buffers records for ``store`` and writes them in batches in the background."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 1.0,
        buffer_max: int = 100_000,
        retry_max_s: float = 30.0,
    ) -> None:
        self.store = store
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._max = buffer_max
        self._retry_max = retry_max_s
        self._buffer: deque[tuple[Any, ...]] = deque()
        self._inflight: list[tuple[Any, ...]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._opened = False
        self._flushes = 0
        self.dropped = 0
        """Records lost because the buffer was full (the database was down or too slow)."""
        self.written = 0
        self.failures = 0
        """Failed write attempts (each is retried)."""
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Records not yet stored."""
        return len(self._buffer) + len(self._inflight)

    def add(self, record: tuple[Any, ...]) -> None:
        """Queue ``record`` (a :class:`UsageRecord` or a plain tuple of its fields in order); never
        blocks, never raises."""
        if self.pending >= self._max:
            if self._buffer:
                self._buffer.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning(
                        "usage buffer full (%d records): %d records dropped so far", self._max, self.dropped
                    )
            else:  # everything held is the batch being retried: the new record is the one to go
                self.dropped += 1
                return
        self._buffer.append(record if type(record) is tuple else tuple(record))
        self._idle.clear()
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def start(self) -> None:
        """Start the background task (on the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="agentgw-ledger-writer")

    async def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every record added so far is stored; ``False`` when that took over ``timeout_s``."""
        if self._task is None or self._task.done():
            return self.pending == 0
        self._flushes += 1
        self._wake.set()
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        finally:
            self._flushes -= 1
        return True

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Stop the task after writing what is buffered (for at most ``timeout_s``); records still
        unwritten then are counted as dropped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            async with asyncio.timeout(timeout_s):
                while self.pending:
                    try:
                        await self._write_batch()
                    except LedgerError as error:  # the database may be back within the deadline
                        self.last_error = error.message
                        await asyncio.sleep(_FIRST_RETRY_S)
        except TimeoutError:
            lost = self.pending
            self.dropped += lost
            self._buffer.clear()
            self._inflight = []
            log.error(
                "usage ledger unavailable at shutdown (%s): %d records lost",
                self.last_error or "timeout",
                lost,
            )
        await self.store.aclose()

    async def _run(self) -> None:
        delay = _FIRST_RETRY_S
        while True:
            if not self.pending:
                self._idle.set()
                await self._wait()
                continue
            if not self._urgent() and len(self._buffer) < self._batch_size:
                # Wait for a full batch, a flush, or the interval: writing whatever arrived during
                # the last write at once would turn steady load into many tiny transactions.
                await self._wait()
            try:
                await self._write_batch()  # one batch per turn: the next one waits its turn too
                delay = _FIRST_RETRY_S
            except LedgerError as error:
                self.failures += 1
                self.last_error = error.message
                log.warning(
                    "usage ledger write failed (%s); %d records wait, retry in %.1fs",
                    error.message,
                    self.pending,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    async def _wait(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._interval):
                await self._wake.wait()

    def _urgent(self) -> bool:
        """A flush waits, or a failed batch is to be retried."""
        return self._flushes > 0 or bool(self._inflight)

    async def _write_batch(self) -> None:
        """Raises: LedgerError (the batch stays in flight for the next attempt)."""
        if not self._opened:
            await self.store.open()
            self._opened = True
        if not self._inflight:
            take = min(self._batch_size, len(self._buffer))
            popleft = self._buffer.popleft
            self._inflight = [popleft() for _ in range(take)]
        await self.store.write(self._inflight)
        self.written += len(self._inflight)
        self._inflight = []
        self.last_error = None
