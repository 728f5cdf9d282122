"""The ``telemetry`` suite: the LLM route with tracing and metrics on vs off (issue 9).

Gateways in front of the same upstream (``examples/echo_llm.py``, which answers at once), alike but
for the ``telemetry:`` section: everything off; metrics only (``/metrics`` served); metrics and 10%
of traces (the default ``sample_ratio``); metrics and every trace. Spans are exported over OTLP/HTTP
to a sink standing in for a collector (``bench/_otlp_sink.py``), so encoding and sending them is
paid for. Each gateway serves a ~1 KB non-streaming chat completion at concurrency 32 in turn,
rotating the order every round.

The overhead is measured as the gateway process's CPU time per request (``/proc/<pid>/stat``,
every thread included): on a shared machine it moves less with other load than requests/s does,
which is also printed. Two sources of noise are taken out. Drift of the machine over time: each
round runs every variant (in rotated order) and a variant's overhead is the median over rounds of its
CPU against the off variant's *in the same round*. The luck of a process: identical gateway
processes differ by up to ~10% in CPU per request from one start to the next (measured here: memory
layout, caches; not the code under test), so each variant runs as :data:`PROCESSES` processes and a
round takes the mean over them. Half the interquartile range of the rounds' ratios is printed next
to each overhead as its noise: an overhead within the noise is not a measurement. The telemetry
code's own cost per request is also timed in this process (the observer on a typical exchange, plus
OTLP encoding of its spans), which no other load disturbs much. The summary's ``overhead_pct`` is
metrics plus every trace.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import orjson

from agentgw.exchange import Exchange, UpstreamCall
from agentgw.llm.usage import record_response
from agentgw.telemetry.metrics import MetricSet
from agentgw.telemetry.observer import TelemetryObserver
from agentgw.telemetry.otlp import encode_spans
from agentgw.telemetry.spans import FrozenSpan
from bench._harness import Options, load_generator
from bench._load import LoadGenerator, Target
from bench._processes import REPO, ChildProcess, gateway, python_server
from bench._streaming import first_event_ms
from bench.errors import BenchError
from bench.llm import _check_completion, chat_body, gateway_config

__all__ = ["run"]

CONCURRENCY = 32
PROCESSES = 3
"""Gateway processes per variant (see the module docstring: the luck of a process)."""
_MODEL = "bench"
_TICK_S = 1 / os.sysconf("SC_CLK_TCK")
_OFF: dict[str, object] = {"metrics": False, "prometheus": False, "traces": False}


@dataclass
class _Variant:
    name: str
    telemetry: dict[str, object]
    targets: list[Target] = field(default_factory=list)
    processes: list[ChildProcess] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    """Per round, the mean over the processes of their CPU µs per request."""
    rps: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)


def run(options: Options) -> str:
    """Run the suite, print its table, and return the summary line.

    Raises:
        BenchError: a process did not start or a request failed.
    """
    generator = load_generator()
    with (
        python_server(REPO / "examples" / "echo_llm.py", ready_path="/v1/models") as (upstream, _),
        python_server(REPO / "bench" / "_otlp_sink.py", ready_path="/") as (sink, _),
        contextlib.ExitStack() as gateways,
    ):
        variants = [
            _Variant("telemetry off", _OFF),
            _Variant("metrics only", _on(sink, traces=False)),
            _Variant("metrics + 10% traced", _on(sink, traces=True, ratio=0.1)),
            _Variant("metrics + all traced", _on(sink, traces=True, ratio=1.0)),
        ]
        for _ in range(PROCESSES):
            for variant in variants:
                url, process = gateways.enter_context(gateway(_config(upstream, variant.telemetry)))
                variant.targets.append(Target(variant.name, f"{url}/v1/chat/completions", chat_body(_MODEL)))
                variant.processes.append(process)
        for variant in variants:
            for target in variant.targets:
                _check_completion(target)
        _measure(generator, variants, options)
        streams = [
            Target(v.name, v.targets[0].url, chat_body(_MODEL, stream=True))
            for v in (variants[0], variants[3])
        ]
        ttfc = first_event_ms(streams, options.sequential_requests)
        _check_metrics(variants[3].targets[0].url.removesuffix("/v1/chat/completions"))

    off_cpu = statistics.median(variants[0].cpu_us)
    # Paired by round: each variant against the off run of the same round, so that drift on the
    # machine between rounds cancels out; the median of the rounds' ratios, and their spread.
    paired = {v.name: _paired(v.cpu_us, variants[0].cpu_us) for v in variants}
    overhead = {name: statistics.median(ratios) for name, ratios in paired.items()}
    rounds = _rounds(options)
    code_us = _code_cost_us()
    print(
        f"telemetry: 1024 B chat completion, non-streaming, c={CONCURRENCY}; load by {generator.name};"
        f" {_run_s(options):g} s per run, {PROCESSES} processes per variant, {rounds} rounds, each variant"
        " against telemetry off in the same round (median, and ± half the interquartile range); spans"
        " exported over OTLP/HTTP"
    )
    print(
        f"  {'':24}{'requests/s':>12}{'p50 ms':>10}{'CPU µs/req':>12}{'CPU overhead':>14}{'±':>7}"
        f"{'code µs/req':>13}{'code / off CPU':>16}"
    )
    for v in variants:
        added = code_us[v.name] - code_us["telemetry off"]
        print(
            f"  {v.name:24}{statistics.median(v.rps):12.1f}{statistics.median(v.p50_ms):10.3f}"
            f"{statistics.median(v.cpu_us):12.1f}{overhead[v.name]:+13.1f}%{_spread(paired[v.name]):6.1f}%"
            f"{code_us[v.name]:13.1f}{added / off_cpu * 100:+15.1f}%"
        )
    ttfc_off = statistics.median(ttfc[variants[0].name])
    ttfc_on = statistics.median(ttfc[variants[3].name])
    print(
        f"TTFC p50 (streaming; {options.sequential_requests} sequential requests each): telemetry off"
        f" {ttfc_off:.3f} ms, metrics + all traced {ttfc_on:.3f} ms, added {ttfc_on - ttfc_off:+.3f} ms"
    )
    code = {name: (us - code_us["telemetry off"]) / off_cpu * 100 for name, us in code_us.items()}
    return (
        f"telemetry: overhead_pct={overhead['metrics + all traced']:.1f}"
        f" overhead_pct_traced_10={overhead['metrics + 10% traced']:.1f}"
        f" overhead_pct_metrics_only={overhead['metrics only']:.1f}"
        f" code_pct={code['metrics + all traced']:.1f} code_pct_traced_10={code['metrics + 10% traced']:.1f}"
        f" code_pct_metrics_only={code['metrics only']:.1f} ttfc_added_ms={ttfc_on - ttfc_off:.3f}"
        f" noise_pct={max(_spread(ratios) for ratios in paired.values()):.1f}"
    )


def _paired(cpu_us: list[float], off_us: list[float]) -> list[float]:
    """Per round, the CPU overhead in % over the off variant's run of the same round."""
    return [(on / off - 1) * 100 for on, off in zip(cpu_us, off_us, strict=True)]


def _spread(values: list[float]) -> float:
    """Half the interquartile range: how far a typical round is from the median."""
    if len(values) < 4:
        return max(values) - min(values)
    quartiles = statistics.quantiles(values, n=4)
    return (quartiles[2] - quartiles[0]) / 2


def _measure(generator: LoadGenerator, variants: list[_Variant], options: Options) -> None:
    for variant in variants:
        for target in variant.targets:
            generator.run(target.url, target.body, concurrency=CONCURRENCY, duration_s=options.warmup_s)
    for round_ in range(_rounds(options)):
        # Rotate the order so that drift on the machine does not always hit the same variant.
        shift = round_ % len(variants)
        cpu: dict[str, list[float]] = {v.name: [] for v in variants}
        rps: dict[str, list[float]] = {v.name: [] for v in variants}
        p50: dict[str, list[float]] = {v.name: [] for v in variants}
        for index in range(PROCESSES):
            for variant in variants[shift:] + variants[:shift]:
                target, pid = variant.targets[index], variant.processes[index].pid
                before = _cpu_s(pid)
                result = generator.run(
                    target.url, target.body, concurrency=CONCURRENCY, duration_s=_run_s(options)
                )
                cpu[variant.name].append((_cpu_s(pid) - before) / max(1, result.requests) * 1e6)
                rps[variant.name].append(result.rps)
                p50[variant.name].append(result.p50_ms)
        for variant in variants:
            variant.cpu_us.append(statistics.fmean(cpu[variant.name]))
            variant.rps.append(statistics.fmean(rps[variant.name]))
            variant.p50_ms.append(statistics.fmean(p50[variant.name]))


def _rounds(options: Options) -> int:
    # More, shorter runs than the other suites: drift on a shared machine lands within rounds less
    # often than between them.
    return 4 if options.quick else 8


def _run_s(options: Options) -> float:
    return 1.0 if options.quick else 2.0


class _Encoder:
    """Encodes spans in batches of 128, as the OTLP sink does, without sending them."""

    def __init__(self) -> None:
        self.spans: list[FrozenSpan] = []

    def add(self, span: FrozenSpan) -> None:
        self.spans.append(span)
        if len(self.spans) == 128:
            self.flush()

    def flush(self) -> None:
        encode_spans(self.spans, {"service.name": "agentgw"}, "agentgw", "0")
        self.spans = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def _code_cost_us(requests: int = 20000) -> dict[str, float]:
    """Per variant, µs per request of the telemetry code on a typical chat exchange, spans encoded
    (the best of three runs: the least disturbed by other load).

    The exchange record and the response parse (``telemetry off``) are done whatever the config:
    accounting needs them too.
    """
    body = orjson.dumps(
        {
            "id": "chatcmpl-1",
            "model": "echo-1",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 200, "completion_tokens": 40, "total_tokens": 240},
        }
    )
    request = orjson.loads(chat_body(_MODEL))
    costs: dict[str, float] = {}
    for name, metrics, ratio in (
        ("telemetry off", False, None),
        ("metrics only", True, None),
        ("metrics + 10% traced", True, 0.1),
        ("metrics + all traced", True, 1.0),
    ):
        queue = _Encoder() if ratio is not None else None
        observer = TelemetryObserver(
            spans=queue,
            metrics=MetricSet() if metrics else None,
            access_log=None,
            capture_content=False,
            sample_ratio=ratio or 0.0,
        )
        costs[name] = min(_time_exchanges(observer, queue, requests, request, body) for _ in range(3))
    return costs


def _time_exchanges(
    observer: TelemetryObserver,
    queue: _Encoder | None,
    requests: int,
    request: dict[str, object],
    body: bytes,
) -> float:
    headers = {"host": "127.0.0.1", "content-type": "application/json", "content-length": "1024"}
    # CPU time of this thread, not wall time: on a shared machine, time spent preempted is not ours.
    started = time.thread_time()
    for _ in range(requests):
        exchange = Exchange("llm", "/v1/chat/completions", "chat", headers)
        exchange.target, exchange.backend, exchange.provider = _MODEL, "echo", "openai"
        exchange.request = request
        observer.start(exchange)
        call = UpstreamCall("echo", "echo-1", "http://127.0.0.1:9100/v1")
        exchange.upstream.append(call)
        observer.upstream_start(exchange, call)
        call.status = exchange.status = 200
        record_response(exchange, body)
        call.ended = exchange.ended = time.perf_counter()
        observer.upstream_end(exchange, call)
        observer.end(exchange)
    if queue is not None:
        queue.flush()
    return (time.thread_time() - started) / requests * 1e6


def _cpu_s(pid: int) -> float:
    """User + system CPU time of every thread of ``pid``, in seconds.

    Raises:
        BenchError: ``/proc`` is not readable.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError as exc:
        raise BenchError(f"cannot read the CPU time of process {pid}: {exc}") from exc
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def _on(sink: str, *, traces: bool, ratio: float = 1.0) -> dict[str, object]:
    return {
        "metrics": True,
        "prometheus": True,
        "traces": traces,
        "sample_ratio": ratio,
        "otlp_endpoint": sink,
        "export_interval_s": 5,
    }


def _config(upstream: str, telemetry: dict[str, object]) -> dict[str, object]:
    config = gateway_config(upstream)
    config["telemetry"] = telemetry
    return config


def _check_metrics(url: str) -> None:
    # The gateway under test must really have recorded: its /metrics counts the tokens.
    response = httpx2.get(f"{url}/metrics", trust_env=False)
    if response.status_code != 200 or "gen_ai_client_token_usage_count" not in response.text:
        raise BenchError(f"telemetry on: /metrics has no token usage: HTTP {response.status_code}")
