"""The ``telemetry-instructions`` suite: instructions per request with telemetry on vs off (issue 9).

The ``telemetry`` suite measures CPU time, which on a small shared machine moves by 5-10% from one
run (and one gateway process) to the next: more than the 5% budget it checks. This suite counts
what does not move: the machine instructions (and estimated cycles, cache misses included) the
gateway process executes per request, under valgrind's callgrind. Two runs of the same gateway
agree to about 2%.

Each variant is a gateway under ``valgrind --tool=callgrind --cache-sim=yes --instr-atstart=no``
(started at near-native speed), warmed up by unmeasured requests; instrumentation is then switched
on, more requests are sent, the counters are zeroed, the measured requests are sent at concurrency
8, and the counters are dumped. The variants run two at a time. Metrics are not pushed over OTLP
during the run (``export_interval_s`` of an hour: a push every 15 s would land on a run 50 times
slower than normal about 50 times as often). Spans are sent to the same sink as the ``telemetry``
suite's in batches of 512, as at full speed: the span export delay is an hour too (the default one
second, which at full speed never passes before a batch fills, would send batches of a few dozen
spans here).

Estimated cycles are callgrind's: instructions + 10 per first-level cache miss + 100 per last-level
miss. Needs ``valgrind`` on ``PATH``; takes a few minutes (``--quick``: fewer requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import yaml

from bench._harness import Options
from bench._processes import REPO, free_port, python_server
from bench.errors import BenchError
from bench.llm import chat_body
from bench.telemetry import _OFF, _config, _on

__all__ = ["run"]

CONCURRENCY = 8
_START_TIMEOUT_S = 600.0
_MODEL = "bench"
_PARALLEL = 2


@dataclass(frozen=True)
class _Counts:
    instructions: float
    """Per request."""
    cycles: float
    """Estimated, per request."""


def run(options: Options) -> str:
    """Run the suite, print its table, and return the summary line.

    Raises:
        BenchError: valgrind is missing, or a gateway did not start or failed a request.
    """
    valgrind = shutil.which("valgrind")
    control = shutil.which("callgrind_control")
    if valgrind is None or control is None:
        raise BenchError(
            "the telemetry-instructions suite needs valgrind (valgrind, callgrind_control) on PATH"
        )
    requests = 300 if options.quick else 1000
    with (
        python_server(REPO / "examples" / "echo_llm.py", ready_path="/v1/models") as (upstream, _),
        python_server(REPO / "bench" / "_otlp_sink.py", ready_path="/") as (sink, _),
    ):
        hour = {"export_interval_s": 3600, "span_export_delay_s": 3600}
        variants = {
            "telemetry off": _OFF,
            "metrics only": {**_on(sink, traces=False), **hour},
            "metrics + 10% traced": {**_on(sink, traces=True, ratio=0.1), **hour},
            "metrics + all traced": {**_on(sink, traces=True, ratio=1.0), **hour},
        }
        with ThreadPoolExecutor(_PARALLEL) as pool:
            futures = {
                name: pool.submit(_measure, valgrind, control, _slow_config(upstream, telemetry), requests)
                for name, telemetry in variants.items()
            }
        counts = {name: future.result() for name, future in futures.items()}
    off = counts["telemetry off"]
    print(
        f"telemetry-instructions: 1024 B chat completion, non-streaming, {requests} requests at c={CONCURRENCY}"
        " per variant under callgrind; per request, and over telemetry off"
    )
    print(f"  {'':24}{'instructions':>14}{'overhead':>10}{'est. cycles':>14}{'overhead':>10}")
    overhead: dict[str, tuple[float, float]] = {}
    for name, count in counts.items():
        overhead[name] = (
            (count.instructions / off.instructions - 1) * 100,
            (count.cycles / off.cycles - 1) * 100,
        )
        print(
            f"  {name:24}{count.instructions:14,.0f}{overhead[name][0]:+9.1f}%"
            f"{count.cycles:14,.0f}{overhead[name][1]:+9.1f}%"
        )
    return (
        f"telemetry-instructions: overhead_pct={overhead['metrics + all traced'][0]:.1f}"
        f" overhead_pct_traced_10={overhead['metrics + 10% traced'][0]:.1f}"
        f" overhead_pct_metrics_only={overhead['metrics only'][0]:.1f}"
        f" cycles_overhead_pct={overhead['metrics + all traced'][1]:.1f}"
    )


def _slow_config(upstream: str, telemetry: dict[str, object]) -> dict[str, object]:
    """The ``telemetry`` suite's gateway config, with the usage ledger written in batches of 500 as
    at full speed: by default it also writes every second what has come, which under callgrind is a
    few dozen records per transaction, a cost per request that grows with a variant's slowness."""
    config = _config(upstream, telemetry)
    config["accounting"] = {"ledger": {"flush_interval_s": 3600}}
    return config


def _measure(valgrind: str, control: str, config: dict[str, object], requests: int) -> _Counts:
    with _callgrind_gateway(valgrind, config) as (url, pid, output):
        asyncio.run(_load(url, 200))
        _control(control, "--instr=on", pid)
        asyncio.run(_load(url, 100))  # the caches simulated from here on are warm
        _control(control, "--zero", pid)
        asyncio.run(_load(url, requests))
        _control(control, "--dump", pid)
        dump = Path(f"{output}.1")
        deadline = time.monotonic() + 60
        while not dump.exists() or "totals:" not in (text := dump.read_text(errors="replace")):
            if time.monotonic() > deadline:
                raise BenchError(f"callgrind wrote no counts to {dump}")
            time.sleep(0.2)  # not a readiness sleep: the poll of a loop bounded by the deadline
    return _counts(text, requests)


@contextlib.contextmanager
def _callgrind_gateway(valgrind: str, config: dict[str, object]) -> Iterator[tuple[str, int, str]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="agentgw-callgrind-") as folder:
        path = Path(folder) / "gateway.yaml"
        server = {"reload": False, "shutdown_grace_s": 1}
        path.write_text(yaml.safe_dump({**config, "server": server}, sort_keys=False))
        output = f"{folder}/callgrind.out"
        argv = [
            valgrind,
            "--tool=callgrind",
            "--cache-sim=yes",
            "--instr-atstart=no",
            f"--callgrind-out-file={output}",
            sys.executable,
            "-m",
            "agentgw",
            "serve",
            "-c",
            str(path),
            "--port",
            str(port),
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        process = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            _wait_until_serving(url, process)
            yield url, process.pid, output
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"the gateway under callgrind did not start (exit code {process.poll()})")
        with contextlib.suppress(httpx2.TransportError):
            response = httpx2.post(url, content=chat_body(_MODEL), trust_env=False, timeout=30)
            if response.status_code == 200:
                return
        time.sleep(1)  # not a readiness sleep: the poll of a loop bounded by the deadline


async def _load(url: str, requests: int) -> None:
    """Send ``requests`` chat completions at concurrency :data:`CONCURRENCY`, over keep-alive
    connections, each request in one write as wrk sends it.

    Not httpx2: it writes a request's head and body separately, and a gateway slowed down by
    callgrind often reads the head alone, then the body: a second read and wake-up per request that
    load at full speed does not cause, and which came and went with the machine's other load (the
    sink receiving a batch of spans was enough), moving a variant's count by 15-20k instructions.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = chat_body(_MODEL)
    request = (
        f"POST {parts.path} HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    left = requests

    async def worker() -> None:
        nonlocal left
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while left > 0:
                left -= 1
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 120)
                status = int(head.split(b" ", 2)[1])
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if length is None:
                    raise BenchError(f"{url}: a response without content-length: {head[:200]!r}")
                answer = await reader.readexactly(int(length.group(1)))
                if status != 200:
                    raise BenchError(f"{url}: HTTP {status}: {answer[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def _control(control: str, option: str, pid: int) -> None:
    result = subprocess.run([control, option, str(pid)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"callgrind_control {option} failed: {result.stderr or result.stdout}")


def _counts(text: str, requests: int) -> _Counts:
    events = re.search(r"^events: (.+)$", text, re.MULTILINE)
    totals = re.search(r"^summary: (.+)$", text, re.MULTILINE)
    if events is None or totals is None:
        raise BenchError("callgrind's dump has no events or summary line")
    count = dict(zip(events.group(1).split(), (int(v) for v in totals.group(1).split()), strict=False))
    first_level = count.get("I1mr", 0) + count.get("D1mr", 0) + count.get("D1mw", 0)
    last_level = count.get("ILmr", 0) + count.get("DLmr", 0) + count.get("DLmw", 0)
    cycles = count["Ir"] + 10 * first_level + 100 * last_level
    return _Counts(count["Ir"] / requests, cycles / requests)
