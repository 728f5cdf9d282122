from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.telemetry import Telemetry
from agentgw.telemetry.access_log import ACCESS_LOGGER
from tests.agentgw.llm.conftest import gateway_yaml
from tests.support.servers import serve_app, wait_for


class Lines(logging.Handler):
    """Collects the access log's lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass
class Traced:
    url: str
    spans: InMemorySpanExporter
    telemetry: Telemetry
    access: Lines

    def finished(self, count: int) -> list[ReadableSpan]:
        """The finished spans, once there are ``count`` (a stream's spans end just after its last byte)."""
        wait_for(lambda: len(self.spans.get_finished_spans()) >= count, timeout=5)
        return list(self.spans.get_finished_spans())


def telemetry_yaml(upstream: str, telemetry: str = "{access_log: true}", extra: str = "") -> str:
    return gateway_yaml(upstream) + f"telemetry: {telemetry}\n" + extra


@contextlib.contextmanager
def traced_gateway(upstream: str, telemetry: str = "{access_log: true}", extra: str = "") -> Iterator[Traced]:
    """The gateway in front of ``upstream`` with in-memory spans and a collected access log."""
    spans = InMemorySpanExporter()
    access = Lines()
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(access)
    try:
        config = parse_config(telemetry_yaml(upstream, telemetry, extra))
        if "sample_ratio" not in telemetry:  # tests look at every trace (the default samples 10%)
            config = config.model_copy(
                update={"telemetry": config.telemetry.model_copy(update={"sample_ratio": 1.0})}
            )
        built = Telemetry(config.telemetry, span_exporter=spans)
        with serve_app(create_app(config, telemetry=built)) as url:
            yield Traced(url, spans, built, access)
    finally:
        logger.removeHandler(access)


@pytest.fixture
def traced(fake_openai_url: str) -> Iterator[Traced]:
    with traced_gateway(fake_openai_url) as gateway:
        yield gateway
