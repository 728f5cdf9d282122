"""Hot reload of ``auth:`` and ``rbac:``: new keys and rules apply to the next request, no restart."""

from __future__ import annotations

from pathlib import Path

import httpx2

from agentgw import create_app, load_config
from agentgw.auth.api_keys import hash_key
from tests.agentgw.auth.gateways import gateway_yaml
from tests.support.servers import serve_app, wait_for


def write(path: Path, upstream: str, *, keys: dict[str, str], guest_models: str) -> None:
    entries = ", ".join(
        f"{{name: {name}, key_sha256: {hash_key(key)}, roles: [guest]}}" for name, key in keys.items()
    )
    rbac = f"rbac:\n  roles:\n    guest: {{allow: {{models: [{guest_models}]}}}}\n"
    text = gateway_yaml(upstream, auth=f"  api_keys: [{entries}]", rbac=rbac).replace(
        "server: {reload: false}", "server: {reload: true}"
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def models(url: str, key: str) -> list[str] | int:
    response = httpx2.get(f"{url}/v1/models", headers={"authorization": f"Bearer {key}"})
    return response.status_code if response.status_code != 200 else [m["id"] for m in response.json()["data"]]


def test_keys_and_rules_follow_the_config_file(tmp_path: Path, fake_openai_url: str) -> None:
    path = tmp_path / "gateway.yaml"
    write(path, fake_openai_url, keys={"a": "key-a"}, guest_models='"gpt-4o-mini"')
    with serve_app(create_app(load_config(path), config_path=str(path))) as url:
        assert models(url, "key-a") == ["gpt-4o-mini"]
        assert models(url, "key-b") == 401
        write(path, fake_openai_url, keys={"b": "key-b"}, guest_models='"gpt-*"')
        wait_for(lambda: models(url, "key-b") == ["gpt-4o-mini", "gpt-4o"])
        assert models(url, "key-a") == 401
