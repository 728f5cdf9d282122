"""The telemetry hot path's C implementations (``agentgw/telemetry/_speedups.c``), when they are built.

The install builds them when a C compiler is at hand (an optional extension: without one the install
goes on, and the Python implementations they mirror are used); ``AGENTGW_NO_EXTENSIONS=1`` turns
them off. Each C function or type gives exactly what its Python counterpart gives, which
``tests/agentgw/telemetry/test_speedups.py`` checks on generated input. Why: in Python, the span
path alone made tracing every request cost about 15% of a proxied request's instructions, and the
observer's hooks and metric records another 10% (``python bench/run.py telemetry-instructions``),
against a budget of 5% for all of telemetry (issue 9): the interpreter's dispatch of a few hundred
bytecodes per request, not any one call, was the cost.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any, Protocol, cast

from agentgw.exchange import Exchange, UpstreamCall
from agentgw.telemetry.spans import Fixed, FrozenSpan, InFlight, SpanShape

__all__ = ["NativeEntry", "Speedups", "speedups"]

NativeEntry = tuple[Fixed, bytes, tuple[bytes, ...], tuple[str, ...], SpanShape]
"""What the C encoder keeps of a span's ``fixed`` value: the value, its name and attributes encoded,
the encoded keys and the names of its shape's variable values, and the shape."""


class Speedups(Protocol):
    """``agentgw.telemetry._speedups``: the counterpart of each function is named in its docstring."""

    HistogramSeries: type[Any]
    """``metrics.HistogramSeriesPy``."""

    def seed(self, entropy: bytes, /) -> None:
        """Seeds :meth:`random_bits` (32 bytes)."""

    def random_bits(self, k: int, /) -> int:
        """``random.getrandbits(k)`` for ``1 <= k <= 128``, from xoshiro256** (trace and span ids)."""
        ...

    SpanQueue: type[Any]
    """``otlp.SpanQueuePy``."""

    Hooks: type[Any]
    """``Hooks(observer, start, upstream_start, upstream_end, end, spans_add, metrics, record_metrics,
    random_bits, time_ns, sample_all, capture, access_log)``: ``TelemetryObserver``'s four hooks
    (``start``, ...) for LLM exchanges, given its class's methods, which they call for the rest."""

    def record_llm(self, requests: dict[Any, int], llm: dict[Any, Any], exchange: Exchange, /) -> bool:
        """``observer.TelemetryObserver._record_metrics`` for an LLM exchange whose series all exist,
        given ``MetricSet.requests.series`` and ``MetricSet.llm``: ``False``, having recorded
        nothing, when Python is to record it."""
        ...

    def count(self, series: dict[Any, int], labels: Any, /) -> bool:
        """``Counter.add(1, labels)`` when ``labels`` has a count already (``series`` is the
        counter's); ``False``, having counted nothing, when it has none."""
        ...

    def configure(
        self,
        interned: dict[Fixed, Fixed],
        intern_limit: int,
        parameter_values: Callable[[Any], Any],
        parameter_fields: tuple[str, ...],
        captured: Callable[[Exchange], Any],
        request_shape: int,
        upstream_shape: int,
        server_kind: int,
        client_kind: int,
        /,
    ) -> None:
        """What :meth:`request_span` and :meth:`upstream_span` need of the Python side."""

    def request_span(
        self, exchange: Exchange, capture_content: bool, span: InFlight, end_ns: int, /
    ) -> FrozenSpan:
        """``exchange_spans.request_span_py``."""
        ...

    def upstream_span(
        self,
        exchange: Exchange,
        call: UpstreamCall,
        parent: InFlight,
        span_id: int,
        start_ns: int,
        end_ns: int,
        /,
    ) -> FrozenSpan:
        """``exchange_spans.upstream_span_py``."""
        ...

    def traceparent(self, trace_id: int, span_id: int, /) -> str:
        """``propagation.traceparent_py``."""
        ...

    def encode_request(
        self,
        resource: bytes,
        scope: bytes,
        spans: list[FrozenSpan],
        entries: dict[int, NativeEntry],
        new_entry: Callable[[Fixed], NativeEntry],
        attribute: Callable[[str, object], bytes],
        rest: Callable[[SpanShape, Any], bytes],
        /,
    ) -> bytes:
        """``otlp.encode_request_py``, given the encoded resource and scope, and the Python side's
        cache of ``fixed`` values (by id), its maker, and the encoders of what C leaves to Python:
        an attribute of another type than str, int, float or bool, and a shape's further
        attributes."""
        ...


def _load() -> Speedups | None:
    if os.environ.get("AGENTGW_NO_EXTENSIONS"):
        return None
    try:
        return cast(Speedups, importlib.import_module("agentgw.telemetry._speedups"))
    except ImportError:  # installed without a C compiler: the Python implementations
        return None


def _seed() -> None:
    if speedups is not None:
        speedups.seed(os.urandom(32))


speedups = _load()
"""``agentgw.telemetry._speedups``, or ``None`` when it is not built or is turned off."""
_seed()
# A forked worker must not draw the ids its parent and siblings draw.
os.register_at_fork(after_in_child=_seed)
