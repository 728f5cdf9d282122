"""Configuration: the schema, and loading a YAML file with ``${VAR}`` interpolation."""

from agentgw.config.loader import load_config, parse_config
from agentgw.config.model import (
    BackendConfig,
    GatewayConfig,
    LaunchConfig,
    LLMConfig,
    ModelConfig,
    ServerConfig,
    TargetConfig,
    TimeoutsConfig,
)

__all__ = [
    "BackendConfig",
    "GatewayConfig",
    "LLMConfig",
    "LaunchConfig",
    "ModelConfig",
    "ServerConfig",
    "TargetConfig",
    "TimeoutsConfig",
    "load_config",
    "parse_config",
]
