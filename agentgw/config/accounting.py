"""The ``accounting:`` section: the usage ledger, the price catalogue and token estimation (issue 8).

Self-contained (it imports nothing from :mod:`agentgw.config.model`, which imports it), with the same
conventions: unknown keys are errors, models are frozen. Changes take effect on restart: the ledger
and its background writer are process-wide.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from agentgw.config._fields import PositiveSeconds, Section

__all__ = ["AccountingConfig", "LedgerConfig", "ModelPrice", "PricesConfig"]

_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


class LedgerConfig(Section):
    url: str | None = None
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///path/usage.db`` or
    ``postgresql+asyncpg://user@host:5432/db``. Default: ``agentgw-usage.db`` next to the config file
    (in ``$XDG_DATA_HOME/agentgw``, else ``~/.local/share/agentgw``, when there is no file). A relative SQLite path is relative to the config
    file's directory."""
    table_prefix: str = Field(default="agentgw_", pattern=r"^[a-z_][a-z0-9_]{0,30}$")
    """Prefix of the ledger's table name (``<prefix>usage``), so several gateways can share a database."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """Most records written in one transaction."""
    flush_interval_s: PositiveSeconds = 1.0
    """How long a record may wait in the buffer before it is written."""
    buffer_max: int = Field(default=100_000, ge=1)
    """Most records held while the database is slow or down; beyond it the oldest are dropped and
    counted (``agentgw_usage_records_dropped_total``, ``/admin/usage``)."""
    retry_max_s: PositiveSeconds = 30.0
    """Longest wait between write attempts while the database is down (backs off from 0.5 s)."""

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("sqlite://"):
            value = "sqlite+aiosqlite://" + value.removeprefix("sqlite://")
        elif value.startswith(("postgresql://", "postgres://")):
            value = "postgresql+asyncpg://" + value.partition("://")[2]
        if not value.startswith(_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(_SCHEMES)}, got {value.split(':', 1)[0]!r}")
        return value


class ModelPrice(Section):
    """USD per million tokens. ``input`` prices every input token that was not read from cache."""

    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)
    """Output tokens, reasoning tokens included (they are billed as output)."""
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    """Input tokens read from the provider's prompt cache; default: the input price."""


class PricesConfig(Section):
    """Prices by name or glob (``*``, ``?``, ``[...]``); an exact name wins over a pattern, and
    patterns are tried in the order written."""

    models: dict[str, ModelPrice] = {}
    """By model name as the client asked for it (``gpt-4o-mini``, ``claude-*``)."""
    tools: dict[str, float] = {}
    """USD per MCP tool call, by federated tool name (``weather_get_forecast``, ``github_*``)."""
    agents: dict[str, float] = {}
    """USD per A2A request, by agent name."""

    @field_validator("tools", "agents")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for name, price in value.items():
            if price < 0:
                raise ValueError(f"price of {name!r} must be >= 0")
        return value


class AccountingConfig(Section):
    enabled: bool = True
    """Record one usage record per LLM, MCP and A2A request into the ledger."""
    ledger: LedgerConfig = LedgerConfig()
    prices: PricesConfig = PricesConfig()
    admin_roles: list[str] = ["admin"]
    """Roles that may read ``GET /admin/usage``. While authentication is not configured (anonymous
    mode), the report is served to loopback clients only."""
    estimate: bool = True
    """When an upstream reports no token usage, estimate it from the text (about 4 characters per
    token; see ``docs/configuration.md``) and mark the record ``estimated``. Off: such records carry
    no token counts."""
