"""The ledger: where usage records are kept, behind the :class:`LedgerStore` protocol.

:class:`SQLLedger` is the one implementation: SQLAlchemy 2 Core over an async engine, so the same
code serves the embedded default (SQLite through ``aiosqlite``) and PostgreSQL (``asyncpg``); the
dialects differ only in the insert that ignores already-stored ids, which both spell
``ON CONFLICT DO NOTHING``. Batches into a SQLite file skip the engine: they go through the
standard library's driver in a thread of their own (:mod:`agentgw.accounting.sqlite_batch`), which
costs the event loop one hop per batch. Every SQLAlchemy or driver failure is translated into
:class:`~agentgw.accounting.errors.LedgerError` here, where it enters.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agentgw.accounting.errors import LedgerError
from agentgw.accounting.record import UsageRecord
from agentgw.accounting.report import GROUPS, Report, ReportRow
from agentgw.accounting.sqlite_batch import SQLiteBatchWriter

__all__ = ["LedgerStore", "SQLLedger", "default_ledger_url"]

DEFAULT_FILE = "agentgw-usage.db"
_CONNECT_TIMEOUT_S = 5.0
_COMMAND_TIMEOUT_S = 30.0  # a database that accepts a statement and never answers must not stall the writer


class LedgerStore(Protocol):
    """A place for usage records. Implementations translate their failures into ``LedgerError``."""

    async def open(self) -> None:
        """Create what is missing (tables, indexes). Raises: LedgerError."""
        ...

    async def write(self, records: Sequence[tuple[Any, ...]]) -> None:
        """Store ``records`` (:class:`UsageRecord` instances, or plain tuples of their fields in order)
        in one transaction; ids already stored are skipped. Raises: LedgerError."""
        ...

    async def report(self, group_by: str, since: dt.datetime | None, until: dt.datetime | None) -> Report:
        """Totals per group over ``[since, until)`` (UTC). Raises: LedgerError."""
        ...

    async def aclose(self) -> None: ...


def default_ledger_url(url: str | None, base_dir: Path) -> str:
    """The ledger URL to use: ``url`` with a relative SQLite path made relative to ``base_dir``, or the
    default file ``agentgw-usage.db`` in ``base_dir``."""
    if url is None:
        return f"sqlite+aiosqlite:///{(base_dir / DEFAULT_FILE).resolve()}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute():
            return parsed.set(database=str((base_dir / path).resolve())).render_as_string(hide_password=False)
    return url


def usage_table(metadata: MetaData, prefix: str) -> Table:
    """The ledger's table: the columns are :class:`UsageRecord`'s fields, in order (``key`` is named
    ``api_key``: KEY is an SQL keyword)."""
    name = f"{prefix}usage"
    return Table(
        name,
        metadata,
        Column("id", String(32), primary_key=True),
        # Seconds since the epoch (UTC): cheap to write, the same in every database
        # (PostgreSQL: to_timestamp(ts); SQLite: datetime(ts, 'unixepoch')).
        Column("ts", Float, nullable=False),
        Column("principal", String(256), nullable=False),
        Column("team", String(256)),
        Column("api_key", String(256)),
        Column("kind", String(8), nullable=False),
        Column("operation", String(64), nullable=False),
        Column("target", String(512)),
        Column("backend", String(256)),
        Column("status", Integer, nullable=False),
        Column("error_type", String(128)),
        Column("latency_ms", Float, nullable=False),
        Column("stream", Boolean, nullable=False),
        Column("bytes_in", Integer),
        Column("bytes_out", Integer),
        Column("input_tokens", Integer),
        Column("output_tokens", Integer),
        Column("cached_tokens", Integer),
        Column("reasoning_tokens", Integer),
        Column("tool_arg_tokens", Integer),
        Column("tool_result_tokens", Integer),
        Column("estimated", Boolean, nullable=False),
        Column("cost_usd", Float, nullable=False),
        Index(f"{name}_ts", "ts"),
    )


class SQLLedger:
    """A :class:`LedgerStore` in a SQL database reached by an async SQLAlchemy URL."""

    def __init__(self, url: str, *, table_prefix: str = "agentgw_") -> None:
        try:
            parsed = make_url(url)
            self.dialect = parsed.get_backend_name()
            connect_args: dict[str, Any] = (
                {"timeout": _CONNECT_TIMEOUT_S, "command_timeout": _COMMAND_TIMEOUT_S}
                if self.dialect == "postgresql"
                else {}
            )
            # A server's connections can go stale (a restart, a proxy): pinged before use. A file's
            # cannot, and a ping is a round trip to the driver's thread.
            self._engine: AsyncEngine = create_async_engine(
                parsed, pool_pre_ping=self.dialect != "sqlite", connect_args=connect_args
            )
        except (ArgumentError, ImportError) as exc:
            raise LedgerError(f"ledger URL is not usable: {exc}") from exc
        self.url = parsed.render_as_string(hide_password=True)
        self._metadata = MetaData()
        self.table = usage_table(self._metadata, table_prefix)
        if self.dialect == "sqlite":
            # WAL: reports read while the writer writes; synchronous=NORMAL: no fsync per commit (a
            # power loss may lose the last batches, never corrupt the file).
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(self.table)
        # Compiled once, in the driver's own parameter style, and executed with tuples: SQLAlchemy's
        # per-row processing of executemany costs more than the database's own insert.
        compiled = insert.on_conflict_do_nothing(index_elements=["id"]).compile(dialect=self._engine.dialect)
        self._insert_sql = str(compiled)
        names = tuple("key" if name == "api_key" else name for name in compiled.positiontup or ())
        if sorted(names) != sorted(UsageRecord._fields):
            raise LedgerError(f"the {self.dialect} dialect does not compile positional inserts")
        # The columns are the record's fields in order, so a record is its row as it is.
        self._row: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = (
            None
            if names == UsageRecord._fields
            else itemgetter(*(UsageRecord._fields.index(n) for n in names))
        )
        # SQLite files are written with the stdlib driver in a thread of their own (sqlite_batch.py);
        # an in-memory database exists only in the engine's connection, so it keeps the engine.
        self._batches: SQLiteBatchWriter | None = None
        database = parsed.database if self.dialect == "sqlite" else None
        if database and database != ":memory:" and not database.startswith("file:") and self._row is None:
            columns = [column.name for column in self.table.columns]
            self._batches = SQLiteBatchWriter(database, self.table.name, columns)

    async def open(self) -> None:
        try:
            if self.dialect == "sqlite":
                database = self._engine.url.database
                if database and database != ":memory:":
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
            async with self._engine.begin() as connection:
                await connection.run_sync(self._metadata.create_all)
        except (SQLAlchemyError, OSError) as exc:
            raise LedgerError(f"ledger {self.url}: {_reason(exc)}") from exc

    async def write(self, records: Sequence[tuple[Any, ...]]) -> None:
        if not records:
            return
        if self._batches is not None:
            try:
                await self._batches.write(records)
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger {self.url}: {_reason(exc)}") from exc
            return
        try:
            async with self._engine.begin() as connection:
                row = self._row
                rows = records if row is None else [row(record) for record in records]
                await connection.exec_driver_sql(self._insert_sql, rows)
        except (SQLAlchemyError, OSError) as exc:
            raise LedgerError(f"ledger {self.url}: {_reason(exc)}") from exc

    async def report(self, group_by: str, since: dt.datetime | None, until: dt.datetime | None) -> Report:
        table = self.table
        group = GROUPS[group_by]
        key = table.c[group.column]
        metrics = (
            func.count().label("requests"),
            func.coalesce(func.sum(table.c.input_tokens), 0).label("input_tokens"),
            func.coalesce(func.sum(table.c.output_tokens), 0).label("output_tokens"),
            func.coalesce(func.sum(table.c.cached_tokens), 0).label("cached_tokens"),
            func.coalesce(func.sum(table.c.tool_arg_tokens), 0).label("tool_arg_tokens"),
            func.coalesce(func.sum(table.c.tool_result_tokens), 0).label("tool_result_tokens"),
            func.coalesce(func.sum(table.c.cost_usd), 0.0).label("cost_usd"),
            func.sum(func.cast(table.c.estimated, Integer)).label("estimated"),
            func.sum(func.cast(table.c.status >= 400, Integer)).label("errors"),
        )
        query = select(key.label("group"), *metrics).group_by(key)
        if group.kind is not None:
            query = query.where(table.c.kind == group.kind)
        if group.operation is not None:
            query = query.where(table.c.operation == group.operation)
        if since is not None:
            query = query.where(table.c.ts >= _epoch(since))
        if until is not None:
            query = query.where(table.c.ts < _epoch(until))
        try:
            async with self._engine.connect() as connection:
                result = await connection.execute(query)
                rows = [
                    ReportRow(
                        group=row.group,
                        requests=int(row.requests),
                        input_tokens=int(row.input_tokens),
                        output_tokens=int(row.output_tokens),
                        cached_tokens=int(row.cached_tokens),
                        tool_arg_tokens=int(row.tool_arg_tokens),
                        tool_result_tokens=int(row.tool_result_tokens),
                        cost_usd=float(row.cost_usd),
                        estimated=int(row.estimated or 0),
                        errors=int(row.errors or 0),
                    )
                    for row in result
                ]
        except (SQLAlchemyError, OSError) as exc:
            raise LedgerError(f"ledger {self.url}: {_reason(exc)}") from exc
        return Report.of(group_by, since, until, rows)

    async def records(self, since: dt.datetime | None = None) -> list[UsageRecord]:
        """Every stored record (from ``since``, UTC), oldest first: for exports and tests.

        Raises:
            LedgerError: the ledger cannot be read.
        """
        table = self.table
        query = select(table).order_by(table.c.ts, table.c.id)
        if since is not None:
            query = query.where(table.c.ts >= _epoch(since))
        try:
            async with self._engine.connect() as connection:
                result = await connection.execute(query)
                rows = [dict(row._mapping) for row in result]
        except (SQLAlchemyError, OSError) as exc:
            raise LedgerError(f"ledger {self.url}: {_reason(exc)}") from exc
        return [_record(row) for row in rows]

    async def drop(self) -> None:
        """Drop the usage table (tests that share a database clean up with it). Raises: LedgerError."""
        try:
            async with self._engine.begin() as connection:
                await connection.run_sync(self._metadata.drop_all)
        except (SQLAlchemyError, OSError) as exc:
            raise LedgerError(f"ledger {self.url}: {_reason(exc)}") from exc

    async def aclose(self) -> None:
        if self._batches is not None:
            await self._batches.aclose()
        await self._engine.dispose()


def _epoch(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.UTC).timestamp()


def _record(row: dict[str, Any]) -> UsageRecord:
    row["key"] = row.pop("api_key")
    return UsageRecord(**row)


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _reason(exc: BaseException) -> str:
    # SQLAlchemy wraps the driver's error; its first line says what happened without the statement.
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc) or type(exc).__name__
    return text.splitlines()[0][:300]
