"""W3C Trace Context parsing (https://www.w3.org/TR/trace-context/#traceparent-header)."""

from __future__ import annotations

import pytest

from agentgw.telemetry.propagation import parse_traceparent

VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_parse() -> None:
    parent = parse_traceparent(VALID, "congo=t61rcWkgMzE")
    assert parent is not None
    assert parent.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert parent.span_id == 0xB7AD6B7169203331
    assert parent.sampled
    assert parent.tracestate == "congo=t61rcWkgMzE"
    assert parent.header == VALID


def test_a_later_version_may_append_fields() -> None:
    context = parse_traceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-what-comes")
    assert context is not None and not context.sampled


@pytest.mark.parametrize(
    "value",
    [
        "",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333g-01",
    ],
)
def test_invalid_headers_are_ignored(value: str) -> None:
    assert parse_traceparent(value) is None
