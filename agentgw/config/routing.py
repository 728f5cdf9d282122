"""Routing settings of ``llm.models[]``: fallback conditions, the retry budget, passive health.

Self-contained: it imports nothing from :mod:`agentgw.config.model`, which imports it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from agentgw.config._fields import Section

__all__ = ["FallbackCondition", "HealthConfig", "RetryConfig"]


def _status_as_text(value: object) -> object:
    # YAML reads `fallback_on: [429, 5xx]` as an int and a string.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


FallbackCondition = Annotated[Literal["429", "5xx", "timeout", "connect"], BeforeValidator(_status_as_text)]
"""When a failed attempt moves on to the next target: an upstream 429, an upstream 5xx, a connect
or read timeout before the response started, a connection that could not be made or broke before
the response started."""


class RetryConfig(Section):
    attempts: int | None = Field(default=None, ge=1)
    """Most upstream attempts for one request; default: one per target. Beyond the number of targets
    the same targets are tried again, after a backoff."""
    backoff_s: float = Field(default=0.1, ge=0)
    """Wait before trying a target again: ``backoff_s * 2**(n-1)`` for its n-th retry, with jitter."""
    max_backoff_s: float = Field(default=2.0, ge=0)
    max_retry_after_s: float = Field(default=10.0, ge=0)
    """A ``Retry-After`` up to this long is waited out before the same target is tried again; a longer
    one takes the target out for that long instead."""


class HealthConfig(Section):
    """Passive health: a target that keeps failing is taken out of rotation for a while."""

    failures: int = Field(default=3, ge=1)
    """Consecutive failed attempts (fallback conditions) that take a target out."""
    cooldown_s: float = Field(default=30.0, gt=0)
    """How long it stays out; then one request tries it again (a success puts it back)."""
