"""Run ASGI apps and gateway processes on 127.0.0.1 ephemeral ports for tests."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@contextlib.contextmanager
def serve_app(app: Any, *, graceful_s: int = 2) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a fresh 127.0.0.1 port; yield its base URL."""
    with serve_app_at(lambda url: app, graceful_s=graceful_s) as url:
        yield url


@contextlib.contextmanager
def serve_app_at(make_app: Callable[[str], Any], *, graceful_s: int = 2) -> Iterator[str]:
    """Like :func:`serve_app` for an app that must know its own base URL: ``make_app(url)`` builds it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = make_app(f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        app, log_config=None, lifespan="on", ws="none", http="httptools", timeout_graceful_shutdown=graceful_s
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive())
        if not server.started:
            raise RuntimeError("server failed to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


_LISTENING = re.compile(rb"agentgw listening on (http://[\d.]+:\d+)")


class GatewayProcess:
    """``python -m agentgw serve`` as a child process, with its log collected."""

    def __init__(self, config_path: Path, env: dict[str, str] | None = None) -> None:
        self.log = bytearray()
        self.url = ""
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agentgw", "serve", "-c", str(config_path), "--port", "0"],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(30) or not self.url:
            self.stop()
            raise RuntimeError("gateway did not start:\n" + self.log.decode(errors="replace"))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log += line
            match = _LISTENING.search(line)
            if match and not self.url:
                self.url = match.group(1).decode()
                self._ready.set()
        self._ready.set()

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
