"""Hot reload: valid edits are swapped in, invalid ones are refused, requests in flight are unaffected."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import httpx2
import pytest

from agentgw import create_app, load_config
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.support.servers import serve_app, wait_for


def write_config(path: Path, upstream: str, models: str, api_key: str = API_KEY) -> None:
    # Write-then-rename, as editors and config-management tools do.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        f"llm:\n  backends:\n    fake: {{provider: openai, base_url: '{upstream}/v1', api_key: '{api_key}'}}\n"
        f"  models:\n{models}"
    )
    tmp.replace(path)


def model_ids(url: str) -> list[str]:
    return [m["id"] for m in httpx2.get(f"{url}/v1/models").json()["data"]]


def test_reload_swaps_valid_config_and_keeps_running_on_invalid(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_openai_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentgw.reload")
    path = tmp_path / "gw.yaml"
    write_config(path, fake_openai_url, "    - {name: one, targets: [{backend: fake, model: gpt-4o-mini}]}\n")
    with serve_app(create_app(load_config(path), config_path=str(path))) as url:
        assert model_ids(url) == ["one"]
        write_config(
            path,
            fake_openai_url,
            "    - {name: one, targets: [{backend: fake, model: gpt-4o-mini}]}\n"
            "    - {name: two, targets: [{backend: fake, model: gpt-4o-mini}]}\n",
        )
        wait_for(lambda: model_ids(url) == ["one", "two"])

        write_config(path, fake_openai_url, "    - {name: three, targets: [{backend: missing}]}\n")
        wait_for(lambda: any("reload rejected" in r.getMessage() for r in caplog.records))
        rejected = next(r.getMessage() for r in caplog.records if "reload rejected" in r.getMessage())
        assert "llm.models[0].targets[0].backend: unknown backend 'missing'" in rejected
        assert model_ids(url) == ["one", "two"]
        response = httpx2.post(
            f"{url}/v1/chat/completions",
            json={"model": "two", "messages": [{"role": "user", "content": "still"}]},
        )
        assert response.json()["choices"][0]["message"]["content"] == "echo: still"


def test_request_in_flight_finishes_on_the_config_it_started_with(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_openai_url: str
) -> None:
    fake_openai.slow_stream_chunks = 30
    path = tmp_path / "gw.yaml"
    write_config(path, fake_openai_url, "    - {name: s, targets: [{backend: fake, model: slow-stream}]}\n")
    with serve_app(create_app(load_config(path), config_path=str(path))) as url:
        lines: list[str] = []
        first = threading.Event()

        def consume() -> None:
            body = {"model": "s", "stream": True, "messages": [{"role": "user", "content": "go"}]}
            with httpx2.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=20) as response:
                for line in response.iter_lines():
                    lines.append(line)
                    first.set()

        reader = threading.Thread(target=consume)
        reader.start()
        assert first.wait(10)
        # The new config changes the backend's credential (a new client) and removes the model.
        write_config(
            path, fake_openai_url, "    - {name: other, targets: [{backend: fake}]}\n", api_key="sk-rotated"
        )
        wait_for(lambda: model_ids(url) == ["other"])
        reader.join(20)
        assert [line for line in lines if line][-1] == "data: [DONE]"
        assert sum(1 for line in lines if line.startswith("data: {")) == 32  # role + 30 words + finish
        gone = httpx2.post(f"{url}/v1/chat/completions", json={"model": "s", "messages": []})
        assert gone.status_code == 404
        # New requests use the rotated credential, which the fake refuses: proof the new backend is live.
        assert (
            httpx2.post(
                f"{url}/v1/chat/completions",
                json={"model": "other", "messages": [{"role": "user", "content": "x"}]},
            ).status_code
            == 401
        )
        assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-rotated"
