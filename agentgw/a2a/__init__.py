"""A2A routing: agents behind the gateway at ``/a2a/{agent}``.

The routes are in :mod:`agentgw.a2a.routes` (``a2a_routes``), mounted by the app; the policy hooks
they take are in :mod:`agentgw.a2a.hooks`.
"""

from agentgw.a2a.card import CardSecurity, rewrite_card
from agentgw.a2a.hooks import A2AAccounting, A2ACall, A2AOutcome, A2APolicy, AllowAll, NoAccounting
from agentgw.a2a.upstream import AgentClient

__all__ = [
    "A2AAccounting",
    "A2ACall",
    "A2AOutcome",
    "A2APolicy",
    "AgentClient",
    "AllowAll",
    "CardSecurity",
    "NoAccounting",
    "rewrite_card",
]
