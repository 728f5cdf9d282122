"""The ``accounting`` suite: the LLM route with usage accounting on vs off (issue 8).

Two gateways in front of the same upstream (``examples/echo_llm.py``, which answers at once), alike but
for ``accounting.enabled``: on, every request becomes a usage record written in batches to the default
SQLite ledger (a file next to the gateway's config) by a background task; off, none is. Limits and
budgets keep their defaults in both (in-memory counters). Each gateway serves a ~1 KB non-streaming
chat completion at concurrency 32 in turn, rotating the order every round.

The overhead is the gateway process's CPU time per request (``/proc/<pid>/stat``, every thread
included), on vs off, median over rounds: on a shared machine it moves less with other load than
requests/s, which is printed too. The ledger must hold a record of every request the accounting
gateway answered (checked through ``/admin/usage``). ``records_per_s`` is what the SQLite ledger
absorbs in this process: records written in the gateway's default batches of 500, timed end to end.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

from agentgw.accounting import SQLLedger, UsageRecord
from agentgw.accounting.record import next_record_id
from bench._harness import Options, load_generator
from bench._load import LoadGenerator, Target
from bench._processes import REPO, ChildProcess, gateway, python_server
from bench.errors import BenchError
from bench.llm import _check_completion, chat_body, gateway_config
from bench.telemetry import _cpu_s

__all__ = ["run"]

CONCURRENCY = 32
_MODEL = "bench"
_BATCH = 500


@dataclass
class _Variant:
    name: str
    target: Target
    process: ChildProcess
    cpu_us: list[float]
    rps: list[float]
    p50_ms: list[float]
    requests: int = 0


def run(options: Options) -> str:
    """Run the suite, print its table, and return the summary line.

    Raises:
        BenchError: a process did not start, a request failed, or records are missing.
    """
    generator = load_generator()
    with (
        python_server(REPO / "examples" / "echo_llm.py", ready_path="/v1/models") as (upstream, _),
        gateway(_config(upstream, enabled=False)) as (off_url, off_process),
        gateway(_config(upstream, enabled=True)) as (on_url, on_process),
    ):
        variants = [
            _variant("accounting off", off_url, off_process),
            _variant("accounting on", on_url, on_process),
        ]
        for variant in variants:
            _check_completion(variant.target)
        _measure(generator, variants, options)
        recorded = _recorded(on_url)
    answered = variants[1].requests
    if recorded < answered:
        raise BenchError(f"the ledger holds {recorded} records for {answered} requests answered")
    records_per_s = _ledger_throughput(20_000 if options.quick else 100_000)
    off_cpu = statistics.median(variants[0].cpu_us)
    overhead = (statistics.median(variants[1].cpu_us) / off_cpu - 1) * 100
    rounds = _rounds(options)
    print(
        f"accounting: 1024 B chat completion, non-streaming, c={CONCURRENCY}; load by {generator.name};"
        f" {options.duration_s:g} s per run, median of {rounds} rounds; SQLite ledger"
    )
    print(f"  {'':18}{'requests/s':>12}{'p50 ms':>10}{'CPU µs/req':>12}{'CPU overhead':>14}")
    for v in variants:
        cpu = statistics.median(v.cpu_us)
        print(
            f"  {v.name:18}{statistics.median(v.rps):12.1f}{statistics.median(v.p50_ms):10.3f}"
            f"{cpu:12.1f}{(cpu / off_cpu - 1) * 100:+13.1f}%"
        )
    print(f"ledger: {recorded} records for {answered} requests answered (warm-up and checks included)")
    print(f"SQLite ledger write throughput in-process, batches of {_BATCH}: {records_per_s:.0f} records/s")
    return f"accounting: overhead_pct={overhead:.1f} records_per_s={records_per_s:.0f}"


def _config(upstream: str, *, enabled: bool) -> dict[str, object]:
    config = gateway_config(upstream)
    config["accounting"] = {"enabled": enabled}
    return config


def _variant(name: str, url: str, process: ChildProcess) -> _Variant:
    return _Variant(name, Target(name, f"{url}/v1/chat/completions", chat_body(_MODEL)), process, [], [], [])


def _measure(generator: LoadGenerator, variants: list[_Variant], options: Options) -> None:
    for variant in variants:
        result = generator.run(
            variant.target.url, variant.target.body, concurrency=CONCURRENCY, duration_s=options.warmup_s
        )
        variant.requests += result.requests
    for round_ in range(_rounds(options)):
        shift = round_ % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            before = _cpu_s(variant.process.pid)
            result = generator.run(
                variant.target.url,
                variant.target.body,
                concurrency=CONCURRENCY,
                duration_s=options.duration_s,
            )
            used = _cpu_s(variant.process.pid) - before
            variant.requests += result.requests
            variant.cpu_us.append(used / max(1, result.requests) * 1e6)
            variant.rps.append(result.rps)
            variant.p50_ms.append(result.p50_ms)


def _rounds(options: Options) -> int:
    return 4 if options.quick else 6


def _recorded(url: str) -> int:
    response = httpx2.get(f"{url}/admin/usage", params={"group_by": "model"}, trust_env=False, timeout=30)
    if response.status_code != 200:
        raise BenchError(f"/admin/usage: HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    if body["dropped_records"]:
        raise BenchError(f"the accounting gateway dropped {body['dropped_records']} records")
    requests: int = body["totals"]["requests"]
    return requests


def _ledger_throughput(count: int) -> float:
    record = UsageRecord(
        "", time.time(), "key:alice", "platform", "alice", "llm", "chat", "bench", "echo", 200, None,
        1.5, False, 1024, 1024, 200, 40, 0, 0, None, None, False, 0.000054,
    )  # fmt: skip
    records = [record._replace(id=next_record_id()) for _ in range(count)]

    async def write(folder: str) -> float:
        ledger = SQLLedger(f"sqlite+aiosqlite:///{Path(folder) / 'usage.db'}")
        try:
            await ledger.open()
            started = time.perf_counter()
            for i in range(0, count, _BATCH):
                await ledger.write(records[i : i + _BATCH])
            return count / (time.perf_counter() - started)
        finally:
            await ledger.aclose()

    with tempfile.TemporaryDirectory(prefix="agentgw-bench-ledger-") as folder:
        return asyncio.run(write(folder))
