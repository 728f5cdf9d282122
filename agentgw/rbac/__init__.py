"""Authorization: roles with allow/deny rules and CEL conditions, and the audit log.

:class:`Policy` is compiled from ``rbac:`` once per config (the runtime holds it); the hook adapters in
:mod:`agentgw.rbac.hooks` plug it into the A2A and MCP routes.
"""

from agentgw.rbac.hooks import RBACA2APolicy, RBACCatalogPolicy, runtime_policy
from agentgw.rbac.policy import Decision, Policy

__all__ = ["Decision", "Policy", "RBACA2APolicy", "RBACCatalogPolicy", "runtime_policy"]
