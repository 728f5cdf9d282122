"""Budgets and rate limits (issue 8): counters per principal, team, API key or model, in memory or Redis."""

from agentgw.limits.errors import LimitExceeded, LimitRefused, QuotaExceeded, RateLimited, StoreUnavailable
from agentgw.limits.hooks import LimitedA2APolicy, LimitedFederationHooks, LimitsObserver
from agentgw.limits.limiter import Limits, Reservation
from agentgw.limits.store import Admission, Charge, Correction, CounterStore
from agentgw.limits.streams import guard_stream

__all__ = [
    "Admission",
    "Charge",
    "CounterStore",
    "Correction",
    "LimitExceeded",
    "LimitRefused",
    "LimitedA2APolicy",
    "LimitedFederationHooks",
    "Limits",
    "LimitsObserver",
    "QuotaExceeded",
    "RateLimited",
    "Reservation",
    "StoreUnavailable",
    "guard_stream",
]
