"""The names emitted are the published semantic-convention names (GenAI, MCP, general)."""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes, mcp_attributes
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics, mcp_metrics
from opentelemetry.semconv.attributes import error_attributes, http_attributes, server_attributes

from agentgw.telemetry import genai
from agentgw.telemetry.metrics import MetricSet


def test_attribute_names() -> None:
    published = {
        value
        for module in (
            gen_ai_attributes,
            mcp_attributes,
            error_attributes,
            http_attributes,
            server_attributes,
        )
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str)
    }
    ours = {
        value
        for name, value in vars(genai).items()
        if name.isupper() and isinstance(value, str) and not value.startswith(("agentgw.", "a2a."))
    }
    assert ours <= published, ours - published


def test_metric_names() -> None:
    published = {
        value
        for module in (gen_ai_metrics, mcp_metrics)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str)
    }
    names = {i.name for i in MetricSet().instruments if not i.name.startswith("agentgw.")}
    assert names <= published, names - published


def test_provider_names_follow_the_well_known_values() -> None:
    well_known = {member.value for member in gen_ai_attributes.GenAiProviderNameValues}
    configured = (
        "openai",
        "anthropic",
        "azure_openai",
        "bedrock",
        "vertex_ai",
        "gemini",
        "mistral",
        "deepseek",
    )
    for provider in configured:
        assert genai.provider_name(provider) in well_known, provider
    assert genai.provider_name("vllm") == "vllm"  # no well-known value: reported as configured


def test_which_names_are_still_in_development() -> None:
    # The README says so: every GenAI and MCP name is Development status (the package's
    # `_incubating` modules only); the HTTP, server and error ones are Stable; A2A has no conventions.
    stable = {
        value
        for module in (error_attributes, http_attributes, server_attributes)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str)
    }
    ours = {value for name, value in vars(genai).items() if name.isupper() and isinstance(value, str)}
    assert {n for n in ours if n in stable} == {
        "error.type",
        "server.address",
        "server.port",
        "http.route",
        "http.response.status_code",
    }
    assert all(n.startswith(("gen_ai.", "mcp.", "a2a.", "agentgw.")) for n in ours - stable)
    assert not any(n.startswith(("gen_ai.", "mcp.")) for n in stable)
