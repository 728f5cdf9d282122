"""Reading spec documents and following ``$ref`` between and inside them.

A spec can be split over several files or URLs; every ``$ref`` is resolved against the URI of the
document it appears in (RFC 3986 reference resolution, OpenAPI 3.1 "Relative References in
URIs"), each document is read and parsed once, and a target is named by its canonical URI
(``file:///specs/common.yaml#/components/schemas/Pet``), the key the schema converter caches by.

JSON is parsed with orjson, YAML with libyaml's ``CSafeLoader`` when available (a 13 MB spec in tens of
milliseconds instead of seconds). YAML timestamps stay strings: an ``example: 2024-01-01`` must come out
as the JSON the author wrote, not a ``datetime``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit
from urllib.request import url2pathname

import httpx2
import orjson
import yaml

from openapi_tools.errors import BrokenRef, SpecError

__all__ = [
    "Fetch",
    "RefFailure",
    "Resolver",
    "Target",
    "default_fetch",
    "format_location",
    "parse_document",
    "read_document",
    "source_uri",
]

Fetch = Callable[[str], bytes]
"""Reads an ``http(s)`` URL and returns its body; raises ``OSError`` or an ``httpx2.HTTPError`` when it
cannot (the loader reports either as an unreadable spec or a broken ``$ref``)."""

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _YamlLoader(_BaseLoader):  # type: ignore[misc]
    """Safe YAML without timestamp resolution (dates stay the strings the JSON equivalent would hold)."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def default_fetch(url: str) -> bytes:
    """GET ``url`` with httpx2 (30 s timeout, redirects followed) and return the body.

    Raises:
        httpx2.HTTPError: on a transport error or a non-2xx status.
    """
    response = httpx2.get(url, timeout=30.0, follow_redirects=True)
    response.raise_for_status()
    return response.content


def source_uri(source: str) -> str:
    """The absolute URI of a spec given as a URL or a file path (relative paths against the cwd)."""
    if urlsplit(source).scheme in ("http", "https", "file"):
        return source
    return Path(source).absolute().as_uri()


def read_document(uri: str, fetch: Fetch) -> bytes:
    """The bytes at ``uri``: a ``file:`` URI read from disk, anything else through ``fetch``."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path)).read_bytes()
    if parts.scheme not in ("http", "https"):
        raise OSError(f"cannot read {parts.scheme or 'scheme-less'} URI {uri!r}")
    return fetch(uri)


def parse_document(data: bytes, source: str) -> Any:
    """Parse JSON (when the text starts with ``{`` or ``[``) or YAML.

    Raises:
        SpecError: the text is not valid JSON/YAML; the location gives the line when known.
    """
    head = data[:64].lstrip()
    if head.startswith((b"{", b"[")):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SpecError(
                source, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}"
            ) from exc
    try:
        return yaml.load(data, Loader=_YamlLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        location = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise SpecError(source, location, f"invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise SpecError(source, "", f"invalid YAML: {exc}") from exc


def format_location(parts: deque[str | int] | list[str | int], document: str = "") -> str:
    """``paths./pets.get.parameters[0]`` from path parts; ``document`` prefixes a non-root file."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return f"{document}#{text}" if document else text


class RefFailure(Exception):
    """A broken ``$ref`` found while converting; ``path`` grows as the error unwinds the conversion,
    so the location costs nothing on the happy path."""

    def __init__(self, message: str, document: str = "", *, broken_ref: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.broken_ref = broken_ref
        """True when a ``$ref`` does not resolve; False for any other unusable construct."""
        self.document = document
        self.path: deque[str | int] = deque()
        self.anchored = False

    def within(self, *parts: str | int) -> None:
        """Prefix the location with the parts of the enclosing node (until it is anchored)."""
        if not self.anchored:
            self.path.extendleft(reversed(parts))

    def anchor(self, parts: tuple[str | int, ...], document: str) -> None:
        """Fix the location: the failure is inside a shared definition at ``parts`` of ``document``."""
        if not self.anchored:
            self.path.extendleft(reversed(parts))
            self.document = document
            self.anchored = True

    def location(self) -> str:
        return format_location(self.path, self.document)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a ``$ref`` points: its canonical URI, the node, and the URI of the document holding it."""

    uri: str
    node: Any
    document: str
    pointer: tuple[str, ...]


class Resolver:
    """Resolves ``$ref`` strings against the documents of one spec, reading each document once."""

    def __init__(self, root_uri: str, root: Any, *, source: str, fetch: Fetch) -> None:
        self.root_uri = root_uri
        self.source = source
        self._fetch = fetch
        self._documents: dict[str, Any] = {root_uri: root}
        self._targets: dict[str, Target | RefFailure] = {}

    def label(self, document: str) -> str:
        """How a document is named in locations: empty for the root, else its URI relative to the root."""
        if document == self.root_uri:
            return ""
        root_dir = self.root_uri.rsplit("/", 1)[0] + "/"
        return document[len(root_dir) :] if document.startswith(root_dir) else document

    def canonical(self, ref: str, base: str) -> str:
        """The absolute URI of ``ref`` read in the document at ``base``."""
        if ref.startswith("#"):
            return base + ref
        return urljoin(base, ref)

    def resolve(self, ref: str, base: str) -> Target:
        """The node ``ref`` points at, read in the document at ``base``.

        Raises:
            RefFailure: the document cannot be read or parsed, or the pointer leads nowhere.
        """
        uri = self.canonical(ref, base)
        found = self._targets.get(uri)
        if found is None:
            found = self._lookup(uri, ref)
            self._targets[uri] = found
        if isinstance(found, RefFailure):
            # A fresh failure per raise: each unwinds through a different conversion path.
            raise RefFailure(found.message, broken_ref=True)
        return found

    def document(self, uri: str) -> Any:
        """The parsed document at ``uri`` (fragment ignored).

        Raises:
            BrokenRef: it cannot be read or parsed.
        """
        uri = urldefrag(uri).url
        if uri in self._documents:
            return self._documents[uri]
        try:
            data = read_document(uri, self._fetch)
        except (OSError, httpx2.HTTPError) as exc:
            raise BrokenRef(self.source, self.label(uri), f"cannot read {uri}: {exc}") from exc
        try:
            parsed = parse_document(data, uri)
        except SpecError as exc:
            raise BrokenRef(self.source, self.label(uri), exc.message) from exc
        self._documents[uri] = parsed
        return parsed

    def _lookup(self, uri: str, ref: str) -> Target | RefFailure:
        document_uri, fragment = urldefrag(uri)
        try:
            node = self.document(document_uri)
        except BrokenRef as exc:
            return RefFailure(f"$ref {ref!r}: {exc.message}")
        pointer: tuple[str, ...] = ()
        if fragment:
            if not fragment.startswith("/"):
                return RefFailure(f"$ref {ref!r}: only JSON-pointer fragments are supported")
            pointer = tuple(unquote(p).replace("~1", "/").replace("~0", "~") for p in fragment[1:].split("/"))
        for part in pointer:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return RefFailure(f"$ref {ref!r} points at nothing ({part!r} not found)")
        return Target(uri=uri, node=node, document=document_uri, pointer=pointer)
