"""Config validation: every problem is reported at its key path, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentgw.config import load_config, parse_config
from agentgw.errors import ConfigError

VALID = """
listen: {host: 127.0.0.1, port: 8080}
llm:
  backends:
    openai: {provider: openai, base_url: "https://api.openai.com/v1", api_key: "${OPENAI_API_KEY}"}
    local: {provider: openai, base_url: "http://127.0.0.1:9100/v1/"}
  models:
    - name: gpt-4o-mini
      targets: [{backend: openai, weight: 8}, {backend: local, weight: 2}]
"""


def issues_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env=env or {})
    return [str(issue) for issue in info.value.issues]


def test_valid_config_loads_with_defaults() -> None:
    config = parse_config(VALID, env={"OPENAI_API_KEY": "sk-live-123"})
    assert config.llm.backends["local"].base_url == "http://127.0.0.1:9100/v1"
    assert config.llm.backends["openai"].timeouts.connect == 5.0
    assert config.server.max_request_bytes == 10 * 1024 * 1024
    assert [t.weight for t in config.llm.models[0].targets] == [8, 2]


def test_unknown_backend_names_the_known_ones() -> None:
    text = VALID.replace(
        "- name: gpt-4o-mini", "- name: a\n      targets: [{backend: local}]\n    - name: b"
    ).replace("{backend: openai, weight: 8}", "{backend: opena, weight: 8}")
    assert issues_of(text, {"OPENAI_API_KEY": "k"}) == [
        "llm.models[1].targets[0].backend: unknown backend 'opena' (known: openai, local)"
    ]


def test_every_schema_error_is_reported_with_its_path() -> None:
    text = """
listen: {port: 70000, hots: x}
server: {shutdown_grace_s: -1}
llm:
  backends:
    a: {provider: openai}
    b: {provider: azure, base_url: "ftp://x"}
  models:
    - {name: m, targets: []}
    - {targets: [{backend: a, weight: -1}]}
surprise: 1
"""
    found = issues_of(text)
    assert found == [
        "listen.port: Input should be less than or equal to 65535 (got 70000)",
        "listen.hots: unknown key",
        "server.shutdown_grace_s: Input should be greater than 0 (got -1)",
        "llm.backends.a.api_key: required for provider 'openai' at https://api.openai.com/v1",
        "llm.backends.b.provider: unknown provider 'azure' (known: openai, vllm, ollama, groq, together,"
        " mistral, deepseek, openrouter, gemini, azure_openai, anthropic, bedrock, vertex_ai)",
        "llm.models[0].targets: List should have at least 1 item after validation, not 0",
        "llm.models[1].name: required key is missing",
        "llm.models[1].targets[0].weight: Input should be greater than or equal to 0 (got -1)",
        "surprise: unknown key",
    ]


def test_duplicates_and_zero_weights() -> None:
    text = """
llm:
  backends: {a: {provider: openai, base_url: "http://h"}}
  models:
    - {name: m, targets: [{backend: a, weight: 0}]}
    - {name: m, targets: [{backend: a}]}
"""
    assert issues_of(text) == [
        "llm.models[0].targets: at least one target needs a weight above 0",
        "llm.models[1].name: duplicate model 'm' (first at llm.models[0])",
    ]


def test_interpolation_with_defaults_and_escapes() -> None:
    text = """
listen: {host: "${HOST:-0.0.0.0}", port: "${PORT}"}
llm:
  backends:
    a: {provider: openai, base_url: "http://${UPSTREAM:-localhost}:${UPSTREAM_PORT:-9}/v1", headers: {x-note: "$${literal}"}}
"""
    config = parse_config(text, env={"PORT": "9000", "UPSTREAM": "10.0.0.1"})
    assert (config.listen.host, config.listen.port) == ("0.0.0.0", 9000)
    assert config.llm.backends["a"].base_url == "http://10.0.0.1:9/v1"
    assert config.llm.backends["a"].headers["x-note"].get_secret_value() == "${literal}"


def test_empty_variable_takes_the_default_but_set_empty_without_default_is_kept() -> None:
    config = parse_config('listen: {host: "${H:-127.0.0.2}"}', env={"H": ""})
    assert config.listen.host == "127.0.0.2"
    config = parse_config(
        'llm: {backends: {a: {provider: openai, base_url: "http://h", api_key: "${K}"}}}', env={"K": ""}
    )
    assert config.llm.backends["a"].api_key is not None
    assert config.llm.backends["a"].api_key.get_secret_value() == ""


def test_missing_and_malformed_references() -> None:
    text = """
llm:
  backends:
    a: {provider: openai, base_url: "http://h", api_key: "${MISSING_KEY}"}
    b: {provider: openai, base_url: "http://h", api_key: "${bad-name}"}
"""
    assert issues_of(text) == [
        "llm.backends.a.api_key: environment variable MISSING_KEY is not set",
        "llm.backends.b.api_key: malformed reference '${bad-name}' (use ${VAR} or ${VAR:-default})",
    ]


def test_yaml_syntax_error_has_a_line() -> None:
    assert issues_of("llm:\n  backends: {a: [}\n")[0].startswith("not valid YAML at line 2")


def test_top_level_must_be_a_mapping() -> None:
    assert issues_of("- 1\n- 2\n") == ["the top level must be a mapping of sections"]


def test_empty_file_is_a_valid_empty_gateway() -> None:
    assert parse_config("").llm.models == []


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.yaml")
    assert "cannot read" in info.value.issues[0].message


def test_secrets_never_appear_in_repr_or_errors() -> None:
    secret = "sk-very-secret-value"
    config = parse_config(VALID, env={"OPENAI_API_KEY": secret})
    assert secret not in repr(config)
    assert secret not in str(config.model_dump())
    bad = VALID.replace("port: 8080", "port: nope")
    with pytest.raises(ConfigError) as info:
        parse_config(bad, env={"OPENAI_API_KEY": secret})
    assert secret not in info.value.message


def test_header_injection_in_backend_headers_is_refused() -> None:
    text = 'llm: {backends: {a: {provider: openai, base_url: "http://h", headers: {x-a: "v\\r\\nx-b: 1"}}}}'
    assert issues_of(text) == ["llm.backends.a.headers: header 'x-a' contains a line break"]
