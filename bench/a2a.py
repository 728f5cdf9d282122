"""The ``a2a`` suite: A2A ``SendMessage`` straight to an agent vs through the gateway.

The upstream is ``examples/a2a_echo_agent.py``, a real a2a-sdk agent that answers each message at once with
one message, so what the gateway adds is measured rather than hidden behind agent latency:
requests/s and p50/p99 latency of a JSON-RPC ``SendMessage`` at concurrency 1 and 32, and the
gateway's resident memory after the load.
"""

from __future__ import annotations

import httpx2
import orjson

from bench._harness import Comparison, Options, compare, comparison_table, load_generator
from bench._load import Target
from bench._processes import REPO, gateway, python_server
from bench.errors import BenchError

__all__ = ["run"]

CONCURRENCIES = (1, 32)
# The load generators send no custom headers: the version goes as a query parameter (A2A 1.0 3.6.1),
# which the gateway reads and forwards, and the bench agent honours.
_VERSION = "?A2A-Version=1.0"


def run(options: Options) -> str:
    """Run the suite, print its table, and return the summary line.

    Raises:
        BenchError: a process did not start or a request failed.
    """
    generator = load_generator()
    agent_script = REPO / "examples" / "a2a_echo_agent.py"
    with (
        python_server(agent_script, ready_path="/.well-known/agent-card.json") as (agent, _),
        gateway(gateway_config(agent)) as (gateway_url, gateway_process),
    ):
        direct = Target("direct", f"{agent}/{_VERSION}", send_message_body())
        through = Target("gateway", f"{gateway_url}/a2a/echo{_VERSION}", send_message_body())
        for target in (direct, through):
            _check_reply(target)
        comparisons = compare(generator, direct, through, CONCURRENCIES, options)
        rss_mb = gateway_process.rss_mb()
        gateway_pid = gateway_process.pid
    _print_report(options, generator.name, generator.client_bound, list(comparisons.values()))
    print(f"gateway RSS after the load: {rss_mb:.1f} MB (pid {gateway_pid})")
    return summary_line(comparisons[1], comparisons[32])


def summary_line(c1: Comparison, c32: Comparison) -> str:
    return f"a2a: send_added_p50_ms={c1.added_p50_ms:.3f} rps_ratio={c32.rps_ratio:.3f}"


def gateway_config(agent: str) -> dict[str, object]:
    return {"listen": {"host": "127.0.0.1", "port": 0}, "a2a": {"agents": {"echo": {"url": agent}}}}


def send_message_body() -> bytes:
    message = {
        "messageId": "bench-1",
        "role": "ROLE_USER",
        "parts": [{"text": "the quick brown fox jumps over the lazy dog"}],
    }
    return orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}})


def _check_reply(target: Target) -> None:
    # wrk counts any 2xx, and JSON-RPC errors are 2xx: make sure both sides really answer.
    try:
        response = httpx2.post(
            target.url, content=target.body, headers={"content-type": "application/json"}, trust_env=False
        )
    except httpx2.HTTPError as exc:
        raise BenchError(f"{target.name}: request failed: {exc}") from exc
    data = response.json() if response.status_code == 200 else {}
    text = data.get("result", {}).get("message", {}).get("parts", [{}])[0].get("text", "")
    if not text.startswith("echo: "):
        raise BenchError(f"{target.name}: unexpected answer {response.status_code}: {response.text[:300]}")


def _print_report(
    options: Options, generator: str, client_bound: bool, comparisons: list[Comparison]
) -> None:
    runs = options.repetitions
    print(
        f"a2a: JSON-RPC SendMessage to an a2a-sdk agent; load by {generator};"
        f" {options.duration_s:g} s per run, median of {runs} run{'s' if runs > 1 else ''}"
    )
    if client_bound:
        print("note: wrk is not installed; the Python client sets the pace at c=32: rps are client-bound")
    for line in comparison_table(comparisons):
        print(line)
