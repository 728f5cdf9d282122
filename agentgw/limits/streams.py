"""Ending a stream whose token budget runs out mid-way (``limits.end_streams``).

A stream admitted with a token budget close to its end may generate more than the budget has left.
:class:`BudgetGuard` wraps the upstream response and counts the SSE events it relays (an LLM stream
sends about one token per event, OpenAI's and Anthropic's alike: a byte count, no parsing); once the
request's tokens would pass its allowance (:attr:`~agentgw.limits.limiter.Reservation.allowance`),
the stream ends at the next event boundary with an in-band error event, then ``data: [DONE]`` on
the OpenAI wire, and the upstream connection is closed, which stops the generation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from agentgw.error_mapping import anthropic_error_body, openai_error_body
from agentgw.exchange import Exchange
from agentgw.limits.errors import QuotaExceeded
from agentgw.limits.limiter import STATE_KEY, Reservation
from agentgw.llm.providers.base import UpstreamResponse
from agentgw.llm.translate.sse import sse_event

__all__ = ["BudgetGuard", "guard_stream"]

_EVENT = b"data:"
_DONE = b"data: [DONE]\n\n"


def guard_stream(
    exchange: Exchange, upstream: UpstreamResponse, wire: Literal["openai", "anthropic"]
) -> UpstreamResponse:
    """``upstream``, guarded when ``exchange`` was admitted with a token allowance, else as it is."""
    reservation = exchange.state.get(STATE_KEY)
    if not isinstance(reservation, Reservation) or reservation.allowance is None or upstream.status >= 400:
        return upstream
    return BudgetGuard(upstream, exchange, reservation, wire)


class BudgetGuard:
    """An :class:`~agentgw.llm.providers.base.UpstreamResponse` that ends when the allowance is spent."""

    def __init__(
        self,
        upstream: UpstreamResponse,
        exchange: Exchange,
        reservation: Reservation,
        wire: Literal["openai", "anthropic"],
    ) -> None:
        self._upstream = upstream
        self._exchange = exchange
        self._reservation = reservation
        self._wire = wire
        self.status = upstream.status
        self.content_type = upstream.content_type
        self.deadline = upstream.deadline

    @property
    def relay_headers(self) -> dict[str, str]:
        return self._upstream.relay_headers

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        reservation = self._reservation
        assert reservation.allowance is not None
        room = reservation.allowance - reservation.input_tokens
        events = 0
        async for chunk in self._upstream.aiter_bytes():
            events += chunk.count(_EVENT)
            reservation.streamed = events
            yield chunk
            # Cut only between events, so the client's SSE parser sees whole events.
            if events > room and chunk.endswith(b"\n\n"):
                yield self._end(events)
                return

    def _end(self, events: int) -> bytes:
        reservation = self._reservation
        self._exchange.error_type = QuotaExceeded.code
        error = QuotaExceeded(
            f"The token budget ran out during this response (about {reservation.input_tokens + events} "
            f"tokens used of an allowance of {reservation.allowance}); the response was cut short.",
            retry_after_s=0,
            headers={},
            details={"allowance": reservation.allowance},
        )
        if self._wire == "anthropic":
            return sse_event(anthropic_error_body(error), "error")
        return b"data: " + openai_error_body(error) + b"\n\n" + _DONE

    async def read(self, limit: int) -> bytes:
        return await self._upstream.read(limit)

    async def aclose(self) -> None:
        await self._upstream.aclose()
