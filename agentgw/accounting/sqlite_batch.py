"""Batches of usage records into a SQLite file with the standard library's driver, in one thread.

:class:`~agentgw.accounting.ledger.SQLLedger` keeps SQLAlchemy for the schema and the reports, but
writes SQLite batches here: through SQLAlchemy's async engine and ``aiosqlite`` a batch was a
dozen round trips between the event loop and the driver's thread (begin, cursor, execute, close,
commit, the pool's reset), each a future, a greenlet switch and a wake-up of the loop, on the
process that serves the requests (issue 8's benchmark measured the gateway's CPU per request).
Here a batch is one hop to a dedicated thread, which builds the statement's parameters and runs
the whole transaction.

Rows go in as one ``INSERT ... SELECT ... FROM (VALUES ...)`` statement per chunk rather than
``executemany``: ``sqlite3`` releases the GIL around every statement step, and under load each
release is a thread switch with the event loop; one statement per chunk releases it once. Columns
with one value in the whole chunk are bound once rather than per row (see ``_insert``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any

__all__ = ["SQLiteBatchWriter"]

_BUSY_TIMEOUT_S = 5.0

_Shape = tuple[tuple[int, ...], tuple[int, ...], int]
"""A statement's varying columns, constant columns (by index) and rows."""


class SQLiteBatchWriter:
    """Inserts batches of rows into ``table`` (``columns`` in row order) of the SQLite file ``path``,
    skipping ids already stored. Raises ``sqlite3.Error``; the caller translates it."""

    def __init__(self, path: str, table: str, columns: Sequence[str]) -> None:
        self._path = path
        self._head = f"INSERT INTO {table} "
        self._columns = tuple(columns)
        limit = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999  # SQLITE_MAX_VARIABLE_NUMBER
        self._rows_per_statement = limit // len(columns)
        self._statements: dict[_Shape, str] = {}
        self._connection: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store ``rows`` in one transaction. Raises: sqlite3.Error."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentgw-ledger")
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write, rows)

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
            executor.shutdown(wait=False)

    def _write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        connection = self._connect()
        step = self._rows_per_statement
        connection.execute("BEGIN")
        try:
            for start in range(0, len(rows), step):
                self._insert(connection, rows[start : start + step])
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _insert(self, connection: sqlite3.Connection, chunk: Sequence[tuple[Any, ...]]) -> None:
        # Binding is most of the cost of an insert here (sqlite3 copies every string and looks up an
        # adapter for every None and bool), and most fields of a batch hold one value in every row
        # (kind, operation, model, backend, status, ...). So a column the same in every row is bound
        # once, a column NULL in every row is left out (it defaults to NULL), and only the others go
        # in the VALUES list, one row each: half the CPU of binding every field (issue 8's bench).
        # The id always varies: the VALUES list is never empty.
        count = len(chunk)
        columns = list(zip(*chunk, strict=True))
        varying: list[int] = [0]
        constant: list[int] = []
        for index in range(1, len(columns)):
            column = columns[index]
            first = column[0]
            if column.count(first) != count:  # == as Python sees it: 1, 1.0 and True store alike
                varying.append(index)
            elif first is not None:
                constant.append(index)
        shape = (tuple(varying), tuple(constant), count)
        values = tuple(columns[index][0] for index in constant) + tuple(
            chain.from_iterable(zip(*[columns[index] for index in varying], strict=True))
        )
        connection.execute(self._statement(shape), values)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit mode: the transaction is spelled out in _write. check_same_thread off: the
            # connection is made and used in the executor's one thread, but closed from it too.
            connection = sqlite3.connect(
                self._path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            try:
                # As SQLLedger's own connections: WAL so that reports read while this writes;
                # synchronous=NORMAL, no fsync per commit (a power loss may lose the last batches).
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _statement(self, shape: _Shape) -> str:
        sql = self._statements.get(shape)
        if sql is None:
            varying, constant, rows = shape
            names = ", ".join(self._columns[index] for index in varying + constant)
            # The constants' parameters come first: they come first in the text.
            selected = ", ".join([f"column{n}" for n in range(1, len(varying) + 1)] + ["?"] * len(constant))
            group = "(" + ", ".join("?" * len(varying)) + ")"
            sql = (
                f"{self._head}({names}) SELECT {selected} FROM (VALUES {', '.join([group] * rows)})"
                " WHERE true ON CONFLICT (id) DO NOTHING"  # WHERE: SQLite's upsert-after-SELECT rule
            )
            if len(self._statements) < 16:  # shapes vary; a few texts are worth keeping (full batches)
                self._statements[shape] = sql
        return sql

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
