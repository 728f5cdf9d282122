"""Loading a spec (file, URL or in-memory document) into a :class:`~openapi_tools.operation.LoadedSpec`.

Reads OpenAPI 3.0.x, 3.1.x and Swagger 2.0, JSON or YAML. The document is walked once; nothing is
deep-copied, and the schema conversions are cached per referenced schema, so GitHub's 13 MB spec
(1,223 operations) loads and converts in well under a second.

Errors: a document that cannot be read, parsed, or whose ``openapi``/``swagger`` field names an
unsupported version raises :class:`~openapi_tools.errors.SpecError` (``UnsupportedVersion``). One
operation that cannot be converted (a broken ``$ref``, a parameter without ``in``) is recorded as a
:class:`~openapi_tools.operation.Problem` and skipped; with ``strict=True`` it raises instead
(:class:`~openapi_tools.errors.BrokenRef` for a ``$ref``, :class:`SpecError` otherwise).

Tool name overrides (``names``) are keyed by ``operationId``, or by ``"METHOD /path"`` (``"GET /pets"``)
for operations without one; see :mod:`openapi_tools.naming` for generated names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2

from openapi_tools import swagger2
from openapi_tools.conversion import OperationConverter, OperationSource, parse_servers
from openapi_tools.errors import BrokenRef, SpecError, UnsupportedVersion
from openapi_tools.filters import OperationFilter
from openapi_tools.naming import ToolNamer, fallback_name, sanitise_name
from openapi_tools.operation import LoadedSpec, Operation, Problem, ServerTemplate
from openapi_tools.refs import (
    Fetch,
    RefFailure,
    Resolver,
    default_fetch,
    format_location,
    parse_document,
    read_document,
    source_uri,
)
from openapi_tools.schema import Dialect, SchemaConverter

__all__ = ["load_spec", "load_spec_document"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def load_spec(
    source: str,
    *,
    strict: bool = False,
    filters: OperationFilter | None = None,
    names: Mapping[str, str] | None = None,
    fetch: Fetch | None = None,
) -> LoadedSpec:
    """Load the spec at ``source`` (a file path or an ``http(s)`` URL) and convert its operations.

    ``fetch`` reads URLs (the spec and external ``$ref`` targets); the default uses httpx2.

    Raises:
        SpecError: the spec cannot be read or parsed, its version is unsupported, or (``strict``) an
            operation cannot be converted.
    """
    fetch = fetch or default_fetch
    uri = source_uri(source)
    try:
        data = read_document(uri, fetch)
    except (OSError, httpx2.HTTPError) as exc:
        raise SpecError(source, "", f"cannot read the spec: {exc}") from exc
    document = parse_document(data, source)
    del data
    return _load(document, source, uri, strict=strict, filters=filters, names=names, fetch=fetch)


def load_spec_document(
    document: Mapping[str, Any],
    source: str,
    *,
    strict: bool = False,
    filters: OperationFilter | None = None,
    names: Mapping[str, str] | None = None,
    fetch: Fetch | None = None,
) -> LoadedSpec:
    """Convert a spec already parsed (a FastAPI app's ``app.openapi()``); ``source`` names it in
    errors and is the base for relative external ``$ref`` (a path or URL).

    Raises:
        SpecError: as :func:`load_spec`.
    """
    return _load(
        document,
        source,
        source_uri(source),
        strict=strict,
        filters=filters,
        names=names,
        fetch=fetch or default_fetch,
    )


def _dialect(document: Mapping[str, Any], source: str) -> tuple[Dialect, str]:
    if "openapi" in document:
        version = document["openapi"]
        major_minor = version.split(".")[:2] if isinstance(version, str) else None
        if major_minor == ["3", "0"]:
            return "3.0", version
        if major_minor == ["3", "1"]:
            return "3.1", version
        raise UnsupportedVersion(
            source,
            "openapi",
            f"unsupported OpenAPI version {version!r} (3.0.x, 3.1.x and Swagger 2.0 are read)",
        )
    if "swagger" in document:
        version = document["swagger"]
        # ``swagger: 2.0`` unquoted in YAML is the float 2.0.
        if str(version) == "2.0":
            return "2.0", "2.0"
        raise UnsupportedVersion(
            source, "swagger", f"unsupported Swagger version {version!r} (only 2.0 is read)"
        )
    raise UnsupportedVersion(source, "", "no 'openapi' or 'swagger' field: not an OpenAPI document")


def _load(
    document: Any,
    source: str,
    uri: str,
    *,
    strict: bool,
    filters: OperationFilter | None,
    names: Mapping[str, str] | None,
    fetch: Fetch,
) -> LoadedSpec:
    if not isinstance(document, Mapping):
        raise SpecError(source, "", "a spec must be a JSON/YAML object")
    dialect, version = _dialect(document, source)
    info = document.get("info")
    title = info.get("title") if isinstance(info, Mapping) else None
    resolver = Resolver(uri, document, source=source, fetch=fetch)
    schemas = SchemaConverter(resolver, dialect)
    if dialect == "2.0":
        servers = swagger2.servers(document, uri)
        security_schemes = swagger2.security_schemes(document.get("securityDefinitions"))
    else:
        servers = parse_servers(document.get("servers"), uri) or (ServerTemplate(url="/"),)
        components = document.get("components")
        raw_schemes = components.get("securitySchemes") if isinstance(components, Mapping) else None
        security_schemes = dict(raw_schemes) if isinstance(raw_schemes, Mapping) else {}
    converter = OperationConverter(
        resolver,
        schemas,
        dialect,
        servers=servers,
        security=document.get("security"),
        consumes=_strings(document.get("consumes")),
        produces=_strings(document.get("produces")),
    )
    problems: list[Problem] = []

    def fail(location: str, message: str, *, broken_ref: bool = False) -> None:
        if strict:
            raise (BrokenRef if broken_ref else SpecError)(source, location, message)
        problems.append(Problem(location, message))

    sources = _operations(document, resolver, filters, fail)
    namer = ToolNamer()
    overrides = names or {}
    chosen: list[str | None] = []
    for op in sources:
        key = op.node.get("operationId")
        override = overrides.get(key) if isinstance(key, str) else None
        override = override or overrides.get(f"{op.method.upper()} {op.path}")
        if override is not None:
            override = sanitise_name(override)
            namer.reserve(override)
        chosen.append(override)
    operations: list[Operation] = []
    for op, override in zip(sources, chosen, strict=True):
        operation_id = op.node.get("operationId")
        raw = (
            operation_id
            if isinstance(operation_id, str) and operation_id
            else fallback_name(op.method, op.path)
        )
        name = override or namer.name(raw)
        try:
            operations.append(converter.convert(op, name))
        except RefFailure as failure:
            failure.within("paths", op.path, op.method)
            fail(
                failure.location(),
                f"{op.method.upper()} {op.path} skipped: {failure.message}",
                broken_ref=failure.broken_ref,
            )
        except RecursionError:
            # Only a self-containing node gets here (a YAML alias inside itself): ``$ref`` cycles are
            # ``$defs`` references and never recurse.
            fail(
                format_location(["paths", op.path, op.method]),
                f"{op.method.upper()} {op.path} skipped: a schema nested too deeply (a YAML alias cycle?)",
            )
    return LoadedSpec(
        source=source,
        title=title if isinstance(title, str) and title else source,
        version=version,
        servers=servers,
        security_schemes=security_schemes,
        operations=tuple(operations),
        problems=tuple(problems),
    )


def _operations(
    document: Mapping[str, Any], resolver: Resolver, filters: OperationFilter | None, fail: Any
) -> list[OperationSource]:
    """Every operation that passes ``filters``, in document order."""
    paths = document.get("paths")
    if paths is None:
        return []
    if not isinstance(paths, Mapping):
        raise SpecError(resolver.source, "paths", "'paths' must be an object")
    out: list[OperationSource] = []
    for path, raw_item in paths.items():
        base = resolver.root_uri
        item = raw_item
        if isinstance(item, Mapping) and isinstance(item.get("$ref"), str):
            try:
                target = resolver.resolve(item["$ref"], base)
            except RefFailure as failure:
                fail(f"paths.{path}.$ref", f"path {path} skipped: {failure.message}", broken_ref=True)
                continue
            item, base = target.node, target.document
        if not isinstance(item, Mapping):
            fail(f"paths.{path}", f"path {path} skipped: a path item must be an object")
            continue
        path_parameters = item.get("parameters") or ()
        path_servers = parse_servers(item.get("servers"), resolver.root_uri)
        for method in METHODS:
            node = item.get(method)
            if node is None:
                continue
            if not isinstance(node, Mapping):
                fail(
                    f"paths.{path}.{method}",
                    f"{method.upper()} {path} skipped: an operation must be an object",
                )
                continue
            tags = node.get("tags")
            if filters is not None and not filters.matches(
                method=method,
                path=str(path),
                operation_id=node.get("operationId") if isinstance(node.get("operationId"), str) else None,
                tags=[t for t in tags if isinstance(t, str)] if isinstance(tags, list) else (),
            ):
                continue
            out.append(OperationSource(str(path), method, node, path_parameters, path_servers, base))
    return out


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()
