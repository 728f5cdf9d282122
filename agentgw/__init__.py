"""agentgw: one gateway for MCP tools, OpenAI-compatible LLM APIs and A2A agents."""

from agentgw._version import __version__
from agentgw.app import create_app
from agentgw.config import GatewayConfig, load_config

__all__ = ["GatewayConfig", "__version__", "create_app", "load_config"]
