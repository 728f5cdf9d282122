"""LLM providers, one module each behind :class:`Provider`."""

from agentgw.config.providers import (
    AnthropicBackend,
    AzureOpenAIBackend,
    BackendConfig,
    BedrockBackend,
    OpenAIBackend,
    VertexAIBackend,
)
from agentgw.llm.providers.anthropic import AnthropicProvider
from agentgw.llm.providers.azure_openai import AzureOpenAIProvider
from agentgw.llm.providers.base import Provider, UpstreamResponse
from agentgw.llm.providers.bedrock import BedrockProvider
from agentgw.llm.providers.openai import OpenAIProvider
from agentgw.llm.providers.vertex_ai import VertexAIProvider

__all__ = [
    "AnthropicProvider",
    "AzureOpenAIProvider",
    "BedrockProvider",
    "OpenAIProvider",
    "Provider",
    "UpstreamResponse",
    "VertexAIProvider",
    "build_provider",
]


def build_provider(name: str, config: BackendConfig) -> Provider:
    """Make the provider for backend ``name``; its HTTP client is created here, once."""
    if isinstance(config, AzureOpenAIBackend):
        return AzureOpenAIProvider(name, config)
    if isinstance(config, AnthropicBackend):
        return AnthropicProvider(name, config)
    if isinstance(config, BedrockBackend):
        return BedrockProvider(name, config)
    if isinstance(config, VertexAIBackend):
        return VertexAIProvider(name, config)
    assert isinstance(config, OpenAIBackend)
    return OpenAIProvider(name, config)
