"""``GET /admin/usage`` and ``agentgw usage``: totals per principal, team, key and model, for admins."""

from __future__ import annotations

from pathlib import Path

import httpx2
import openai
import pytest
from starlette.requests import Request

from agentgw import create_app
from agentgw.accounting.routes import _loopback
from agentgw.auth.api_keys import hash_key
from agentgw.cli import main
from agentgw.config import load_config
from tests.agentgw.llm.conftest import gateway_yaml
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app

KEYS = {"alice": "sk-alice-key", "bob": "sk-bob-key", "root": "sk-root-key"}
PRICES = "{models: {gpt-4o-mini: {input_per_mtok: 1.0, output_per_mtok: 2.0}}}"


def _config(upstream: str, tmp_path: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        gateway_yaml(upstream)
        + f"""
auth:
  api_keys:
    - {{name: alice, key_sha256: {hash_key(KEYS["alice"])}, roles: [developer], team: platform}}
    - {{name: bob, key_sha256: {hash_key(KEYS["bob"])}, roles: [developer], team: data}}
    - {{name: root, key_sha256: {hash_key(KEYS["root"])}, roles: [admin]}}
rbac:
  roles:
    developer: {{allow: {{models: ["*"]}}}}
    admin: {{allow: {{models: ["*"]}}}}
accounting:
  ledger: {{flush_interval_s: 0.05}}
  prices: {PRICES}
"""
    )
    return path


def _chat(url: str, key: str, n: int) -> None:
    sdk = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)
    for i in range(n):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"hi {i}"}])


def test_usage_report_and_cli(
    fake_openai: FakeOpenAI, fake_openai_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(fake_openai_url, tmp_path)
    with serve_app(create_app(load_config(path), config_path=str(path))) as url:
        _chat(url, KEYS["alice"], 3)
        _chat(url, KEYS["bob"], 2)
        report = f"{url}/admin/usage"
        admin = {"authorization": f"Bearer {KEYS['root']}"}
        assert httpx2.get(report, timeout=10).status_code == 401
        refused = httpx2.get(report, headers={"authorization": f"Bearer {KEYS['alice']}"}, timeout=10)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
        by_principal = httpx2.get(report, headers=admin, timeout=10).json()
        by_team = httpx2.get(report, params={"group_by": "team"}, headers=admin, timeout=10).json()
        by_key = httpx2.get(
            report, params={"group_by": "key", "since": "1h"}, headers=admin, timeout=10
        ).json()
        future = httpx2.get(report, params={"since": "2999-01-01"}, headers=admin, timeout=10).json()
        bad = httpx2.get(report, params={"group_by": "weather"}, headers=admin, timeout=10)
        bad_time = httpx2.get(report, params={"since": "yesterday"}, headers=admin, timeout=10)
        assert main(["usage", "--url", url, "--api-key", KEYS["root"], "--group-by", "team"]) == 0
        from_gateway = capsys.readouterr().out
        assert main(["usage", "--url", url, "--api-key", KEYS["alice"]]) == 1
        assert "HTTP 403" in capsys.readouterr().err
    reported = fake_openai.usage_reported
    inputs = sum(u["prompt_tokens"] for u in reported)
    outputs = sum(u["completion_tokens"] for u in reported)
    groups = {g["group"]: g for g in by_principal["groups"]}
    assert {name: g["requests"] for name, g in groups.items()} == {"key:alice": 3, "key:bob": 2}
    assert by_principal["totals"]["requests"] == 5
    assert (
        by_principal["totals"]["input_tokens"] == inputs
        and by_principal["totals"]["output_tokens"] == outputs
    )
    assert by_principal["totals"]["cost_usd"] == pytest.approx(inputs * 1e-6 + outputs * 2e-6)
    assert by_principal["dropped_records"] == 0
    assert {g["group"]: g["requests"] for g in by_team["groups"]} == {"platform": 3, "data": 2}
    assert {g["group"]: g["requests"] for g in by_key["groups"]} == {"alice": 3, "bob": 2}
    assert future["groups"] == [] and future["totals"]["requests"] == 0
    assert bad.status_code == 400 and "group_by" in bad.json()["error"]["message"]
    assert bad_time.status_code == 400
    lines = from_gateway.splitlines()
    assert lines[1].split()[:2] == ["GROUP", "REQUESTS"]
    assert lines[2].split()[:2] == ["platform", "3"] and lines[3].split()[:2] == ["data", "2"]
    assert lines[-1].split()[:4] == ["TOTAL", "5", str(inputs), str(outputs)]
    # From the ledger itself, the gateway stopped: the same table.
    assert main(["usage", "-c", str(path), "--group-by", "team"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == lines[1:]


def test_anonymous_mode_serves_the_report_to_loopback_clients_only() -> None:
    def request(host: str) -> Request:
        return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "client": (host, 1)})

    assert _loopback(request("127.0.0.1")) and _loopback(request("::1"))
    assert not _loopback(request("10.0.0.5")) and not _loopback(request("testclient"))
