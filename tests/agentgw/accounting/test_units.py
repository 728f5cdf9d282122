"""Prices, estimates, the stream usage tap and the writer's bounded buffer, without a gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import orjson
import pytest

from agentgw.accounting.errors import LedgerError
from agentgw.accounting.estimate import estimate_tokens
from agentgw.accounting.prices import Prices
from agentgw.accounting.record import UsageRecord, next_record_id
from agentgw.accounting.report import Report
from agentgw.accounting.writer import LedgerWriter
from agentgw.config.accounting import PricesConfig
from agentgw.exchange import Exchange, Usage
from agentgw.llm.usage_tap import STATE_KEY, UsageTap

pytestmark = pytest.mark.anyio


def test_prices_exact_names_win_over_patterns_and_cached_input_has_its_price() -> None:
    prices = Prices(
        PricesConfig.model_validate(
            {
                "models": {
                    "gpt-*": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                    "gpt-4o": {"input_per_mtok": 2.5, "output_per_mtok": 10.0, "cached_input_per_mtok": 1.25},
                },
                "tools": {"github_*": 0.001},
                "agents": {"planner": 0.05},
            }
        )
    )
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, cache_read_input_tokens=400_000)
    assert prices.cost(kind="llm", target="gpt-4o", usage=usage) == pytest.approx(
        0.6 * 2.5 + 0.4 * 1.25 + 5.0
    )
    assert prices.cost(kind="llm", target="gpt-4o-mini", usage=usage) == pytest.approx(1.0 + 1.0)
    assert prices.cost(kind="llm", target="claude", usage=usage) == 0.0
    assert prices.cost(kind="mcp", target="github_list_issues", usage=Usage()) == 0.001
    assert prices.cost(kind="a2a", target="planner", usage=Usage()) == 0.05
    assert prices.cost(kind="a2a", target=None, usage=Usage()) == 0.0


def test_estimates() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 25) == 25
    assert estimate_tokens("中文字符") == 4  # about one token per CJK character


class _Upstream:
    def __init__(self, chunks: Sequence[bytes]) -> None:
        self._chunks = chunks
        self.status, self.content_type, self.deadline = 200, "text/event-stream", 0.0
        self.relay_headers: dict[str, str] = {}

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk

    async def read(self, limit: int) -> bytes:
        return b"".join(self._chunks)

    async def aclose(self) -> None:
        pass


def _event(data: object) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


STREAM = b"".join(
    [
        _event({"id": "c", "choices": [{"index": 0, "delta": {"content": "Hello"}}], "usage": None}),
        _event({"id": "c", "choices": [{"index": 0, "delta": {"content": " world"}}], "usage": None}),
        _event({"id": "c", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}),
        b"data: [DONE]\n\n",
    ]
)


@pytest.mark.parametrize("size", [1, 3, 7, 16, 50, len(STREAM)])
async def test_the_tap_withholds_the_usage_chunk_however_the_stream_is_split(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    exchange = Exchange("llm", "/v1/chat/completions", "chat")
    tap = UsageTap(_Upstream(chunks), exchange, withhold=True)
    relayed = b"".join([chunk async for chunk in tap.aiter_bytes()])
    assert b'"usage":{' not in relayed and relayed.endswith(b"data: [DONE]\n\n")
    assert relayed == STREAM.replace(STREAM.split(b"\n\n")[2] + b"\n\n", b"")
    assert (exchange.usage.input_tokens, exchange.usage.output_tokens) == (7, 2)
    assert exchange.response_bytes == len(relayed)
    assert exchange.state[STATE_KEY] == len("Hello world") or size < 16  # split strings are missed


async def test_the_tap_passes_a_stream_through_when_the_client_asked_for_usage() -> None:
    exchange = Exchange("llm", "/v1/chat/completions", "chat")
    tap = UsageTap(_Upstream([STREAM]), exchange, withhold=False)
    assert b"".join([chunk async for chunk in tap.aiter_bytes()]) == STREAM


def _record() -> UsageRecord:
    return UsageRecord(
        next_record_id(), 0.0, "p", None, None, "llm", "chat", "m", "b", 200, None, 1.0, False,
        None, None, 1, 1, None, None, None, None, False, 0.0,
    )  # fmt: skip


class _Store:
    def __init__(self) -> None:
        self.up = False
        self.stored: list[tuple[object, ...]] = []

    async def open(self) -> None:
        if not self.up:
            raise LedgerError("down")

    async def write(self, records: Sequence[tuple[object, ...]]) -> None:
        if not self.up:
            raise LedgerError("down")
        self.stored.extend(records)

    async def report(self, group_by: str, since: object, until: object) -> Report:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


async def test_the_writer_keeps_what_its_buffer_holds_and_counts_what_it_drops() -> None:
    store = _Store()
    writer = LedgerWriter(store, batch_size=3, flush_interval_s=0.01, buffer_max=10, retry_max_s=0.05)
    writer.start()
    records = [_record() for _ in range(14)]
    for record in records:
        writer.add(record)
    assert not await writer.flush(0.2)  # the database is down
    assert writer.dropped == 4 and writer.pending == 10 and writer.last_error is not None
    store.up = True
    assert await writer.flush(5)
    await writer.aclose()
    assert store.stored == [tuple(r) for r in records[4:]]  # the oldest ones went
    assert writer.written == 10 and writer.dropped == 4


async def test_records_still_unwritten_at_shutdown_are_counted_as_dropped() -> None:
    writer = LedgerWriter(_Store(), flush_interval_s=0.01, retry_max_s=0.05)
    writer.start()
    writer.add(_record())
    await asyncio.sleep(0.05)
    await writer.aclose(timeout_s=0.2)
    assert writer.dropped == 1 and writer.pending == 0
