"""Usage accounting assembled from the ``accounting:`` section: prices, ledger, writer, observer."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from agentgw.accounting.ledger import LedgerStore, SQLLedger, default_ledger_url
from agentgw.accounting.observer import AccountingObserver
from agentgw.accounting.prices import Prices
from agentgw.accounting.report import Report
from agentgw.accounting.writer import LedgerWriter
from agentgw.config.accounting import AccountingConfig

__all__ = ["Accounting"]

log = logging.getLogger("agentgw.accounting")


def data_dir() -> Path:
    """Where the default ledger goes when the gateway runs without a config file (``create_app``
    embedded in another program): ``$XDG_DATA_HOME/agentgw``, else ``~/.local/share/agentgw``; never
    the working directory, which may be a source tree."""
    root = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    folder = Path(root) / "agentgw"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Accounting:
    """The accounting of one gateway process: :attr:`observer` goes into the gateway's observers.

    Changes to the section take effect on restart (the ledger and its writer are process-wide).
    """

    def __init__(
        self, config: AccountingConfig, base_dir: Path | None = None, *, store: LedgerStore | None = None
    ) -> None:
        self.config = config
        self.prices = Prices(config.prices)
        ledger = config.ledger
        self.url = default_ledger_url(ledger.url, base_dir or data_dir())
        self.store: LedgerStore = store or SQLLedger(self.url, table_prefix=ledger.table_prefix)
        self.writer = LedgerWriter(
            self.store,
            batch_size=ledger.batch_size,
            flush_interval_s=ledger.flush_interval_s,
            buffer_max=ledger.buffer_max,
            retry_max_s=ledger.retry_max_s,
        )
        self.observer = AccountingObserver(self.prices, self.writer.add, estimate=config.estimate)

    async def start(self) -> None:
        """Start the background writer (the ledger's tables are made at its first write)."""
        self.writer.start()

    async def stop(self) -> None:
        """Write what is buffered, then close the ledger (on graceful shutdown)."""
        await self.writer.aclose()
        if self.writer.dropped:
            log.warning("usage accounting dropped %d records in this run", self.writer.dropped)

    async def report(self, group_by: str, since: dt.datetime | None, until: dt.datetime | None) -> Report:
        """Totals from the ledger, after writing what is buffered (for up to 2 s).

        Raises:
            LedgerError: the ledger cannot be read.
        """
        await self.writer.flush(2.0)
        return await self.store.report(group_by, since, until)

    def counters(self) -> dict[str, Any]:
        """The writer's state, for reports and ``/metrics``."""
        writer = self.writer
        return {
            "pending_records": writer.pending,
            "dropped_records": writer.dropped,
            "written_records": writer.written,
            "ledger_error": writer.last_error,
        }
