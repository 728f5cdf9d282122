"""The ``rbac:`` section: roles, each with allow and deny rules over models, tools, prompts,
resources and agents.

Self-contained (it imports nothing from :mod:`agentgw.config.model`, which imports it). A rule lists
glob patterns per kind of resource and may carry a CEL condition (``when``); ``allow`` and ``deny``
take one rule or a list of them. Conditions are compiled here, so a syntax error is a config error
with its key path.
"""

from __future__ import annotations

import re
from typing import Literal

import cel
from pydantic import Field, field_validator

from agentgw.config._fields import Section

__all__ = ["RESOURCE_KINDS", "RBACConfig", "RoleConfig", "RuleConfig"]

RESOURCE_KINDS = ("models", "tools", "prompts", "resources", "agents")
_ROLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class RuleConfig(Section):
    """Glob patterns (``*``, ``?``, ``[...]``; ``*`` also matches ``/``) per kind of resource."""

    models: list[str] = []
    tools: list[str] = []
    """``<server>/<tool>``, e.g. ``weather/*``, ``*/delete*``."""
    prompts: list[str] = []
    """``<server>/<prompt>``."""
    resources: list[str] = []
    """``<server>/<uri>``."""
    agents: list[str] = []
    """``<agent>`` (the agent and all its skills) or ``<agent>/<skill>``."""
    when: str | None = None
    """A CEL expression over ``principal``, ``claims`` and ``request``; the rule applies only when it is
    true (an allow rule whose condition fails to evaluate does not allow; such a deny rule denies)."""

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            cel.compile(value)
        except ValueError as exc:
            # "Failed to parse expression '...': ERROR: <input>:1:17: Syntax error: ..." -> from "1:17".
            detail = str(exc).splitlines()[0].rpartition("<input>:")[2]
            raise ValueError(f"invalid CEL expression: {detail}") from None
        return value

    @field_validator("models", "tools", "prompts", "resources", "agents")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern:
                raise ValueError("empty pattern")
        return value


class RoleConfig(Section):
    allow: list[RuleConfig] = []
    """One rule (a mapping) or a list of rules."""
    deny: list[RuleConfig] = []

    @field_validator("allow", "deny", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value

    def rules(self, effect: str) -> list[RuleConfig]:
        return list(self.allow if effect == "allow" else self.deny)


class RBACConfig(Section):
    roles: dict[str, RoleConfig] = Field(default_factory=dict)
    audit: Literal["all", "deny", "off"] = "all"
    """Which decisions get an audit line: all of them, refusals only, or none (refused credentials
    are always logged)."""

    @field_validator("roles")
    @classmethod
    def _names(cls, value: dict[str, RoleConfig]) -> dict[str, RoleConfig]:
        for name in value:
            if not _ROLE_NAME.match(name):
                raise ValueError(f"role name {name!r} must be 1-64 letters, digits, '_', '.', ':' or '-'")
        return value
