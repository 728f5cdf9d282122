"""Which operations of a spec become tools.

An operation is kept when, for every ``include_*`` list that is not empty, it matches at least one
entry, and it matches no ``exclude_*`` entry. Patterns are shell globs (:func:`fnmatch.fnmatchcase`,
case-sensitive; ``*`` also matches ``/``, so ``/repos/*`` covers every path under ``/repos/``).
Methods compare case-insensitively. An operation without ``operationId`` never matches an
operation-id pattern (so ``include_operations`` drops it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

__all__ = ["OperationFilter"]


def _any(patterns: tuple[str, ...], values: Iterable[str]) -> bool:
    return any(fnmatchcase(value, pattern) for value in values for pattern in patterns)


@dataclass(frozen=True, slots=True)
class OperationFilter:
    """Include/exclude operations by tag, ``operationId`` glob, path glob and HTTP method."""

    include_tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    include_operations: tuple[str, ...] = ()
    """``operationId`` globs."""
    exclude_operations: tuple[str, ...] = ()
    include_paths: tuple[str, ...] = ()
    """Path-template globs (``/pets/*``)."""
    exclude_paths: tuple[str, ...] = ()
    include_methods: tuple[str, ...] = ()
    exclude_methods: tuple[str, ...] = ()

    def matches(self, *, method: str, path: str, operation_id: str | None, tags: Iterable[str]) -> bool:
        """Whether the operation passes the filter (see the module docstring)."""
        method = method.upper()
        tags = tuple(tags)
        ids = (operation_id,) if operation_id is not None else ()
        if self.include_methods and method not in {m.upper() for m in self.include_methods}:
            return False
        if method in {m.upper() for m in self.exclude_methods}:
            return False
        if self.include_tags and not _any(self.include_tags, tags):
            return False
        if self.include_operations and not _any(self.include_operations, ids):
            return False
        if self.include_paths and not _any(self.include_paths, (path,)):
            return False
        return not (
            _any(self.exclude_tags, tags)
            or _any(self.exclude_operations, ids)
            or _any(self.exclude_paths, (path,))
        )
