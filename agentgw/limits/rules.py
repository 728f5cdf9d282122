"""The ``limits:`` rules compiled once per config: which counters govern a request.

Rules are grouped by what they count over (each budget period of each scope; the minute of each
scope's rate limits). Within a group the first rule that matches the request's value (and the
principal's roles, and the kind of traffic) is the whole limit for that value, so a specific rule
written before a ``*`` one overrides it. Which rules apply to a caller is memoised, so deciding is
one dictionary lookup once a caller has been seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from agentgw.config.limits import BudgetConfig, LimitKind, LimitsConfig, RateLimitConfig, Scope
from agentgw.limits.windows import Windows

__all__ = ["Bound", "Dimension", "Limit", "Rule", "Rules", "Subject"]

Dimension = Literal["requests", "tokens", "usd"]
Period = Literal["minute", "day", "month"]

MICRO_USD = 1_000_000
"""Money is counted in millionths of a dollar, so counters stay integers (Redis INCRBY)."""
_MEMO_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Subject:
    """Who and what a request is counted for: a value per scope (None: the scope does not apply)."""

    kind: LimitKind
    principal: str
    team: str | None
    key: str | None
    model: str | None
    roles: frozenset[str] = frozenset()

    def value(self, scope: Scope) -> str | None:
        if scope == "principal":
            return self.principal
        if scope == "team":
            return self.team
        if scope == "key":
            return self.key
        return self.model


@dataclass(frozen=True, slots=True)
class Limit:
    dimension: Dimension
    limit: int
    """Requests, tokens, or micro-USD."""


@dataclass(frozen=True, slots=True)
class Rule:
    where: str
    """The rule's key path (``limits.budgets[0]``), for logs."""
    scope: Scope
    period: Period
    match: str
    roles: frozenset[str]
    kinds: frozenset[LimitKind]
    limits: tuple[Limit, ...]

    @property
    def budget(self) -> bool:
        return self.period != "minute"

    def matches(self, value: str, subject: Subject) -> bool:
        if subject.kind not in self.kinds or (self.roles and not self.roles & subject.roles):
            return False
        return self.match == "*" or fnmatchcase(value, self.match)


@dataclass(frozen=True, slots=True)
class Bound:
    """A rule bound to the value it counts under, with each limit's counter key up to the window."""

    rule: Rule
    value: str
    counters: tuple[tuple[Dimension, int, str], ...]
    """``(dimension, limit, key prefix)``: the key is the prefix plus the window's id."""


class Rules:
    """The compiled ``limits:`` section."""

    def __init__(self, config: LimitsConfig) -> None:
        self.config = config
        groups: dict[tuple[str, Scope, Period], list[Rule]] = {}
        for index, budget in enumerate(config.budgets):
            rule = _budget(f"limits.budgets[{index}]", budget)
            groups.setdefault(("budget", rule.scope, rule.period), []).append(rule)
        for index, rate in enumerate(config.rate_limits):
            rule = _rate(f"limits.rate_limits[{index}]", rate)
            groups.setdefault(("rate", rule.scope, "minute"), []).append(rule)
        self._groups = tuple(tuple(rules) for rules in groups.values())
        self.enabled = bool(self._groups)
        self.needs_tokens = any(
            limit.dimension != "requests" for rules in self._groups for rule in rules for limit in rule.limits
        )
        self.windows = Windows(sliding=config.window == "sliding")
        self._memo: dict[Subject, tuple[Bound, ...]] = {}

    def applicable(self, subject: Subject) -> tuple[Bound, ...]:
        """The rules governing ``subject``, each bound to the value it counts under."""
        found = self._memo.get(subject)
        if found is not None:
            return found
        found = tuple(self._find(subject))
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()  # values come from clients (model names): keep the memo bounded
        self._memo[subject] = found
        return found

    def _find(self, subject: Subject) -> list[Bound]:
        out: list[Bound] = []
        for rules in self._groups:
            value = subject.value(rules[0].scope)
            if value is None:
                continue
            for rule in rules:
                if rule.matches(value, subject):
                    counters = tuple(
                        (
                            limit.dimension,
                            limit.limit,
                            f"{limit.dimension}:{rule.scope}:{rule.period}:{value}:",
                        )
                        for limit in rule.limits
                    )
                    out.append(Bound(rule, value, counters))
                    break
        return out


def _budget(where: str, config: BudgetConfig) -> Rule:
    limits: list[Limit] = []
    if config.tokens is not None:
        limits.append(Limit("tokens", config.tokens))
    if config.cost_usd is not None:
        limits.append(Limit("usd", round(config.cost_usd * MICRO_USD)))
    return _rule(where, config.scope, config.period, config.match, config.roles, config.kinds, limits)


def _rate(where: str, config: RateLimitConfig) -> Rule:
    limits: list[Limit] = []
    if config.requests_per_minute is not None:
        limits.append(Limit("requests", config.requests_per_minute))
    if config.tokens_per_minute is not None:
        limits.append(Limit("tokens", config.tokens_per_minute))
    return _rule(where, config.scope, "minute", config.match, config.roles, config.kinds, limits)


def _rule(
    where: str,
    scope: Scope,
    period: Period,
    match: str,
    roles: Sequence[str],
    kinds: Sequence[LimitKind],
    limits: Sequence[Limit],
) -> Rule:
    # A model is only ever named by LLM traffic.
    allowed = frozenset(kinds) & {"llm"} if scope == "model" else frozenset(kinds)
    return Rule(where, scope, period, match, frozenset(roles), allowed, tuple(limits))
