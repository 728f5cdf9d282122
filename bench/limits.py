"""The ``limits`` suite: the LLM route with budgets and rate limits vs without (issue 8, part B).

Gateways in front of the same upstream (``examples/echo_llm.py``, which answers at once), alike but
for ``limits:``: none; three rules (the principal's requests and tokens per minute, its daily token
budget, the model's monthly money budget) with counters in memory; the same rules with counters in
Redis (127.0.0.1:6379, when reachable). Limits are high enough never to refuse, so every request
pays the whole admission: estimate, reserve on four counters, correct with the reported usage. They
are compared on a ~1 KB non-streaming chat completion at concurrency 1 and 32, in alternating runs.
The in-process cost of one admission + settlement is printed too, with no rules and with the three.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
import uuid
from contextlib import ExitStack

import orjson

from agentgw.auth.principal import ANONYMOUS
from agentgw.config.model import GatewayConfig
from agentgw.errors import GatewayError
from agentgw.exchange import Exchange, Usage
from agentgw.limits import Limits
from bench._harness import Comparison, Options, compare, comparison_table, load_generator
from bench._load import Target
from bench._processes import REPO, gateway, python_server
from bench.errors import BenchError
from bench.llm import chat_body, gateway_config

__all__ = ["run"]

CONCURRENCIES = (1, 32)
_MODEL = "bench"
_HIGH = 10**12


def limits_section(store: str = "memory", prefix: str = "agentgw:limits:") -> dict[str, object]:
    return {
        "store": store,
        "key_prefix": prefix,
        "rate_limits": [{"scope": "principal", "requests_per_minute": _HIGH, "tokens_per_minute": _HIGH}],
        "budgets": [
            {"scope": "principal", "period": "day", "tokens": _HIGH},
            {"scope": "model", "period": "month", "cost_usd": 1e9},
        ],
    }


def bench_config(upstream: str, limits: dict[str, object] | None) -> dict[str, object]:
    config = gateway_config(upstream)
    config["accounting"] = {
        "enabled": False,
        "prices": {"models": {_MODEL: {"input_per_mtok": 0.15, "output_per_mtok": 0.6}}},
    }
    if limits is not None:
        config["limits"] = limits
    return config


def run(options: Options) -> str:
    """Run the suite, print its table, and return the summary line.

    Raises:
        BenchError: a process did not start or a request failed.
    """
    generator = load_generator()
    redis = _redis_reachable()
    with ExitStack() as stack:
        upstream, _ = stack.enter_context(
            python_server(REPO / "examples" / "echo_llm.py", ready_path="/v1/models")
        )
        open_url, _ = stack.enter_context(gateway(bench_config(upstream, None)))
        memory_url, _ = stack.enter_context(gateway(bench_config(upstream, limits_section())))
        baseline = Target("no limits", f"{open_url}/v1/chat/completions", chat_body(_MODEL))
        memory = Target("limits (memory)", f"{memory_url}/v1/chat/completions", chat_body(_MODEL))
        comparisons = {"memory": compare(generator, baseline, memory, CONCURRENCIES, options)}
        if redis:
            prefix = f"agentgw-bench:{uuid.uuid4().hex}:"
            redis_url, _ = stack.enter_context(
                gateway(bench_config(upstream, limits_section("redis://127.0.0.1:6379/0", prefix)))
            )
            shared = Target("limits (redis)", f"{redis_url}/v1/chat/completions", chat_body(_MODEL))
            comparisons["redis"] = compare(generator, baseline, shared, CONCURRENCIES, options)
    none_us, memory_us = _admission_us(None), _admission_us(limits_section())

    runs = options.repetitions
    print(
        f"limits: 1024 B chat completion, non-streaming; 4 counters per request (rpm, tpm, day tokens,"
        f" month usd) vs no limits; load by {generator.name}; {options.duration_s:g} s per run,"
        f" median of {runs} run{'s' if runs > 1 else ''}"
    )
    if generator.client_bound:
        print("note: wrk is not installed; the Python client sets the pace at c=32: rps are client-bound")
    for store, by_concurrency in comparisons.items():
        print(f"counters in {store}:")
        for line in comparison_table(list(by_concurrency.values()), baseline="no limits"):
            print(line.replace("gateway cost", "limits cost ").replace("gateway     ", f"{store:12}"))
    if not redis:
        print("redis: not reachable on 127.0.0.1:6379; the Redis store was not measured")
    print(f"in-process: admit + settle, no rules {none_us:.2f} us; 3 rules in memory {memory_us:.2f} us")
    return _summary(comparisons["memory"], comparisons.get("redis"), none_us, memory_us)


def _summary(
    memory: dict[int, Comparison], redis: dict[int, Comparison] | None, none_us: float, memory_us: float
) -> str:
    line = f"limits: memory_added_p50_ms={memory[1].added_p50_ms:.3f} memory_rps_ratio={memory[32].rps_ratio:.3f}"
    if redis is not None:
        line += f" redis_added_p50_ms={redis[1].added_p50_ms:.3f} redis_rps_ratio={redis[32].rps_ratio:.3f}"
    return line + f" admit_none_us={none_us:.2f} admit_memory_us={memory_us:.2f}"


def _admission_us(limits: dict[str, object] | None) -> float:
    """Median cost of admitting a chat completion and settling it, in-process, memory counters."""
    config = GatewayConfig.model_validate(bench_config("http://127.0.0.1:1", limits))
    body = orjson.loads(chat_body(_MODEL))
    gate = Limits(config.limits)

    async def measure() -> list[float]:
        samples = []
        for _ in range(20_000):
            start = time.perf_counter()
            exchange = Exchange("llm", "/v1/chat/completions", "chat")
            exchange.target = _MODEL
            await gate.admit_llm(config, ANONYMOUS, exchange, body)
            exchange.status, exchange.usage = 200, Usage(input_tokens=200, output_tokens=10)
            gate.settle(exchange)
            samples.append((time.perf_counter() - start) * 1e6)
        return samples

    try:
        return statistics.median(asyncio.run(measure()))
    except GatewayError as exc:  # a refusal would mean the bench limits are wrong
        raise BenchError(f"in-process admission failed: {exc}") from exc


def _redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True
