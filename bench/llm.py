"""The ``llm`` suite: chat completions straight to a fake upstream vs through the gateway.

The upstream is ``examples/echo_llm.py`` (uvicorn, answers at once), so what the gateway adds is
measured rather than hidden behind model latency: requests/s and p50/p99 latency of a ~1 KB
non-streaming chat completion at concurrency 1 and 32, time to the first chunk of a streaming one,
and the gateway's resident memory after the load.
"""

from __future__ import annotations

import statistics

import httpx2
import orjson

from bench._harness import Comparison, Options, compare, comparison_table, load_generator
from bench._load import Target
from bench._processes import REPO, gateway, python_server
from bench._streaming import first_event_ms
from bench.errors import BenchError

__all__ = ["run"]

BODY_BYTES = 1024
CONCURRENCIES = (1, 32)
_UPSTREAM_MODEL = "echo-1"
_GATEWAY_MODEL = "bench"
_WORDS = "the quick brown fox jumps over the lazy dog while the gateway forwards every byte "


def run(options: Options) -> str:
    """Run the suite, print its table, and return the summary line.

    Raises:
        BenchError: a process did not start or a request failed.
    """
    generator = load_generator()
    with (
        python_server(REPO / "examples" / "echo_llm.py", ready_path="/v1/models") as (upstream, _),
        gateway(gateway_config(upstream)) as (gateway_url, gateway_process),
    ):
        direct = Target("direct", f"{upstream}/v1/chat/completions", chat_body(_UPSTREAM_MODEL))
        through = Target("gateway", f"{gateway_url}/v1/chat/completions", chat_body(_GATEWAY_MODEL))
        for target in (direct, through):
            _check_completion(target)
        comparisons = compare(generator, direct, through, CONCURRENCIES, options)
        streams = [
            Target(t.name, t.url, chat_body(model, stream=True))
            for t, model in ((direct, _UPSTREAM_MODEL), (through, _GATEWAY_MODEL))
        ]
        ttfc = first_event_ms(streams, options.sequential_requests)
        rss_mb = gateway_process.rss_mb()
        gateway_pid = gateway_process.pid

    ttfc_direct = statistics.median(ttfc["direct"])
    ttfc_gateway = statistics.median(ttfc["gateway"])
    _print_report(options, generator.name, generator.client_bound, list(comparisons.values()))
    print(
        f"TTFC p50 (streaming, to the first data: line; {options.sequential_requests} sequential requests"
        f" each): direct {ttfc_direct:.3f} ms, gateway {ttfc_gateway:.3f} ms,"
        f" added {ttfc_gateway - ttfc_direct:+.3f} ms"
    )
    print(f"gateway RSS after the load: {rss_mb:.1f} MB (pid {gateway_pid})")
    return summary_line(comparisons[1], comparisons[32], ttfc_gateway - ttfc_direct, rss_mb)


def summary_line(c1: Comparison, c32: Comparison, ttfc_added_ms: float, rss_mb: float) -> str:
    return (
        f"llm: rps_ratio={c32.rps_ratio:.3f} added_p50_ms={c1.added_p50_ms:.3f}"
        f" added_p99_ms={c1.added_p99_ms:.3f} ttfc_added_ms={ttfc_added_ms:.3f} rss_mb={rss_mb:.1f}"
    )


def gateway_config(upstream: str) -> dict[str, object]:
    """One OpenAI backend at ``upstream`` and the model ``bench`` routed to its ``echo-1``."""
    return {
        "listen": {"host": "127.0.0.1", "port": 0},
        "server": {"reload": False},
        "llm": {
            "backends": {"echo": {"provider": "openai", "base_url": f"{upstream}/v1"}},
            "models": [{"name": _GATEWAY_MODEL, "targets": [{"backend": "echo", "model": _UPSTREAM_MODEL}]}],
        },
    }


def chat_body(model: str, *, stream: bool = False) -> bytes:
    """A chat completion request of exactly :data:`BODY_BYTES` bytes, whatever the model name."""

    def body(content: str) -> bytes:
        return orjson.dumps(
            {
                "model": model,
                "messages": [
                    {"role": "system", "content": "You are a concise assistant."},
                    {"role": "user", "content": content},
                ],
                "temperature": 0,
                "max_tokens": 64,
                "stream": stream,
            }
        )

    room = BODY_BYTES - len(body(""))
    padded = body((_WORDS * (room // len(_WORDS) + 1))[:room])
    assert len(padded) == BODY_BYTES, len(padded)
    return padded


def _check_completion(target: Target) -> None:
    # wrk counts any answer; make sure both sides answer the real thing before timing them.
    try:
        response = httpx2.post(
            target.url, content=target.body, headers={"content-type": "application/json"}, trust_env=False
        )
    except httpx2.HTTPError as exc:
        raise BenchError(f"{target.name}: request failed: {exc}") from exc
    if response.status_code != 200:
        raise BenchError(f"{target.name}: HTTP {response.status_code}: {response.text[:500]}")
    content = response.json()["choices"][0]["message"]["content"]
    if not content.startswith("echo: "):
        raise BenchError(f"{target.name}: unexpected completion {content[:100]!r}")


def _print_report(
    options: Options, generator: str, client_bound: bool, comparisons: list[Comparison]
) -> None:
    runs = options.repetitions
    print(
        f"llm: {BODY_BYTES} B chat completion, non-streaming; load by {generator};"
        f" {options.duration_s:g} s per run, median of {runs} run{'s' if runs > 1 else ''}"
    )
    if client_bound:
        print("note: wrk is not installed; the Python client sets the pace at c=32: rps are client-bound")
    for line in comparison_table(comparisons):
        print(line)
