"""Swagger 2.0 pieces that have a different shape in OpenAPI 3.x, converted to the 3.x shape.

Only the parts the loader needs are converted, one operation at a time; the document itself is never
rewritten (copying a large spec would double its memory). Schemas go through
:class:`~openapi_tools.schema.SchemaConverter` with the ``2.0`` dialect.

- ``host``/``basePath``/``schemes`` -> servers (one per scheme; no host -> the spec URL's host, or a
  relative server for a file).
- ``securityDefinitions`` -> ``securitySchemes``: ``basic`` -> ``{type: http, scheme: basic}``;
  ``oauth2`` flows ``implicit``/``password``/``application``/``accessCode`` -> ``implicit``/``password``/
  ``clientCredentials``/``authorizationCode``.
- Non-body parameters: their inline ``type``/``format``/``items``/validation keywords -> a schema;
  ``collectionFormat`` -> ``style``/``explode`` (``csv`` form/simple not exploded, ``ssv``
  spaceDelimited, ``pipes`` pipeDelimited, ``multi`` form exploded; ``tsv`` has no 3.x equivalent and
  is sent as ``csv``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from openapi_tools.operation import ServerTemplate

__all__ = ["collection_style", "parameter_schema", "security_schemes", "servers"]

_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "default",
    "enum",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "x-nullable",
)
_FLOWS = {
    "implicit": "implicit",
    "password": "password",
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
}


def servers(document: Mapping[str, Any], source_uri: str) -> tuple[ServerTemplate, ...]:
    """The servers a Swagger 2.0 document describes with ``host``, ``basePath`` and ``schemes``."""
    base_path = document.get("basePath") or ""
    if not isinstance(base_path, str):
        base_path = ""
    host = document.get("host")
    source = urlsplit(source_uri)
    remote = source.scheme in ("http", "https")
    if not isinstance(host, str) or not host:
        if not remote:
            return (ServerTemplate(url=base_path or "/"),)
        host = source.netloc
    schemes = [s for s in document.get("schemes") or () if isinstance(s, str) and s in ("http", "https")]
    if not schemes:
        schemes = [source.scheme if remote else "https"]
    return tuple(ServerTemplate(url=f"{scheme}://{host}{base_path}") for scheme in schemes)


def security_schemes(definitions: Any) -> dict[str, dict[str, Any]]:
    """``securityDefinitions`` as 3.x ``securitySchemes`` (unknown types are kept as they are)."""
    if not isinstance(definitions, dict):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, scheme in definitions.items():
        if not isinstance(scheme, dict):
            continue
        kind = scheme.get("type")
        extra = {k: scheme[k] for k in ("description",) if k in scheme}
        if kind == "basic":
            out[name] = {"type": "http", "scheme": "basic", **extra}
        elif kind == "oauth2":
            flow: dict[str, Any] = {"scopes": dict(scheme.get("scopes") or {})}
            for key in ("authorizationUrl", "tokenUrl"):
                if key in scheme:
                    flow[key] = scheme[key]
            flow_name = _FLOWS.get(str(scheme.get("flow")), str(scheme.get("flow")))
            out[name] = {"type": "oauth2", "flows": {flow_name: flow}, **extra}
        elif kind == "apiKey":
            out[name] = {"type": "apiKey", "name": scheme.get("name"), "in": scheme.get("in"), **extra}
        else:
            out[name] = dict(scheme)
    return out


def parameter_schema(parameter: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of a non-body parameter (or of an ``items`` object), in the 2.0 dialect."""
    schema = {k: parameter[k] for k in _SCHEMA_KEYS if k in parameter}
    items = schema.get("items")
    if isinstance(items, dict):
        schema["items"] = parameter_schema(items)
    return schema


def collection_style(parameter: Mapping[str, Any], location: str) -> tuple[str, bool]:
    """The 3.x ``style`` and ``explode`` that serialise like the parameter's ``collectionFormat``."""
    simple = location in ("path", "header")
    fmt = parameter.get("collectionFormat", "csv")
    if parameter.get("type") != "array":
        return ("simple", False) if simple else ("form", True)
    if fmt == "multi" and not simple:
        return "form", True
    if fmt == "ssv" and not simple:
        return "spaceDelimited", False
    if fmt == "pipes" and not simple:
        return "pipeDelimited", False
    return ("simple", False) if simple else ("form", False)
