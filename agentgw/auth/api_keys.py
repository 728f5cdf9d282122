"""API keys: generated once, stored only as their SHA-256, looked up by hash.

Keys come from ``auth.api_keys`` in the config and from the keys file ``auth.api_keys_file``, which
``agentgw keys create`` appends to. The file is YAML::

    keys:
      - {name: alice, key_sha256: 9f86d0..., roles: [developer], team: platform, created: "2026-11-21T19:00:00Z"}

It is re-read when it changes (checked at most once a second, on a request), so a key created or
revoked while the gateway runs takes effect without a restart. A file that does not validate is
logged and the keys read before are kept.

A lookup hashes the presented key and looks the digest up in a dict. The digest, not the key, is what
is compared, so the comparison's timing says nothing about the key.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from agentgw.config.auth import ApiKeyConfig

__all__ = [
    "ApiKey",
    "ApiKeyStore",
    "KeyFileEntry",
    "create_key",
    "generate_key",
    "hash_key",
    "read_key_file",
    "revoke_key",
    "write_key_file",
]

log = logging.getLogger("agentgw.auth")

KEY_PREFIX = "agw_"
_RECHECK_S = 1.0


class KeyFileEntry(ApiKeyConfig):
    created: str | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    roles: frozenset[str]
    team: str | None


def generate_key() -> str:
    """A new random API key (256 bits), recognisable by its ``agw_`` prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The hex SHA-256 of ``key``, as stored in ``key_sha256``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def read_key_file(path: Path) -> list[KeyFileEntry]:
    """The entries of a keys file; a missing file has none.

    Raises:
        ValueError: the file is not YAML or does not have the keys file's shape.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("keys", []), list):
        raise ValueError(f"{path}: expected a mapping with a list 'keys'")
    try:
        return [KeyFileEntry.model_validate(entry) for entry in raw.get("keys", [])]
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc.error_count()} invalid entries: {exc.errors()[0]['msg']}") from exc


def create_key(path: Path, name: str, roles: Iterable[str], team: str | None = None) -> str:
    """Add a new key named ``name`` to the keys file at ``path`` and return it (the only time it is seen).

    The file is replaced atomically and readable by its owner only.

    Raises:
        ValueError: a key of that name exists, or the file is invalid.
    """
    entries = read_key_file(path)
    if any(entry.name == name for entry in entries):
        raise ValueError(f"a key named {name!r} already exists in {path}")
    key = generate_key()
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries.append(
        KeyFileEntry(name=name, key_sha256=hash_key(key), roles=list(roles), team=team, created=created)
    )
    write_key_file(path, entries)
    return key


def revoke_key(path: Path, name: str) -> None:
    """Remove the key named ``name`` from the keys file.

    Raises:
        ValueError: there is no such key, or the file is invalid.
    """
    entries = read_key_file(path)
    kept = [entry for entry in entries if entry.name != name]
    if len(kept) == len(entries):
        raise ValueError(f"no key named {name!r} in {path}")
    write_key_file(path, kept)


def write_key_file(path: Path, entries: list[KeyFileEntry]) -> None:
    data = {"keys": [entry.model_dump(exclude_none=True) for entry in entries]}
    text = "# agentgw API keys (agentgw keys create): SHA-256 hashes only, never the keys.\n"
    text += yaml.safe_dump(data, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class ApiKeyStore:
    """The keys of the config plus those of the keys file, by hash."""

    def __init__(
        self,
        keys: Iterable[ApiKeyConfig],
        file: Path | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._static = {k.key_sha256: ApiKey(k.name, frozenset(k.roles), k.team) for k in keys}
        self._file = file
        self._clock = clock
        self._checked = float("-inf")
        self._signature: tuple[int, int, int] | None = None
        self._by_hash = dict(self._static)
        if file is not None:
            self._refresh()

    @property
    def file(self) -> Path | None:
        return self._file

    def lookup(self, key: str) -> ApiKey | None:
        """The key's entry, or ``None`` if no key hashes to the same digest."""
        if self._file is not None and self._clock() - self._checked >= _RECHECK_S:
            self._refresh()
        return self._by_hash.get(hash_key(key))

    def _refresh(self) -> None:
        assert self._file is not None
        self._checked = self._clock()
        try:
            stat = self._file.stat()
            signature: tuple[int, int, int] | None = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            signature = None
        if signature == self._signature:
            return
        try:
            entries = read_key_file(self._file)
        except (OSError, ValueError) as exc:
            log.error("keys file rejected; keeping the keys read before: %s", exc)
            self._signature = signature
            return
        by_hash = dict(self._static)
        for entry in entries:
            by_hash.setdefault(entry.key_sha256, ApiKey(entry.name, frozenset(entry.roles), entry.team))
        self._by_hash = by_hash
        if self._signature is not None or signature is not None:
            log.info("keys file %s: %d keys", self._file, len(entries))
        self._signature = signature
