"""Helpers of the accounting tests: a ledger in a temporary SQLite file, read back after shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agentgw.accounting import SQLLedger, UsageRecord


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}"


def accounting_yaml(url: str, *, prices: str = "{}", extra: str = "") -> str:
    return f"""
accounting:
  ledger: {{url: "{url}", flush_interval_s: 0.05}}
  prices: {prices}
{extra}
"""


async def records_of(url: str, table_prefix: str = "agentgw_") -> list[UsageRecord]:
    """Every record in the ledger at ``url`` (a gateway that wrote it has been stopped, or flushed)."""
    ledger = SQLLedger(url, table_prefix=table_prefix)
    try:
        await ledger.open()
        return await ledger.records()
    finally:
        await ledger.aclose()


def read_records(url: str, table_prefix: str = "agentgw_") -> list[UsageRecord]:
    """:func:`records_of` for synchronous tests."""
    return asyncio.run(records_of(url, table_prefix))
