"""Provider configs: presets, per-provider credentials and routing keys, each error at its key path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentgw.config import parse_config
from agentgw.config.providers import AnthropicBackend, AzureOpenAIBackend, OpenAIBackend
from agentgw.errors import ConfigError
from tests.support.servers import REPO


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env={})
    return [str(issue) for issue in info.value.issues]


@pytest.mark.parametrize(
    ("provider", "url"),
    [
        ("groq", "https://api.groq.com/openai/v1"),
        ("together", "https://api.together.xyz/v1"),
        ("mistral", "https://api.mistral.ai/v1"),
        ("deepseek", "https://api.deepseek.com/v1"),
        ("openrouter", "https://openrouter.ai/api/v1"),
        ("gemini", "https://generativelanguage.googleapis.com/v1beta/openai"),
        ("openai", "https://api.openai.com/v1"),
    ],
)
def test_hosted_presets_have_default_urls_and_need_a_key(provider: str, url: str) -> None:
    config = parse_config(f"llm: {{backends: {{x: {{provider: {provider}, api_key: k}}}}}}")
    backend = config.llm.backends["x"]
    assert isinstance(backend, OpenAIBackend) and backend.base_url == url
    assert issues_of(f"llm: {{backends: {{x: {{provider: {provider}}}}}}}") == [
        f"llm.backends.x.api_key: required for provider {provider!r} at {url}"
    ]


def test_local_presets_need_no_key() -> None:
    config = parse_config("llm: {backends: {v: {provider: vllm}, o: {provider: ollama}}}")
    assert config.llm.backends["v"].base_url == "http://127.0.0.1:8000/v1"
    assert config.llm.backends["o"].base_url == "http://127.0.0.1:11434/v1"


def test_azure_needs_exactly_one_credential() -> None:
    base = "llm: {backends: {az: {provider: azure_openai, endpoint: 'https://r.openai.azure.com/'"
    assert issues_of(base + "}}}") == ["llm.backends.az: set exactly one of api_key or entra"]
    config = parse_config(base + ", api_key: k, deployments: {gpt-4o: prod-4o}}}}")
    backend = config.llm.backends["az"]
    assert isinstance(backend, AzureOpenAIBackend)
    assert backend.base_url == "https://r.openai.azure.com"
    assert issues_of(base + ", entra: {tenant_id: t, client_id: c}}}}") == [
        "llm.backends.az.entra.client_secret: required key is missing"
    ]


def test_anthropic_key_and_unknown_keys_are_reported_without_the_union_tag() -> None:
    assert issues_of("llm: {backends: {a: {provider: anthropic}}}") == [
        "llm.backends.a.api_key: required for the Anthropic API"
    ]
    assert issues_of("llm: {backends: {a: {provider: anthropic, api_key: k, max_token: 5}}}") == [
        "llm.backends.a.max_token: unknown key"
    ]
    local = parse_config("llm: {backends: {a: {provider: anthropic, base_url: 'http://127.0.0.1:1'}}}")
    assert isinstance(local.llm.backends["a"], AnthropicBackend)
    assert issues_of("llm: {backends: {a: {base_url: 'http://h'}}}") == [
        "llm.backends.a.provider: required key is missing"
    ]


def test_routing_keys_are_validated() -> None:
    text = """
llm:
  backends: {a: {provider: vllm}}
  models:
    - name: m
      aliases: [m2, "x*"]
      fallback_on: [429, 4xx]
      retry: {attempts: 0}
      targets: [{backend: a, priority: -1}]
    - {name: m2, targets: [{backend: a}]}
"""
    assert issues_of(text) == [
        "llm.models[0].aliases: an alias is a plain non-empty name, got 'x*'",
        "llm.models[0].targets[0].priority: Input should be greater than or equal to 0 (got -1)",
        "llm.models[0].fallback_on[1]: Input should be '429', '5xx', 'timeout' or 'connect' (got '4xx')",
        "llm.models[0].retry.attempts: Input should be greater than or equal to 1 (got 0)",
        "llm.models[1].name: duplicate model 'm2' (first at llm.models[0])",
    ]


def test_agentgw_check_reports_provider_errors_with_key_paths(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "llm:\n"
        "  backends:\n"
        "    a: {provider: openia, base_url: 'http://h'}\n"
        "    b: {provider: anthropic}\n"
        "    c: {provider: azure_openai, endpoint: 'https://r.openai.azure.com', entra: {tenant_id: t, client_id: c}}\n"
        "    d: {provider: vertex_ai, project: p}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "agentgw", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    assert result.returncode == 1
    for line in [
        "llm.backends.a.provider: unknown provider 'openia' (known: openai, vllm,",
        "llm.backends.b.api_key: required for the Anthropic API",
        "llm.backends.c.entra.client_secret: required key is missing",
        "llm.backends.d: set exactly one of credentials or credentials_file",
    ]:
        assert line in result.stdout + result.stderr
