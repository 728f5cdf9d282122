"""Admitting requests against budgets and rate limits, and correcting the counts afterwards.

Before a call, :class:`Limits` reserves the request's amounts (one request; its estimated tokens;
its estimated cost) on every counter that governs it, in one atomic step of the store, and refuses
the request when one has no room: exactly M of N concurrent requests get through a limit of M.
When the exchange ends, :meth:`Limits.settle` replaces the estimate with the usage the upstream
reported (a failed request gives its tokens back; one that reported nothing keeps its estimate).

With no ``limits:`` rules nothing is computed: :meth:`Limits.admit_llm` returns after one attribute
check. With rules, the counters of a caller are found with one memo lookup, and in memory the
reservation is a few dictionary operations with no coroutine.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from agentgw.accounting.prices import Prices
from agentgw.auth.principal import Principal
from agentgw.config.accounting import PricesConfig
from agentgw.config.limits import LimitKind, LimitsConfig
from agentgw.config.model import GatewayConfig
from agentgw.exchange import Exchange, Usage
from agentgw.limits.errors import LimitExceeded, QuotaExceeded, RateLimited, StoreUnavailable
from agentgw.limits.estimate import estimate_tokens
from agentgw.limits.memory_store import MemoryStore
from agentgw.limits.rules import MICRO_USD, Bound, Dimension, Rule, Rules, Subject
from agentgw.limits.store import Admission, Charge, Correction, CounterStore
from agentgw.limits.windows import Window

__all__ = ["STATE_KEY", "Limits", "Reservation", "build_store"]

log = logging.getLogger("agentgw.limits")

STATE_KEY = "limits"
"""Where a request's :class:`Reservation` is kept in ``Exchange.state``."""
_LOG_EVERY_S = 10.0
_PERIOD_WORDS = {"minute": "per minute", "day": "today", "month": "this month"}


@dataclass(slots=True)
class Reservation:
    """What an admitted LLM request reserved, to be corrected when its usage is known."""

    prices: Prices
    model: str | None
    input_tokens: int
    """Estimated prompt tokens."""
    tokens: int
    """Reserved tokens (estimate of input + output) on each of ``token_keys``."""
    token_keys: tuple[str, ...]
    usd: int
    """Reserved micro-USD on each of ``usd_keys``."""
    usd_keys: tuple[str, ...]
    allowance: int | None = None
    """Tokens the request may use in all before a token budget runs out (``end_streams``)."""
    streamed: int | None = None
    """Output events relayed, when a stream guard counted them (a stream cut short reports no usage)."""


class _Counter(NamedTuple):
    """What a charge is for: the rule, the value it counts under, its limit and window."""

    rule: Rule
    value: str
    dimension: Dimension
    limit: int
    window: Window


def build_store(config: LimitsConfig, clock: Callable[[], float]) -> CounterStore:
    """The store ``config.store`` names.

    Raises:
        StoreUnavailable: Redis is configured but the ``redis`` package is not installed.
    """
    if config.store == "memory":
        return MemoryStore(clock)
    try:
        # Redis is an optional extra (pip install 'agentgw[redis]'): imported only when configured.
        from agentgw.limits.redis_store import RedisStore
    except ImportError as exc:  # pragma: no cover - the dev install has it
        raise StoreUnavailable("limits.store is Redis but the 'redis' package is not installed") from exc
    return RedisStore(config.store, prefix=config.key_prefix, timeout_s=config.timeout_s)


class Limits:
    """Budgets and rate limits over one counter store, with the rules of whichever config is current.

    ``config`` chooses the store (fixed until restart); ``clock`` (seconds since the epoch) names the
    windows, and tests move it.
    """

    def __init__(
        self,
        config: LimitsConfig,
        *,
        clock: Callable[[], float] = time.time,
        store: CounterStore | None = None,
    ) -> None:
        self.clock = clock
        self.store = store if store is not None else build_store(config, clock)
        self._memory = self.store if isinstance(self.store, MemoryStore) else None
        self._seen: GatewayConfig | None = None
        self._rules = Rules(config)
        self._prices = Prices(PricesConfig())  # until the first config is seen
        self.refused = {RateLimited.code: 0, QuotaExceeded.code: 0}
        """Requests refused since start, by error code (a rate limit, a budget)."""
        self.store_errors = 0
        """Times the store failed (each let a request through uncounted, or refused it)."""
        self.uncounted = 0
        """Requests let through uncounted because the store failed (``on_store_error: allow``)."""
        self._logged = 0.0

    def rules(self, config: GatewayConfig) -> Rules:
        """The compiled rules of ``config`` (compiled once per config object)."""
        if config is not self._seen:
            self._seen = config
            if config.limits != self._rules.config:
                self._rules = Rules(config.limits)
            self._prices = Prices(config.accounting.prices)
        return self._rules

    async def admit_llm(
        self, config: GatewayConfig, principal: Principal, exchange: Exchange, data: Mapping[str, Any]
    ) -> None:
        """Admit an LLM request for ``exchange.target`` or raise; the reservation goes on ``exchange``.

        Raises:
            RateLimited, QuotaExceeded: a limit has no room (429).
            StoreUnavailable: the store failed and ``on_store_error`` is ``refuse`` (503).
        """
        rules = self.rules(config)
        if not rules.enabled:
            return
        subject = Subject(
            "llm", principal.subject, principal.team, principal.key_name, exchange.target, principal.roles
        )
        applicable = rules.applicable(subject)
        if not applicable:
            return
        input_tokens, output_tokens = estimate_tokens(data) if rules.needs_tokens else (0, 0)
        tokens = input_tokens + output_tokens
        usd = 0
        if tokens:
            estimate = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
            usd = _micro(self._prices.cost(kind="llm", target=exchange.target, usage=estimate))
        counters, charges = self._charges(rules, applicable, {"requests": 1, "tokens": tokens, "usd": usd})
        if not charges:
            return
        admission = await self._reserve(rules, counters, charges)
        if admission is None:
            return
        reservation = Reservation(
            self._prices,
            exchange.target,
            input_tokens,
            tokens,
            tuple(c.key for c, n in zip(charges, counters, strict=True) if n.dimension == "tokens"),
            usd,
            tuple(c.key for c, n in zip(charges, counters, strict=True) if n.dimension == "usd"),
        )
        if rules.config.end_streams:
            room = [
                counter.limit - used
                for counter, used in zip(counters, admission.used, strict=True)
                if counter.dimension == "tokens" and counter.rule.budget
            ]
            if room:
                reservation.allowance = tokens + min(room)
        exchange.state[STATE_KEY] = reservation

    async def admit_call(
        self, config: GatewayConfig, principal: Principal, kind: LimitKind, target: str | None
    ) -> None:
        """Admit an MCP call (``target``: the federated tool name; None for prompts and resources,
        which have no price) or an A2A request (the agent).

        Counts one request, and its per-call price on money budgets; tools and agents use no tokens.

        Raises:
            RateLimited, QuotaExceeded: a limit has no room.
            StoreUnavailable: the store failed and ``on_store_error`` is ``refuse``.
        """
        rules = self.rules(config)
        if not rules.enabled:
            return
        subject = Subject(kind, principal.subject, principal.team, principal.key_name, None, principal.roles)
        applicable = rules.applicable(subject)
        if not applicable:
            return
        usd = _micro(self._prices.cost(kind=kind, target=target, usage=Usage()))
        counters, charges = self._charges(rules, applicable, {"requests": 1, "tokens": 0, "usd": usd})
        if charges:
            await self._reserve(rules, counters, charges)

    def settle(self, exchange: Exchange) -> None:
        """Replace ``exchange``'s reserved estimate by its reported usage (call once, at its end)."""
        reservation = exchange.state.pop(STATE_KEY, None)
        if not isinstance(reservation, Reservation):
            return
        usage = exchange.usage
        if usage.reported:
            actual = Usage(usage.input_tokens or 0, usage.output_tokens or 0, usage.cache_read_input_tokens)
        elif reservation.streamed is not None:
            actual = Usage(reservation.input_tokens, reservation.streamed)
        elif exchange.status >= 400:
            actual = Usage(0, 0)  # refused or failed upstream: nothing was generated
        else:
            return  # no usage reported: the estimate stands
        corrections: list[Correction] = []
        delta = (actual.input_tokens or 0) + (actual.output_tokens or 0) - reservation.tokens
        if delta:
            corrections.extend(Correction(key, delta) for key in reservation.token_keys)
        if reservation.usd_keys:
            cost = _micro(reservation.prices.cost(kind="llm", target=reservation.model, usage=actual))
            if cost != reservation.usd:
                corrections.extend(Correction(key, cost - reservation.usd) for key in reservation.usd_keys)
        if corrections:
            self.store.correct(corrections)

    async def aclose(self) -> None:
        await self.store.aclose()

    def _charges(
        self, rules: Rules, applicable: Sequence[Bound], amounts: Mapping[Dimension, int]
    ) -> tuple[list[_Counter], list[Charge]]:
        now = self.clock()
        counters: list[_Counter] = []
        charges: list[Charge] = []
        for bound in applicable:
            window = rules.windows.get(bound.rule.period, now)
            ttl = window.ttl_s(now)
            weight = window.weight(now)
            previous = window.previous_id
            for dimension, limit, base in bound.counters:
                amount = amounts[dimension]
                if not amount:
                    continue  # nothing to count here (a tool call on a token limit, an unpriced model)
                counters.append(_Counter(bound.rule, bound.value, dimension, limit, window))
                charges.append(
                    Charge(
                        base + window.id,
                        amount,
                        limit,
                        ttl,
                        None if previous is None else base + previous,
                        weight,
                    )
                )
        return counters, charges

    async def _reserve(
        self, rules: Rules, counters: Sequence[_Counter], charges: Sequence[Charge]
    ) -> Admission | None:
        """The store's admission, or None when the store failed and requests go through uncounted."""
        try:
            if self._memory is not None:
                admission = self._memory.reserve_now(charges)
            else:
                admission = await self.store.reserve(charges)
        except StoreUnavailable as error:
            self.store_errors += 1
            refuse = rules.config.on_store_error == "refuse"
            now = time.monotonic()
            if now - self._logged >= _LOG_EVERY_S:
                self._logged = now
                log.warning(
                    "limits: %s; requests are %s (%d store errors so far)",
                    error.message,
                    "refused" if refuse else "let through uncounted",
                    self.store_errors,
                )
            if refuse:
                raise
            self.uncounted += 1
            return None
        if admission.refused is not None:
            refusal = _refusal(counters, charges, admission, self.clock())
            self.refused[refusal.code] += 1
            raise refusal
        return admission


def _refusal(
    counters: Sequence[_Counter], charges: Sequence[Charge], admission: Admission, now: float
) -> LimitExceeded:
    assert admission.refused is not None
    index = admission.refused
    counter, charge = counters[index], charges[index]
    used = admission.used[index]
    retry_after = max(1, math.ceil(counter.window.reset_s(now)))
    headers = _headers(counters[: index + 1], admission.used[: index + 1], now)
    headers["retry-after"] = str(retry_after)
    rule = counter.rule
    details = {
        "scope": rule.scope,
        "value": counter.value,
        "dimension": counter.dimension,
        "period": rule.period,
        "limit": _figure(counter.dimension, counter.limit),
        "used": _figure(counter.dimension, used),
        "requested": _figure(counter.dimension, charge.amount),
        "retry_after_s": retry_after,
        "rule": rule.where,
    }
    what = {"requests": "requests", "tokens": "tokens", "usd": "USD"}[counter.dimension]
    subject = f"{rule.scope} '{counter.value}'"
    if rule.budget:
        headers["x-should-retry"] = "false"  # the SDKs' retry loops cannot outwait a day or a month
        message = (
            f"Budget of {_shown(counter.dimension, counter.limit)} {what} {_PERIOD_WORDS[rule.period]} "
            f"for {subject} is exhausted (used {_shown(counter.dimension, used)}, this request needs "
            f"{_shown(counter.dimension, charge.amount)}). It resets in {retry_after}s."
        )
        return QuotaExceeded(message, retry_after_s=retry_after, headers=headers, details=details)
    message = (
        f"Rate limit reached for {what} per minute for {subject}: limit {counter.limit}, "
        f"used {used}, requested {charge.amount}. Please try again in {retry_after}s."
    )
    return RateLimited(message, retry_after_s=retry_after, headers=headers, details=details)


def _headers(counters: Sequence[_Counter], used: Sequence[int], now: float) -> dict[str, str]:
    """``x-ratelimit-{limit,remaining,reset}-{requests,tokens,usd}`` of the tightest counter per dimension."""
    tightest: dict[Dimension, tuple[int, _Counter]] = {}
    for counter, value in zip(counters, used, strict=True):
        remaining = max(0, counter.limit - value)
        best = tightest.get(counter.dimension)
        if best is None or remaining < best[0]:
            tightest[counter.dimension] = (remaining, counter)
    headers: dict[str, str] = {}
    for dimension, (remaining, counter) in tightest.items():
        headers[f"x-ratelimit-limit-{dimension}"] = _shown(dimension, counter.limit)
        headers[f"x-ratelimit-remaining-{dimension}"] = _shown(dimension, remaining)
        headers[f"x-ratelimit-reset-{dimension}"] = f"{max(1, math.ceil(counter.window.reset_s(now)))}s"
    return headers


def _micro(usd: float) -> int:
    return round(usd * MICRO_USD)


def _figure(dimension: Dimension, value: int) -> int | float:
    return value / MICRO_USD if dimension == "usd" else value


def _shown(dimension: Dimension, value: int) -> str:
    return f"{value / MICRO_USD:.6f}".rstrip("0").rstrip(".") if dimension == "usd" else str(value)
