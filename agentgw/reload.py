"""Hot reload: watch the config file, validate each new version, swap it in only when valid."""

from __future__ import annotations

import logging
from pathlib import Path

import watchfiles

from agentgw.config.loader import load_config
from agentgw.errors import ConfigError
from agentgw.gateway import Gateway

__all__ = ["watch_config"]

log = logging.getLogger("agentgw.reload")


async def watch_config(gateway: Gateway, path: str, *, poll_ms: int = 200) -> None:
    """Reload ``path`` whenever it changes, until cancelled.

    The folder is watched rather than the file, so editors that save by writing a new file and
    renaming it over the old one are seen too.
    """
    target = Path(path).resolve()
    async for changes in watchfiles.awatch(
        target.parent, watch_filter=lambda _, changed: Path(changed).resolve() == target, step=poll_ms
    ):
        if not changes or not target.exists():
            continue
        await reload_config(gateway, str(target))


async def reload_config(gateway: Gateway, path: str) -> bool:
    """Validate ``path`` and swap it in; on error keep the running config. Returns whether it swapped."""
    try:
        config = load_config(path)
    except ConfigError as error:
        log.error("config reload rejected; keeping the running config.\n%s", error.message)
        return False
    if config == gateway.runtime.config:
        return False
    await gateway.apply(config)
    log.info("config reloaded from %s", path)
    return True
