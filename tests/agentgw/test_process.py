"""The gateway as an operator runs it: `agentgw serve` in its own process, stopped with SIGTERM."""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path

import httpx2
import openai

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.support.servers import REPO, GatewayProcess, free_port

STREAM = {"model": "s", "stream": True, "messages": [{"role": "user", "content": "go"}]}


def config_file(tmp_path: Path, upstream: str, grace_s: float) -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(
        f"server: {{shutdown_grace_s: {grace_s}, reload: false}}\n"
        f"llm:\n  backends:\n    fake: {{provider: openai, base_url: '{upstream}/v1', api_key: {API_KEY}}}\n"
        "  models: [{name: s, targets: [{backend: fake, model: slow-stream}]}]\n"
    )
    return path


def stream_in_background(url: str, lines: list[str], first: threading.Event) -> threading.Thread:
    def consume() -> None:
        try:
            with httpx2.stream("POST", f"{url}/v1/chat/completions", json=STREAM, timeout=30) as response:
                for line in response.iter_lines():
                    lines.append(line)
                    first.set()
        except httpx2.HTTPError as exc:
            lines.append(f"error: {type(exc).__name__}")
        first.set()

    thread = threading.Thread(target=consume)
    thread.start()
    return thread


def test_sigterm_lets_streams_in_flight_finish(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_openai_url: str
) -> None:
    fake_openai.slow_stream_chunks = 30  # about 1.5 s
    with GatewayProcess(config_file(tmp_path, fake_openai_url, grace_s=20)) as gateway:
        lines: list[str] = []
        first = threading.Event()
        reader = stream_in_background(gateway.url, lines, first)
        assert first.wait(10)
        gateway.terminate()
        reader.join(20)
        # uvicorn re-raises the signal after its graceful shutdown, so the exit status is SIGTERM's.
        assert gateway.wait(20) == -signal.SIGTERM
    assert [line for line in lines if line][-1] == "data: [DONE]"
    assert sum(1 for line in lines if line.startswith("data: {")) == 32
    assert b"Application shutdown complete" in gateway.log


def test_sigterm_cuts_streams_after_the_grace_period(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_openai_url: str
) -> None:
    fake_openai.slow_stream_chunks = 400  # 20 s, far beyond the grace period
    with GatewayProcess(config_file(tmp_path, fake_openai_url, grace_s=1)) as gateway:
        lines: list[str] = []
        first = threading.Event()
        reader = stream_in_background(gateway.url, lines, first)
        assert first.wait(10)
        started = time.monotonic()
        gateway.terminate()
        gateway.wait(20)
        assert time.monotonic() - started < 8
        reader.join(10)
    assert "data: [DONE]" not in lines
    assert fake_openai.stream_disconnected.wait(5)  # the upstream stream was cancelled, not left running


def test_quickstart_starts_its_backend_and_answers(tmp_path: Path) -> None:
    backend_port = free_port()
    env = {"ECHO_LLM_PORT": str(backend_port)}
    with GatewayProcess(REPO / "examples" / "quickstart.yaml", env=env) as gateway:
        sdk = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="anything", max_retries=0)
        completion = sdk.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "hello"}]
        )
        assert completion.choices[0].message.content == "echo: hello"
        streamed = sdk.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "hi there"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "echo: hi there"
        assert [m.id for m in sdk.models.list()] == ["echo"]
        assert httpx2.get(f"{gateway.url}/readyz").status_code == 200
    assert gateway.process.returncode == -signal.SIGTERM
    assert b"Application shutdown complete" in gateway.log
    # The launched backend stopped with the gateway.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", backend_port)) != 0
