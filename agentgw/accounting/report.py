"""Usage reports: totals per principal, team, key, model, tool or agent over a time window.

One :class:`Report` is what ``GET /admin/usage`` returns as JSON and what ``agentgw usage`` prints as
a table (:func:`format_table`), so the two always agree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agentgw.accounting.errors import ReportError

__all__ = ["GROUPS", "Group", "Report", "ReportRow", "format_table", "parse_time"]


@dataclass(frozen=True, slots=True)
class Group:
    column: str
    kind: str | None = None
    """Only records of this kind (``model`` groups LLM requests only)."""
    operation: str | None = None


GROUPS: Mapping[str, Group] = {
    "principal": Group("principal"),
    "team": Group("team"),
    "key": Group("api_key"),
    "kind": Group("kind"),
    "model": Group("target", kind="llm"),
    "tool": Group("target", kind="mcp", operation="tools/call"),
    "agent": Group("target", kind="a2a"),
}
"""``group_by`` values and what they group."""

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True, slots=True)
class ReportRow:
    group: str | None
    """The principal, team, key, model, tool or agent; ``None`` for records without one (no team)."""
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    tool_arg_tokens: int
    tool_result_tokens: int
    cost_usd: float
    estimated: int
    """How many of the requests have estimated token counts."""
    errors: int
    """How many ended with a status of 400 or more."""


@dataclass(frozen=True, slots=True)
class Report:
    group_by: str
    since: dt.datetime | None
    until: dt.datetime | None
    groups: tuple[ReportRow, ...]
    totals: ReportRow

    @classmethod
    def of(
        cls, group_by: str, since: dt.datetime | None, until: dt.datetime | None, rows: Sequence[ReportRow]
    ) -> Report:
        """A report of ``rows``, sorted by cost then requests (largest first), with their totals."""
        ordered = tuple(sorted(rows, key=lambda r: (-r.cost_usd, -r.requests, r.group or "")))
        totals = ReportRow(
            group=None,
            requests=sum(r.requests for r in rows),
            input_tokens=sum(r.input_tokens for r in rows),
            output_tokens=sum(r.output_tokens for r in rows),
            cached_tokens=sum(r.cached_tokens for r in rows),
            tool_arg_tokens=sum(r.tool_arg_tokens for r in rows),
            tool_result_tokens=sum(r.tool_result_tokens for r in rows),
            cost_usd=sum(r.cost_usd for r in rows),
            estimated=sum(r.estimated for r in rows),
            errors=sum(r.errors for r in rows),
        )
        return cls(group_by, since, until, ordered, totals)

    def to_json(self, **extra: Any) -> dict[str, Any]:
        """The JSON form served by ``/admin/usage``; ``extra`` adds fields (the writer's counters)."""

        def row(r: ReportRow) -> dict[str, Any]:
            data = asdict(r)
            data["cost_usd"] = round(r.cost_usd, 9)
            return data

        totals = row(self.totals)
        del totals["group"]
        return {
            "group_by": self.group_by,
            "since": _iso(self.since),
            "until": _iso(self.until),
            "groups": [row(r) for r in self.groups],
            "totals": totals,
            **extra,
        }


def parse_time(value: str | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """A report bound as naive UTC: ISO 8601 (``2026-11-01``, ``2026-11-01T12:00:00Z``, with an offset)
    or relative to now (``30m``, ``24h``, ``7d``, ``2w``: that long ago).

    Raises:
        ReportError: ``value`` is neither.
    """
    if value is None or value == "":
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        current = now or dt.datetime.now(dt.UTC)
        moment = current - dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    else:
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ReportError(
                f"time {value!r} is neither ISO 8601 (2026-11-01T12:00:00Z) nor relative (24h, 7d)"
            ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def parse_group(value: str | None) -> str:
    """Raises: ReportError: not one of :data:`GROUPS`."""
    group = value or "principal"
    if group not in GROUPS:
        raise ReportError(f"group_by must be one of {', '.join(GROUPS)}, got {group!r}", param="group_by")
    return group


def format_table(report: Mapping[str, Any]) -> str:
    """The JSON form of a report (:meth:`Report.to_json`) as a plain-text table."""
    headers = ("GROUP", "REQUESTS", "INPUT", "OUTPUT", "CACHED", "TOOL ARGS", "TOOL RESULTS", "COST USD")
    lines: list[tuple[str, ...]] = []
    for group in report["groups"]:
        lines.append(_cells(str(group["group"]) if group["group"] is not None else "-", group))
    lines.append(_cells("TOTAL", report["totals"]))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]

    def render(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join((first, *rest)).rstrip()

    window = f"since {report.get('since') or 'the beginning'} until {report.get('until') or 'now'}"
    out = [f"usage by {report['group_by']}, {window}", render(headers)]
    out.extend(render(line) for line in lines[:-1])
    out.append("  ".join("-" * w for w in widths))
    out.append(render(lines[-1]))
    dropped = report.get("dropped_records")
    if dropped:
        out.append(f"warning: {dropped} usage records were dropped (ledger unavailable, buffer full)")
    return "\n".join(out)


def _cells(name: str, row: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        name,
        str(row["requests"]),
        str(row["input_tokens"]),
        str(row["output_tokens"]),
        str(row["cached_tokens"]),
        str(row["tool_arg_tokens"]),
        str(row["tool_result_tokens"]),
        f"{row['cost_usd']:.6f}",
    )


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"
