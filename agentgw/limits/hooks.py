"""Where limits reach the protocols: an exchange observer, and wrappers of the MCP and A2A hooks.

- LLM routes admit a request themselves (:meth:`~agentgw.limits.limiter.Limits.admit_llm`, before
  the upstream call) and :class:`LimitsObserver` settles it when the exchange ends, with the usage
  the route recorded.
- MCP: :class:`LimitedFederationHooks` wraps the gateway's other :class:`federation.FederationHooks`
  (RBAC): a call it allows is then admitted against the limits, and a refusal is a JSON-RPC error
  (:class:`~agentgw.limits.errors.LimitRefused`, code -32029, the figures in ``data``).
- A2A: :class:`LimitedA2APolicy` wraps an :class:`~agentgw.a2a.hooks.A2APolicy` the same way; the
  refusal is an A2A error (JSON-RPC -32029, or HTTP 429 ``RESOURCE_EXHAUSTED`` with ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.requests import Request

from agentgw.a2a.hooks import A2ACall, A2APolicy
from agentgw.auth.principal import ANONYMOUS, principal_of
from agentgw.config.model import GatewayConfig
from agentgw.exchange import Exchange, UpstreamCall
from agentgw.limits.errors import LimitExceeded, LimitRefused, StoreUnavailable
from agentgw.limits.limiter import STATE_KEY, Limits
from federation import Call, Caller, CallOutcome, FederationHooks
from federation.errors import UPSTREAM_UNAVAILABLE, FederationError
from federation.hooks import ClientRequest, EntryKind

__all__ = ["LimitedA2APolicy", "LimitedFederationHooks", "LimitsObserver"]


class LimitsObserver:
    """An :class:`~agentgw.exchange.ExchangeObserver` settling each LLM reservation at the exchange's end."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits

    def start(self, exchange: Exchange) -> None:
        return None

    def upstream_start(self, exchange: Exchange, call: UpstreamCall) -> None:
        return None

    def upstream_end(self, exchange: Exchange, call: UpstreamCall) -> None:
        return None

    def end(self, exchange: Exchange) -> None:
        if STATE_KEY in exchange.state:
            self._limits.settle(exchange)


class _StoreDown(FederationError):
    code = UPSTREAM_UNAVAILABLE


class LimitedFederationHooks:
    """``inner``'s decisions, then the limits on every call it allows (``config``: the one in force)."""

    def __init__(self, inner: FederationHooks, limits: Limits, config: Callable[[], GatewayConfig]) -> None:
        self._inner = inner
        self._limits = limits
        self._config = config

    def visible(self, caller: Caller, kind: EntryKind, name: str, server: str) -> bool:
        return self._inner.visible(caller, kind, name, server)

    async def authorize(self, caller: Caller, call: Call) -> None:
        """Raises: FederationError (``Forbidden`` from ``inner``; :class:`LimitRefused` over a limit)."""
        await self._inner.authorize(caller, call)
        request = caller.request
        principal = principal_of(request) if isinstance(request, Request) else ANONYMOUS
        try:
            priced = call.name if call.kind == "tool" else None  # prices are per tool call
            await self._limits.admit_call(self._config(), principal, "mcp", priced)
        except LimitExceeded as error:
            raise LimitRefused(error.message, data={"type": error.code, **error.details}) from None
        except StoreUnavailable as error:
            raise _StoreDown(error.message) from None

    def record(self, caller: Caller, outcome: CallOutcome) -> None:
        self._inner.record(caller, outcome)

    def started(self, caller: Caller, request: ClientRequest) -> None:
        self._inner.started(caller, request)

    def calling(self, caller: Caller, request: ClientRequest | None, call: Call) -> Mapping[str, str]:
        return self._inner.calling(caller, request, call)

    def finished(self, caller: Caller, request: ClientRequest) -> None:
        self._inner.finished(caller, request)


class LimitedA2APolicy:
    """``inner``'s decisions, then the limits on every request it allows."""

    def __init__(self, inner: A2APolicy, limits: Callable[[Request], Limits]) -> None:
        self._inner = inner
        self._limits = limits

    def agent_visible(self, request: Request, agent: str) -> bool:
        return self._inner.agent_visible(request, agent)

    def skill_visible(self, request: Request, agent: str, skill: str) -> bool:
        return self._inner.skill_visible(request, agent, skill)

    async def authorize(self, request: Request, call: A2ACall) -> None:
        """Raises: GatewayError (PermissionDenied from ``inner``; RateLimited, QuotaExceeded, StoreUnavailable)."""
        await self._inner.authorize(request, call)
        config = request.app.state.gateway.runtime.config
        await self._limits(request).admit_call(config, principal_of(request), "a2a", call.agent)
