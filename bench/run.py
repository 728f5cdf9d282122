"""Run a benchmark suite of the gateway: ``python bench/run.py SUITE [--quick]``.

A suite prints a human-readable report; the last line of the output is always its summary,
``SUITE: key=value ...``, for scripts and CI to parse. ``--quick`` runs short measurements (well under
a minute in all); without it the runs are longer and repeated, and medians are reported.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/run.py` puts bench/ first on sys.path, where a suite module such as bench/mcp.py would
# shadow the installed package of the same name; the repository root takes its place, so that suites
# are imported as `bench.*`.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from bench import (
    a2a,
    accounting,
    auth,
    limits,
    llm,
    mcp,
    openapi,
    providers,
    telemetry,
    telemetry_instructions,
)
from bench._harness import Options
from bench.errors import BenchError

__all__ = ["SUITES", "Suite", "main"]


@dataclass(frozen=True, slots=True)
class Suite:
    run: Callable[[Options], str]
    """Prints the suite's report and returns its one-line summary."""
    help: str


# Adding a suite: a module bench/<name>.py with `run(options: Options) -> str`, and one line here.
SUITES: dict[str, Suite] = {
    "llm": Suite(llm.run, "OpenAI chat completions: upstream directly vs through the gateway"),
    "a2a": Suite(a2a.run, "A2A SendMessage: agent directly vs through the gateway"),
    "mcp": Suite(mcp.run, "MCP tools/call direct vs through /mcp; tools/list over 10 servers x 100 tools"),
    "telemetry": Suite(telemetry.run, "LLM route with tracing and metrics on vs off (overhead)"),
    "telemetry-instructions": Suite(
        telemetry_instructions.run, "the same, counted in instructions per request under valgrind (steady)"
    ),
    "accounting": Suite(accounting.run, "LLM route with usage accounting (SQLite ledger) on vs off"),
    "limits": Suite(limits.run, "LLM route with budgets and rate limits (memory, Redis) vs without"),
    "auth": Suite(auth.run, "LLM route with API key auth + RBAC (20 roles, 200 rules) vs without"),
    "providers": Suite(
        providers.run, "Anthropic backend: Messages passed through vs translated from OpenAI chat"
    ),
    "openapi": Suite(
        openapi.run, "GitHub's OpenAPI spec as tools: convert (time, RSS), tools/list, tools/call vs direct"
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark the gateway against its upstreams, on 127.0.0.1.",
        epilog="suites:\n" + "\n".join(f"  {name:12}{suite.help}" for name, suite in SUITES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("suite", choices=SUITES, metavar="SUITE", help="one of: " + ", ".join(SUITES))
    parser.add_argument("--quick", action="store_true", help="short runs, one repetition")
    args = parser.parse_args(argv)
    # Without a handler SIGTERM ends the interpreter at once, skipping the `finally` blocks that stop the
    # servers this run started.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        summary = SUITES[args.suite].run(Options(quick=args.quick))
    except BenchError as error:
        print(f"bench {args.suite}: {error}", file=sys.stderr)
        return 1
    print(summary, flush=True)
    return 0


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
