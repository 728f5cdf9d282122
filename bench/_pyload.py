"""The fallback load generator: an asyncio ``httpx2`` client in a process of its own.

Used when ``wrk`` is not installed. It runs in a separate process so that it does not share a CPU
with the benchmark runner, but one Python process is much slower than wrk: at high concurrency
it, not the server, sets the pace, and requests/s through the gateway and directly look closer
than they are.

Run as ``python -m bench._pyload URL BODY_FILE --concurrency N --duration S``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx2

from bench._load import LoadResult, percentile
from bench._processes import REPO
from bench.errors import BenchError

__all__ = ["PythonLoad"]


class PythonLoad:
    name = "python (httpx2, asyncio)"
    client_bound = True

    def run(
        self,
        url: str,
        body: bytes,
        *,
        concurrency: int,
        duration_s: float,
        headers: Sequence[tuple[str, str]] = (),
    ) -> LoadResult:
        with tempfile.TemporaryDirectory(prefix="agentgw-pyload-") as folder:
            body_path = Path(folder) / "body.json"
            body_path.write_bytes(body)
            argv = [sys.executable, "-m", "bench._pyload", url, str(body_path)]
            argv += ["--concurrency", str(concurrency), "--duration", str(duration_s)]
            for name, value in headers:
                argv += ["--header", f"{name}:{value}"]
            try:
                done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=duration_s + 60)
            except subprocess.TimeoutExpired as exc:
                raise BenchError("the Python load generator did not finish") from exc
        if done.returncode != 0:
            raise BenchError(f"the Python load generator failed ({done.returncode}):\n{done.stderr}")
        report = json.loads(done.stdout)
        if report["failed"]:
            raise BenchError(f"{report['failed']} of {report['requests'] + report['failed']} requests failed")
        if not report["requests"]:
            raise BenchError("no request completed")
        return LoadResult(
            rps=report["rps"],
            p50_ms=report["p50_ms"],
            p99_ms=report["p99_ms"],
            requests=report["requests"],
        )


async def _load(
    url: str, body: bytes, concurrency: int, duration_s: float, extra: Sequence[str] = ()
) -> dict[str, float | int]:
    latencies: list[float] = []
    failed = 0
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    for item in extra:
        name, _, value = item.partition(":")
        headers[name] = value
    async with httpx2.AsyncClient(limits=limits, timeout=10.0, trust_env=False) as client:
        start = time.perf_counter()
        deadline = start + duration_s

        async def worker() -> None:
            nonlocal failed
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx2.HTTPError:
                    failed += 1
                    continue
                if response.is_success:
                    latencies.append((time.perf_counter() - sent) * 1000)
                else:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "failed": failed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) if latencies else 0.0,
        "p99_ms": percentile(latencies, 0.99) if latencies else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("body_file", type=Path)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--header", action="append", default=[], help="NAME:VALUE, repeatable")
    args = parser.parse_args()
    report = asyncio.run(
        _load(args.url, args.body_file.read_bytes(), args.concurrency, args.duration, args.header)
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
