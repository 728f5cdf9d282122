"""``wrk`` as the load generator: C, event-driven, fast enough that the server is the bottleneck.

The POST body goes through a Lua script written to a temporary folder for each run; latency
percentiles come from ``wrk --latency``'s "Latency Distribution" section.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench._load import LoadResult
from bench.errors import BenchError

__all__ = ["Wrk"]

_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open([==[{body_path}]==], "rb"))
wrk.body = file:read("*a")
file:close()
{headers}"""
# wrk prints times with the units of its units.c: us, ms, s, m, h.
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"
_P50 = re.compile(rf"^\s*50(?:\.0+)?%\s+{_TIME}\s*$", re.MULTILINE)
_P99 = re.compile(rf"^\s*99(?:\.0+)?%\s+{_TIME}\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)


class Wrk:
    """Runs ``wrk --latency`` with one thread per 16 connections, at most two (``-t1 -c1``, ``-t2 -c32``)."""

    name = "wrk"
    client_bound = False

    def __init__(self, executable: str) -> None:
        self._executable = executable

    def run(
        self,
        url: str,
        body: bytes,
        *,
        concurrency: int,
        duration_s: float,
        headers: Sequence[tuple[str, str]] = (),
    ) -> LoadResult:
        threads = max(1, min(2, concurrency // 16))
        with tempfile.TemporaryDirectory(prefix="agentgw-wrk-") as folder:
            body_path = Path(folder) / "body.json"
            body_path.write_bytes(body)
            if "]==]" in str(body_path):
                raise BenchError(f"temporary path {body_path} cannot be quoted for Lua")
            script = Path(folder) / "post.lua"
            # Spaces inside the index: `[[` would open a Lua long string.
            extra = "".join(f"wrk.headers[ [==[{k}]==] ] = [==[{v}]==]\n" for k, v in headers)
            script.write_text(_SCRIPT.format(body_path=body_path, headers=extra))
            argv = [
                self._executable,
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{max(1, round(duration_s))}s",
                "--latency",
                "-s",
                str(script),
                url,
            ]
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60)
            except subprocess.TimeoutExpired as exc:
                raise BenchError(f"wrk did not finish: {' '.join(argv)}") from exc
        if done.returncode != 0:
            raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        return parse_output(done.stdout)


def parse_output(text: str) -> LoadResult:
    """Read requests/s, p50, p99 and error counts from ``wrk --latency`` output.

    Raises:
        BenchError: a line is missing, no request completed, or some responses were not 2xx.
    """
    requests = int(_search(_REQUESTS, text).group(1))
    non_2xx = _NON_2XX.search(text)
    if non_2xx is not None:
        raise BenchError(f"{non_2xx.group(1)} of {requests} responses were errors; wrk output:\n{text}")
    if requests == 0:
        raise BenchError(f"no request completed; wrk output:\n{text}")
    errors = _SOCKET_ERRORS.search(text)
    return LoadResult(
        rps=float(_search(_RPS, text).group(1)),
        p50_ms=_milliseconds(_search(_P50, text)),
        p99_ms=_milliseconds(_search(_P99, text)),
        requests=requests,
        socket_errors=sum(int(n) for n in errors.groups()) if errors is not None else 0,
    )


def _search(pattern: re.Pattern[str], text: str) -> re.Match[str]:
    match = pattern.search(text)
    if match is None:
        raise BenchError(f"unexpected wrk output (no match for {pattern.pattern!r}):\n{text}")
    return match


def _milliseconds(match: re.Match[str]) -> float:
    return float(match.group(1)) * _UNITS_MS[match.group(2)]
