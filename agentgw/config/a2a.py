"""The ``a2a:`` section: A2A agents the gateway routes to, each reachable at ``/a2a/{name}``.

Self-contained (it imports nothing from :mod:`agentgw.config.model`, which imports it), with the
same conventions: unknown keys are errors, models are frozen, credentials are ``SecretStr``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from agentgw.config._fields import PositiveSeconds, Section, checked_headers, http_url

__all__ = [
    "A2AConfig",
    "AgentAuth",
    "AgentConfig",
    "AgentTimeoutsConfig",
    "AgentToolConfig",
    "BasicAuth",
    "BearerAuth",
]

# An agent's name is one URL path segment: /a2a/{name}/...
_AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# MCP 2025-11-25 server/tools "Tool names": 1-128 of A-Z a-z 0-9 _ - . (64 leaves room for a prefix).
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class BearerAuth(Section):
    """``Authorization: Bearer <token>`` on every request to the agent."""

    type: Literal["bearer"]
    token: SecretStr


class BasicAuth(Section):
    """HTTP Basic authentication (RFC 7617) on every request to the agent."""

    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: SecretStr


AgentAuth = Annotated[BearerAuth | BasicAuth, Field(discriminator="type")]


class AgentTimeoutsConfig(Section):
    # Longer than an LLM backend's: an A2A task may stream for a long time, with pauses while it works.
    connect: PositiveSeconds = 5.0
    read: PositiveSeconds = 300.0
    """Longest wait for response headers, and between two chunks of a stream."""
    total: PositiveSeconds = 3600.0
    """Longest one exchange may take, streams included."""


class AgentToolConfig(Section):
    """The agent as a tool on ``/mcp``: a call sends a message and returns the task's artifacts."""

    enabled: bool = True
    per_skill: bool = False
    """One tool per skill of the agent's card (the skill id goes in ``metadata.skillId``) instead
    of one tool for the agent."""
    name: str | None = None
    """The tool's name (one tool per agent only); default: the agent's name."""
    description: str | None = None
    """The tool's description; default: the card's description (or the skill's)."""

    @field_validator("name")
    @classmethod
    def _tool_name(cls, value: str | None) -> str | None:
        if value is not None and not _TOOL_NAME.match(value):
            raise ValueError("must be 1-64 letters, digits, '_', '.' or '-'")
        return value

    @model_validator(mode="after")
    def _name_of_one_tool(self) -> AgentToolConfig:
        if self.per_skill and self.name is not None:
            raise ValueError("name applies to one tool per agent; per_skill tools are named after the skills")
        return self


class AgentConfig(Section):
    """One upstream agent. The gateway's own credential for it replaces whatever the client sent."""

    url: str
    """The agent's JSON-RPC endpoint, e.g. ``http://127.0.0.1:9999``."""
    rest_url: str | None = None
    """Base URL of the agent's HTTP+JSON binding (``POST {rest_url}/message:send``); default: the one
    its card lists, when on the same origin as ``url``, else ``url``."""
    card_url: str | None = None
    """Where the agent card is fetched; default ``{url}/.well-known/agent-card.json`` (then
    ``agent.json``, the name before A2A 0.3)."""
    auth: AgentAuth | None = None
    headers: dict[str, SecretStr] = {}
    """Extra headers sent to the agent, e.g. an API key."""
    timeouts: AgentTimeoutsConfig = AgentTimeoutsConfig()
    max_connections: int = Field(100, ge=1)
    card_ttl_s: PositiveSeconds = 300.0
    """How long a fetched card is served from cache before it is fetched again."""
    mcp_tool: AgentToolConfig | None = None
    """Expose the agent as a tool on ``/mcp`` (``true`` for the defaults); default: not exposed."""

    @field_validator("mcp_tool", mode="before")
    @classmethod
    def _tool_shorthand(cls, value: object) -> object:
        if value is True:
            return {}
        return None if value is False else value

    @field_validator("url", "rest_url", "card_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return checked_headers(value)

    @model_validator(mode="after")
    def _one_authorization(self) -> AgentConfig:
        if self.auth is not None and any(name.lower() == "authorization" for name in self.headers):
            raise ValueError("set either auth or an Authorization header, not both")
        return self


class A2AConfig(Section):
    public_url: str | None = None
    """The gateway's base URL as clients reach it (behind a reverse proxy, say), used in the agent
    cards it serves; default: the scheme and host of each request."""
    agents: dict[str, AgentConfig] = {}
    tools_server: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = "a2a"
    """The server name the agents' tools have on ``/mcp`` (their prefix, and ``<server>/<tool>`` in
    logs); it must not be the name or prefix of an MCP server."""

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("agents")
    @classmethod
    def _agent_names(cls, value: dict[str, AgentConfig]) -> dict[str, AgentConfig]:
        for name in value:
            if not _AGENT_NAME.match(name):
                raise ValueError(
                    f"agent name {name!r} must be 1-64 letters, digits, '_', '.' or '-',"
                    " starting with a letter or digit"
                )
        return value
