"""The ``auth:`` section: who may call the gateway (API keys, JWT bearer tokens, anonymous use).

Self-contained (it imports nothing from :mod:`agentgw.config.model`, which imports it), with the same
conventions: unknown keys are errors, models are frozen. Authentication is *configured* when any of
``api_keys``, ``api_keys_file`` or ``jwt`` is set; without any of them the gateway runs in anonymous
mode (local use, the quickstart) and every request is allowed, unless ``anonymous_roles`` is set.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ApiKeyConfig", "AuthConfig", "JWTConfig", "ASYMMETRIC_ALGORITHMS"]

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_HTTP_URL = re.compile(r"^https?://[^/\s]+")
# Signature algorithms whose verification key is public: the only ones a JWKS can vouch for. HS* would
# make the JWKS's public key a shared secret (the "HS/RS confusion" attack); `none` signs nothing.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiKeyConfig(_Section):
    """One API key, held as the SHA-256 of the key (``agentgw keys hash`` prints it)."""

    name: str = Field(min_length=1)
    """Shown in audit lines, metrics and usage records as the key's name; never the key."""
    key_sha256: str
    roles: list[str] = []
    team: str | None = None

    @field_validator("key_sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        value = value.strip().lower()
        if not _SHA256_HEX.match(value):
            raise ValueError("must be the 64 hex digits of the key's SHA-256")
        return value


class JWTConfig(_Section):
    """Bearer JWTs signed by an identity provider whose public keys are published as a JWKS."""

    issuer: str = Field(min_length=1)
    """The ``iss`` every token must carry."""
    audiences: list[str] = Field(min_length=1)
    """The token's ``aud`` must name at least one of these (for MCP clients: the gateway's ``/mcp`` URL)."""
    jwks_url: str
    algorithms: list[str] = ["RS256", "ES256"]
    """Accepted ``alg`` values; asymmetric only."""
    leeway_s: int = Field(60, ge=0, le=3600)
    """Clock skew allowed on ``exp``, ``nbf`` and ``iat``."""
    roles_claim: str = "roles"
    """Claim holding the roles, a list or a space-separated string; a dotted path reaches into objects
    (``realm_access.roles``)."""
    team_claim: str | None = None
    subject_claim: str = "sub"
    jwks_ttl_s: float = Field(300.0, gt=0)
    """How long a fetched JWKS is used before it is fetched again."""
    jwks_min_refresh_s: float = Field(30.0, ge=0)
    """A token with an unknown ``kid`` makes the gateway fetch the JWKS again (key rotation), at most
    once per this interval, so garbage tokens cannot turn it into a load generator against the IdP."""
    jwks_timeout_s: float = Field(5.0, gt=0)

    @field_validator("jwks_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _HTTP_URL.match(value):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one algorithm is needed")
        for alg in value:
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    f"algorithm {alg!r} is not accepted; use asymmetric ones: {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}"
                )
        return value


class AuthConfig(_Section):
    api_keys: list[ApiKeyConfig] = []
    api_keys_file: str | None = None
    """A YAML file of keys made by ``agentgw keys create`` (relative to the config file's folder); it is
    re-read when it changes, without a reload of the config."""
    jwt: JWTConfig | None = None
    anonymous_roles: list[str] | None = None
    """Roles of a request without credentials. Unset: such requests get 401 once authentication is
    configured, and are allowed everything while it is not (anonymous mode)."""
    resource: str | None = None
    """The gateway's public base URL (RFC 9728 ``resource``); default: the scheme and host of each request."""

    @field_validator("resource")
    @classmethod
    def _resource(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_URL.match(value):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return None if value is None else value.rstrip("/")

    @property
    def configured(self) -> bool:
        """Whether clients must authenticate (some credential source is set)."""
        return bool(self.api_keys) or self.api_keys_file is not None or self.jwt is not None

    @property
    def enforced(self) -> bool:
        """Whether RBAC applies: authentication is configured, or anonymous callers have roles."""
        return self.configured or self.anonymous_roles is not None
