"""The configuration schema: pydantic models for the YAML file, validated once at load.

Every model forbids unknown keys, so a misspelt key is an error rather than a silently ignored
setting. Secrets (API keys, secret headers) are ``SecretStr``: they never appear in a repr, a log
line or ``agentgw check`` output. The full schema is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from agentgw.config._fields import PositiveSeconds, Section
from agentgw.config.a2a import A2AConfig
from agentgw.config.accounting import AccountingConfig
from agentgw.config.auth import AuthConfig
from agentgw.config.limits import LimitsConfig
from agentgw.config.mcp import MCPConfig
from agentgw.config.providers import BackendConfig, LaunchConfig, TimeoutsConfig
from agentgw.config.rbac import RBACConfig
from agentgw.config.routing import FallbackCondition, HealthConfig, RetryConfig
from agentgw.config.telemetry import TelemetryConfig

__all__ = [
    "BackendConfig",
    "GatewayConfig",
    "LLMConfig",
    "LaunchConfig",
    "ListenConfig",
    "ModelConfig",
    "ServerConfig",
    "TargetConfig",
    "TimeoutsConfig",
]


class ListenConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class ServerConfig(Section):
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Largest request body accepted; larger bodies get 413."""
    max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    """Largest non-streamed upstream response relayed; a larger one is a 502 (streams are not buffered)."""
    shutdown_grace_s: PositiveSeconds = 30.0
    """On SIGTERM, how long in-flight requests and streams may run before they are cancelled."""
    reload: bool = True
    """Watch the config file and swap in a new valid config without restart."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = False


class TargetConfig(Section):
    backend: str
    model: str | None = None
    """Model name sent upstream; default: the model entry's name."""
    weight: int = Field(1, ge=0)
    priority: int = Field(0, ge=0)
    """Targets of the lowest priority take all requests; the next group only when those are unavailable."""


class ModelConfig(Section):
    name: str = Field(min_length=1)
    """The name clients ask for; a ``*`` makes it a pattern (``claude-*``), matched after exact names."""
    aliases: list[str] = []
    """More names for this entry."""
    owned_by: str = "agentgw"
    targets: list[TargetConfig] = Field(min_length=1)
    fallback_on: list[FallbackCondition] = ["429", "5xx", "timeout", "connect"]
    """Failures that move a request on to the next target (only before the response started)."""
    retry: RetryConfig = RetryConfig()
    health: HealthConfig = HealthConfig()

    @field_validator("aliases")
    @classmethod
    def _no_patterns(cls, value: list[str]) -> list[str]:
        for alias in value:
            if not alias or "*" in alias:
                raise ValueError(f"an alias is a plain non-empty name, got {alias!r}")
        return value


class LLMConfig(Section):
    backends: dict[str, BackendConfig] = {}
    models: list[ModelConfig] = []


class GatewayConfig(Section):
    listen: ListenConfig = ListenConfig()
    server: ServerConfig = ServerConfig()
    llm: LLMConfig = LLMConfig()
    a2a: A2AConfig = A2AConfig()
    mcp: MCPConfig = MCPConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    auth: AuthConfig = AuthConfig()
    rbac: RBACConfig = RBACConfig()
    accounting: AccountingConfig = AccountingConfig()
    limits: LimitsConfig = LimitsConfig()

    @model_validator(mode="after")
    def _agent_tools_server(self) -> GatewayConfig:
        # The agents' tools are federated on /mcp as one more server (agentgw.a2a.tools).
        name = self.a2a.tools_server
        exposed = any(
            agent.mcp_tool is not None and agent.mcp_tool.enabled for agent in self.a2a.agents.values()
        )
        servers = self.mcp.all_servers
        taken = set(servers) | {s.prefix for s in servers.values() if s.prefix is not None}
        if exposed and name in taken:
            raise ValueError(f"a2a.tools_server {name!r} is already an MCP server's name or prefix")
        return self
