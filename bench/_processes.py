"""Child processes for the benchmarks: fake upstreams and ``agentgw serve``, on 127.0.0.1 only.

Every process is a context manager: leaving it (normally, on an error or on Ctrl-C) sends SIGTERM,
then SIGKILL if the process has not exited after a grace period, so no run leaves a server behind.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
import yaml

from bench.errors import BenchError

__all__ = ["REPO", "ChildProcess", "free_port", "gateway", "python_server"]

REPO = Path(__file__).resolve().parent.parent
_STOP_GRACE_S = 5.0
_START_TIMEOUT_S = 30.0
# agentgw/server.py logs this once it accepts connections; with --port 0 it is the only way to learn the port.
_LISTENING = re.compile(r"agentgw listening on (http://127\.0\.0\.1:\d+)")


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChildProcess:
    """A child process whose merged stdout/stderr is read by a thread, line by line.

    The last lines are kept for error messages; ``on_line`` sees every line as it arrives.
    """

    def __init__(self, argv: Sequence[str], *, on_line: Callable[[str], None] | None = None) -> None:
        self.argv = list(argv)
        self._tail: collections.deque[str] = collections.deque(maxlen=50)
        self._on_line = on_line
        self._process = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def running(self) -> bool:
        return self._process.poll() is None

    def output(self) -> str:
        """The last lines the process printed, for error messages."""
        return "".join(self._tail)

    def rss_mb(self) -> float:
        """Resident set size in MiB, from ``VmRSS`` in ``/proc/<pid>/status``.

        Raises:
            BenchError: the process has exited or ``/proc`` is not available.
        """
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError as exc:
            raise BenchError(f"cannot read the memory of process {self.pid}: {exc}") from exc
        match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
        if match is None:
            raise BenchError(f"no VmRSS in /proc/{self.pid}/status")
        return int(match.group(1)) / 1024

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; waits for the exit either way."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._reader.join(_STOP_GRACE_S)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def _read(self) -> None:
        assert self._process.stdout is not None
        with contextlib.suppress(ValueError):  # the pipe was closed by stop()
            for line in self._process.stdout:
                self._tail.append(line)
                if self._on_line is not None:
                    self._on_line(line)


@contextlib.contextmanager
def python_server(
    script: str | Path, *args: str, ready_path: str = "/"
) -> Iterator[tuple[str, ChildProcess]]:
    """Run ``python <script> --port <free port> *args``; yield its base URL once it answers HTTP.

    ``ready_path`` is polled until it answers with any status below 500.

    Raises:
        BenchError: the server exited or did not answer within the start-up timeout.
    """
    port = free_port()
    process = ChildProcess([sys.executable, str(script), "--port", str(port), *args])
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_answers(url + ready_path, process)
        yield url, process
    finally:
        process.stop()


@contextlib.contextmanager
def gateway(config: dict[str, Any]) -> Iterator[tuple[str, ChildProcess]]:
    """Run ``python -m agentgw serve --port 0`` on ``config``; yield its base URL and process.

    ``server.reload`` defaults to off (a file watcher only adds noise) and ``server.shutdown_grace_s``
    to 1 s, unless ``config`` sets them.

    Raises:
        BenchError: the gateway exited or did not log its address within the start-up timeout.
    """
    listening = threading.Event()
    found: list[str] = []

    def on_line(line: str) -> None:
        match = _LISTENING.search(line)
        if match is not None and not found:
            found.append(match.group(1))
            listening.set()

    server = {"reload": False, "shutdown_grace_s": 1, **config.get("server", {})}
    with tempfile.TemporaryDirectory(prefix="agentgw-bench-") as folder:
        path = Path(folder) / "gateway.yaml"
        path.write_text(yaml.safe_dump({**config, "server": server}, sort_keys=False))
        argv = [sys.executable, "-m", "agentgw", "serve", "-c", str(path), "--port", "0"]
        process = ChildProcess(argv, on_line=on_line)
        try:
            deadline = time.monotonic() + _START_TIMEOUT_S
            while not listening.wait(0.05):
                if not process.running() or time.monotonic() > deadline:
                    raise BenchError(_start_failure("the gateway", process))
            yield found[0], process
        finally:
            process.stop()


def _wait_until_answers(url: str, process: ChildProcess) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    with httpx2.Client(timeout=1.0, trust_env=False) as client:
        while True:
            if not process.running() or time.monotonic() > deadline:
                raise BenchError(_start_failure(" ".join(process.argv), process))
            try:
                if client.get(url).status_code < 500:
                    return
            except httpx2.TransportError:
                pass
            # Not a readiness sleep: the poll interval of a loop bounded by the deadline above.
            time.sleep(0.05)


def _start_failure(what: str, process: ChildProcess) -> str:
    state = "exited" if not process.running() else f"did not start within {_START_TIMEOUT_S:.0f} s"
    return f"{what} {state}; its output:\n{process.output() or '(none)'}"
