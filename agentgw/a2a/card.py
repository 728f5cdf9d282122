"""Agent cards as the gateway serves them: every endpoint points at the gateway.

An agent's card describes how to reach the agent; behind the gateway, clients must reach the
gateway instead, with the gateway's credentials. The rewritten card therefore

- lists the gateway's URL for every interface the gateway proxies (the JSON-RPC and HTTP+JSON
  bindings, at whatever protocol versions the agent offers) and drops the others (gRPC): 1.0
  ``supportedInterfaces[].url`` and 0.3 ``url`` / ``preferredTransport`` / ``additionalInterfaces``;
- replaces the agent's security schemes and requirements (card-level and per skill, 1.0
  ``securitySchemes``/``securityRequirements`` and 0.3 ``security``) with the gateway's own;
- drops ``signatures``, which the agent computed over the card it published and which no longer
  verify (spec 8.4);
- lists only the skills the caller may use.

The card is otherwise the agent's own JSON, forwarded key for key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgw.config.auth import AuthConfig

__all__ = ["PROXIED_BINDINGS", "CardSecurity", "card_security", "card_summary", "rewrite_card"]

PROXIED_BINDINGS = frozenset({"JSONRPC", "HTTP+JSON"})
_SECURITY_KEYS = ("securitySchemes", "securityRequirements", "security")


@dataclass(frozen=True, slots=True)
class CardSecurity:
    """How clients authenticate to the gateway, as card JSON.

    ``schemes`` is the ``securitySchemes`` map; ``requirements`` the 1.0 ``securityRequirements``
    list and ``legacy_requirements`` the 0.3 ``security`` list. Empty (the default) means the gateway
    asks clients for no credential, and the cards it serves say so by carrying none.
    """

    schemes: Mapping[str, Any] = field(default_factory=dict)
    requirements: Sequence[Any] = ()
    legacy_requirements: Sequence[Any] = ()
    legacy_schemes: Mapping[str, Any] = field(default_factory=dict)
    """The ``securitySchemes`` map in 0.3's form, for cards that have no 1.0 ``supportedInterfaces``."""


def card_security(auth: AuthConfig) -> CardSecurity:
    """How a client authenticates to the gateway under ``auth``, as both card forms: a bearer token (an
    API key or a JWT) in ``Authorization``, or an API key in ``x-api-key``; any one of them suffices."""
    if not auth.configured:
        return CardSecurity()
    keys = bool(auth.api_keys) or auth.api_keys_file is not None
    bearer_format = "JWT" if auth.jwt is not None else None
    schemes: dict[str, Any] = {"bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer"}}}
    legacy: dict[str, Any] = {"bearer": {"type": "http", "scheme": "bearer"}}
    if bearer_format:
        schemes["bearer"]["httpAuthSecurityScheme"]["bearerFormat"] = bearer_format
        legacy["bearer"]["bearerFormat"] = bearer_format
    if keys:
        schemes["apiKey"] = {"apiKeySecurityScheme": {"location": "header", "name": "x-api-key"}}
        legacy["apiKey"] = {"type": "apiKey", "in": "header", "name": "x-api-key"}
    return CardSecurity(
        schemes=schemes,
        requirements=[{"schemes": {name: {}}} for name in schemes],
        legacy_requirements=[{name: []} for name in schemes],
        legacy_schemes=legacy,
    )


def rewrite_card(
    card: Mapping[str, Any],
    *,
    endpoint: str,
    security: CardSecurity,
    skill_visible: Callable[[str], bool],
) -> dict[str, Any]:
    """The card to serve for ``card`` behind the gateway at ``endpoint`` (``.../a2a/{name}``)."""
    out = {key: value for key, value in card.items() if key not in _SECURITY_KEYS and key != "signatures"}
    interfaces = card.get("supportedInterfaces")
    if isinstance(interfaces, list):
        out["supportedInterfaces"] = _interfaces(interfaces, "protocolBinding", endpoint)
    if "url" in card:  # a 0.3 card, or a 1.0 card that also carries the 0.3 fields
        out["url"] = endpoint
        if card.get("preferredTransport", "JSONRPC") not in PROXIED_BINDINGS:
            out["preferredTransport"] = "JSONRPC"
        extra = card.get("additionalInterfaces")
        if isinstance(extra, list):
            out["additionalInterfaces"] = _interfaces(extra, "transport", endpoint)
    is_legacy = "url" in card or "security" in card
    legacy_only = is_legacy and not isinstance(interfaces, list)
    schemes = security.legacy_schemes if legacy_only and security.legacy_schemes else security.schemes
    if schemes:
        out["securitySchemes"] = dict(schemes)
    if security.requirements:
        out["securityRequirements"] = list(security.requirements)
    if security.legacy_requirements and is_legacy:
        out["security"] = list(security.legacy_requirements)
    skills = card.get("skills")
    if isinstance(skills, list):
        out["skills"] = [
            {k: v for k, v in skill.items() if k not in _SECURITY_KEYS}
            for skill in skills
            if isinstance(skill, dict) and skill_visible(str(skill.get("id", "")))
        ]
    return out


def _interfaces(interfaces: list[Any], binding_key: str, endpoint: str) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for interface in interfaces:
        if not isinstance(interface, dict) or interface.get(binding_key) not in PROXIED_BINDINGS:
            continue
        rewritten = {**interface, "url": endpoint}
        key = (rewritten.get(binding_key), rewritten.get("protocolVersion"), rewritten.get("tenant"))
        if key not in seen:
            seen.add(key)
            out.append(rewritten)
    return out


def card_summary(card: Mapping[str, Any], skill_visible: Callable[[str], bool]) -> dict[str, Any]:
    """Name, description, version and skills (id, name, description, tags) for the agent listing."""
    skills = card.get("skills") if isinstance(card.get("skills"), list) else []
    assert isinstance(skills, list)
    return {
        "name": card.get("name"),
        "description": card.get("description"),
        "version": card.get("version"),
        "skills": [
            {key: skill[key] for key in ("id", "name", "description", "tags") if key in skill}
            for skill in skills
            if isinstance(skill, dict) and skill_visible(str(skill.get("id", "")))
        ],
    }
