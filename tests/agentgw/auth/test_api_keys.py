"""API keys created with ``agentgw keys create``, used through the openai SDK, picked up while serving."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
import yaml

from agentgw import create_app
from agentgw.auth.api_keys import hash_key
from agentgw.cli import main
from agentgw.config import load_config
from tests.agentgw.auth.gateways import gateway_yaml
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import REPO, serve_app, wait_for

MESSAGES = [{"role": "user", "content": "hi"}]
STATIC_KEY = "sk-static-config-key"


def create(config: Path, name: str, *roles: str, team: str | None = None) -> str:
    argv = [sys.executable, "-m", "agentgw", "keys", "create", "-c", str(config), "--name", name]
    for role in roles:
        argv += ["--role", role]
    if team:
        argv += ["--team", team]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("agw_") and "\n" not in key
    return key


@pytest.fixture
def config_path(tmp_path: Path, fake_openai_url: str) -> Path:
    auth = f"""  api_keys_file: keys.yaml
  api_keys: [{{name: static, key_sha256: {hash_key(STATIC_KEY)}, roles: [guest]}}]"""
    path = tmp_path / "gateway.yaml"
    path.write_text(gateway_yaml(fake_openai_url, auth=auth))
    return path


@pytest.fixture
def gateway(config_path: Path) -> Iterator[str]:
    with serve_app(create_app(load_config(config_path), config_path=str(config_path))) as url:
        yield url


def sdk(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)


def test_created_key_works_and_is_stored_only_as_a_hash(
    config_path: Path, gateway: str, fake_openai: FakeOpenAI
) -> None:
    key = create(config_path, "alice", "developer", team="platform")
    stored = (config_path.parent / "keys.yaml").read_text()
    assert key not in stored and hash_key(key) in stored
    assert (config_path.parent / "keys.yaml").stat().st_mode & 0o077 == 0
    entry = yaml.safe_load(stored)["keys"][0]
    assert entry["name"] == "alice" and entry["roles"] == ["developer"] and entry["team"] == "platform"
    # Picked up by the running gateway without a reload (the file is checked at most once a second).
    wait_for(lambda: httpx2.get(f"{gateway}/v1/models", headers={"x-api-key": key}).status_code == 200)
    reply = sdk(gateway, key).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "echo: hi"
    upstream_headers = fake_openai.requests[-1].headers
    assert all(key not in value for value in upstream_headers.values())


def test_x_api_key_header_and_static_config_keys(gateway: str) -> None:
    response = httpx2.get(f"{gateway}/v1/models", headers={"x-api-key": STATIC_KEY})
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == ["gpt-4o-mini"]


def test_revoked_key_stops_working(config_path: Path, gateway: str) -> None:
    key = create(config_path, "bob", "admin")
    wait_for(lambda: httpx2.get(f"{gateway}/v1/models", headers={"x-api-key": key}).status_code == 200)
    assert main(["keys", "revoke", "-c", str(config_path), "--name", "bob"]) == 0
    wait_for(lambda: httpx2.get(f"{gateway}/v1/models", headers={"x-api-key": key}).status_code == 401)


def test_unknown_key_is_401_with_an_audit_line(gateway: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(gateway, "agw_not-a-real-key").models.list()
    assert caught.value.status_code == 401
    assert "agw_not-a-real-key" not in str(caught.value.body)
    lines = [r.getMessage() for r in caplog.records if r.name == "agentgw.audit"]
    assert any('"reason":"unknown API key"' in line for line in lines)
    assert all("agw_not-a-real-key" not in line for line in lines)


def test_cli_refuses_unknown_roles_and_duplicate_names(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "-c", str(config_path), "--name", "x", "--role", "wizard"]) == 1
    assert "unknown role(s) wizard" in capsys.readouterr().err
    assert main(["keys", "create", "-c", str(config_path), "--name", "x", "--role", "guest"]) == 0
    assert main(["keys", "create", "-c", str(config_path), "--name", "x", "--role", "guest"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["keys", "list", "-c", str(config_path)]) == 0
    assert capsys.readouterr().out.startswith("x\troles=guest")


def test_keys_hash_prints_the_sha256(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("sk-abc\n"))
    assert main(["keys", "hash"]) == 0
    assert capsys.readouterr().out.strip() == hash_key("sk-abc")


def test_anonymous_mode_without_auth_config(fake_openai_url: str, tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(gateway_yaml(fake_openai_url, auth="  {}", rbac=""))
    with serve_app(create_app(load_config(path))) as url:
        reply = sdk(url, "unused").chat.completions.create(model="o3-pro", messages=MESSAGES)  # type: ignore[arg-type]
        assert reply.choices[0].message.content == "echo: hi"
        assert len(sdk(url, "unused").models.list().data) == 4


def test_anonymous_roles_apply_without_credentials(fake_openai_url: str, tmp_path: Path) -> None:
    auth = f"""  api_keys: [{{name: static, key_sha256: {hash_key(STATIC_KEY)}, roles: [admin]}}]
  anonymous_roles: [guest]"""
    path = tmp_path / "gw.yaml"
    path.write_text(gateway_yaml(fake_openai_url, auth=auth))
    with serve_app(create_app(load_config(path))) as url:
        anonymous = httpx2.get(f"{url}/v1/models").json()["data"]
        assert [m["id"] for m in anonymous] == ["gpt-4o-mini"]
        assert len(sdk(url, STATIC_KEY).models.list().data) == 4
        assert httpx2.get(f"{url}/v1/models", headers={"x-api-key": "wrong"}).status_code == 401
