"""``agentgw.upstream.up``: 1 or 0 per configured upstream, read when the metrics are.

Each kind of upstream already has a notion of health; this only reads it:

- an LLM backend is down while passive health (:mod:`agentgw.llm.health`) has one of its targets
  out (failures in a row, or a ``Retry-After``);
- an MCP server is up when federation holds its connection ``ready`` (``connecting``, ``down`` and
  ``stopped`` are down);
- an A2A agent has no health record of its own: its last call decides (unreachable or timed out is
  down), and an agent not called yet is up.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentgw.gateway import Gateway
from agentgw.telemetry.metrics import LabelValues

__all__ = ["UpstreamHealth"]

_DOWN_ERRORS = frozenset({"upstream_unreachable", "upstream_timeout"})


class UpstreamHealth:
    """The gauge's reading for ``gateway``; :meth:`agent_called` records each A2A call's outcome."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._agents: dict[str, int] = {}

    def agent_called(self, agent: str, error_type: str | None) -> None:
        self._agents[agent] = 0 if error_type in _DOWN_ERRORS else 1

    def read(self) -> Mapping[LabelValues, float]:
        """``(kind, name) -> 1 or 0`` for every configured upstream (none before start or after stop)."""
        gateway = self._gateway
        if not gateway.started:
            return {}
        runtime = gateway.runtime
        reading: dict[LabelValues, float] = {}
        out = {backend for backend, _ in runtime.models.health.targets_out()}
        for name in runtime.providers:
            reading[("llm", name)] = 0 if name in out else 1
        for status in gateway.mcp.status():
            reading[("mcp", status.name)] = 1 if status.state == "ready" else 0
        for name in runtime.agents:
            reading[("a2a", name)] = self._agents.get(name, 1)
        return reading
