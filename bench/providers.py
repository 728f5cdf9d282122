"""The ``providers`` suite: what translating Anthropic Messages to OpenAI chat costs.

One upstream speaking Anthropic's wire format (``examples/echo_anthropic.py``) behind the gateway,
reached three ways with the same streamed ~1 KB request: directly (``POST /v1/messages``), through
the gateway passed through natively (``POST /v1/messages``), and through the gateway translated
(``POST /v1/chat/completions`` -> Messages, Messages events -> OpenAI chunks). Requests alternate
between the three over one keep-alive connection each, and each is timed to the end of its stream.
The translator's own throughput (OpenAI chunks produced per second from Messages events) is measured
in-process.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import httpx2
import orjson

from agentgw.llm.translate.chat_to_messages import MessagesStreamToChat
from bench._harness import Options
from bench._load import Target, percentile
from bench._processes import REPO, gateway, python_server
from bench.errors import BenchError

__all__ = ["run"]

_MODEL = "claude-bench"
_WORDS = "the quick brown fox jumps over the lazy dog while the gateway translates every event "
_CONTENT = (_WORDS * 12)[:900]
_WARMUP = 10


def run(options: Options) -> str:
    """Run the suite, print its table, and return the summary line.

    Raises:
        BenchError: a process did not start or a request failed.
    """
    with (
        python_server(REPO / "examples" / "echo_anthropic.py", ready_path="/v1/models") as (upstream, _),
        gateway(gateway_config(upstream)) as (url, _process),
    ):
        targets = [
            Target("direct", f"{upstream}/v1/messages", messages_body()),
            Target("pass-through", f"{url}/v1/messages", messages_body()),
            Target("translated", f"{url}/v1/chat/completions", chat_body()),
        ]
        requests = options.sequential_requests * 4
        times = stream_times(targets, requests)
    chunks_per_s = translator_throughput(5000 if options.quick else 20000)
    p50 = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"providers: streamed ~1 KB request, {len(_CONTENT.split())} text deltas; {requests} sequential"
        " requests per target, interleaved; time to the end of the stream"
    )
    print(f"  {'':14}{'p50 ms':>10}{'p99 ms':>10}")
    for name, values in times.items():
        ordered = sorted(values)
        print(f"  {name:14}{p50[name]:10.3f}{percentile(ordered, 0.99):10.3f}")
    added = p50["translated"] - p50["pass-through"]
    print(
        f"  gateway pass-through adds {p50['pass-through'] - p50['direct']:+.3f} ms; translation adds {added:+.3f} ms"
    )
    print(f"translator alone: {chunks_per_s:,.0f} OpenAI chunks/s from Messages events (one core)")
    return f"providers: translate_added_p50_ms={added:.3f} stream_chunks_per_s={chunks_per_s:.0f}"


def gateway_config(upstream: str) -> dict[str, object]:
    return {
        "listen": {"host": "127.0.0.1", "port": 0},
        "llm": {
            "backends": {"claude": {"provider": "anthropic", "base_url": upstream}},
            "models": [{"name": _MODEL, "targets": [{"backend": "claude"}]}],
        },
    }


def messages_body() -> bytes:
    return orjson.dumps(
        {
            "model": _MODEL,
            "max_tokens": 256,
            "system": "You are a concise assistant.",
            "messages": [{"role": "user", "content": _CONTENT}],
            "stream": True,
        }
    )


def chat_body() -> bytes:
    return orjson.dumps(
        {
            "model": _MODEL,
            "max_tokens": 256,
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": _CONTENT},
            ],
            "stream": True,
        }
    )


def stream_times(targets: Sequence[Target], requests: int) -> dict[str, list[float]]:
    """Per target, milliseconds from writing the request to the end of its stream.

    Raises:
        BenchError: a response was not 200 or did not end as its protocol ends a stream.
    """
    times: dict[str, list[float]] = {t.name: [] for t in targets}
    clients = {t.name: httpx2.Client(timeout=10.0, trust_env=False) for t in targets}
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    try:
        for index in range(_WARMUP + requests):
            for target in targets:
                start = time.perf_counter()
                try:
                    with clients[target.name].stream(
                        "POST", target.url, content=target.body, headers=headers
                    ) as r:
                        body = b"".join(r.iter_raw())
                except httpx2.HTTPError as exc:
                    raise BenchError(f"{target.name}: request failed: {exc}") from exc
                elapsed = (time.perf_counter() - start) * 1000
                if r.status_code != 200 or not (b"message_stop" in body or b"[DONE]" in body):
                    raise BenchError(f"{target.name}: HTTP {r.status_code}: {body[:300]!r}")
                if index >= _WARMUP:
                    times[target.name].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return times


def translator_throughput(deltas: int) -> float:
    """OpenAI chunks per second that :class:`MessagesStreamToChat` makes from a Messages stream."""

    def event(kind: str, data: dict[str, object]) -> bytes:
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"

    start = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [], "usage": {}}
    events = [
        event("message_start", {"message": start}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        *(
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": f" word{i}"}})
            for i in range(deltas)
        ),
        event("content_block_stop", {"index": 0}),
        event("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": deltas}}),
        event("message_stop", {}),
    ]
    translator = MessagesStreamToChat(include_usage=True)
    began = time.perf_counter()
    for chunk in events:
        translator.feed(chunk)
    elapsed = time.perf_counter() - began
    if not translator.done:
        raise BenchError("the translator did not finish the stream")
    return translator.chunks / elapsed
