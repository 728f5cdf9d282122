"""Who made a request: the :class:`Principal` authentication puts on it, for RBAC, accounting and telemetry.

The principal travels in the ASGI scope's ``state`` (``request.state.principal`` in a Starlette
handler); :func:`principal_of` reads it from a scope or a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from starlette.requests import HTTPConnection
from starlette.types import Scope

__all__ = ["ANONYMOUS", "AuthMethod", "Principal", "STATE_KEY", "principal_of", "set_principal"]

AuthMethod = Literal["api_key", "jwt", "anonymous"]
STATE_KEY = "principal"
_NO_CLAIMS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated (or anonymous) caller.

    ``subject`` is the JWT ``sub`` or ``key:<name>`` for an API key; ``key_name`` is the API key's
    configured name (``None`` for a JWT); ``claims`` are the token's verified claims (empty for keys).
    """

    subject: str
    roles: frozenset[str] = frozenset()
    team: str | None = None
    claims: Mapping[str, Any] = field(default_factory=lambda: _NO_CLAIMS, compare=False)
    key_name: str | None = None
    auth_method: AuthMethod = "anonymous"

    @property
    def anonymous(self) -> bool:
        return self.auth_method == "anonymous"


ANONYMOUS = Principal(subject="anonymous")
"""The principal of every request while authentication is not configured (anonymous mode)."""


def set_principal(scope: Scope, principal: Principal) -> None:
    """Attach ``principal`` to the request of ``scope``."""
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    state[STATE_KEY] = principal


def principal_of(source: Scope | HTTPConnection) -> Principal:
    """The principal of a request (a scope or a Starlette request); :data:`ANONYMOUS` if none was set."""
    scope = source.scope if isinstance(source, HTTPConnection) else source
    state = scope.get("state")
    if state is None:
        return ANONYMOUS
    principal = state.get(STATE_KEY, ANONYMOUS)
    assert isinstance(principal, Principal)
    return principal
