"""Processes the gateway starts with itself (``llm.backends.<name>.launch``).

A launched process is started before the gateway serves, its output goes to the gateway log, and
it is stopped (SIGTERM, then SIGKILL) when the gateway stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from agentgw.config.model import LaunchConfig
from agentgw.errors import LaunchError

__all__ = ["ProcessLauncher"]

log = logging.getLogger("agentgw.launch")

_STOP_GRACE_S = 5.0


class _Launched:
    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.pump: asyncio.Task[None] | None = None


class ProcessLauncher:
    def __init__(self, base_dir: Path) -> None:
        self._base_dir = base_dir
        self._running: list[_Launched] = []

    async def start(self, launches: dict[str, tuple[LaunchConfig, str]]) -> None:
        """Start each process and wait until ``base_url``'s host and port accept connections.

        Raises:
            LaunchError: a process cannot be started, exits early, or does not listen in time.
        """
        try:
            await asyncio.gather(
                *(self._start_one(name, spec, url) for name, (spec, url) in launches.items())
            )
        except BaseException:
            await self.stop()
            raise

    async def _start_one(self, name: str, spec: LaunchConfig, base_url: str) -> None:
        command = sys.executable if spec.command in ("python", "python3") else spec.command
        if shutil.which(command) is None and not Path(command).exists():
            raise LaunchError(f"backend '{name}': launch command {spec.command!r} not found")
        cwd = self._base_dir / spec.cwd if spec.cwd else self._base_dir
        env = {**os.environ, **spec.env}
        process = await asyncio.create_subprocess_exec(
            command,
            *spec.args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        launched = _Launched(name, process)
        launched.pump = asyncio.create_task(self._pump(launched))
        self._running.append(launched)
        log.info("backend %r: launched pid %d", name, process.pid)
        await self._wait_listening(launched, base_url, spec.ready_timeout_s)

    async def _pump(self, launched: _Launched) -> None:
        stream = launched.process.stdout
        assert stream is not None
        async for line in stream:
            log.info("[%s] %s", launched.name, line.decode(errors="replace").rstrip())

    async def _wait_listening(self, launched: _Launched, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            if launched.process.returncode is not None:
                raise LaunchError(
                    f"backend '{launched.name}': process exited with {launched.process.returncode}"
                )
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=1.0)
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise LaunchError(
                        f"backend '{launched.name}': not listening on {host}:{port} after {timeout:g}s"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def stop(self) -> None:
        running, self._running = self._running, []
        await asyncio.gather(*(self._stop_one(launched) for launched in running))

    async def _stop_one(self, launched: _Launched) -> None:
        process = launched.process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), _STOP_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if launched.pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await launched.pump
