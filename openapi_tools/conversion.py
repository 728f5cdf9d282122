"""One spec operation -> one :class:`~openapi_tools.operation.Operation` (parameters, body, schemas).

Tool arguments (the input schema's properties) are, in order: path, query, header and cookie
parameters, then the request body. Names used twice are disambiguated predictably:

1. A parameter name that occurs in more than one location gets the location as a prefix on every
   occurrence: ``id`` in path and query -> ``path_id`` and ``query_id``.
2. A JSON, form or multipart body whose schema is a plain object (``properties``, no composition, no
   ``additionalProperties`` schema) has its properties merged at top level, unless one of them collides
   with a parameter's argument: then the whole body goes under the key ``body``. Non-object bodies always
   go under ``body``. A parameter that is itself called ``body`` while the body is nested gets the
   location prefix (``query_body``). Properties a merged body requires are required arguments only when
   the body itself is required; top-level properties marked ``readOnly`` are left out (Schema Object:
   "SHOULD NOT be sent as part of the request").
3. Anything still clashing after that (a parameter literally named ``path_id``) gets ``_2``, ``_3``...
   in the order above.

:attr:`Parameter.argument` and :attr:`Body.properties` record the mapping, so the request builder never
has to guess. As the Parameter Object requires, header parameters named ``Accept``, ``Content-Type`` or
``Authorization`` are ignored (content negotiation and auth are the gateway's job), and a path template
variable that no parameter declares gets a required string argument so the URL can always be built.

The body media type chosen is the first of: ``application/json``, any ``+json`` type,
``application/x-www-form-urlencoded``, ``multipart/form-data``, ``text/plain``, then whatever is listed
first. The output schema is the JSON schema of the first ``2xx`` response (``200`` before ``201`` before
``2XX``) when it is ``type: object``, as MCP's ``outputSchema`` must be.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from openapi_tools import swagger2
from openapi_tools.operation import (
    Body,
    Operation,
    Parameter,
    ParameterLocation,
    SecurityRequirement,
    ServerTemplate,
)
from openapi_tools.refs import RefFailure, Resolver
from openapi_tools.schema import Dialect, SchemaConverter

__all__ = ["OperationConverter", "OperationSource", "parse_servers"]

_LOCATIONS: tuple[ParameterLocation, ...] = ("path", "query", "header", "cookie")
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_TEMPLATE = re.compile(r"{([^{}]+)}")
_SUCCESS = re.compile(r"2\d\d")
_MEDIA_PREFERENCE = (
    "application/json",
    "+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
)
_MAX_REF_HOPS = 32


@dataclass(frozen=True, slots=True)
class OperationSource:
    """Everything about one operation as found in the document."""

    path: str
    method: str
    node: Mapping[str, Any]
    path_parameters: Sequence[Any]
    path_servers: tuple[ServerTemplate, ...]
    base: str
    """URI of the document holding the path item (a path item can be an external ``$ref``)."""


@dataclass(slots=True)
class _Param:
    name: str
    location: ParameterLocation
    required: bool
    schema: Any
    style: str
    explode: bool
    allow_reserved: bool
    content_type: str | None
    argument: str = ""


@dataclass(slots=True)
class _Body:
    media_type: str
    required: bool
    schema: Any
    encoding: dict[str, Mapping[str, Any]]


class OperationConverter:
    """Converts the operations of one spec; holds what they share (servers, security, media types)."""

    def __init__(
        self,
        resolver: Resolver,
        schemas: SchemaConverter,
        dialect: Dialect,
        *,
        servers: tuple[ServerTemplate, ...],
        security: Any,
        consumes: Sequence[str] = (),
        produces: Sequence[str] = (),
    ) -> None:
        self._resolver = resolver
        self._schemas = schemas
        self._dialect = dialect
        self._servers = servers
        self._security = _security(security)
        self._consumes = tuple(consumes)
        self._produces = tuple(produces)

    def convert(self, source: OperationSource, tool_name: str) -> Operation:
        """The operation as a tool called ``tool_name``.

        Raises:
            RefFailure: a broken ``$ref`` or an unusable parameter/body; ``path`` locates it below
                the operation (or absolutely, when it is inside a shared definition).
        """
        node = source.node
        input_deps: set[str] = set()
        params, body = self._parameters(source, input_deps)
        if body is None and self._dialect != "2.0" and "requestBody" in node:
            try:
                body = self._request_body(node["requestBody"], source.base, input_deps)
            except RefFailure as failure:
                failure.within("requestBody")
                raise
        input_schema, final_params, final_body = _assemble(params, body)
        if input_deps:
            input_schema["$defs"] = self._schemas.definitions(input_deps)
        output_schema = self._output(node, source.base)
        method = source.method.upper()
        tags = node.get("tags")
        summary, description = node.get("summary"), node.get("description")
        security = _security(node["security"]) if "security" in node else self._security
        return Operation(
            tool_name=tool_name,
            method=method,
            path=source.path,
            operation_id=_text(node.get("operationId")),
            title=_text(summary),
            description=_text(description) or _text(summary),
            tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
            parameters=final_params,
            body=final_body,
            input_schema=input_schema,
            output_schema=output_schema,
            security=security,
            servers=parse_servers(node.get("servers"), self._resolver.root_uri)
            or source.path_servers
            or self._servers,
            annotations=_annotations(method),
        )

    # -- parameters -----------------------------------------------------------------------------

    def _parameters(self, source: OperationSource, deps: set[str]) -> tuple[list[_Param], _Body | None]:
        declared: dict[tuple[str, str], tuple[Any, str, tuple[str | int, ...]]] = {}
        path_level = ("paths", source.path, "parameters")
        for level, raw_list, base in (
            (path_level, source.path_parameters, source.base),
            (("parameters",), source.node.get("parameters") or (), source.base),
        ):
            if not isinstance(raw_list, list | tuple):
                raise RefFailure("parameters must be a list")
            for index, raw in enumerate(raw_list):
                parts = (*level, index)
                try:
                    param, param_base = self._deref(raw, base)
                except RefFailure as failure:
                    self._locate(failure, parts, source)
                    raise
                name, location = param.get("name"), param.get("in")
                if not isinstance(name, str) or not isinstance(location, str):
                    invalid = RefFailure("a parameter needs a string 'name' and 'in'")
                    self._locate(invalid, parts, source)
                    raise invalid
                declared[(name, location)] = (param, param_base, parts)
        params: list[_Param] = []
        body: _Body | None = None
        form: list[tuple[dict[str, Any], str]] = []
        for (name, location), (param, base, parts) in declared.items():
            try:
                if location == "body" and self._dialect == "2.0":
                    body = self._swagger_body(param, base, deps, source.node)
                elif location == "formData" and self._dialect == "2.0":
                    form.append((param, base))
                elif location not in _LOCATIONS:
                    raise RefFailure(f"unknown parameter location {location!r}")
                elif location == "header" and name.lower() in _IGNORED_HEADERS:
                    continue
                else:
                    params.append(self._parameter(param, name, location, base, deps))
            except RefFailure as failure:
                self._locate(failure, parts, source)
                raise
        if form:
            body = self._swagger_form(form, source.node, deps)
        declared_path = {p.name for p in params if p.location == "path"}
        for variable in _TEMPLATE.findall(source.path):
            if variable not in declared_path:
                declared_path.add(variable)
                params.append(
                    _Param(variable, "path", True, {"type": "string"}, "simple", False, False, None)
                )
        order = {loc: i for i, loc in enumerate(_LOCATIONS)}
        params.sort(key=lambda p: order[p.location])
        return params, body

    def _locate(self, failure: RefFailure, parts: tuple[str | int, ...], source: OperationSource) -> None:
        # Path-level parameters sit beside the operation (``paths./a.parameters[0]``), not under it.
        if parts[0] == "paths":
            failure.anchor(parts, self._resolver.label(source.base))
        else:
            failure.within(*parts)

    def _parameter(
        self, param: Mapping[str, Any], name: str, location: ParameterLocation, base: str, deps: set[str]
    ) -> _Param:
        content_type: str | None = None
        if self._dialect == "2.0":
            style, explode = swagger2.collection_style(param, location)
            schema = self._schemas.convert(swagger2.parameter_schema(param), base, deps)
        else:
            default_style = "form" if location in ("query", "cookie") else "simple"
            raw_style = param.get("style")
            style = raw_style if isinstance(raw_style, str) else default_style
            explode = param.get("explode", style == "form") is True
            raw = param.get("schema")
            content = param.get("content")
            if raw is None and isinstance(content, dict) and content:
                content_type, media = next(iter(content.items()))
                raw = media.get("schema") if isinstance(media, dict) else None
            try:
                schema = self._schemas.convert_top(raw if raw is not None else {}, base, deps)
            except RefFailure as failure:
                failure.within("schema")
                raise
        schema = _annotate(schema, param)
        required = location == "path" or param.get("required") is True
        allow_reserved = param.get("allowReserved") is True
        return _Param(name, location, required, schema, str(style), explode, allow_reserved, content_type)

    # -- bodies ---------------------------------------------------------------------------------

    def _request_body(self, raw: Any, base: str, deps: set[str]) -> _Body | None:
        node, base = self._deref(raw, base)
        content = node.get("content")
        if not isinstance(content, dict) or not content:
            return None
        media_type = _choose_media(list(content))
        media = content[media_type]
        if not isinstance(media, dict):
            media = {}
        try:
            schema = self._schemas.convert_top(media.get("schema", {}), base, deps)
        except RefFailure as failure:
            failure.within("content", media_type, "schema")
            raise
        if (
            isinstance(node.get("description"), str)
            and isinstance(schema, dict)
            and "description" not in schema
        ):
            schema["description"] = node["description"]
        encoding = media.get("encoding")
        return _Body(
            media_type=_concrete(media_type),
            required=node.get("required") is True,
            schema=schema,
            encoding=dict(encoding) if isinstance(encoding, dict) else {},
        )

    def _swagger_body(
        self, param: Mapping[str, Any], base: str, deps: set[str], operation: Mapping[str, Any]
    ) -> _Body:
        try:
            schema = self._schemas.convert_top(param.get("schema", {}), base, deps)
        except RefFailure as failure:
            failure.within("schema")
            raise
        schema = _annotate(schema, param)
        consumes = self._media_list(operation.get("consumes"))
        return _Body(
            media_type=_concrete(_choose_media(consumes)),
            required=param.get("required") is True,
            schema=schema,
            encoding={},
        )

    def _swagger_form(
        self, fields: list[tuple[dict[str, Any], str]], operation: Mapping[str, Any], deps: set[str]
    ) -> _Body:
        properties: dict[str, Any] = {}
        required: list[str] = []
        encoding: dict[str, Mapping[str, Any]] = {}
        has_file = False
        for param, base in fields:
            name = param["name"]
            has_file = has_file or param.get("type") == "file"
            properties[name] = _annotate(
                self._schemas.convert(swagger2.parameter_schema(param), base, deps), param
            )
            if param.get("required") is True:
                required.append(name)
            if param.get("type") == "array":
                style, explode = swagger2.collection_style(param, "query")
                encoding[name] = {"style": style, "explode": explode}
        consumes = self._media_list(operation.get("consumes"))
        multipart = has_file or (
            "multipart/form-data" in consumes and "application/x-www-form-urlencoded" not in consumes
        )
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return _Body(
            media_type="multipart/form-data" if multipart else "application/x-www-form-urlencoded",
            required=bool(required),
            schema=schema,
            encoding=encoding,
        )

    def _media_list(self, own: Any) -> list[str]:
        if isinstance(own, list) and own:
            return [m for m in own if isinstance(m, str)]
        return list(self._consumes) or ["application/json"]

    # -- output ---------------------------------------------------------------------------------

    def _output(self, node: Mapping[str, Any], base: str) -> dict[str, Any] | None:
        responses = node.get("responses")
        if not isinstance(responses, dict):
            return None
        codes = sorted((str(code), code) for code in responses if _SUCCESS.fullmatch(str(code)))
        codes += [(str(code), code) for code in responses if str(code).upper() == "2XX"]
        if not codes:
            return None
        label, code = codes[0]
        deps: set[str] = set()
        try:
            response, response_base = self._deref(responses[code], base)
            raw = self._response_schema(response, node)
            if raw is None:
                return None
            schema = self._schemas.convert_top(raw, response_base, deps)
        except RefFailure as failure:
            failure.within("responses", label)
            raise
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return None
        if deps:
            schema["$defs"] = self._schemas.definitions(deps)
        return schema

    def _response_schema(self, response: Mapping[str, Any], operation: Mapping[str, Any]) -> Any:
        if self._dialect == "2.0":
            produces = operation.get("produces") or self._produces
            if isinstance(produces, list) and produces and not any(_is_json(m) for m in produces):
                return None
            return response.get("schema")
        content = response.get("content")
        if not isinstance(content, dict):
            return None
        for media_type, media in content.items():
            if _is_json(media_type) and isinstance(media, dict):
                return media.get("schema")
        return None

    # -- helpers --------------------------------------------------------------------------------

    def _deref(self, node: Any, base: str) -> tuple[dict[str, Any], str]:
        """Follow a (non-schema) object's ``$ref`` chain: parameters, request bodies, responses."""
        for _ in range(_MAX_REF_HOPS):
            if not isinstance(node, dict):
                raise RefFailure(f"expected an object, found {type(node).__name__}")
            ref = node.get("$ref")
            if not isinstance(ref, str):
                return node, base
            try:
                target = self._resolver.resolve(ref, base)
            except RefFailure as failure:
                failure.within("$ref")
                raise
            node, base = target.node, target.document
        raise RefFailure("$ref chain too long (a $ref that refers to itself?)")


def _assemble(
    params: list[_Param], body: _Body | None
) -> tuple[dict[str, Any], tuple[Parameter, ...], Body | None]:
    locations: dict[str, set[str]] = {}
    for p in params:
        locations.setdefault(p.name, set()).add(p.location)
    for p in params:
        p.argument = f"{p.location}_{p.name}" if len(locations[p.name]) > 1 else p.name
    merged = _mergeable(body.schema) if body is not None else None
    if merged is not None and any(p.argument in merged for p in params):
        merged = None
    if body is not None and merged is None:
        for p in params:
            if p.argument == "body":
                p.argument = f"{p.location}_body"
    taken: set[str] = set()

    def claim(name: str) -> str:
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}_{n}"
        taken.add(candidate)
        return candidate

    properties: dict[str, Any] = {}
    required: list[str] = []
    final: list[Parameter] = []
    for p in params:
        argument = claim(p.argument)
        properties[argument] = p.schema
        if p.required:
            required.append(argument)
        final.append(
            Parameter(
                name=p.name,
                location=p.location,
                argument=argument,
                required=p.required,
                schema=p.schema,
                style=p.style,
                explode=p.explode,
                allow_reserved=p.allow_reserved,
                content_type=p.content_type,
            )
        )
    final_body: Body | None = None
    if body is not None and merged is not None:
        body_required = set(body.schema.get("required") or ()) if body.required else set()
        mapping: dict[str, str] = {}
        for prop, prop_schema in merged.items():
            if isinstance(prop_schema, dict) and prop_schema.get("readOnly") is True:
                continue
            argument = claim(prop)
            mapping[argument] = prop
            properties[argument] = prop_schema
            if prop in body_required:
                required.append(argument)
        final_body = Body(body.media_type, body.required, body.schema, None, mapping, body.encoding)
    elif body is not None:
        argument = claim("body")
        properties[argument] = body.schema
        if body.required:
            required.append(argument)
        final_body = Body(body.media_type, body.required, body.schema, argument, {}, body.encoding)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema, tuple(final), final_body


def _mergeable(schema: Any) -> dict[str, Any] | None:
    """The properties to merge at top level, or ``None`` when the body must stay whole."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return None
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) or extra is True:
        return None
    if any(k in schema for k in ("allOf", "anyOf", "oneOf", "not", "$ref", "if", "patternProperties")):
        return None
    return properties


def _annotate(schema: Any, param: Mapping[str, Any]) -> Any:
    """A parameter's description, deprecation and example carried onto its schema."""
    if schema is True:
        schema = {}
    if not isinstance(schema, dict):
        return schema
    description = param.get("description")
    if isinstance(description, str) and "description" not in schema:
        schema["description"] = description
    if param.get("deprecated") is True:
        schema["deprecated"] = True
    if "example" in param and "examples" not in schema:
        schema["examples"] = [param["example"]]
    return schema


def _choose_media(media_types: Sequence[str]) -> str:
    lowered = [m.split(";", 1)[0].strip().lower() for m in media_types]
    for preferred in _MEDIA_PREFERENCE:
        for original, media in zip(media_types, lowered, strict=True):
            if media == preferred or (preferred.startswith("+") and media.endswith(preferred)):
                return original
    return media_types[0]


def _concrete(media_type: str) -> str:
    """A wildcard media type as the JSON the tool will send."""
    return "application/json" if "*" in media_type else media_type


def _is_json(media_type: str) -> bool:
    media = media_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "*/*", "application/*") or media.endswith("+json")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _security(raw: Any) -> tuple[SecurityRequirement, ...]:
    if not isinstance(raw, list):
        return ()
    out: list[SecurityRequirement] = []
    for requirement in raw:
        if isinstance(requirement, dict):
            out.append({name: tuple(scopes or ()) for name, scopes in requirement.items()})
    return tuple(out)


def parse_servers(raw: Any, source_uri: str) -> tuple[ServerTemplate, ...]:
    """A 3.x ``servers`` list; relative URLs are resolved against the spec's URL when it has one
    (Server Object ``url``: "relative to the location where the document is being served")."""
    if not isinstance(raw, list):
        return ()
    remote = urlsplit(source_uri).scheme in ("http", "https")
    out = []
    for server in raw:
        if isinstance(server, dict) and isinstance(server.get("url"), str):
            variables = server.get("variables")
            defaults = {}
            if isinstance(variables, dict):
                for name, variable in variables.items():
                    if isinstance(variable, dict) and "default" in variable:
                        defaults[name] = str(variable["default"])
            url = server["url"]
            if remote and "://" not in url and not url.startswith("{"):
                url = urljoin(source_uri, url)
            out.append(ServerTemplate(url=url, variables=defaults))
    return tuple(out)


def _annotations(method: str) -> dict[str, bool]:
    if method in ("GET", "HEAD"):
        return {"readOnlyHint": True}
    if method == "DELETE":
        return {"destructiveHint": True}
    if method == "PUT":
        return {"idempotentHint": True}
    return {}
