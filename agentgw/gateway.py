"""The gateway's live state: the current runtime, its swap on reload, start-up and shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from agentgw.a2a.tools import AgentToolset
from agentgw.a2a.upstream import AgentClient, build_agents
from agentgw.config.model import GatewayConfig
from agentgw.exchange import ExchangeObserver, Observers
from agentgw.launcher import ProcessLauncher
from agentgw.limits import LimitedFederationHooks, Limits, LimitsObserver
from agentgw.llm.providers import Provider, build_provider
from agentgw.mcp import build_federation, openapi_servers
from agentgw.rbac.hooks import RBACFederationHooks
from agentgw.runtime import Runtime

__all__ = ["Gateway"]

log = logging.getLogger("agentgw")

_READINESS_TTL_S = 1.0


class Gateway:
    """Owns the current :class:`Runtime`, its providers and launched processes.

    Providers whose backend config did not change are carried over on reload, so their connection
    pools survive; replaced ones are closed only after the last request of the old runtime ends.
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        config_path: str | None = None,
        observer: ExchangeObserver | None = None,
    ) -> None:
        self.config_path = config_path
        self.limits = Limits(config.limits)
        """Budgets and rate limits: routes admit requests; the observer settles them at their end."""
        self.observer: ExchangeObserver = Observers(
            (observer if observer is not None else Observers(()), LimitsObserver(self.limits))
        )
        """Told about every request (telemetry, accounting, limits)."""
        self._initial = config
        self._current: Runtime | None = None
        self._base_dir = Path(config_path).resolve().parent if config_path else Path.cwd()
        self._launcher = ProcessLauncher(self._base_dir)
        self._retiring: set[asyncio.Task[None]] = set()
        self._stale: dict[int, Provider] = {}
        self._stale_agents: dict[int, AgentClient] = {}
        self._readiness: tuple[float, dict[str, Any]] | None = None
        self.agent_tools = AgentToolset(lambda: self.runtime, name=config.a2a.tools_server)
        """Agents as tools on ``/mcp``: federated when the config exposes one (``mcp_tool``)."""
        self._agent_tools_on = _exposes_agents(config)
        self.openapi = openapi_servers(config.mcp, self._base_dir)
        """REST APIs as tools on ``/mcp`` (``openapi`` servers); their specs are read on start."""
        self.mcp = build_federation(
            config.mcp,
            self._base_dir,
            hooks=LimitedFederationHooks(
                RBACFederationHooks(
                    lambda: self.runtime.policy,
                    lambda: self.mcp.catalog,
                    agent_of_tool=self.agent_tools.agent_of_tool,
                ),
                self.limits,
                lambda: self.runtime.config,
            ),
            observer=self.observer,
            toolsets=[*self.openapi, *([self.agent_tools] if self._agent_tools_on else ())],
            max_request_bytes=config.server.max_request_bytes,
            listen_host=config.listen.host,
        )
        """The MCP servers behind ``/mcp``; started and stopped with the gateway."""

    @property
    def started(self) -> bool:
        """Between :meth:`start` and :meth:`stop`."""
        return self._current is not None

    @property
    def runtime(self) -> Runtime:
        assert self._current is not None, "gateway not started"
        return self._current

    async def start(self) -> None:
        """Build the first runtime and start launched processes, waiting until they listen."""
        config = self._initial
        launches = {
            name: (backend.launch, backend.base_url)
            for name, backend in config.llm.backends.items()
            if backend.launch is not None
        }
        await self._launcher.start(launches)
        self._current = Runtime(
            config,
            {name: build_provider(name, b) for name, b in config.llm.backends.items()},
            agents=build_agents(config.a2a.agents, {})[0],
        )
        for server in self.openapi:
            await server.load()  # a spec that does not load fails the start (ConfigError)
        await self.mcp.start()  # after the runtime: the agent tools are listed from its agents

    async def apply(self, config: GatewayConfig) -> None:
        """Swap in ``config`` atomically; in-flight requests finish on the runtime they started with."""
        old = self.runtime
        if config.listen != old.config.listen:
            log.warning("listen address changes take effect on restart")
        if config.telemetry != old.config.telemetry:
            log.warning("telemetry changes take effect on restart")
        if config.accounting.model_dump(exclude={"admin_roles"}) != old.config.accounting.model_dump(
            exclude={"admin_roles"}
        ):
            log.warning("accounting changes take effect on restart (admin_roles at once)")
        if config.limits.store != old.config.limits.store:
            log.warning("limits.store changes take effect on restart")
        if config.mcp != old.config.mcp:
            log.warning("mcp changes take effect on restart")
        providers: dict[str, Provider] = {}
        for name, backend in config.llm.backends.items():
            previous = old.providers.get(name)
            same = previous is not None and old.config.llm.backends[name] == backend
            if same and previous is not None:
                providers[name] = previous
            else:
                providers[name] = build_provider(name, backend)
            if backend.launch is not None and (not same):
                log.warning("backend %r: launch changes take effect on restart", name)
        agents, stale_agents = build_agents(config.a2a.agents, old.agents)
        self._stale_agents.update((id(a), a) for a in stale_agents)
        kept = {id(p) for p in providers.values()}
        # A rebuilt backend starts with a clean record; unchanged ones keep theirs.
        health = old.models.health
        health.forget(name for name, p in old.providers.items() if id(p) not in kept)
        self._current = Runtime(config, providers, agents=agents, health=health)
        self._readiness = None
        stale = [p for p in old.providers.values() if id(p) not in kept]
        self._stale.update((id(p), p) for p in stale)
        old.retire()
        tasks = [
            asyncio.create_task(self._close_when_drained(old, stale)),
            asyncio.create_task(self._close_agents_when_drained(old, stale_agents)),
        ]
        if config.a2a != old.config.a2a:
            if self._agent_tools_on:
                tasks.append(asyncio.create_task(self.mcp.refresh_toolset(self.agent_tools.name)))
            elif _exposes_agents(config):
                log.warning("a2a: exposing agents as mcp tools takes effect on restart")
        for task in tasks:
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _close_when_drained(self, old: Runtime, stale: list[Provider]) -> None:
        await old.drained()
        for provider in stale:
            self._stale.pop(id(provider), None)
            await provider.aclose()

    async def _close_agents_when_drained(self, old: Runtime, stale: list[AgentClient]) -> None:
        await old.drained()
        for agent in stale:
            self._stale_agents.pop(id(agent), None)
            await agent.aclose()

    async def readiness(self) -> dict[str, Any]:
        """Probe every backend (cached for a second); ``ready`` is true when all are usable."""
        now = time.monotonic()
        if self._readiness is not None and now - self._readiness[0] < _READINESS_TTL_S:
            return self._readiness[1]
        runtime = self.runtime
        names = list(runtime.providers)
        results = await asyncio.gather(*(runtime.providers[n].probe() for n in names))
        backends = {name: (reason or "ok") for name, reason in zip(names, results, strict=True)}
        report = {"ready": all(r is None for r in results) and self.mcp.ready, "backends": backends}
        mcp = {s.name: "ok" if s.state == "ready" else f"{s.state}: {s.reason}" for s in self.mcp.status()}
        if mcp:
            report["mcp_servers"] = mcp
        self._readiness = (now, report)
        return report

    async def stop(self) -> None:
        """Close every provider and stop launched processes."""
        runtime, self._current = self._current, None
        for task in list(self._retiring):
            task.cancel()
        closing, self._stale = self._stale, {}
        if runtime is not None:
            closing.update((id(p), p) for p in runtime.providers.values())
        for provider in closing.values():
            await provider.aclose()
        agents, self._stale_agents = self._stale_agents, {}
        if runtime is not None:
            agents.update((id(a), a) for a in runtime.agents.values())
        for agent in agents.values():
            await agent.aclose()
        await self.mcp.stop()
        await self.limits.aclose()
        for server in self.openapi:
            await server.close()
        await self._launcher.stop()


def _exposes_agents(config: GatewayConfig) -> bool:
    return any(a.mcp_tool is not None and a.mcp_tool.enabled for a in config.a2a.agents.values())
