"""What every suite shares: run options, the choice of load generator, alternating runs, the table.

Direct and gateway runs alternate within one invocation (ABBA order across repetitions) and each
figure is the median over repetitions, so machine noise and drift hit both sides alike.
"""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench._load import LoadGenerator, LoadResult, Target
from bench._pyload import PythonLoad
from bench._wrk import Wrk

__all__ = ["Comparison", "Options", "compare", "comparison_table", "load_generator"]


@dataclass(frozen=True, slots=True)
class Options:
    quick: bool = False

    @property
    def duration_s(self) -> float:
        """Length of one measured run."""
        return 3.0 if self.quick else 10.0

    @property
    def repetitions(self) -> int:
        return 1 if self.quick else 3

    @property
    def warmup_s(self) -> float:
        """Length of the one unmeasured run per target before the measured ones."""
        return 1.0 if self.quick else 2.0

    @property
    def sequential_requests(self) -> int:
        """Requests per target for sequential measurements such as time to first chunk."""
        return 50 if self.quick else 200


def load_generator() -> LoadGenerator:
    """``wrk`` when it is on ``PATH``, else the client-bound Python fallback."""
    wrk = shutil.which("wrk")
    return Wrk(wrk) if wrk is not None else PythonLoad()


@dataclass(frozen=True, slots=True)
class Comparison:
    """Median results of a baseline target and the gateway target at one concurrency."""

    concurrency: int
    baseline: LoadResult
    gateway: LoadResult

    @property
    def rps_ratio(self) -> float:
        return self.gateway.rps / self.baseline.rps

    @property
    def added_p50_ms(self) -> float:
        return self.gateway.p50_ms - self.baseline.p50_ms

    @property
    def added_p99_ms(self) -> float:
        return self.gateway.p99_ms - self.baseline.p99_ms


def compare(
    generator: LoadGenerator,
    baseline: Target,
    gateway: Target,
    concurrencies: Sequence[int],
    options: Options,
) -> dict[int, Comparison]:
    """Measure both targets at each concurrency, alternating, ``options.repetitions`` times.

    Raises:
        BenchError: from the load generator.
    """
    for target in (baseline, gateway):
        generator.run(
            target.url,
            target.body,
            concurrency=max(concurrencies),
            duration_s=options.warmup_s,
            headers=target.headers,
        )
    runs: dict[tuple[str, int], list[LoadResult]] = {}
    for repetition in range(options.repetitions):
        order = (baseline, gateway) if repetition % 2 == 0 else (gateway, baseline)
        for concurrency in concurrencies:
            for target in order:
                result = generator.run(
                    target.url,
                    target.body,
                    concurrency=concurrency,
                    duration_s=options.duration_s,
                    headers=target.headers,
                )
                runs.setdefault((target.name, concurrency), []).append(result)
    return {
        c: Comparison(c, _median(runs[(baseline.name, c)]), _median(runs[(gateway.name, c)]))
        for c in concurrencies
    }


def comparison_table(comparisons: Sequence[Comparison], baseline: str = "direct") -> list[str]:
    """Lines of a table: requests/s, p50 and p99 of both targets, and the gateway's cost, per concurrency."""
    lines = [f"  {'':6}{'':16}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'socket errors':>15}"]
    for comparison in comparisons:
        label = f"c={comparison.concurrency}"
        for name, result in ((baseline, comparison.baseline), ("gateway", comparison.gateway)):
            lines.append(
                f"  {label:6}{name:16}{result.rps:12.1f}{result.p50_ms:10.3f}{result.p99_ms:10.3f}"
                f"{result.socket_errors:15d}"
            )
            label = ""
        lines.append(
            f"  {'':6}{'gateway cost':16}{comparison.rps_ratio:11.3f}x"
            f"{comparison.added_p50_ms:+10.3f}{comparison.added_p99_ms:+10.3f}"
        )
    return lines


def _median(results: Sequence[LoadResult]) -> LoadResult:
    """Each figure's median on its own (the p99 of one run and the rps of another may combine)."""
    return LoadResult(
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        requests=sum(r.requests for r in results),
        socket_errors=sum(r.socket_errors for r in results),
    )
