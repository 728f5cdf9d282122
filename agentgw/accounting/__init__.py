"""Usage accounting (issue 8): one usage record per request, its cost, the ledger and the reports.

Routes do not call accounting: they fill an :class:`agentgw.exchange.Exchange`, and
:class:`AccountingObserver` (one of the gateway's observers) turns each finished one into a
:class:`UsageRecord`, priced by :class:`Prices`, buffered and written in batches by
:class:`LedgerWriter` into a :class:`LedgerStore` (SQLite or PostgreSQL through SQLAlchemy).
"""

from agentgw.accounting.errors import AdminOnly, LedgerError, ReportError
from agentgw.accounting.ledger import LedgerStore, SQLLedger
from agentgw.accounting.observer import AccountingObserver
from agentgw.accounting.prices import Prices
from agentgw.accounting.record import UsageRecord
from agentgw.accounting.report import Report, ReportRow, format_table
from agentgw.accounting.routes import usage_routes
from agentgw.accounting.setup import Accounting
from agentgw.accounting.writer import LedgerWriter

__all__ = [
    "Accounting",
    "AccountingObserver",
    "AdminOnly",
    "LedgerError",
    "LedgerStore",
    "LedgerWriter",
    "Prices",
    "Report",
    "ReportError",
    "ReportRow",
    "SQLLedger",
    "UsageRecord",
    "format_table",
    "usage_routes",
]
