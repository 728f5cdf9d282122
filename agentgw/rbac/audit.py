"""The audit log: one JSON line per authorization decision and per refused credential.

Logger ``agentgw.audit``: decisions at INFO, refused credentials at WARNING. A line names the
principal (subject, API key name, team), the action, the resource, the decision and the rule that
decided (``developer.allow[0].models[1]``, or ``default-deny``). It never holds a credential; a refused
credential's line says why it was refused, which the client's 401 does not.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from agentgw.auth.principal import Principal

__all__ = ["audit_authentication_failure", "audit_decision", "audit_listing", "audit_log"]

audit_log = logging.getLogger("agentgw.audit")


def _who(principal: Principal) -> dict[str, Any]:
    return {
        "principal": principal.subject,
        "key": principal.key_name,
        "team": principal.team,
        "auth": principal.auth_method,
    }


def audit_decision(principal: Principal, action: str, resource: str, allowed: bool, rule: str) -> None:
    if audit_log.isEnabledFor(logging.INFO):
        line = {
            "event": "authz",
            **_who(principal),
            "action": action,
            "resource": resource,
            "decision": "allow" if allowed else "deny",
            "rule": rule,
        }
        audit_log.info(orjson.dumps(line).decode())


def audit_listing(principal: Principal, action: str, kind: str, shown: int, total: int) -> None:
    """One line for a filtered listing (``/v1/models``, ``tools/list``), rather than one per item."""
    if audit_log.isEnabledFor(logging.INFO):
        line = {
            "event": "authz",
            **_who(principal),
            "action": action,
            "resource": kind,
            "decision": "filter",
            "shown": shown,
            "total": total,
        }
        audit_log.info(orjson.dumps(line).decode())


def audit_authentication_failure(
    reason: str, *, method: str | None, path: str, client: str | None, key_name: str | None = None
) -> None:
    line = {
        "event": "authn",
        "decision": "deny",
        "method": method,
        "reason": reason,
        "path": path,
        "client": client,
        "key": key_name,
    }
    audit_log.warning(orjson.dumps(line).decode())
