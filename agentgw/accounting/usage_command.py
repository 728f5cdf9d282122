"""``agentgw usage``: the usage report as a table, from a running gateway or from the ledger itself.

``--url`` asks a gateway's ``GET /admin/usage`` (with ``--api-key`` or ``AGENTGW_API_KEY`` as the
bearer credential: an admin's key), and so includes records not yet written. ``-c`` reads the ledger
the configuration names, directly; records a running gateway still buffers (at most
``flush_interval_s`` old) are not in it yet.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx2
import orjson

from agentgw.accounting.errors import LedgerError, ReportError
from agentgw.accounting.ledger import SQLLedger, default_ledger_url
from agentgw.accounting.report import GROUPS, format_table, parse_group, parse_time
from agentgw.config.loader import load_config
from agentgw.errors import ConfigError

__all__ = ["add_usage_parser", "run_usage"]

_TIMEOUT_S = 30.0


def add_usage_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    usage = commands.add_parser("usage", help="print the usage report (tokens, requests, cost)")
    usage.add_argument("--group-by", default="principal", choices=list(GROUPS), help="default: principal")
    usage.add_argument("--since", help="ISO 8601 time or date, or a duration ago (24h, 7d)")
    usage.add_argument("--until", help="ISO 8601 time or date, or a duration ago")
    usage.add_argument("--json", action="store_true", help="print the report as JSON")
    where = usage.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="read the ledger named by this configuration file")
    where.add_argument("--url", help="ask the gateway at this base URL (GET /admin/usage)")
    usage.add_argument("--api-key", help="credential for --url (default: $AGENTGW_API_KEY)")


def run_usage(args: argparse.Namespace) -> int:
    """Run ``agentgw usage``; returns the exit status."""
    try:
        report = _from_gateway(args) if args.url else _from_ledger(args)
    except (ConfigError, LedgerError, ReportError) as error:
        print(error.message, file=sys.stderr)
        return 1
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() if args.json else format_table(report))
    return 0


def _from_ledger(args: argparse.Namespace) -> dict[str, Any]:
    """Raises: ConfigError, LedgerError, ReportError."""
    config = load_config(args.config)
    group_by = parse_group(args.group_by)
    since, until = parse_time(args.since), parse_time(args.until)
    ledger = config.accounting.ledger
    url = default_ledger_url(ledger.url, Path(args.config).resolve().parent)

    async def read() -> dict[str, Any]:
        store = SQLLedger(url, table_prefix=ledger.table_prefix)
        try:
            await store.open()
            return (await store.report(group_by, since, until)).to_json()
        finally:
            await store.aclose()

    return asyncio.run(read())


def _from_gateway(args: argparse.Namespace) -> dict[str, Any]:
    """Raises: ReportError (the gateway refused or could not be reached)."""
    params = {"group_by": args.group_by}
    if args.since:
        params["since"] = args.since
    if args.until:
        params["until"] = args.until
    key = args.api_key or os.environ.get("AGENTGW_API_KEY")
    headers = {"authorization": f"Bearer {key}"} if key else {}
    url = f"{args.url.rstrip('/')}/admin/usage"
    try:
        response = httpx2.get(url, params=params, headers=headers, timeout=_TIMEOUT_S)
    except httpx2.HTTPError as exc:
        raise ReportError(f"cannot reach {url}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        raise ReportError(f"{url}: HTTP {response.status_code}: {message or response.text[:200]}")
    return body
