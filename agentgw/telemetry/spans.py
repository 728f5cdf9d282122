"""Spans as plain tuples, batched off the request path and handed to an exporter.

Why not the OpenTelemetry SDK's ``Tracer`` here: measured on this machine (SDK 1.45), a recorded span
with the GenAI attributes costs about 30 µs on the request path (attribute validation under a lock
for each attribute, the span and processor machinery) and the SDK's OTLP encoder about 45 µs more
to serialize it; a traced request has two spans, so tracing every request cost more than the whole
proxied request.

A finished span is a :data:`FrozenSpan`: a tuple of ids, times and the values its attributes are
made from; the attributes themselves are built when the span is exported, by its
:class:`SpanShape`, off the request path. The values come in two parts: ``fixed``, a tuple that
repeats from request to request (operation, model, route, status, backend, ...), whose name and
attributes are encoded once and cached by the OTLP encoder, and ``variable`` (ids, token counts,
timings), encoded per span. The observer builds that tuple at once, with no object in between
(an object's construction cost as much as the rest of the span's request-path work);
:class:`SpanRecord` is for spans made by hand. Anything that takes the SDK's ``SpanExporter``
(tests pass ``InMemorySpanExporter``) can still receive them, as ``ReadableSpan``s, through
:class:`SDKSpanSink`.
"""

from __future__ import annotations

import random
import time
from typing import Any, Protocol

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.util.types import AttributeValue

from agentgw.telemetry.propagation import TraceParent

__all__ = [
    "CLIENT",
    "PLAIN",
    "SERVER",
    "FrozenSpan",
    "InFlight",
    "SDKSpanSink",
    "SpanRecord",
    "SpanShape",
    "SpanSink",
    "new_span",
    "shape",
    "shape_number",
    "span_attributes",
    "span_name",
    "to_readable",
]

SERVER = 2
"""OTLP ``SPAN_KIND_SERVER``."""
CLIENT = 3
"""OTLP ``SPAN_KIND_CLIENT``."""

Fixed = tuple[Any, ...]
"""A span's repeating values; ``fixed[0]`` is its shape's number (:func:`shape_number`). Hashable
(where its values are): it is a cache key."""


class SpanShape(Protocol):
    """Turns a span's recorded values into its name and attributes (at export time)."""

    def name(self, fixed: Fixed) -> str: ...

    def fixed_attributes(self, fixed: Fixed) -> dict[str, AttributeValue]:
        """The attributes made of ``fixed`` alone: the same for every span with equal ``fixed``."""
        ...

    variable_names: tuple[str, ...]
    """The attribute names of ``variable``'s leading values: each value but ``None`` is its
    attribute as it is (token counts, ids; the encoder writes them without a dict in between)."""

    def variable_attributes(self, variable: Any) -> dict[str, AttributeValue]:
        """The attributes made of the rest of ``variable``."""
        ...


class _Plain:
    """A span given its name and attributes outright: ``fixed`` is ``(PLAIN, name)``, ``variable``
    the attribute dict."""

    variable_names: tuple[str, ...] = ()

    def name(self, fixed: Fixed) -> str:
        return str(fixed[1])

    def fixed_attributes(self, fixed: Fixed) -> dict[str, AttributeValue]:
        return {}

    def variable_attributes(self, variable: Any) -> dict[str, AttributeValue]:
        return dict(variable)


_SHAPES: list[SpanShape] = []


def shape_number(shape: SpanShape) -> int:
    """Register ``shape``; spans name it by this number, not by the object.

    Why a number: a queued span is a tuple of plain values (ints, strings, tuples of them), which
    the garbage collector stops tracking after its first pass; an object in it would keep the whole
    span tracked, and every span waiting for export would count towards the next full collection.
    """
    _SHAPES.append(shape)
    return len(_SHAPES) - 1


def shape(number: int) -> SpanShape:
    return _SHAPES[number]


PLAIN = shape_number(_Plain())


FrozenSpan = tuple[int, int, int | None, int, int, int, bool, bool, str, Fixed, Any]
"""A finished span as plain values: trace id, span id, parent span id (``None`` for a root), kind,
start and end (ns since the epoch), error, whether the parent is remote, trace state, ``fixed``,
``variable``. A plain tuple (not a named one): the garbage collector untracks only exact tuples."""


InFlight = tuple[int, int, int | None, int, bool, str]
"""A request's span while it runs: trace id, span id, parent span id, start (ns since the epoch),
whether the parent is remote, trace state."""


def span_name(span: FrozenSpan) -> str:
    fixed = span[9]
    return _SHAPES[fixed[0]].name(fixed)


def span_attributes(span: FrozenSpan) -> dict[str, AttributeValue]:
    """Every attribute of ``span``, built now (export time)."""
    fixed = span[9]
    shape = _SHAPES[fixed[0]]
    attributes = shape.fixed_attributes(fixed)
    variable = span[10]
    if variable:
        for name, value in zip(shape.variable_names, variable, strict=False):
            if value is not None:
                attributes[name] = value
        attributes.update(shape.variable_attributes(variable))
    return attributes


class SpanRecord:
    """A span made by hand (:func:`new_span`): ids, kind, times, error status, and the values its
    name and attributes are made of (see :class:`SpanShape`), until :meth:`frozen`."""

    __slots__ = (
        "end_ns",
        "error",
        "fixed",
        "kind",
        "parent_id",
        "remote_parent",
        "span_id",
        "start_ns",
        "trace_id",
        "trace_state",
        "variable",
    )

    def __init__(
        self,
        trace_id: int,
        span_id: int,
        parent_id: int | None,
        kind: int,
        start_ns: int,
        *,
        remote_parent: bool = False,
        trace_state: str = "",
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = 0
        self.error = False
        self.remote_parent = remote_parent
        self.trace_state = trace_state
        self.fixed: Fixed = (PLAIN, "")
        self.variable: Any = ()

    def frozen(self) -> FrozenSpan:
        """The finished span as plain values, to queue for export."""
        return (
            self.trace_id,
            self.span_id,
            self.parent_id,
            self.kind,
            self.start_ns,
            self.end_ns,
            self.error,
            self.remote_parent,
            self.trace_state,
            self.fixed,
            self.variable,
        )

    def end(self) -> None:
        self.end_ns = time.time_ns()


def new_span(
    name: str,
    kind: int,
    start_ns: int,
    attributes: dict[str, AttributeValue],
    *,
    parent: TraceParent | SpanRecord | None,
) -> SpanRecord:
    """A span with its name and attributes given outright (the :data:`PLAIN` shape), child of
    ``parent`` (a client's ``traceparent``, or a span of ours).

    Ids come from the ``random`` module's generator (W3C Trace Context section 3.2.2.3: random
    enough, not cryptographic); ``os.urandom`` or ``uuid4`` cost a system call each.
    """
    span_id = random.getrandbits(64) or 1
    if parent is None:
        span = SpanRecord(random.getrandbits(128) or 1, span_id, None, kind, start_ns)
    elif isinstance(parent, SpanRecord):
        span = SpanRecord(
            parent.trace_id, span_id, parent.span_id, kind, start_ns, trace_state=parent.trace_state
        )
    else:
        span = SpanRecord(
            parent.trace_id,
            span_id,
            parent.span_id,
            kind,
            start_ns,
            remote_parent=True,
            trace_state=parent.tracestate,
        )
    span.fixed = (PLAIN, name)
    span.variable = attributes
    return span


class SpanSink(Protocol):
    """Where finished spans go. ``add`` runs on the event loop for every span: it must only queue."""

    def add(self, span: FrozenSpan) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Export what is queued, then release resources."""
        ...


_KINDS = {SERVER: SpanKind.SERVER, CLIENT: SpanKind.CLIENT}


class SDKSpanSink:
    """Hands each span to an SDK ``SpanExporter`` at once, as a ``ReadableSpan`` (tests, debugging)."""

    def __init__(self, exporter: SpanExporter, resource: Resource, scope: InstrumentationScope) -> None:
        self._exporter = exporter
        self._resource = resource
        self._scope = scope

    def add(self, span: FrozenSpan) -> None:
        self._exporter.export([to_readable(span, self._resource, self._scope)])

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def to_readable(span: FrozenSpan, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    """``span`` in the SDK's data model."""
    trace_id, span_id, parent_id, kind, start_ns, end_ns, error, remote, trace_state = span[:9]
    state = TraceState.from_header([trace_state]) if trace_state else None
    flags = TraceFlags(TraceFlags.SAMPLED)
    parent = None
    if parent_id is not None:
        parent = SpanContext(trace_id, parent_id, remote, flags, state)
    return ReadableSpan(
        name=span_name(span),
        context=SpanContext(trace_id, span_id, False, flags, state),
        parent=parent,
        resource=resource,
        attributes=span_attributes(span),
        kind=_KINDS[kind],
        status=Status(StatusCode.ERROR) if error else Status(StatusCode.UNSET),
        start_time=start_ns,
        end_time=end_ns,
        instrumentation_scope=scope,
    )
