"""Model routing: a request's model name -> a model entry -> the ordered targets to try.

Names are matched exactly first (names and aliases), then against patterns (``claude-*``) in
config order. A model's targets are grouped by ``priority`` (lowest first); within a group they are
ordered by a weighted random draw, so the first attempt lands on each target in proportion to its
weight. Targets that passive health took out go last, in the order they come back.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Mapping
from dataclasses import dataclass

from agentgw.config.model import LLMConfig, ModelConfig
from agentgw.errors import ModelNotFound
from agentgw.llm.health import HealthBook, TargetKey
from agentgw.llm.providers.base import Provider

__all__ = ["MODEL_HEADER", "ModelRouter", "Plan", "Route"]

MODEL_HEADER = "x-ai-eg-model"
"""A request header that overrides the body's model for routing (as Envoy AI Gateway names it)."""


@dataclass(frozen=True, slots=True)
class Route:
    """One target of a request: the provider and the model name to send upstream."""

    model: ModelConfig
    provider: Provider
    upstream_model: str

    @property
    def key(self) -> TargetKey:
        return (self.provider.name, self.upstream_model)


@dataclass(frozen=True, slots=True)
class Plan:
    """The targets one request may try, in order, and the model entry's policy."""

    model: ModelConfig
    routes: tuple[Route, ...]
    health: HealthBook


@dataclass(frozen=True, slots=True)
class _Target:
    provider: Provider
    model: str | None
    weight: int
    priority: int


@dataclass(frozen=True, slots=True)
class _Entry:
    model: ModelConfig
    groups: tuple[tuple[_Target, ...], ...]


class ModelRouter:
    """Resolves model names against ``llm.models``; holds the passive health of their targets."""

    def __init__(
        self, config: LLMConfig, providers: Mapping[str, Provider], health: HealthBook | None = None
    ) -> None:
        self.health = health or HealthBook()
        self._exact: dict[str, _Entry] = {}
        self._patterns: list[tuple[str, _Entry]] = []
        for model in config.models:
            targets = [
                _Target(providers[t.backend], t.model, t.weight, t.priority)
                for t in model.targets
                if t.weight > 0
            ]
            priorities = sorted({t.priority for t in targets})
            groups = tuple(tuple(t for t in targets if t.priority == p) for p in priorities)
            entry = _Entry(model, groups)
            if "*" in model.name:
                self._patterns.append((model.name, entry))
            else:
                self._exact[model.name] = entry
            for alias in model.aliases:
                self._exact[alias] = entry

    @property
    def models(self) -> list[ModelConfig]:
        """Model entries with a plain name (patterns cannot be listed as a model id)."""
        seen: dict[int, ModelConfig] = {}
        for entry in self._exact.values():
            if "*" not in entry.model.name:
                seen.setdefault(id(entry.model), entry.model)
        return list(seen.values())

    def names(self) -> list[tuple[str, ModelConfig]]:
        """Every plain name a client may ask for (names and aliases) with its entry."""
        return [(name, entry.model) for name, entry in self._exact.items()]

    def get(self, name: str) -> ModelConfig:
        """Raises: ModelNotFound."""
        return self._lookup(name).model

    def plan(self, name: str) -> Plan:
        """The targets to try for one request to model ``name``, best first.

        Raises:
            ModelNotFound: no model entry of that name or pattern.
        """
        entry = self._lookup(name)
        now = self.health.now()
        ready: list[Route] = []
        out: list[tuple[float, Route]] = []
        for group in entry.groups:
            for target in _weighted_order(group):
                route = Route(entry.model, target.provider, target.model or name)
                until = self.health.out_until(route.key)
                if until <= now:
                    ready.append(route)
                else:
                    out.append((until, route))
        out.sort(key=lambda pair: pair[0])
        return Plan(entry.model, (*ready, *(route for _, route in out)), self.health)

    def resolve(self, name: str) -> Route:
        """The first target :meth:`plan` would try.

        Raises:
            ModelNotFound: no model entry of that name or pattern.
        """
        return self.plan(name).routes[0]

    def _lookup(self, name: str) -> _Entry:
        entry = self._exact.get(name)
        if entry is not None:
            return entry
        for pattern, candidate in self._patterns:
            if fnmatch.fnmatchcase(name, pattern):
                return candidate
        raise ModelNotFound(name)


def _weighted_order(group: tuple[_Target, ...]) -> list[_Target]:
    if len(group) == 1:
        return [group[0]]
    # Weighted sampling without replacement (Efraimidis-Spirakis): sort by u ** (1 / weight).
    return sorted(group, key=lambda t: random.random() ** (1.0 / t.weight), reverse=True)
