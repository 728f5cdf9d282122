"""Downstream names for upstream tools, prompts and resources.

Tools and prompts are ``<prefix><separator><name>``; resource URIs (and URI templates) become
``<prefix>+<uri>``, which is still a URI (RFC 3986 allows ``+`` in a scheme) and reverses
unambiguously because the prefixes are known. Whether to prefix at all is the
:class:`~federation.spec.NamingPolicy`'s ``mode``: ``conditional`` prefixes only when more than one
server is federated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from federation.spec import NamingPolicy

__all__ = ["Namer"]

_URI_SEPARATOR = "+"


@dataclass(frozen=True, slots=True)
class Namer:
    """Maps names both ways for one set of servers (``prefixes``: server name -> prefix)."""

    prefixes: dict[str, str]
    policy: NamingPolicy

    @classmethod
    def for_servers(cls, prefixes: dict[str, str], policy: NamingPolicy) -> Namer:
        return cls(dict(prefixes), policy)

    @property
    def prefixing(self) -> bool:
        if self.policy.mode == "always":
            return True
        if self.policy.mode == "never":
            return False
        return len(self.prefixes) > 1

    def name(self, server: str, name: str) -> str:
        """The downstream name of ``server``'s tool or prompt ``name``."""
        if not self.prefixing:
            return name
        return f"{self.prefixes[server]}{self.policy.separator}{name}"

    def uri(self, server: str, uri: str) -> str:
        """The downstream URI (or URI template) of ``server``'s resource ``uri``."""
        if not self.prefixing:
            return uri
        return f"{self.prefixes[server]}{_URI_SEPARATOR}{uri}"

    def split_uri(self, uri: str, servers: Iterable[str]) -> tuple[str, str] | None:
        """``(server, upstream uri)`` for a downstream ``uri`` among ``servers``, or None.

        Without prefixing the caller must find the owner some other way (the catalog does).
        """
        if not self.prefixing:
            return None
        best: tuple[str, str] | None = None
        for server in servers:
            head = self.prefixes[server] + _URI_SEPARATOR
            if uri.startswith(head) and (best is None or len(head) > len(self.prefixes[best[0]]) + 1):
                best = (server, uri[len(head) :])
        return best
