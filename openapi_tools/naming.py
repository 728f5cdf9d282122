"""Tool names for operations: valid, short, unique and stable.

MCP tool names are 1-128 characters of ``[A-Za-z0-9_.-]`` (MCP 2025-11-25 server/tools "Tool Names");
many LLM APIs accept at most 64 (OpenAI function names), and the gateway may prefix a server name, so
names here are kept to :data:`MAX_LENGTH` = 64.

- From ``operationId``: every run of other characters becomes one ``_`` (``repos/get-content`` ->
  ``repos_get-content``), leading/trailing ``_`` stripped.
- Without an ``operationId``: the lower-case method and the path (``GET /pets/{petId}`` ->
  ``get_pets_petId``).
- Too long: cut to ``MAX_LENGTH - 9`` characters plus ``_`` and the first 8 hex digits of the SHA-256 of
  the full (unsanitised) source, so the name is stable across loads and two long ids that share a
  prefix stay distinct.
- Taken: the first operation in document order keeps the name, later ones get ``_2``, ``_3``... (the
  base shortened to fit). Overrides are reserved first, so an override always wins its name.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["MAX_LENGTH", "ToolNamer", "fallback_name", "is_valid_name", "sanitise_name"]

MAX_LENGTH = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_VALID = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_LENGTH}}}")


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is usable as is: 1-64 characters of ``[A-Za-z0-9_.-]``."""
    return _VALID.fullmatch(name) is not None


def sanitise_name(raw: str, *, max_length: int = MAX_LENGTH) -> str:
    """``raw`` made a valid tool name (see the module docstring); ``"operation"`` if nothing is left."""
    name = _UNSAFE.sub("_", raw).strip("_") or "operation"
    if len(name) > max_length:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
        name = name[: max_length - 9].rstrip("_") + "_" + digest
    return name


def fallback_name(method: str, path: str) -> str:
    """The name source for an operation without ``operationId``: ``GET /pets/{petId}`` -> ``get /pets/{petId}``,
    which :func:`sanitise_name` turns into ``get_pets_petId``."""
    return f"{method.lower()} {path}"


class ToolNamer:
    """Hands out unique names in call order; reserve overrides first."""

    def __init__(self, *, max_length: int = MAX_LENGTH) -> None:
        self._max_length = max_length
        self._taken: set[str] = set()

    def reserve(self, name: str) -> None:
        """Claim ``name`` (an override) before any generated name can take it."""
        self._taken.add(name)

    def name(self, raw: str) -> str:
        """A unique valid name for the operation whose id (or fallback) is ``raw``."""
        name = sanitise_name(raw, max_length=self._max_length)
        return self.unique(name)

    def unique(self, name: str) -> str:
        """``name``, or ``name_2``, ``name_3``... whichever is free first; the result is claimed."""
        candidate = name
        n = 1
        while candidate in self._taken:
            n += 1
            suffix = f"_{n}"
            candidate = name[: self._max_length - len(suffix)] + suffix
        self._taken.add(candidate)
        return candidate
