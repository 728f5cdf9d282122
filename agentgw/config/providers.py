"""``llm.backends.<name>``: one config model per provider, told apart by the ``provider`` key.

Every variant shares the transport settings of :class:`_Backend` (timeouts, pool size, extra headers,
an optional launched process) and adds what its provider needs. Credentials are ``SecretStr``.
``base_url`` is what the gateway connects to (and waits on when it launches the process), whatever
the provider calls it.

Self-contained: it imports nothing from :mod:`agentgw.config.model`, which imports it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, SecretStr, field_validator, model_validator

from agentgw.config._fields import PositiveSeconds, Section, checked_headers, http_url

__all__ = [
    "OPENAI_COMPATIBLE",
    "PROVIDERS",
    "AnthropicBackend",
    "AzureOpenAIBackend",
    "BackendConfig",
    "BedrockBackend",
    "EntraConfig",
    "LaunchConfig",
    "OpenAIBackend",
    "TimeoutsConfig",
    "VertexAIBackend",
]


# provider -> (default base URL, whether that default needs an api_key).
OPENAI_COMPATIBLE: dict[str, tuple[str, bool]] = {
    "openai": ("https://api.openai.com/v1", True),
    "vllm": ("http://127.0.0.1:8000/v1", False),
    "ollama": ("http://127.0.0.1:11434/v1", False),
    "groq": ("https://api.groq.com/openai/v1", True),
    "together": ("https://api.together.xyz/v1", True),
    "mistral": ("https://api.mistral.ai/v1", True),
    "deepseek": ("https://api.deepseek.com/v1", True),
    "openrouter": ("https://openrouter.ai/api/v1", True),
    # Google's OpenAI-compatible endpoint for the Gemini API (an API key, sent as a bearer token).
    "gemini": ("https://generativelanguage.googleapis.com/v1beta/openai", True),
}
OpenAICompatibleName = Literal[
    "openai", "vllm", "ollama", "groq", "together", "mistral", "deepseek", "openrouter", "gemini"
]
PROVIDERS = (*OPENAI_COMPATIBLE, "azure_openai", "anthropic", "bedrock", "vertex_ai")
"""Every ``provider`` value the schema accepts."""


class TimeoutsConfig(Section):
    connect: PositiveSeconds = 5.0
    read: PositiveSeconds = 120.0
    """Longest wait for the next bytes of a response (time to headers, and between stream chunks)."""
    total: PositiveSeconds = 600.0
    """Longest a whole exchange may take, streams included."""


class LaunchConfig(Section):
    """A local process the gateway starts with itself, e.g. a vLLM server or the quickstart backend.

    ``command: python`` (or ``python3``) means the interpreter that runs the gateway.
    """

    command: str = Field(min_length=1)
    args: list[str] = []
    env: dict[str, str] = {}
    cwd: str | None = None
    """Working directory; relative paths are relative to the config file. Default: the config's folder."""
    ready_timeout_s: PositiveSeconds = 20.0


class _Backend(Section):
    headers: dict[str, SecretStr] = {}
    """Extra headers sent upstream with every request."""
    timeouts: TimeoutsConfig = TimeoutsConfig()
    max_connections: int = Field(256, ge=1)
    launch: LaunchConfig | None = None

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return checked_headers(value)


class OpenAIBackend(_Backend):
    """An OpenAI-compatible API; ``provider`` names a preset that supplies the default ``base_url``."""

    provider: OpenAICompatibleName
    base_url: str = ""
    """Default: the preset's (``https://api.openai.com/v1`` for ``openai``)."""
    api_key: SecretStr | None = None
    """Sent as ``Authorization: Bearer``; replaces whatever credential the client sent."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return value if value == "" else http_url(value)

    @model_validator(mode="after")
    def _preset(self) -> OpenAIBackend:
        default, needs_key = OPENAI_COMPATIBLE[self.provider]
        if not self.base_url:
            object.__setattr__(self, "base_url", default)
            if needs_key and self.api_key is None:
                raise ValueError(f"api_key: required for provider {self.provider!r} at {default}")
        return self


class EntraConfig(Section):
    """Microsoft Entra ID client-credentials grant (OAuth 2.0, RFC 6749 section 4.4)."""

    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scope: str = "https://cognitiveservices.azure.com/.default"
    authority_url: str = "https://login.microsoftonline.com"
    """The token endpoint is ``{authority_url}/{tenant_id}/oauth2/v2.0/token``."""

    @field_validator("authority_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)


class AzureOpenAIBackend(_Backend):
    """Azure OpenAI: ``{endpoint}/openai/deployments/{deployment}/{operation}?api-version=...``."""

    provider: Literal["azure_openai"]
    endpoint: str
    """The resource's endpoint, e.g. ``https://my-resource.openai.azure.com``."""
    api_version: str = Field("2024-10-21", min_length=1)
    deployments: dict[str, str] = {}
    """Upstream model name -> deployment name; a model not listed is its own deployment name."""
    api_key: SecretStr | None = None
    """Sent as the ``api-key`` header. Set either this or ``entra``."""
    entra: EntraConfig | None = None

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _one_credential(self) -> AzureOpenAIBackend:
        if (self.api_key is None) == (self.entra is None):
            raise ValueError("set exactly one of api_key or entra")
        return self

    @property
    def base_url(self) -> str:
        return self.endpoint


class AnthropicBackend(_Backend):
    """The Anthropic Messages API; OpenAI chat requests are translated to and from it."""

    provider: Literal["anthropic"]
    base_url: str = "https://api.anthropic.com"
    api_key: SecretStr | None = None
    """Sent as ``x-api-key``. Required for the default ``base_url``."""
    anthropic_version: str = "2023-06-01"
    default_max_tokens: int = Field(4096, ge=1)
    """``max_tokens`` is required by Anthropic; used when an OpenAI request sets none."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _key(self) -> AnthropicBackend:
        if self.api_key is None and self.base_url == "https://api.anthropic.com":
            raise ValueError("api_key: required for the Anthropic API")
        return self


class BedrockBackend(_Backend):
    """Amazon Bedrock's Converse API, signed with AWS SigV4.

    Credentials and region come from here or, when not set, from the usual AWS environment
    variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
    ``AWS_REGION``/``AWS_DEFAULT_REGION``), read when the config is loaded.
    """

    provider: Literal["bedrock"]
    region: str = ""
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    base_url: str = ""
    """Default: ``https://bedrock-runtime.{region}.amazonaws.com``."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return value if value == "" else http_url(value)

    @model_validator(mode="after")
    def _aws(self) -> BedrockBackend:
        env = os.environ
        if not self.region:
            region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
            if not region:
                raise ValueError("region: required (or AWS_REGION in the environment)")
            object.__setattr__(self, "region", region)
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both access_key_id and secret_access_key, or neither")
        if self.access_key_id is None:
            key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
            if not key or not secret:
                raise ValueError(
                    "access_key_id: required (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment)"
                )
            object.__setattr__(self, "access_key_id", SecretStr(key))
            object.__setattr__(self, "secret_access_key", SecretStr(secret))
            token = env.get("AWS_SESSION_TOKEN")
            if token and self.session_token is None:
                object.__setattr__(self, "session_token", SecretStr(token))
        if not self.base_url:
            object.__setattr__(self, "base_url", f"https://bedrock-runtime.{self.region}.amazonaws.com")
        return self


_SERVICE_ACCOUNT_KEYS = ("client_email", "private_key", "token_uri")


def _service_account(text: str, where: str) -> dict[str, Any]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError(f"{where}: not a JSON service-account key") from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise ValueError(f'{where}: not a service-account key (its "type" must be "service_account")')
    missing = [key for key in _SERVICE_ACCOUNT_KEYS if not isinstance(data.get(key), str)]
    if missing:
        raise ValueError(f"{where}: the key lacks {', '.join(missing)}")
    return data


class VertexAIBackend(_Backend):
    """Google Vertex AI: Gemini through its OpenAI-compatible endpoint (``publisher: google``), or
    Anthropic models through ``rawPredict``/``streamRawPredict`` (``publisher: anthropic``).

    The credential is a service-account key, exchanged for an access token with the JWT bearer
    grant (RFC 7523) at the key's ``token_uri``.
    """

    provider: Literal["vertex_ai"]
    project: str = Field(min_length=1)
    location: str = Field("us-central1", min_length=1)
    publisher: Literal["google", "anthropic"] = "google"
    credentials_file: str | None = None
    """Path of a service-account JSON key file (read when the config is loaded)."""
    credentials: SecretStr | None = None
    """The service-account JSON key itself, e.g. ``${GOOGLE_SERVICE_ACCOUNT_JSON}``."""
    base_url: str = ""
    """Default: ``https://{location}-aiplatform.googleapis.com`` (``aiplatform.googleapis.com`` for
    the ``global`` location)."""
    scope: str = "https://www.googleapis.com/auth/cloud-platform"
    default_max_tokens: int = Field(4096, ge=1)
    """For Anthropic models: ``max_tokens`` when an OpenAI request sets none."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return value if value == "" else http_url(value)

    @model_validator(mode="after")
    def _key(self) -> VertexAIBackend:
        if (self.credentials is None) == (self.credentials_file is None):
            raise ValueError("set exactly one of credentials or credentials_file")
        if self.credentials_file is not None:
            try:
                text = Path(self.credentials_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"credentials_file: cannot read it: {exc.strerror or exc}") from None
            _service_account(text, "credentials_file")
        if self.credentials is not None:
            _service_account(self.credentials.get_secret_value(), "credentials")
        if not self.base_url:
            host = "aiplatform.googleapis.com"
            if self.location != "global":
                host = f"{self.location}-{host}"
            object.__setattr__(self, "base_url", f"https://{host}")
        return self

    def service_account(self) -> dict[str, Any]:
        """The parsed service-account key."""
        if self.credentials is not None:
            return _service_account(self.credentials.get_secret_value(), "credentials")
        assert self.credentials_file is not None
        return _service_account(Path(self.credentials_file).read_text(encoding="utf-8"), "credentials_file")


BackendConfig = Annotated[
    OpenAIBackend | AzureOpenAIBackend | AnthropicBackend | BedrockBackend | VertexAIBackend,
    Field(discriminator="provider"),
]
"""One configured backend: the variant is chosen by ``provider``."""
