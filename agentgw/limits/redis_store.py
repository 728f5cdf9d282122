"""Counters in Redis, shared by every gateway replica that points at the same database.

The check-and-add of a request runs in a Lua script, which Redis runs atomically: however many
replicas admit requests at once, a limit of M lets exactly M through. Requests that arrive while a
script call is under way are sent together in the next one, each still admitted whole or not at all. Corrections (the real usage
replacing the estimate) are a second script, sent in the background, batched: all the corrections
that arrive while one batch is on its way go in the next. The clock is the gateway's
(windows are named by their start, so replicas agree as far as their clocks do).

When Redis fails, the error is translated to :class:`~agentgw.limits.errors.StoreUnavailable`, and
for the next second the store is not asked again (every request would otherwise wait for the same
timeout); the limiter then lets requests through or refuses them, as configured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from agentgw.limits.errors import StoreUnavailable
from agentgw.limits.store import Admission, Charge, Correction

__all__ = ["RedisStore"]

log = logging.getLogger("agentgw.limits")

_BACKOFF_S = 1.0
_MAX_QUEUED = 100_000
_MAX_BATCH = 256

# A batch of requests, each admitted as a whole or not at all, in arrival order.
# ARGV: the number of requests, then per request its number of charges n followed by
# (amount, limit, ttl, weight) per charge; KEYS: (current, previous) per charge, in the same order.
# Returns, per request: the index of the charge refused (0: admitted), then n usages (Admission).
_RESERVE = """
local out = {}
local a, k = 2, 1
for _ = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[a])
  a = a + 1
  local refused, used = 0, {}
  for i = 0, n - 1 do
    if refused == 0 then
      local current = tonumber(redis.call('GET', KEYS[k + 2 * i]) or '0')
      local weight = tonumber(ARGV[a + 4 * i + 3])
      if weight > 0 then
        current = current + math.ceil(tonumber(redis.call('GET', KEYS[k + 2 * i + 1]) or '0') * weight)
      end
      local amount = tonumber(ARGV[a + 4 * i])
      if current + amount > tonumber(ARGV[a + 4 * i + 1]) then
        refused = i + 1
        used[i + 1] = current
      else
        used[i + 1] = current + amount
      end
    else
      used[i + 1] = 0
    end
  end
  if refused == 0 then
    for i = 0, n - 1 do
      local key = KEYS[k + 2 * i]
      redis.call('INCRBY', key, ARGV[a + 4 * i])
      if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[a + 4 * i + 2]) end
    end
  end
  out[#out + 1] = refused
  for i = 1, n do out[#out + 1] = used[i] end
  a = a + 4 * n
  k = k + 2 * n
end
return out
"""

# KEYS: counters; ARGV: deltas. A counter that expired stays gone; none goes below zero.
_CORRECT = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local value = redis.call('INCRBY', KEYS[i], ARGV[i])
    if value < 0 then redis.call('INCRBY', KEYS[i], -value) end
  end
end
return 0
"""


class RedisStore:
    """:class:`~agentgw.limits.store.CounterStore` in Redis at ``url`` (``redis://host:port/db``)."""

    def __init__(self, url: str, *, prefix: str, timeout_s: float) -> None:
        self._redis: Any = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=False
        )
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._reserve = self._redis.register_script(_RESERVE)
        self._correct = self._redis.register_script(_CORRECT)
        self._down_until = 0.0
        self._waiting: list[tuple[Sequence[Charge], asyncio.Future[Admission]]] = []
        self._sender: asyncio.Task[None] | None = None
        self._queued: dict[str, int] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def reserve(self, charges: Sequence[Charge]) -> Admission:
        if time.monotonic() < self._down_until:
            raise StoreUnavailable("the limits store (Redis) is unavailable")
        waiter: asyncio.Future[Admission] = asyncio.get_running_loop().create_future()
        self._waiting.append((charges, waiter))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_reservations())
        return await waiter

    async def _send_reservations(self) -> None:
        # The requests that arrive while one script call is on its way go together in the next: at
        # concurrency 1 a request waits for one round trip, as alone; under load, one round trip
        # serves many (a call to Redis costs the gateway far more CPU than the script costs Redis).
        while self._waiting:
            batch, self._waiting = self._waiting[:_MAX_BATCH], self._waiting[_MAX_BATCH:]
            keys: list[str] = []
            args: list[int | float] = [len(batch)]
            prefix = self._prefix
            for charges, _ in batch:
                args.append(len(charges))
                for charge in charges:
                    keys.append(prefix + charge.key)
                    keys.append(prefix + (charge.previous or charge.key))
                    args.extend((charge.amount, charge.limit, charge.ttl_s, charge.weight))
            try:
                async with asyncio.timeout(self._timeout_s):
                    reply = await self._reserve(keys=keys, args=args)
            except (RedisError, OSError, TimeoutError) as exc:
                self._down_until = time.monotonic() + _BACKOFF_S
                error = StoreUnavailable(f"the limits store (Redis) failed: {exc or type(exc).__name__}")
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(error)
                continue
            at = 0
            for charges, waiter in batch:
                refused = int(reply[at])
                used = tuple(int(v) for v in reply[at + 1 : at + 1 + len(charges)])
                at += 1 + len(charges)
                if not waiter.done():  # the request may have been cancelled meanwhile
                    waiter.set_result(Admission(refused - 1 if refused else None, used))

    def correct(self, corrections: Sequence[Correction]) -> None:
        queued = self._queued
        if len(queued) >= _MAX_QUEUED:
            return  # Redis is behind: the estimates stay counted, on the safe side
        for correction in corrections:
            queued[correction.key] = queued.get(correction.key, 0) + correction.delta
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        # One script call for every correction queued meanwhile: under load, one round trip serves
        # many requests instead of one each.
        while self._queued:
            batch, self._queued = self._queued, {}
            keys = [self._prefix + key for key, delta in batch.items() if delta]
            deltas = [delta for delta in batch.values() if delta]
            if not keys:
                continue
            try:
                async with asyncio.timeout(self._timeout_s * 4):
                    await self._correct(keys=keys, args=deltas)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning(
                    "limits: %d usage corrections were lost (Redis: %s)", len(keys), exc or type(exc).__name__
                )

    async def aclose(self) -> None:
        for task in (self._sender, self._flusher):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        await self._redis.aclose()
