"""The ``openapi`` suite: GitHub's REST API spec (1,223 operations) as MCP tools.

- Conversion: load and convert ``api.github.com.json`` (13 MB, OpenAPI 3.0.3) in a fresh interpreter
  (:mod:`bench._openapi_convert`), timing it and reading that process's peak RSS.
- Listing: the gateway serves the spec's tools on ``/mcp``; ``tools/list`` (MCP 2026-07-28,
  stateless) is timed at concurrency 1.
- Calling: the tool ``meta/get-zen`` through ``/mcp``, against a local app that answers GitHub's
  ``GET /zen`` (:mod:`bench._openapi_upstream`), vs the same HTTP call straight to the app.

The spec comes from ``$AGENTGW_OPENAPI_SPECS`` (the file, or a folder holding it) or from the npm
package ``@octokit/openapi`` installed into ``~/.cache/agentgw-tools/openapi``
(``npm install --prefix ~/.cache/agentgw-tools/openapi @octokit/openapi``), never from the repository.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench._harness import Options, compare, comparison_table, load_generator
from bench._load import Target
from bench._processes import REPO, gateway, python_server
from bench.errors import BenchError
from bench.mcp import _body, _headers, check_jsonrpc

__all__ = ["find_github_spec", "run"]

_SPEC_NAME = "api.github.com.json"
_PACKAGE = Path("node_modules/@octokit/openapi/generated") / _SPEC_NAME
_CACHE = Path.home() / ".cache" / "agentgw-tools" / "openapi"
_ZEN_TOOL = "meta_get-zen"


def run(options: Options) -> str:
    """Run the suite, print its report, and return the summary line.

    Raises:
        BenchError: the spec is missing, a process did not start, or a request failed.
    """
    spec = find_github_spec()
    conversions = [_convert(spec) for _ in range(1 if options.quick else 3)]
    convert_s = statistics.median(c["seconds"] for c in conversions)
    peak_mb = max(c["peak_rss_mb"] for c in conversions)
    tools = conversions[0]["tools"]

    generator = load_generator()
    with python_server(REPO / "bench" / "_openapi_upstream.py", ready_path="/zen") as (upstream, _):
        config = {
            "listen": {"host": "127.0.0.1", "port": 0},
            "mcp": {"servers": {"github": {"openapi": str(spec), "base_url": upstream}}},
        }
        with gateway(config) as (url, process):
            # The federation pages tools/list (1,000 a page): each page is timed on its own, and a
            # full listing costs the sum of their medians.
            pages = _pages(f"{url}/mcp", tools)
            page_runs = [
                generator.run(
                    page.url, page.body, concurrency=1, duration_s=options.duration_s, headers=page.headers
                )
                for page in pages
            ]
            list_p50_ms = sum(r.p50_ms for r in page_runs)
            call = Target(
                "gateway",
                f"{url}/mcp",
                _body("tools/call", {"name": _ZEN_TOOL, "arguments": {}}),
                _headers("tools/call", _ZEN_TOOL),
            )
            check_jsonrpc(
                call, lambda result: not result.get("isError") and "awesome" in str(result.get("content"))
            )
            # Load generators POST; the app answers POST /zen as it answers GET /zen.
            direct = Target("direct", f"{upstream}/zen", b"", ())
            calls = compare(generator, direct, call, (1,), options)
            rss_mb = process.rss_mb()

    print(f"GitHub spec: {spec}")
    print(f"  conversion: {convert_s:.3f} s, {tools} tools, peak RSS {peak_mb:.1f} MB (fresh interpreter)")
    print(f"MCP tools/list of {tools} tools through /mcp, c=1, load generator: {generator.name}")
    for index, page in enumerate(page_runs):
        print(
            f"  page {index + 1}: p50 {page.p50_ms:.3f} ms, p99 {page.p99_ms:.3f} ms, {page.rps:.1f} requests/s"
        )
    print(f"  all {len(page_runs)} pages: p50 {list_p50_ms:.3f} ms")
    print("tools/call meta/get-zen through /mcp vs GET /zen direct")
    print("\n".join(comparison_table(list(calls.values()))))
    print(f"gateway RSS after the load: {rss_mb:.1f} MB")
    return (
        f"openapi: github_convert_s={convert_s:.3f} github_peak_rss_mb={peak_mb:.1f}"
        f" list_p50_ms={list_p50_ms:.3f} call_added_p50_ms={calls[1].added_p50_ms:.3f}"
    )


def find_github_spec() -> Path:
    """Where GitHub's spec is on this machine.

    Raises:
        BenchError: it is in neither place; the message says how to install it.
    """
    candidates: list[Path] = []
    configured = os.environ.get("AGENTGW_OPENAPI_SPECS")
    if configured:
        root = Path(configured)
        candidates += [root, root / _SPEC_NAME, root / _PACKAGE, root / _PACKAGE.relative_to("node_modules")]
    candidates.append(_CACHE / _PACKAGE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BenchError(
        f"{_SPEC_NAME} not found (looked in {', '.join(map(str, candidates))});"
        f" install it: npm install --prefix {_CACHE} @octokit/openapi"
    )


def _convert(spec: Path) -> dict[str, float]:
    child = subprocess.run(
        [sys.executable, "-m", "bench._openapi_convert", str(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if child.returncode != 0:
        raise BenchError(f"converting {spec} failed:\n{child.stderr[-2000:]}")
    result: dict[str, float] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def _pages(url: str, tools: int) -> list[Target]:
    """One ``tools/list`` request per page, following ``nextCursor`` once; checks all tools come back.

    Raises:
        BenchError: a page failed or the pages do not add up to ``tools``.
    """
    targets: list[Target] = []
    seen = 0
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor is not None else {}
        target = Target("gateway", url, _body("tools/list", params), _headers("tools/list"))
        result: dict[str, Any] = {}
        check_jsonrpc(target, lambda answer, result=result: bool(result.update(answer)) or "tools" in answer)
        targets.append(target)
        seen += len(result["tools"])
        cursor = result.get("nextCursor")
        if not cursor or len(targets) > 10:
            break
    if seen != tools:
        raise BenchError(f"tools/list through the gateway returned {seen} tools, not {tools}")
    return targets
