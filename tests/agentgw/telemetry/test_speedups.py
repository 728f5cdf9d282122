"""The span path's C implementations (``agentgw.telemetry._speedups``) against the Python ones they mirror.

Each C function must give exactly what its Python reference gives, on generated exchanges and spans
(every field kind, absent values, odd types, long and non-ASCII text, 128-bit ids) and on bad input
(the same exception type). The extension is optional at install time: where no C compiler is
found (or ``AGENTGW_NO_EXTENSIONS=1`` turns it off) the comparisons are skipped, as there is nothing
to compare; where one is, a test fails if the gateway would run without the extension.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentgw.exchange import Exchange, UpstreamCall, Usage
from agentgw.telemetry import exchange_spans, otlp, propagation
from agentgw.telemetry import metrics as metrics_module
from agentgw.telemetry import observer as observer_module
from agentgw.telemetry.metrics import Counter, Histogram, MetricSet
from agentgw.telemetry.native import speedups
from agentgw.telemetry.observer import TelemetryObserver
from agentgw.telemetry.spans import CLIENT, PLAIN, SERVER, FrozenSpan, InFlight


def _no_extension() -> str | None:
    """Why the extension may rightly be missing here, if it may."""
    if os.environ.get("AGENTGW_NO_EXTENSIONS"):
        return "AGENTGW_NO_EXTENSIONS=1 turns the extension off"
    compiler = str(sysconfig.get_config_var("CC") or "cc").split()[0]
    if speedups is None and shutil.which(compiler) is None:
        return f"no C compiler ({compiler}): the install used the Python implementations"
    return None


needs_extension = pytest.mark.skipif(_no_extension() is not None, reason=str(_no_extension()))

_FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_text = st.text(max_size=12) | st.sampled_from(["chat", "gpt-4o-mini", "tools/call", "κόσμε ✓", "x" * 200])
_maybe_text = st.none() | _text
_ints = (
    st.none()
    | st.integers(min_value=0, max_value=1 << 20)
    | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
)
_ids64 = st.integers(min_value=1, max_value=(1 << 64) - 1)
_ids128 = st.integers(min_value=1, max_value=(1 << 128) - 1)
_ns = st.integers(min_value=0, max_value=(1 << 64) - 1)
_parameters = st.dictionaries(
    st.sampled_from(["temperature", "max_tokens", "top_p", "seed", "stop", "n", "messages", "model"]),
    st.none() | st.floats(allow_nan=False) | st.integers(-5, 5000) | _text | st.lists(_text, max_size=3),
    max_size=5,
)


Draw = Callable[[st.SearchStrategy[Any]], Any]


def _fill(exchange: Exchange, draw: Draw) -> None:
    exchange.target = draw(_maybe_text)
    exchange.status = draw(st.none() | st.sampled_from([200, 400, 429, 502]))
    exchange.backend = draw(_maybe_text)
    exchange.provider = draw(st.none() | st.sampled_from(["openai", "anthropic", "azure_openai", "bedrock"]))
    exchange.stream = draw(st.booleans())
    exchange.response_model = draw(_maybe_text)
    exchange.finish_reasons = draw(st.lists(_text, max_size=2))
    exchange.error_type = draw(st.none() | st.sampled_from(["upstream_error", "tool_error", "timeout"]))
    exchange.request = draw(st.none() | _parameters)
    exchange.response_id = draw(_maybe_text)
    exchange.usage = Usage(*(draw(_ints) for _ in range(5)))
    exchange.first_chunk = draw(st.none() | st.floats(min_value=0, max_value=1e6))
    exchange.attributes = draw(st.dictionaries(_text, _text | st.integers(), max_size=2))
    exchange.response = draw(st.none() | st.fixed_dictionaries({"id": _text}))
    exchange.tool_arguments = draw(st.none() | st.fixed_dictionaries({"city": _text}))
    exchange.tool_result = draw(st.none() | st.fixed_dictionaries({"content": st.lists(_text, max_size=2)}))


def _exchange(draw: Draw) -> Exchange:
    protocol = draw(st.sampled_from(["llm", "mcp", "a2a"]))
    operation = draw(st.sampled_from(["chat", "tools/call", "prompts/get", "SendMessage"]))
    route = draw(st.sampled_from(["/v1/chat/completions", "/mcp", "/a2a/x"]))
    exchange = Exchange(protocol, route, operation, {})
    _fill(exchange, draw)
    return exchange


def _in_flight(draw: Draw) -> InFlight:
    return (
        draw(_ids128),
        draw(_ids64),
        draw(st.none() | _ids64),
        draw(_ns),
        draw(st.booleans()),
        draw(st.sampled_from(["", "k=v", "vendor=κ"])),
    )


@needs_extension
def test_the_extension_is_built_and_used() -> None:
    assert speedups is not None, "agentgw.telemetry._speedups did not build: is a C compiler installed?"
    assert exchange_spans.request_span is speedups.request_span
    assert exchange_spans.upstream_span is speedups.upstream_span


@needs_extension
@_FAST
@given(data=st.data(), capture=st.booleans())
def test_request_span_matches_python(data: st.DataObject, capture: bool) -> None:
    assert speedups is not None
    exchange, span, end_ns = _exchange(data.draw), _in_flight(data.draw), data.draw(_ns)
    expected = exchange_spans.request_span_py(exchange, capture, span, end_ns)
    got = speedups.request_span(exchange, capture, span, end_ns)
    assert got == expected
    try:
        hash(expected[9])
    except TypeError:  # unhashable values: neither shares the tuple
        return
    assert got[9] is expected[9]  # one interned `fixed` tuple, whichever made it first


@needs_extension
def test_request_spans_share_a_fixed_tuple_only_when_python_would() -> None:
    # C compares a span's `fixed` values with the last ones itself (str, tuple, float) and asks
    # Python's == for the rest: equal values of other types (1, 1.0, True) share a tuple, as in
    # Python; same-length text, other kinds of text and NaN do not.
    assert speedups is not None
    nan = float("nan")
    values: list[object] = [1, 1.0, True, 2, "ab", "ba", "αβ", "ab", ("ab",), ("ba",), nan, nan, 0.0, -0.0]
    for value in values:
        exchange = Exchange("llm", "/v1/chat/completions", "chat", {})
        exchange.request = {"temperature": value, "max_tokens": value}
        expected = exchange_spans.request_span_py(exchange, False, (1, 2, None, 3, False, ""), 4)
        got = speedups.request_span(exchange, False, (1, 2, None, 3, False, ""), 4)
        assert got[9] is expected[9], value
        assert got[9][12] == expected[9][12]


class _Key(str):
    """A key equal to a parameter's name that is not an exact str."""


@needs_extension
@pytest.mark.parametrize(
    "request_body",
    [
        {"temperature": 0.5, "max_tokens": 10, "model": "m", "messages": []},
        {"max_tokens": 10, "temperature": 0.5},  # the same fields in another order
        {_Key("temperature"): 0.5, "top_p": 1},
        {1: "x", "seed": 7},
        {**{f"extra_{i}": i for i in range(40)}, "temperature": 0.1, "stop": ["a"]},  # a large body
        {"temperatur": 1, "temperaturee": 2, "n": 2},  # near misses
        {"κόσμε": 1, "max_tokens": 3},
        {},
    ],
    ids=["usual", "reordered", "str-subclass-key", "int-key", "large", "near-misses", "non-ascii", "empty"],
)
def test_request_parameters_are_read_from_any_body_as_python_reads_them(request_body: dict[Any, Any]) -> None:
    assert speedups is not None
    exchange = Exchange("llm", "/v1/chat/completions", "chat", {})
    exchange.request = request_body
    expected = exchange_spans.request_span_py(exchange, False, (1, 2, None, 3, False, ""), 4)
    assert speedups.request_span(exchange, False, (1, 2, None, 3, False, ""), 4) == expected


class _Renaming(Exchange):
    """An exchange whose ``target`` is a property: C may not read the slot beneath it."""

    @property  # type: ignore[override]
    def target(self) -> str:
        return "renamed"

    @target.setter
    def target(self, value: str | None) -> None:
        pass


@needs_extension
def test_request_span_reads_attributes_as_python_does() -> None:
    # C reads an exchange's slots at their offsets, learnt per type: a subclass that hides one
    # behind a property, a type changed after it was learnt, and an empty slot must still read
    # (or fail) as Python's getattr does.
    assert speedups is not None
    span: InFlight = (7, 8, None, 1, False, "")

    def both(exchange: Exchange) -> tuple[Any, Any]:
        return (
            speedups.request_span(exchange, False, span, 2),  # type: ignore[union-attr]
            exchange_spans.request_span_py(exchange, False, span, 2),
        )

    plain = Exchange("llm", "/v1/chat/completions", "chat", {})
    plain.target = "gpt"
    renaming = _Renaming("llm", "/v1/chat/completions", "chat", {})
    for exchange in (plain, renaming, plain):
        got, expected = both(exchange)
        assert got == expected
    assert both(renaming)[0][9][3] == "renamed"

    class Changing(Exchange):
        pass

    changing = Changing("llm", "/v1/chat/completions", "chat", {})
    changing.target = "gpt"
    assert both(changing)[0][9][3] == "gpt"
    Changing.target = property(lambda self: "changed")  # type: ignore[assignment]
    got, expected = both(changing)
    assert got == expected and got[9][3] == "changed"

    del plain.route
    with pytest.raises(AttributeError):
        speedups.request_span(plain, False, span, 2)
    with pytest.raises(AttributeError):
        exchange_spans.request_span_py(plain, False, span, 2)


@needs_extension
@_FAST
@given(data=st.data())
def test_upstream_span_matches_python(data: st.DataObject) -> None:
    assert speedups is not None
    exchange, parent = _exchange(data.draw), _in_flight(data.draw)
    call = UpstreamCall(
        data.draw(_text),
        data.draw(_maybe_text),
        data.draw(st.none() | st.sampled_from(["http://127.0.0.1:9100/v1", "https://api.example.com"])),
        data.draw(_maybe_text),
    )
    call.status = data.draw(st.none() | st.sampled_from([200, 500]))
    call.error_type = data.draw(st.none() | st.sampled_from(["upstream_error", "timeout"]))
    span_id, start_ns, end_ns = data.draw(_ids64), data.draw(_ns), data.draw(_ns)
    expected = exchange_spans.upstream_span_py(exchange, call, parent, span_id, start_ns, end_ns)
    got = speedups.upstream_span(exchange, call, parent, span_id, start_ns, end_ns)
    assert got == expected
    assert got[9] is expected[9]


@needs_extension
@_FAST
@given(trace_id=_ids128, span_id=_ids64)
def test_traceparent_matches_python(trace_id: int, span_id: int) -> None:
    assert speedups is not None
    header = speedups.traceparent(trace_id, span_id)
    assert header == propagation.traceparent_py(trace_id, span_id)
    parsed = propagation.parse_traceparent(header)
    assert parsed is not None and (parsed.trace_id, parsed.span_id, parsed.sampled) == (
        trace_id,
        span_id,
        True,
    )


@needs_extension
@pytest.mark.parametrize(
    ("trace_id", "span_id"), [(1 << 128, 1), (-1, 1), (1, 1 << 64), (1, -1), ("1", 1), (1.0, 1)]
)
def test_traceparent_rejects_what_python_rejects(trace_id: Any, span_id: Any) -> None:
    assert speedups is not None
    with pytest.raises((OverflowError, TypeError, AttributeError)) as expected:
        propagation.traceparent_py(trace_id, span_id)
    with pytest.raises(expected.type if expected.type is not AttributeError else TypeError):
        speedups.traceparent(trace_id, span_id)


def _values() -> st.SearchStrategy[object]:
    return (
        _text
        | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
        | st.booleans()
        | st.floats(allow_nan=False)
        | st.lists(_text, max_size=3).map(tuple)
    )


@st.composite
def _spans(draw: st.DrawFn) -> FrozenSpan:
    kind = draw(st.sampled_from(["request", "upstream", "plain"]))
    exchange, parent = _exchange(draw), _in_flight(draw)
    if kind == "request":
        span = exchange_spans.request_span_py(exchange, draw(st.booleans()), parent, draw(_ns))
    elif kind == "upstream":
        call = UpstreamCall(
            draw(_text),
            draw(_maybe_text),
            draw(st.none() | st.just("http://127.0.0.1:9/v1")),
            draw(_maybe_text),
        )
        call.status, call.error_type = (
            draw(st.none() | st.just(502)),
            draw(st.none() | st.just("upstream_error")),
        )
        span = exchange_spans.upstream_span_py(exchange, call, parent, draw(_ids64), draw(_ns), draw(_ns))
    else:
        attributes = draw(st.dictionaries(_text, _values(), max_size=4))
        span = (
            *parent[:2],
            parent[2],
            draw(st.sampled_from([SERVER, CLIENT])),
            draw(_ns),
            draw(_ns),
            draw(st.booleans()),
            draw(st.booleans()),
            parent[5],
            (PLAIN, draw(_text)),
            attributes,
        )
    if kind == "request" and draw(st.booleans()):  # variable values of every type, as a shape may give
        variable = tuple(draw(st.none() | _values()) for _ in range(7)) + span[10][7:]
        span = (*span[:10], variable)
    return span


@needs_extension
@_FAST
@given(spans=st.lists(_spans(), max_size=6))
def test_encode_request_matches_python(spans: list[FrozenSpan]) -> None:
    assert speedups is not None
    prefix = otlp._prefix({"service.name": "agentgw ✓"}, "agentgw", "0.1.0")
    expected = otlp.encode_request_py(prefix, spans)
    assert otlp.encode_request(prefix, spans) == expected
    ExportTraceServiceRequest.FromString(expected)  # and it is valid OTLP


def _plain(name: str, attributes: dict[str, object]) -> FrozenSpan:
    return (1, 2, None, SERVER, 3, 4, False, False, "", (PLAIN, name), attributes)


@needs_extension
def test_encode_request_keeps_a_batch_apart_from_one_encoded_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # C keeps its buffers from one batch to the next; a batch encoded by a callback into Python
    # while they are in use must get buffers of its own, and leave the outer batch intact.
    prefix = otlp._prefix({"service.name": "agentgw"}, "agentgw", "0")
    inner = [_plain("inner", {"k": "v" * 100}) for _ in range(3)]
    outer = [_plain("first", {"a": "x" * 50_000}), _plain("second", {"b": "y" * 50_000})]
    inner_expected, outer_expected = (
        otlp.encode_request_py(prefix, inner),
        otlp.encode_request_py(prefix, outer),
    )
    encoded_meanwhile: list[bytes] = []
    rest, entered = otlp._rest, []

    def reentering(shape: Any, variable: object) -> bytes:
        if not entered:  # once, from the outer batch's first span
            entered.append(True)
            encoded_meanwhile.append(otlp.encode_request(prefix, inner))
        return rest(shape, variable)

    monkeypatch.setattr(otlp, "_rest", reentering)
    assert otlp.encode_request(prefix, outer) == outer_expected
    assert encoded_meanwhile == [inner_expected]
    assert otlp.encode_request(prefix, inner) == inner_expected


@needs_extension
def test_encode_request_after_a_batch_too_large_to_keep_buffers_for() -> None:
    prefix = otlp._prefix({"service.name": "agentgw"}, "agentgw", "0")
    batches = [
        [_plain("small", {"k": "v" * 10_000}) for _ in range(20)],
        [_plain("large", {"k": "v" * 5_000_000})],  # past what C keeps between batches
        [_plain("after", {"k": "w"})],
        [_plain("small", {"k": "v" * 10_000}) for _ in range(20)],
    ]
    for batch in batches:
        assert otlp.encode_request(prefix, batch) == otlp.encode_request_py(prefix, batch)


def _span(**changes: Any) -> list[Any]:
    exchange = Exchange("llm", "/v1/chat/completions", "chat", {})
    span = list(exchange_spans.request_span_py(exchange, False, (1, 2, None, 3, False, ""), 4))
    for index, value in changes.items():
        span[int(index.removeprefix("i"))] = value
    return span


@needs_extension
@pytest.mark.parametrize(
    "bad",
    [
        _span(i0=1 << 128),  # a trace id past 128 bits
        _span(i1=-1),  # a negative span id
        _span(i4=-1),  # a time before the epoch
        _span(i0="abc"),
    ],
    ids=["trace-id", "span-id", "time", "id-type"],
)
def test_encode_request_rejects_what_python_rejects(bad: list[Any]) -> None:
    prefix = otlp._prefix({}, "agentgw", "0")
    with pytest.raises((OverflowError, AttributeError, struct.error)):
        otlp.encode_request_py(prefix, [tuple(bad)])  # type: ignore[list-item]
    with pytest.raises((OverflowError, TypeError)):
        otlp.encode_request(prefix, [tuple(bad)])  # type: ignore[list-item]


def test_without_the_extension_the_python_path_encodes_the_same() -> None:
    # AGENTGW_NO_EXTENSIONS=1: every hook takes the Python implementations, whose output the
    # tests above compare with C; here the switch itself, in a fresh interpreter.
    code = (
        "import random;"
        "from agentgw.telemetry import exchange_spans, metrics, native, observer, otlp;"
        "assert native.speedups is None;"
        "assert exchange_spans.request_span is exchange_spans.request_span_py;"
        "assert observer._traceparent.__module__ == 'agentgw.telemetry.propagation';"
        "assert metrics.HistogramSeries is metrics.HistogramSeriesPy;"
        "assert otlp.SpanQueue is otlp.SpanQueuePy;"
        "assert observer._random_bits == random.getrandbits;"
        "o = observer.TelemetryObserver(spans=None, metrics=None, access_log=None, capture_content=False);"
        "assert o.start.__func__ is observer.TelemetryObserver.start;"
        "print(otlp.encode_request((b'', b''), []).hex())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "AGENTGW_NO_EXTENSIONS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert bytes.fromhex(result.stdout.strip()) == otlp.encode_request((b"", b""), [])


def _metric_state(metrics: MetricSet) -> dict[str, object]:
    state: dict[str, object] = {"llm": sorted(map(repr, metrics.llm))}
    for instrument in metrics.instruments:
        if isinstance(instrument, Histogram):
            state[instrument.name] = {
                labels: (s.counts, s.count, s.sum, s.min, s.max) for labels, s in instrument.series.items()
            }
        elif isinstance(instrument, Counter):
            state[instrument.name] = dict(instrument.series)
    return state


def _metered(draw: Draw) -> tuple[Exchange, UpstreamCall]:
    """An exchange as metrics see it: one of a few label sets, so that most repeat (C records a
    set's requests after Python's first), with values of every kind."""
    protocol, operation, target, provider, response_model, error, status, team = draw(
        st.sampled_from(
            [
                ("llm", "chat", "m1", "openai", "r1", None, 200, None),
                ("llm", "chat", "m1", "openai", "r1", None, 200, None),
                ("llm", "embeddings", "m2", None, None, "upstream_error", 502, "t"),
                ("mcp", "tools/call", "weather", None, None, None, 200, None),
            ]
        )
    )
    if draw(st.booleans()):  # equal label values that are other objects, or of another type
        target = "".join(list(target)) if target else target
        response_model = "".join(list(response_model)) if response_model else response_model
        status = draw(st.sampled_from([status, float(status)]))
    exchange = Exchange(protocol, "/v1/chat/completions", operation, {})
    exchange.target, exchange.provider, exchange.response_model = target, provider, response_model
    exchange.error_type, exchange.status, exchange.team = error, status, team
    exchange.started = draw(st.floats(min_value=0, max_value=1e6))
    exchange.ended = exchange.started + draw(st.floats(min_value=0, max_value=100))
    exchange.first_chunk = draw(st.none() | st.floats(min_value=0, max_value=1e6))
    tokens = st.none() | st.integers(min_value=0, max_value=1 << 40) | st.floats(min_value=0, max_value=1e9)
    exchange.usage = Usage(draw(tokens), draw(tokens))
    call = UpstreamCall(draw(st.sampled_from(["a", "b"])), "m", "http://127.0.0.1:1/v1")
    call.status = draw(st.sampled_from([200, 500, None]))
    call.error_type = draw(st.sampled_from([None, "upstream_error"]))
    return exchange, call


def _observe(metered: list[tuple[Exchange, UpstreamCall]]) -> MetricSet:
    metrics = MetricSet()
    observer = TelemetryObserver(spans=None, metrics=metrics, access_log=None, capture_content=False)
    for exchange, call in metered:
        exchange.state.clear()
        observer.start(exchange)
        observer.upstream_end(exchange, call)
        observer.end(exchange)
    return metrics


@needs_extension
@_FAST
@given(data=st.data())
def test_metrics_match_python(data: st.DataObject) -> None:
    metered = [_metered(data.draw) for _ in range(data.draw(st.integers(min_value=1, max_value=24)))]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(observer_module, "speedups", None)
        patch.setattr(observer_module, "_record_llm", None)
        patch.setattr(observer_module, "_count", None)
        patch.setattr(metrics_module, "HistogramSeries", metrics_module.HistogramSeriesPy)
        expected = _metric_state(_observe(metered))
    assert _metric_state(_observe(metered)) == expected


@needs_extension
def test_a_repeated_llm_request_is_recorded_in_c() -> None:
    assert speedups is not None
    exchange = Exchange("llm", "/v1/chat/completions", "chat", {})
    exchange.target, exchange.status, exchange.ended = "m", 200, exchange.started + 0.5
    exchange.usage = Usage(10, 20)
    metrics = _observe([(exchange, UpstreamCall("a", "m", "http://127.0.0.1:1/v1"))])
    assert not speedups.record_llm({}, metrics.llm, exchange)  # labels never counted: Python's turn
    assert speedups.record_llm(metrics.requests.series, metrics.llm, exchange)
    assert metrics.requests.series[("llm", "/v1/chat/completions", 200, None, None)] == 2
    (tokens,) = [s for labels, s in metrics.token_usage.series.items() if labels[-1] == "input"]
    assert tokens.count == 2 and tokens.sum == 20 and type(tokens) is speedups.HistogramSeries


@needs_extension
def test_requests_recorded_in_turn_into_two_metric_sets_are_each_counted_in_their_own() -> None:
    # C remembers the last request's series: a request with the same labels recorded into another
    # MetricSet must not land in the first one's.
    first, second = MetricSet(), MetricSet()
    observers = [
        TelemetryObserver(spans=None, metrics=metrics, access_log=None, capture_content=False)
        for metrics in (first, second)
    ]
    for turn in range(7):
        exchange = Exchange("llm", "/v1/chat/completions", "chat", {})
        exchange.target, exchange.provider, exchange.status = "m", "openai", 200
        exchange.usage, exchange.ended = Usage(10, 20), exchange.started + 0.5
        observers[turn % 2].end(exchange)
    labels = ("llm", "/v1/chat/completions", 200, None, None)
    assert (first.requests.series[labels], second.requests.series[labels]) == (4, 3)
    for metrics, count in ((first, 4), (second, 3)):
        (tokens,) = [s for key, s in metrics.token_usage.series.items() if key[-1] == "input"]
        assert (tokens.count, tokens.sum) == (count, 10 * count)


class _Spans:
    def __init__(self) -> None:
        self.spans: list[FrozenSpan] = []

    def add(self, span: FrozenSpan) -> None:
        self.spans.append(span)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def _hooked(metered: list[tuple[Exchange, UpstreamCall]], traceparents: list[bool]) -> object:
    """What the observer's four hooks make of ``metered``, with ids and clocks that count up."""
    spans, metrics = _Spans(), MetricSet()
    ids, clock = iter(range(1, 10**6)), iter(range(10**9, 10**10, 1000))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(observer_module, "_random_bits", lambda bits: next(ids) % 3)  # 0 at times
        patch.setattr(observer_module, "_time_ns", lambda: next(clock))
        observer = TelemetryObserver(spans=spans, metrics=metrics, access_log=None, capture_content=False)
        seen = []
        for (exchange, call), traceparent in zip(metered, traceparents, strict=True):
            exchange.state.clear()
            exchange.headers = (
                {"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01", "tracestate": "vendor=k"}
                if traceparent
                else {}
            )
            call.state.clear()
            call.headers.clear()
            observer.start(exchange)
            observer.start(exchange)  # a second start changes nothing
            observer.upstream_start(exchange, call)
            seen.append((dict(exchange.state), dict(call.headers)))
            observer.upstream_end(exchange, call)
            observer.end(exchange)
            seen.append(dict(call.state))
    return spans.spans, seen, _metric_state(metrics)


@needs_extension
@_FAST
@given(data=st.data())
def test_the_hooks_match_python(data: st.DataObject) -> None:
    count = data.draw(st.integers(min_value=1, max_value=16))
    metered = [_metered(data.draw) for _ in range(count)]
    traceparents = [data.draw(st.booleans()) for _ in range(count)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(observer_module, "speedups", None)
        patch.setattr(observer_module, "_record_llm", None)
        patch.setattr(observer_module, "_count", None)
        patch.setattr(metrics_module, "HistogramSeries", metrics_module.HistogramSeriesPy)
        expected = _hooked(metered, traceparents)
    assert _hooked(metered, traceparents) == expected


@needs_extension
def test_an_llm_exchange_runs_no_python_hook() -> None:
    # On an LLM exchange C's hooks do not call back into the Python methods (which would make
    # them pointless), but to make a metric series the first time its labels are seen.
    called: list[str] = []

    def counted(name: str) -> Callable[..., Any]:
        method = getattr(TelemetryObserver, name)

        def wrapper(*args: Any) -> Any:
            called.append(name)
            return method(*args)

        return wrapper

    with pytest.MonkeyPatch.context() as patch:
        for name in ("start", "upstream_start", "upstream_end", "end", "_record_metrics"):
            patch.setattr(TelemetryObserver, name, counted(name))
        spans = _Spans()
        observer = TelemetryObserver(spans=spans, metrics=MetricSet(), access_log=None, capture_content=False)
    exchange = Exchange("llm", "/v1/chat/completions", "chat", {})
    exchange.ended = exchange.started + 1
    call = UpstreamCall("a", "m", "http://127.0.0.1:1/v1")
    for _ in range(2):
        exchange.state.clear()
        observer.start(exchange)
        observer.upstream_start(exchange, call)
        observer.upstream_end(exchange, call)
        observer.end(exchange)
    assert called == ["_record_metrics"]
    assert len(spans.spans) == 4 and call.headers["traceparent"].startswith("00-")


@needs_extension
def test_the_hooks_read_the_wall_clock_as_time_time_ns_does() -> None:
    # With time.time_ns as their clock (not a test's), C's hooks read CLOCK_REALTIME themselves.
    spans = _Spans()
    observer = TelemetryObserver(spans=spans, metrics=None, access_log=None, capture_content=False)
    exchange = Exchange("llm", "/v1/chat/completions", "chat", {})
    call = UpstreamCall("a", "m", "http://127.0.0.1:1/v1")
    before = time.time_ns()
    observer.start(exchange)
    observer.upstream_start(exchange, call)
    observer.upstream_end(exchange, call)
    observer.end(exchange)
    after = time.time_ns()
    upstream, request = spans.spans
    assert before <= upstream[4] <= upstream[5] <= request[5] <= after


@needs_extension
@_FAST
@given(
    batch=st.integers(min_value=1, max_value=8),
    limit=st.integers(min_value=0, max_value=12),
    adds=st.integers(0, 30),
)
def test_the_span_queue_matches_python(batch: int, limit: int, adds: int) -> None:
    assert speedups is not None

    def run(queue_type: type[otlp.SpanQueuePy]) -> tuple[list[int], int, list[int]]:
        full: list[int] = []
        queue = queue_type(batch, limit, lambda: full.append(len(queue.spans)))
        for span in range(adds):
            queue.add(span)  # type: ignore[arg-type]
            if span == 10:  # the sink takes a batch meanwhile
                del queue.spans[:batch]
        return list(queue.spans), queue.dropped, full  # type: ignore[arg-type]

    assert run(speedups.SpanQueue) == run(otlp.SpanQueuePy)


@needs_extension
@pytest.mark.filterwarnings("ignore:This process:DeprecationWarning")
def test_random_ids_fill_their_bits_and_a_forked_child_draws_its_own() -> None:
    assert speedups is not None
    ids = [speedups.random_bits(128) for _ in range(2000)]
    assert len(set(ids)) == len(ids) and max(ids) < 1 << 128 and max(ids).bit_length() == 128
    assert max(speedups.random_bits(64) for _ in range(2000)).bit_length() == 64
    assert {speedups.random_bits(2) for _ in range(200)} == {0, 1, 2, 3}
    for bad in (0, 129):
        with pytest.raises(ValueError):
            speedups.random_bits(bad)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's half
        os.write(writer, speedups.random_bits(64).to_bytes(8, "big"))
        os._exit(0)
    os.close(writer)
    drawn = int.from_bytes(os.read(reader, 8), "big")
    os.close(reader)
    os.waitpid(child, 0)
    assert drawn != speedups.random_bits(64)  # the same state in both would draw the same id
