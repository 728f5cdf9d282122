"""Time to first chunk of a server-sent-events response, measured by a sequential Python client.

Requests to the targets are interleaved (A, B, A, B, ...) over one keep-alive connection each, so
both see the same machine state. The clock runs from just before the request is written to the
arrival of the first ``data:`` line; the rest of the stream is read untimed, to reuse the connection.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx2

from bench._load import Target
from bench.errors import BenchError

__all__ = ["first_event_ms"]

_WARMUP_REQUESTS = 5


def first_event_ms(targets: Sequence[Target], requests: int) -> dict[str, list[float]]:
    """Per target name, ``requests`` times to the first ``data:`` line in milliseconds.

    Raises:
        BenchError: a response was not 200 or its body had no ``data:`` line.
    """
    times: dict[str, list[float]] = {target.name: [] for target in targets}
    clients = {target.name: httpx2.Client(timeout=10.0, trust_env=False) for target in targets}
    try:
        for index in range(_WARMUP_REQUESTS + requests):
            for target in targets:
                elapsed = _first_event(clients[target.name], target)
                if index >= _WARMUP_REQUESTS:
                    times[target.name].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return times


def _first_event(client: httpx2.Client, target: Target) -> float:
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    seen = b""
    elapsed: float | None = None
    start = time.perf_counter()
    try:
        with client.stream("POST", target.url, content=target.body, headers=headers) as response:
            if response.status_code != 200:
                response.read()
                raise BenchError(f"{target.name}: HTTP {response.status_code}: {response.text[:500]}")
            for chunk in response.iter_raw():
                if elapsed is None:
                    seen += chunk
                    # "data:" at the start of the body or of a line (SSE, WHATWG HTML 9.2.6).
                    if seen.startswith(b"data:") or b"\ndata:" in seen:
                        elapsed = (time.perf_counter() - start) * 1000
    except httpx2.HTTPError as exc:
        raise BenchError(f"{target.name}: streaming request failed: {exc}") from exc
    if elapsed is None:
        raise BenchError(f"{target.name}: the stream had no data: line: {seen[:500]!r}")
    return elapsed
