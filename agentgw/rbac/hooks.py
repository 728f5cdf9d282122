"""RBAC behind the protocol routes' hook ``Protocol``s.

- A2A: :class:`RBACA2APolicy` implements :class:`agentgw.a2a.hooks.A2APolicy` (agents and skills are
  hidden from ``GET /a2a`` and cards, calls outside the principal's rules are refused).
- MCP: :class:`RBACFederationHooks` implements :class:`federation.FederationHooks`: ``tools/list``,
  ``prompts/list``, ``resources/list`` show only what the principal may use, and a call outside its
  rules is refused with federation's ``Forbidden`` (JSON-RPC error -32011). Rules name entries by
  their *upstream* name, ``<server>/<tool>``, whatever prefix the downstream name carries.
  :class:`RBACCatalogPolicy` is the same decision without federation's types. Agents exposed as
  tools (:mod:`agentgw.a2a.tools`) are decided by the ``agents`` rules instead, as on ``/a2a``.

Both read the policy of the runtime in force and the principal that authentication put on the request
(federation hands the HTTP request back in ``Caller.request``; without one, e.g. over stdio, the
caller is :data:`~agentgw.auth.principal.ANONYMOUS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from starlette.requests import Request

from agentgw.a2a.hooks import A2ACall
from agentgw.auth.principal import ANONYMOUS, Principal, principal_of
from agentgw.errors import PermissionDenied
from agentgw.rbac.policy import Policy
from federation import Call, Caller, CallOutcome, Catalog, FederationHooks, Forbidden
from federation.hooks import EntryKind

__all__ = ["CatalogKind", "RBACA2APolicy", "RBACCatalogPolicy", "RBACFederationHooks", "runtime_policy"]

CatalogKind = Literal["tools", "prompts", "resources"]


def runtime_policy(request: Request) -> Policy:
    """The policy of the gateway's current runtime (``app.state.gateway``)."""
    policy = request.app.state.gateway.runtime.policy
    assert isinstance(policy, Policy)
    return policy


class RBACA2APolicy:
    """:class:`~agentgw.a2a.hooks.A2APolicy` over the ``agents`` rules."""

    def __init__(self, policy_of: Callable[[Request], Policy] = runtime_policy) -> None:
        self._policy_of = policy_of

    def agent_visible(self, request: Request, agent: str) -> bool:
        return self._policy_of(request).visible(principal_of(request), "agents", agent)

    def skill_visible(self, request: Request, agent: str, skill: str) -> bool:
        return self._policy_of(request).visible(principal_of(request), "skills", f"{agent}/{skill}")

    async def authorize(self, request: Request, call: A2ACall) -> None:
        """Raises: PermissionDenied (A2A error form, HTTP 403 / JSON-RPC error)."""
        policy = self._policy_of(request)
        principal = principal_of(request)
        details = {
            "agent": call.agent,
            "skill": call.skill,
            "operation": call.operation,
            "task_id": call.task_id,
        }
        _require_agent(policy, principal, f"a2a.{call.operation}", call.agent, call.skill, details)


AgentOfTool = Callable[[str, str], tuple[str, str | None] | None]
"""``(server, tool)`` -> the ``(agent, skill)`` an agent tool delegates to, or None for other tools."""


def _agent_visible(policy: Policy, principal: Principal, agent: str, skill: str | None) -> bool:
    if not policy.visible(principal, "agents", agent):
        return False
    return skill is None or policy.visible(principal, "skills", f"{agent}/{skill}")


def _require_agent(
    policy: Policy,
    principal: Principal,
    action: str,
    agent: str,
    skill: str | None,
    details: Mapping[str, Any],
) -> None:
    policy.require(principal, action, "agents", agent, lambda: details)
    if skill:
        policy.require(principal, action, "skills", f"{agent}/{skill}", lambda: details)


class RBACCatalogPolicy:
    """Decisions over the MCP catalog: ``<server>/<tool>``, ``<server>/<prompt>``, ``<server>/<uri>``."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def visible(self, principal: Principal, kind: CatalogKind, name: str) -> bool:
        return self.policy.visible(principal, kind, name)

    def filter(self, principal: Principal, kind: CatalogKind, names: Iterable[str]) -> list[str]:
        """The names ``principal`` may see, with one audit line (``tools/list`` ...)."""
        return self.policy.filter(principal, f"mcp.{kind}/list", kind, names)

    def authorize(
        self,
        principal: Principal,
        kind: CatalogKind,
        name: str,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """Allow a ``tools/call``, ``prompts/get`` or ``resources/read``, or raise.

        Raises:
            PermissionDenied: to be reported as a JSON-RPC error.
        """
        server, _, item = name.partition("/")
        singular = {"tools": "tool", "prompts": "prompt", "resources": "resource"}[kind]
        method = {"tools": "tools/call", "prompts": "prompts/get", "resources": "resources/read"}[kind]
        details: dict[str, Any] = {
            singular: name,
            "server": server,
            f"{singular}_name": item,
            "arguments": dict(arguments or {}),
        }
        self.policy.require(principal, f"mcp.{method}", kind, name, lambda: details)


_KINDS: dict[str, CatalogKind] = {
    "tool": "tools",
    "prompt": "prompts",
    "completion": "prompts",
    "resource": "resources",
    "resource template": "resources",
}
_METHODS = {
    "tool": "tools/call",
    "prompt": "prompts/get",
    "completion": "completion/complete",
    "resource": "resources/read",
    "resource template": "resources/read",
}


class RBACFederationHooks(FederationHooks):
    """:class:`federation.FederationHooks` over the ``tools``, ``prompts`` and ``resources`` rules.

    ``policy`` returns the policy in force; ``catalog`` the federation's current catalog (to name an
    entry by its upstream name); ``record`` receives every outcome (accounting), if given;
    ``agent_of_tool`` names the agent behind an agent tool, whose use the ``agents`` rules decide.
    """

    def __init__(
        self,
        policy: Callable[[], Policy],
        catalog: Callable[[], Catalog],
        record: Callable[[Caller, CallOutcome], None] | None = None,
        agent_of_tool: AgentOfTool | None = None,
    ) -> None:
        self._policy = policy
        self._catalog = catalog
        self._record = record
        self._agent_of_tool = agent_of_tool

    def visible(self, caller: Caller, kind: EntryKind, name: str, server: str) -> bool:
        upstream_name = self._upstream(kind, name)
        target = (
            self._agent_of_tool(server, upstream_name) if self._agent_of_tool and kind == "tool" else None
        )
        if target is not None:
            return _agent_visible(self._policy(), _principal(caller), *target)
        return self._policy().visible(_principal(caller), _KINDS[kind], f"{server}/{upstream_name}")

    async def authorize(self, caller: Caller, call: Call) -> None:
        """Raises: federation.Forbidden (JSON-RPC -32011) when no rule allows the call or one denies it."""
        target = (
            self._agent_of_tool(call.server, call.upstream_name)
            if self._agent_of_tool and call.kind == "tool"
            else None
        )
        if target is not None:
            agent, skill = target
            tool_details = {
                "agent": agent,
                "skill": skill,
                "operation": "SendMessage",
                "task_id": None,
                "tool": call.name,
            }
            try:
                _require_agent(
                    self._policy(), _principal(caller), "a2a.SendMessage", agent, skill, tool_details
                )
            except PermissionDenied as error:
                raise Forbidden(error.message) from None
            return
        catalog_kind = _KINDS[call.kind]
        singular = catalog_kind.removesuffix("s")
        details: dict[str, Any] = {
            singular: f"{call.server}/{call.upstream_name}",
            "server": call.server,
            f"{singular}_name": call.upstream_name,
            "downstream_name": call.name,
            "arguments": dict(call.arguments or {}),
        }
        try:
            self._policy().require(
                _principal(caller),
                f"mcp.{_METHODS[call.kind]}",
                catalog_kind,
                f"{call.server}/{call.upstream_name}",
                lambda: details,
            )
        except PermissionDenied as error:
            raise Forbidden(error.message) from None

    def record(self, caller: Caller, outcome: CallOutcome) -> None:
        if self._record is not None:
            self._record(caller, outcome)

    def _upstream(self, kind: EntryKind, name: str) -> str:
        catalog = self._catalog()
        routes = {
            "tool": catalog.tool_routes,
            "prompt": catalog.prompt_routes,
            "completion": catalog.prompt_routes,
            "resource": catalog.resource_routes,
        }.get(kind)
        route = routes.get(name) if routes is not None else None
        return route.name if route is not None else name


def _principal(caller: Caller) -> Principal:
    request = caller.request
    return principal_of(request) if isinstance(request, Request) else ANONYMOUS
