"""The ``limits:`` section: budgets and rate limits per principal, team, API key or model (issue 8).

Self-contained (it imports nothing from :mod:`agentgw.config.model`, which imports it), with the same
conventions: unknown keys are errors, models are frozen. Rules may change on reload (counters are
kept: they are keyed by what is counted, not by the rule); ``store`` changes take effect on restart.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from agentgw.config._fields import PositiveSeconds, Section
from agentgw.errors import ConfigIssue

__all__ = ["BudgetConfig", "LimitKind", "LimitsConfig", "RateLimitConfig", "Scope", "limits_issues"]

Scope = Literal["principal", "team", "key", "model"]
"""What a counter is kept per: the principal's subject (``anonymous`` without authentication), its
team, its API key's name, or the model the client asked for."""
LimitKind = Literal["llm", "mcp", "a2a"]

_REDIS_URL = re.compile(r"^rediss?://[^/\s]+(/\d+)?$")
_ALL_KINDS: list[LimitKind] = ["llm", "mcp", "a2a"]


class _Rule(Section):
    scope: Scope
    match: str = Field(default="*", min_length=1)
    """A name or glob (``*``, ``?``, ``[...]``): every matching value gets its own counter."""
    roles: list[str] = []
    """Only principals holding one of these roles (empty: everyone)."""
    kinds: list[LimitKind] = Field(default_factory=lambda: list(_ALL_KINDS), min_length=1)
    """The traffic counted: LLM requests, MCP calls, A2A requests (``model`` scope: LLM only)."""

    @model_validator(mode="after")
    def _model_scope(self) -> _Rule:
        if self.scope == "model" and "llm" not in self.kinds:
            raise ValueError("kinds: a model-scoped rule counts LLM traffic only; include 'llm'")
        return self


class BudgetConfig(_Rule):
    period: Literal["day", "month"] = "month"
    """Calendar day or month in UTC; the counter starts again at 00:00 UTC."""
    tokens: int | None = Field(default=None, ge=1)
    """Input + output tokens per period."""
    cost_usd: float | None = Field(default=None, gt=0)
    """Money per period, priced with ``accounting.prices`` (LLM tokens, tool calls, agent requests)."""

    @model_validator(mode="after")
    def _something(self) -> BudgetConfig:
        if self.tokens is None and self.cost_usd is None:
            raise ValueError("tokens: a budget needs tokens, cost_usd or both")
        return self


class RateLimitConfig(_Rule):
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    """Input + output tokens (LLM traffic only)."""

    @model_validator(mode="after")
    def _something(self) -> RateLimitConfig:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError(
                "requests_per_minute: a rate limit needs requests_per_minute, tokens_per_minute or both"
            )
        return self


class LimitsConfig(Section):
    store: str = "memory"
    """``memory`` (this process) or ``redis://host:port/db`` (shared by every replica using it)."""
    key_prefix: str = Field(default="agentgw:limits:", min_length=1)
    """Prefix of the counters' Redis keys, so several gateway fleets can share one Redis."""
    timeout_s: PositiveSeconds = 0.5
    """Longest wait for the store on a request's path before it counts as down."""
    on_store_error: Literal["allow", "refuse"] = "allow"
    """Redis down or slow: let requests through uncounted (logged and counted), or refuse them (503)."""
    window: Literal["sliding", "fixed"] = "sliding"
    """Per-minute rate limits: ``fixed`` counts per clock minute (a burst may straddle two minutes);
    ``sliding`` weighs the previous minute by how much of it is still within the last 60 seconds."""
    budgets: list[BudgetConfig] = []
    rate_limits: list[RateLimitConfig] = []
    end_streams: bool = False
    """End a stream with an in-band error once it would take its token budget past the limit."""

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        if value != "memory" and not _REDIS_URL.match(value):
            raise ValueError(f"must be 'memory' or a redis://host:port/db URL, got {value!r}")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.budgets or self.rate_limits)


def limits_issues(data: dict[str, Any]) -> list[ConfigIssue]:
    """Cross-references of the raw config: roles named by a rule exist, and money budgets have prices."""
    issues: list[ConfigIssue] = []
    limits = data.get("limits")
    if not isinstance(limits, dict):
        return issues
    rbac = data.get("rbac") if isinstance(data.get("rbac"), dict) else {}
    roles = rbac.get("roles") if isinstance(rbac, dict) and isinstance(rbac.get("roles"), dict) else {}
    assert isinstance(roles, dict)
    accounting = data.get("accounting") if isinstance(data.get("accounting"), dict) else {}
    prices = accounting.get("prices") if isinstance(accounting, dict) else None
    priced = isinstance(prices, dict) and any(prices.get(k) for k in ("models", "tools", "agents"))
    known = ", ".join(map(str, roles)) or "none defined in rbac.roles"
    for section in ("budgets", "rate_limits"):
        rules = limits.get(section)
        if not isinstance(rules, list):
            continue
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            where = f"limits.{section}[{index}]"
            named = rule.get("roles")
            for r_index, role in enumerate(named if isinstance(named, list) else []):
                if isinstance(role, str) and role not in roles:
                    issues.append(
                        ConfigIssue(f"{where}.roles[{r_index}]", f"unknown role {role!r} (known: {known})")
                    )
            if rule.get("cost_usd") is not None and not priced:
                issues.append(
                    ConfigIssue(f"{where}.cost_usd", "a money budget needs prices in accounting.prices")
                )
    return issues
