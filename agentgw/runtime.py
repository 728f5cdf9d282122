"""A runtime: one validated config with everything built from it, used by requests as one unit.

A request leases the runtime that is current when it starts and keeps it until its response (or
stream) ends, so a hot reload never changes the config under a request in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from agentgw.a2a.upstream import AgentClient
from agentgw.config.model import GatewayConfig
from agentgw.llm.health import HealthBook
from agentgw.llm.providers.base import Provider
from agentgw.llm.router import ModelRouter
from agentgw.rbac.policy import Policy

__all__ = ["Runtime"]


class Runtime:
    def __init__(
        self,
        config: GatewayConfig,
        providers: Mapping[str, Provider],
        *,
        agents: Mapping[str, AgentClient] | None = None,
        health: HealthBook | None = None,
    ) -> None:
        self.config = config
        self.created = int(time.time())
        self.providers = dict(providers)
        self.agents = dict(agents or {})
        # Passive health outlives a reload (the gateway hands the old runtime's on).
        self.models = ModelRouter(config.llm, self.providers, health)
        # Compiled once per config: a decision on the request path is a cache lookup.
        self.policy = Policy(config.rbac, enforce=config.auth.enforced)
        self._leases = 0
        self._retired = False
        self._drained = asyncio.Event()

    def acquire(self) -> Runtime:
        self._leases += 1
        return self

    def release(self) -> None:
        self._leases -= 1
        if self._retired and self._leases == 0:
            self._drained.set()

    @property
    def leases(self) -> int:
        return self._leases

    def retire(self) -> None:
        """Mark this runtime replaced; :meth:`drained` returns once its last lease is released."""
        self._retired = True
        if self._leases == 0:
            self._drained.set()

    async def drained(self) -> None:
        await self._drained.wait()
