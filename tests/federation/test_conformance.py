"""The MCP conformance suite (``@modelcontextprotocol/conformance``, Node 22) against our fixture
server directly and through the gateway's ``/mcp``: the pass counts must be equal, with no failure.

Needs ``AGENTGW_NODE22`` (a Node 22 binary) and ``AGENTGW_MCP_CONFORMANCE`` (the suite's
``dist/index.js``), installed outside the repository (see TESTING.md); without them the test is
skipped, or fails when ``CI=true``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.support.servers import REPO, free_port, serve_app, wait_for

NODE = os.environ.get("AGENTGW_NODE22", "")
SUITE = os.environ.get("AGENTGW_MCP_CONFORMANCE", "")

pytestmark = pytest.mark.timeout(600)


def _suite_or_skip() -> tuple[str, str]:
    if NODE and SUITE and Path(NODE).exists() and Path(SUITE).exists():
        return NODE, SUITE
    message = "set AGENTGW_NODE22 and AGENTGW_MCP_CONFORMANCE to run the MCP conformance suite"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def fixture_url() -> Iterator[str]:
    _suite_or_skip()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.conformance_fixture", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"

    def answers() -> bool:
        try:
            httpx2.get(url, timeout=1)
        except httpx2.TransportError:
            return False
        return True

    try:
        wait_for(lambda: answers() or process.poll() is not None, timeout=30)
        assert process.poll() is None, "the conformance fixture did not start"
        yield url
    finally:
        process.terminate()
        process.wait(10)


def run_suite(url: str, cwd: Path) -> tuple[int, int, str]:
    node, suite = _suite_or_skip()
    # The suite writes its results under the working directory: keep them out of the repository.
    done = subprocess.run(
        [node, suite, "server", "--url", url], capture_output=True, text=True, timeout=500, cwd=cwd
    )
    match = re.search(r"Total: (\d+) passed, (\d+) failed", done.stdout)
    assert match, done.stdout[-2000:] + done.stderr[-2000:]
    return int(match.group(1)), int(match.group(2)), done.stdout


def test_conformance_through_the_gateway_equals_direct(fixture_url: str, tmp_path: Path) -> None:
    config = parse_config(
        f'server: {{reload: false}}\nmcp: {{servers: {{fixture: {{url: "{fixture_url}"}}}}}}'
    )
    direct = run_suite(fixture_url, tmp_path)
    with serve_app(create_app(config)) as gateway:
        through = run_suite(f"{gateway}/mcp", tmp_path)
    assert direct[:2] == through[:2], through[2]
    assert through[0] > 0 and through[1] == 0, through[2]
