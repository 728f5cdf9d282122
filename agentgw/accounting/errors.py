"""Errors of usage accounting.

:class:`LedgerError` is what a ledger store raises when the database cannot be reached or refuses a
statement; the writer keeps the records and retries. :class:`ReportError` is a report request the
gateway cannot answer as asked (an unknown grouping, a malformed time); the admin route turns it into
a 400 and the CLI into a message.
"""

from __future__ import annotations

from agentgw.errors import ClientError, GatewayError

__all__ = ["AdminOnly", "LedgerError", "ReportError"]


class LedgerError(GatewayError):
    """The ledger database failed (unreachable, read-only, refused the statement)."""

    code = "ledger_unavailable"
    status = 503


class ReportError(ClientError):
    """A usage report asked for something that is not valid."""


class AdminOnly(ClientError):
    """The report was asked for by a principal without an admin role (or, in anonymous mode, from a
    non-loopback address)."""

    status = 403
    code = "permission_denied"
